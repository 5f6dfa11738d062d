"""Read a finished run's own config back, typed, without recomposing anything from conf/."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from fabricx.config.instantiate import check_targets
from fabricx.config.problems import omegaconf_problem
from fabricx.config.schema import (
    DEFAULT_TARGET_PREFIXES,
    GROUP_SCHEMAS,
    FinishedRunConfig,
    TrainConfig,
)
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


def check_run_target(cfg: FinishedRunConfig) -> None:
    """Refuse a run directory without a usable config or checkpoint, before any work.

    For the verbs that work on a finished run (eval, export): `cfg` names the run, the
    checkpoint and the modules the command allows beyond fabricx's defaults.
    """
    from fabricx.checkpoints import find_checkpoint

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
    """The schema to read a saved group with.

    The option whose default `_target_` is the saved one, else the most specific schema
    whose fields hold every saved key (a run may have overridden `_target_`, e.g.
    `optim._target_=torch.optim.Adam` with AdamW's fields), else the group's base schema.
    """
    options = list(GROUP_SCHEMAS[group].values())
    if not OmegaConf.is_dict(node):
        return options[0]
    target = node.get("_target_")
    for schema in options:
        if target is not None and _default(schema, "_target_") == target:
            return schema
    keys = set(node.keys())
    fitting = [s for s in options if keys <= {f.name for f in dataclasses.fields(s)}]
    if fitting:
        return min(fitting, key=lambda s: len(dataclasses.fields(s)))
    raise ConfigError(
        f"{group}: no fabricx schema has the keys {sorted(keys)} saved for it (its _target_ is"
        f" {target!r}), so this run's config cannot be checked."
    )


def _default(schema: type, name: str) -> object:
    return next((f.default for f in dataclasses.fields(schema) if f.name == name), None)
