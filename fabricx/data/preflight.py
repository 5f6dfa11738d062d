"""Check a run's data files before Hydra creates its run directory.

A bad file found by the datamodule's `setup` fails the run after its directory, its W&B
run and its provenance exist. A datamodule that defines `check_data()` can be asked first:
fabricx's own read and check their files there (labels in range, tags known, images within
the size limit) without training, raising DataError (exit status 6) with the file and the
line or item. The CLI calls `check_data` for a single `fabricx train` run; the jobs of a
multirun each check their data in `setup`. A datamodule without `check_data()` (a user's,
or one whose data has no files, such as digits) is not even built here.
"""

from __future__ import annotations

from typing import Any

from fabricx.config.instantiate import build, resolve_target
from fabricx.config.schema import TrainConfig


def check_data(cfg: TrainConfig, prefixes: list[str] | None = None) -> None:
    """Build the data group's datamodule and call its `check_data()`, if it has one.

    Args:
        cfg: the run's typed config (already checked: fabricx.config.check.check_config).
        prefixes: the modules `_target_`s may name; None: the config's own lists and the
            project's `[tool.fabricx] target-prefixes`, as the runner trusts them.

    Raises:
        DataError: a data file the datamodule refuses (named, with the line or item), or a
            setting the data contradicts (e.g. data.num_classes); the same error, and exit
            status 6, as when `setup` finds it in a job.

    Example::

        check_data(validate("train", ["data=mnist", "data.path=~/data/mnist"]))
    """
    from fabricx.runs.output_dir import is_child_rank

    if is_child_rank():
        return  # a rank started by a launcher: rank 0 checked the data
    prefixes = _trusted_prefixes(cfg) if prefixes is None else prefixes
    target = resolve_target(cfg.data["_target_"], prefixes, "data")
    if not callable(getattr(target, "check_data", None)):
        return  # nothing to ask: do not build (a constructor may be costly or have effects)
    datamodule: Any = build(cfg.data, prefixes, "data")
    datamodule.check_data()


def _trusted_prefixes(cfg: TrainConfig) -> list[str]:
    """fabricx.config.check.trusted_prefixes, for a typed config."""
    from fabricx.config.project import active_project
    from fabricx.config.trust import TrustedModules

    project = active_project()
    extra = project.target_prefixes if project is not None else []
    return TrustedModules([*cfg.target_prefixes, *extra], cfg.allow_unsafe_targets)
