"""`fabricx report run=<dir>`: write (again) the report.html of a run or of a sweep.

Every run writes its page at its end; this writes it for runs made before that, or again
after a file changed. A sweep directory (one holding sweep.json) gets the sweep's page,
built from its study. Reads files only: no checkpoint, no torch.

    fabricx report run=runs/default/20261205-113547-2ca30c
    fabricx report run=runs/digits_mlp/sweeps/digits_mlp
"""

from __future__ import annotations

from pathlib import Path

from fabricx.errors import ConfigError

USAGE = "usage: fabricx report run=<run or sweep directory> [run=<another> ...]"


def run(argv: list[str]) -> int:
    if not argv or any(not a.startswith("run=") or a == "run=" for a in argv):
        bad = [a for a in argv if not a.startswith("run=") or a == "run="]
        given = f" (got {' '.join(bad)})" if bad else ""
        raise ConfigError(f"{USAGE}{given}; `fabricx runs` lists the run directories.")
    dirs = [Path(a.split("=", 1)[1]) for a in argv]
    for directory in dirs:
        _check(directory)
    for directory in dirs:
        print(f"report: {write_report(directory)}")
    return 0


def write_report(directory: Path) -> Path:
    from fabricx.sweep.plan import PLAN_FILE

    if (directory / PLAN_FILE).is_file():
        return _sweep_report(directory)
    from fabricx.pages.run_page import write_run_report

    return write_run_report(directory)


def _sweep_report(directory: Path) -> Path:
    from fabricx.sweep import report
    from fabricx.sweep import study as studies
    from fabricx.sweep.page import write_sweep_page
    from fabricx.sweep.plan import SweepPlan

    plan = SweepPlan.read(directory)
    study = studies.load(plan)
    return write_sweep_page(study, plan, report.best_summary(study, plan))


def _check(directory: Path) -> None:
    from fabricx.sweep.plan import PLAN_FILE

    if not directory.is_dir():
        raise ConfigError(
            f"run={directory}: no such directory; give a run directory "
            "(runs/<experiment>/<timestamp>-<id>, `fabricx runs` lists them) or a sweep's."
        )
    if not (directory / "config.yaml").is_file() and not (directory / PLAN_FILE).is_file():
        raise ConfigError(
            f"run={directory}: not a run directory (no config.yaml) nor a sweep directory "
            f"(no {PLAN_FILE}); `fabricx runs {directory}` lists the runs under it."
        )
