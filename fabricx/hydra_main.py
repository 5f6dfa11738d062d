"""Run Hydra's main for a verb, in this process, with the verb's arguments as its argv.

Hydra reads sys.argv itself, so it is swapped for the verb's arguments while Hydra runs. Job
errors that fabricx explains are reported cleanly and turned into the exit status; a multirun
goes on with its next job.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from fabricx.errors import FabricxError, report

# Tells a DDP child rank which verb its parent ran (see fabricx.cli.main).
VERB_ENV = "FABRICX_VERB"

# Exit codes of the jobs of this invocation (a multirun runs several in one process).
_job_exit_codes: list[int] = []


def run_hydra(config_name: str, rest: list[str], job: str) -> int:
    """Run Hydra's main for `config_name` with `rest` as its command line.

    Hydra reads sys.argv itself, so it is swapped for the verb's arguments while Hydra runs.
    `job` is "module:function", imported only when a job starts (torch loads there).
    """
    import hydra

    from fabricx.config.compose import register
    from fabricx.config.paths import conf_dir

    register()

    def task_function(cfg: Any) -> None:
        module, name = job.split(":")
        try:
            getattr(importlib.import_module(module), name)(cfg)
        except FabricxError as err:  # reported cleanly; a multirun goes on with the next job
            report(err)
            _job_exit_codes.append(err.exit_code)

    main = hydra.main(config_path=str(conf_dir()), config_name=config_name, version_base="1.3")(
        task_function
    )
    saved_argv = sys.argv
    sys.argv = [saved_argv[0], *rest]
    os.environ[VERB_ENV] = config_name
    _job_exit_codes.clear()
    try:
        main()
    finally:
        sys.argv = saved_argv
    return max(_job_exit_codes, default=0)
