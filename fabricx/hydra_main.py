"""Run Hydra's main for a verb, in this process, with the verb's arguments as its argv.

Hydra reads sys.argv itself, so it is swapped for the verb's arguments while Hydra runs. Job
errors that fabricx explains are reported cleanly and turned into the exit status; a multirun
goes on with its next job. SIGTERM and SIGINT end the whole command, multirun or not, with
status 143 or 130 (fabricx.preemption).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from fabricx.errors import FabricxError, report
from fabricx.preemption import (
    DEFAULT_SIGNAL,
    SIGNAL_ENV,
    Interrupted,
    Preempted,
    as_interrupted,
    requeue_and_exit,
    stop_on_signals,
)

# The verb this process runs; DDP child ranks are started with the same (fabricx.ranks).
VERB_ENV = "FABRICX_VERB"

# Exit codes of the jobs of this invocation (a multirun runs several in one process).
_job_exit_codes: list[int] = []


def run_hydra(config_name: str, rest: list[str], job: str) -> int:
    """Run Hydra's main for `config_name` with `rest` as its command line.

    Hydra reads sys.argv itself, so it is swapped for the verb's arguments while Hydra runs.
    `job` is "module:function", imported only when a job starts (torch loads there).
    """
    import hydra

    from fabricx import ranks
    from fabricx.config.compose import register
    from fabricx.config.paths import conf_dir, searchpath_override

    register()

    def task_function(cfg: Any) -> None:
        module, name = job.split(":")
        environment = dict(os.environ)
        try:
            ranks.use_job_command_for_child_ranks()
            ranks.announce_run_dir(config_name)  # torchrun's rank 0: the others' directory
            with stop_on_signals():
                getattr(importlib.import_module(module), name)(cfg)
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
    # checkpoints on it (fabricx.preemption): SIGUSR1 unless the user names another.
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


def job_arguments(job_overrides: list[str], multirun: bool) -> list[str]:
    """Arguments that rerun one job: this command line, or for a job of a multirun its
    flags (--config-dir, ...) without -m and the sweep, plus the job's own overrides."""
    # The project's search path, which run_hydra added, is found again from the working
    # directory: not repeated. One the user typed stays.
    from fabricx.config.paths import searchpath_override

    added = set(searchpath_override(None))
    argv = [a for a in sys.argv[1:] if a not in added]
    if not multirun:
        return argv
    from hydra._internal.utils import get_args_parser

    sweep_overrides = set(get_args_parser().parse_args(argv).overrides)
    flags = [a for a in argv if a not in sweep_overrides and a not in ("-m", "--multirun")]
    return [*flags, *job_overrides]
