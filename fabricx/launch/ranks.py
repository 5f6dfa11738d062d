"""DDP ranks under Hydra: every rank runs the same job, in the same run directory.

Lightning starts ranks 1..N-1 of a DDP run by re-running the parent's command line. Under
Hydra that line may be a whole sweep (`-m seed=0,1,2`), so each child rank would start a
sweep of its own, and in fabricx the verb is not on it either. fabricx replaces that command
with one that runs exactly the current job: the verb, Hydra's flags, the job's own overrides,
and the job's output directory as the run directory. Between the jobs of a multirun the
process group is taken down, so the next job's ranks form a fresh one.

When a launcher outside fabricx starts every rank with the same command (torchrun, or any
launcher that sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT), each rank would name a
run directory of its own (timestamp and random id). Rank 0 names it and puts the path in
the launcher's TCP store at MASTER_ADDR:MASTER_PORT, the one the process group meets at
later; the other ranks wait for it there before Hydra starts and run in that directory
(`rank_zero_run_dir`, `announce_run_dir`). The store is there before any rank's process
group, and every rank has its address, on one node or many; a path derived from the
environment (TORCHELASTIC_RUN_ID is "none" unless the user sets it) would not be unique.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fabricx import internals
from fabricx.launch.arguments import VERB_ENV, job_arguments, parse_flags


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

    Lightning builds the command in a private function its launchers (Fabric's and the
    Trainer's) call whenever Hydra is running; fabricx.internals replaces it, and
    tests/unit/test_internals.py fails if a Lightning release moves it.
    """
    internals.use_for_hydra_child_ranks(child_rank_command)


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


# Rank 0's run directory, in the launcher's store; a restart of the ranks (torchrun
# --max-restarts) asks again, and Hydra starts a new run directory for it.
_RUN_DIR_KEY = "fabricx/run_dir/{restart}"
RUN_DIR_TIMEOUT_S = 600  # how long ranks 1..N-1 wait for rank 0 to name the directory
_stores: list[object] = []  # a store rank 0 hosts must live as long as the process


def launched_rank() -> tuple[int, int] | None:
    """(rank, world size) when a launcher outside fabricx started this process as one rank
    of several (torchrun sets RANK; Lightning's own child ranks get their directory on the
    command line and have no RANK); None otherwise."""
    names = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    if not all(os.environ.get(name) for name in names):
        return None
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    return (rank, world_size) if world_size > 1 else None


def _shares_run_dir(verb: str, rest: Sequence[str]) -> bool:
    """A train job in a run directory Hydra names (not a multirun, not an inspection)."""
    if verb != "train" or launched_rank() is None:
        return False
    args = parse_flags(rest)
    inspects = args.help or args.hydra_help or args.info or args.cfg or args.shell_completion
    return not (args.multirun or inspects)


def rank_zero_run_dir(verb: str, rest: Sequence[str]) -> list[str]:
    """Hydra overrides that put rank N > 0 of a launched job into rank 0's run directory;
    [] for rank 0 and for anything else.

    Raises:
        FabricxError: rank 0 did not name its directory within RUN_DIR_TIMEOUT_S.
    """
    if not _shares_run_dir(verb, rest):
        return []
    rank, world_size = launched_rank()  # type: ignore[misc]
    if rank == 0:
        return []
    given = {o.split("=", 1)[0] for o in rest if "=" in o}
    extra = []
    if "hydra.run.dir" not in given:  # resume= names it already, the same on every rank
        store = _store(rank, world_size)
        try:
            run_dir = store.get(_key()).decode()
        except RuntimeError as err:  # the store's timeout
            from fabricx.errors import FabricxError

            raise FabricxError(
                f"rank {rank}: rank 0 did not name its run directory within "
                f"{RUN_DIR_TIMEOUT_S} s (store at {os.environ['MASTER_ADDR']}:"
                f"{os.environ['MASTER_PORT']}): {err}"
            ) from None
        extra.append(f'hydra.run.dir="{run_dir}"')
    if "hydra.output_subdir" not in given:
        extra.append("hydra.output_subdir=null")  # rank 0 alone writes .hydra/
    if "hydra.job.name" not in given:
        extra.append(f"hydra.job.name=train_ddp_process_{rank}")  # the rank's own log file
    return extra


def announce_run_dir(verb: str) -> None:
    """On rank 0 of a launched job, put this job's run directory in the launcher's store for
    `rank_zero_run_dir` on the other ranks; a no-op elsewhere."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    launched = launched_rank()
    if launched is None or launched[0] != 0:
        return
    hydra_cfg = HydraConfig.get()
    if verb != "train" or hydra_cfg.mode == RunMode.MULTIRUN:
        return
    _store(*launched).set(_key(), str(Path(hydra_cfg.runtime.output_dir).resolve()))


def _key() -> str:
    return _RUN_DIR_KEY.format(restart=os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))


def _store(rank: int, world_size: int) -> Any:
    """The launcher's TCP store at MASTER_ADDR:MASTER_PORT, as torch's env:// rendezvous
    finds it: torchrun's agent hosts it (TORCHELASTIC_USE_AGENT_STORE=True) and every rank
    is a client; otherwise rank 0 hosts it, shared (multi-tenant) with the process group
    that starts there later."""
    from datetime import timedelta

    import torch.distributed as dist

    hosts = rank == 0 and os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True"
    store = dist.TCPStore(
        os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world_size,
        is_master=hosts, timeout=timedelta(seconds=RUN_DIR_TIMEOUT_S),
        wait_for_workers=False, multi_tenant=True,
    )  # fmt: skip
    _stores.append(store)
    return store
