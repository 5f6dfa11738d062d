"""Read a finished run's own config back, typed, without recomposing anything from conf/."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from fabricx.config.instantiate import check_targets
from fabricx.config.problems import omegaconf_problem
from fabricx.config.schema import DEFAULT_TARGET_PREFIXES, GROUP_SCHEMAS, EvalConfig, TrainConfig
from fabricx.config.typed import to_typed
from fabricx.errors import ConfigError


def load_saved_config(run_dir: Path) -> TrainConfig:
    """The typed TrainConfig saved in `run_dir/config.yaml`.

    The file is resolved (no defaults list), so each group's schema is found again from its
    `_target_`; the file is still checked against the schema like any other config.

    Raises:
        ConfigError: `run_dir` is no run directory, or its config no longer validates.
    """
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise ConfigError(
            f"run={run_dir}: no config.yaml there, so it is not a fabricx run directory; "
            "pass a directory such as runs/<experiment>/<timestamp>-<id>."
        )
    raw = OmegaConf.load(path)
    schemas = {
        group: OmegaConf.structured(_schema_for(group, raw.get(group))) for group in GROUP_SCHEMAS
    }
    try:
        merged = OmegaConf.merge(OmegaConf.structured(TrainConfig), schemas, raw)
    except OmegaConfBaseException as err:
        raise ConfigError(omegaconf_problem(err, str(path))) from None
    try:
        return to_typed(merged)
    except ConfigError as err:
        raise ConfigError(f"{p} (in {path})" for p in err.problems) from None


def check_eval_target(cfg: EvalConfig) -> None:
    """Refuse a run directory without a usable config or checkpoint, before any work."""
    from fabricx.runs import find_checkpoint

    run_dir = Path(cfg.run)
    saved = load_saved_config(run_dir)
    # The run's own allowed_target_prefixes are data from the directory: not trusted.
    check_targets(saved, [*DEFAULT_TARGET_PREFIXES, *cfg.extra_target_prefixes])
    if find_checkpoint(run_dir, cfg.checkpoint) is None:
        raise ConfigError(
            f"checkpoint={cfg.checkpoint}: {run_dir}/checkpoints has no such checkpoint; "
            "use checkpoint=best, checkpoint=last or a .ckpt path."
        )


def _schema_for(group: str, node: object) -> type:
    """The option schema whose default `_target_` is the saved one, else the group's base."""
    options = list(GROUP_SCHEMAS[group].values())
    target = node.get("_target_") if OmegaConf.is_dict(node) else None
    for schema in options:
        default = next(
            (f.default for f in dataclasses.fields(schema) if f.name == "_target_"), None
        )
        if target is not None and default == target:
            return schema
    if target is not None:
        raise ConfigError(
            f"{group}._target_={target!r}: no fabricx schema builds it, so this run's config "
            "cannot be checked; evaluate it with the fabricx version that trained it."
        )
    return options[0]
