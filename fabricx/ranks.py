"""DDP child ranks under Hydra: every rank runs the same job, in the same run directory.

Lightning starts ranks 1..N-1 of a DDP run by re-running the parent's command line. Under
Hydra that line may be a whole sweep (`-m seed=0,1,2`), so each child rank would start a
sweep of its own, and in fabricx the verb is not on it either. fabricx replaces that command
with one that runs exactly the current job: the verb, Hydra's flags, the job's own overrides,
and the job's output directory as the run directory. Between the jobs of a multirun the
process group is taken down, so the next job's ranks form a fresh one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from fabricx.hydra_main import VERB_ENV, job_arguments


def child_rank_command(local_rank: int) -> tuple[Sequence[str], str]:
    """The command and working directory for DDP rank `local_rank` of the current Hydra job."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from hydra.utils import get_original_cwd

    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    arguments = job_arguments(list(hydra_cfg.overrides.task), multirun)
    command = [
        sys.executable, "-m", "fabricx", os.environ.get(VERB_ENV, "train"), *arguments,
        f'hydra.run.dir="{hydra_cfg.runtime.output_dir}"',
        "hydra.output_subdir=null",  # rank 0 alone writes .hydra/ and the run's records
        f"hydra.job.name=train_ddp_process_{local_rank}",  # the rank's own log file
    ]  # fmt: skip
    return command, get_original_cwd()


def use_job_command_for_child_ranks() -> None:
    """Make Lightning's subprocess launcher start child ranks with `child_rank_command`.

    Lightning builds the command in `_hydra_subprocess_cmd`, a function its launchers (Fabric's
    and the Trainer's) call whenever Hydra is running; tests/test_ddp_hydra.py fails if a
    Lightning release moves it.
    """
    from lightning.fabric.strategies.launchers import subprocess_script as fabric_launcher
    from lightning.pytorch.strategies.launchers import subprocess_script as trainer_launcher

    for launcher in (fabric_launcher, trainer_launcher):
        if not hasattr(launcher, "_hydra_subprocess_cmd"):
            raise RuntimeError(
                f"{launcher.__name__} has no _hydra_subprocess_cmd: this Lightning version "
                "launches DDP ranks differently; fabricx.ranks needs updating for it."
            )
        launcher._hydra_subprocess_cmd = child_rank_command


def end_process_group() -> None:
    """Take down the job's process group (if any), so the next job of a multirun can start
    its own; a no-op when torch was never loaded or no group exists."""
    torch = sys.modules.get("torch")
    if (
        torch is not None
        and torch.distributed.is_available()
        and torch.distributed.is_initialized()
    ):
        torch.distributed.destroy_process_group()
