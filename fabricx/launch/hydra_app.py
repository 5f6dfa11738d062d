"""Run Hydra's main for a verb, in this process, with the verb's arguments as its argv.

Hydra reads sys.argv itself, so it is swapped for the verb's arguments while Hydra runs. Job
errors that fabricx explains are reported cleanly and turned into the exit status; a multirun
goes on with its next job. SIGTERM and SIGINT end the whole command, multirun or not, with
status 143 or 130 (fabricx.runs.signals).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

from fabricx import clock
from fabricx.errors import FabricxError, report
from fabricx.launch.arguments import VERB_ENV, job_arguments, parse_flags
from fabricx.runs.job import Job, preemption_from_environment, trial_from_environment
from fabricx.runs.signals import (
    DEFAULT_SIGNAL,
    SIGNAL_ENV,
    Interrupted,
    Preempted,
    as_interrupted,
    requeue_and_exit,
    stop_on_signals,
)

# Exit codes of the jobs of this invocation (a multirun runs several in one process).
_job_exit_codes: list[int] = []


def run_hydra(config_name: str, rest: list[str], job: str) -> int:
    """Run Hydra's main for `config_name` with `rest` as its command line.

    Hydra reads sys.argv itself, so it is swapped for the verb's arguments while Hydra runs.
    `job` is a verb's "module:function", imported only when a job starts (torch loads
    there); it is called with the composed config and the job's `Job`.
    """
    import hydra

    from fabricx.config.paths import conf_dir, searchpath_override
    from fabricx.launch import ranks
    from fabricx.launch.compose import register

    register()

    def task_function(cfg: Any) -> None:
        clock.start_job()  # a multirun's later jobs start here, not at import
        module, name = job.split(":")
        environment = dict(os.environ)
        try:
            ranks.use_job_command_for_child_ranks()
            ranks.announce_run_dir(config_name)  # torchrun's rank 0: the others' directory
            verb = getattr(importlib.import_module(module), name)
            with stop_on_signals():
                verb(cfg, current_job(config_name))
        except Preempted as err:  # checkpoint saved: requeue on SLURM, end this process
            from lightning.pytorch.utilities import rank_zero_only

            report(err)
            ranks.end_process_group()
            requeue_and_exit(err, rank_zero_only.rank)
        except BaseException as err:
            stop = as_interrupted(err)
            if stop is not None:  # SIGTERM or SIGINT: the command ends, multirun or not
                print(f"fabricx: {stop.status}: {stop}", file=sys.stderr)
                if stop is err:
                    raise
                raise stop from err  # the signal's exception, turned into another
            if not isinstance(err, FabricxError):
                raise
            report(err)  # reported cleanly; a multirun goes on with the next job
            _job_exit_codes.append(err.exit_code)
        finally:
            # Each job of a multirun starts as the first did: no process group, and none of
            # the variables (LOCAL_RANK, MASTER_PORT, ...) a DDP job's launch left behind.
            ranks.end_process_group()
            os.environ.clear()
            os.environ.update(environment)

    main = hydra.main(config_path=str(conf_dir()), config_name=config_name, version_base="1.3")(
        task_function
    )
    # submitit asks SLURM for this signal before a preemption or the time limit, and fabricx
    # checkpoints on it (fabricx.runs.signals): SIGUSR1 unless the user names another.
    os.environ.setdefault(SIGNAL_ENV, DEFAULT_SIGNAL)
    saved_argv = sys.argv
    # The project's conf/ ([tool.fabricx] config-dir) beside fabricx's; --config-dir Hydra
    # adds itself. A search path the user sets wins (and then names the project's if needed).
    own_searchpath = any(a.startswith("hydra.searchpath=") for a in rest)
    rest = [*rest, *ranks.rank_zero_run_dir(config_name, rest)]  # torchrun's other ranks
    sys.argv = [saved_argv[0], *rest, *([] if own_searchpath else searchpath_override(None))]
    os.environ[VERB_ENV] = config_name
    _job_exit_codes.clear()
    try:
        main()
    except Interrupted as err:  # reported by the job; no traceback
        return err.exit_code
    finally:
        sys.argv = saved_argv
    return max(_job_exit_codes, default=0)


def current_job(verb: str) -> Job:
    """The running Hydra job as a `Job`: where it writes, its overrides, the command that
    reruns it, its multirun, and what the environment says (sweep trial, preemption)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    overrides = list(hydra_cfg.overrides.task)
    config_dir = parse_flags(sys.argv[1:]).config_dir
    return Job(
        run_dir=Path(hydra_cfg.runtime.output_dir).resolve(),
        overrides=overrides,
        command=["fabricx", verb, *job_arguments(overrides, multirun)],
        group=Path(hydra_cfg.sweep.dir).name if multirun else None,
        launched_by=["fabricx", verb, *sys.argv[1:]] if multirun else None,
        config_dir=str(Path(config_dir).resolve()) if config_dir else None,
        trial=trial_from_environment(),
        preemption_signal=preemption_from_environment(),
    )
