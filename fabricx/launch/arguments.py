"""Hydra's own command-line flags (-m, --cfg, --config-dir, ...), as Hydra parses them."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from fabricx import internals

# The verb this process runs; DDP child ranks are started with the same (fabricx.launch.ranks).
VERB_ENV = "FABRICX_VERB"


def parse_flags(argv: Sequence[str], prog: str = "fabricx <verb>") -> Any:
    """The argparse namespace Hydra makes of `argv`: overrides, multirun, config_dir, cfg, ..."""
    parser = internals.hydra_args_parser()
    parser.prog = prog
    return parser.parse_args(list(argv))


def runs_a_job(args: Any) -> bool:
    """False for Hydra's inspection flags (--help, --cfg, --info, ...), which run no job."""
    return not (args.help or args.hydra_help or args.info or args.cfg or args.shell_completion)


def composes(args: Any) -> bool:
    """False only for help and shell completion; --cfg and --info print a composed config,
    so they are validated like a run."""
    return not (args.help or args.hydra_help or args.shell_completion)


def config_dir_flag(argv: Sequence[str]) -> str | None:
    """--config-dir (or -cd) from a command line, before Hydra parses it."""
    rest = list(argv)
    for flag in ("--config-dir", "-cd"):
        if flag in rest[:-1]:
            return rest[rest.index(flag) + 1]
    return next((a.split("=", 1)[1] for a in rest if a.startswith("--config-dir=")), None)


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
    sweep_overrides = set(parse_flags(argv).overrides)
    flags = [a for a in argv if a not in sweep_overrides and a not in ("-m", "--multirun")]
    return [*flags, *job_overrides]
