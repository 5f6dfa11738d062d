"""`resume=` before Hydra starts: the run (or sweep) directory a train command continues,
handed to Hydra as its output directory. Which run, and whether it may, is fabricx.runs.resume.
"""

from __future__ import annotations

import math
from typing import Any

from fabricx.runs import resume


def hydra_overrides(cfg: Any, overrides: list[str], multirun: bool) -> list[str]:
    """Hydra overrides that put this command's job(s) into the run it resumes; [] for new.

    Args:
        cfg: the validated TrainConfig of the command (of its first job, for a sweep).
        overrides: the command's overrides, as typed.
        multirun: whether the command sweeps (-m).

    Raises:
        ConfigError: resume names no resumable run, or one trained with another model or data.
    """
    chosen = any(o.startswith(("hydra.run.dir=", "hydra.sweep.dir=")) for o in overrides)
    if cfg.resume is None or chosen:
        # No resume, or the directory is already chosen: DDP child ranks get their job's.
        return []
    if multirun:
        sweep_dir = resume.sweep_to_resume(cfg, overrides, _job_count(overrides))
        return [] if sweep_dir is None else [f'hydra.sweep.dir="{sweep_dir}"']
    run_dir = resume.run_to_resume(cfg)
    if run_dir is None:
        return []
    resume.check_compatible(resume.saved_config(run_dir), resume.plain_config(cfg), run_dir)
    # output_subdir=null keeps the run's .hydra/ as its first launch wrote it.
    return [f'hydra.run.dir="{run_dir}"', "hydra.output_subdir=null"]


def _job_count(overrides: list[str]) -> int:
    """Jobs in the basic sweeper's cross product of these overrides."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    return math.prod(len(list(o.sweep_iterator())) for o in parsed if o.is_sweep_override())
