"""A sweep's search space checked before trial 0: every corner case composes and checks."""

from __future__ import annotations

import dataclasses
from typing import Any

from fabricx.errors import ConfigError
from fabricx.launch.compose import validate
from fabricx.sweep.plan import trial_base_args
from fabricx.sweep.space import as_overrides, corner_cases


def check_space(typed: Any, overrides: list[str], config_dir: str | None) -> None:
    """Compose the train config of every corner case; exit 2 naming the values that fail."""
    params = {name: dataclasses.asdict(p) for name, p in typed.sweep.params.items()}
    base = trial_base_args(overrides, typed.stages)
    problems = []
    for case in [*corner_cases(params), *typed.sweep.enqueue]:
        values = as_overrides(case)
        try:
            validate("train", [*base, *values], config_dir=config_dir)
        except ConfigError as err:
            problems += [f"search space ({' '.join(values)}): {p}" for p in err.problems]
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)))
