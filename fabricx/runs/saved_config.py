"""Read a finished run's own config back, checked and typed, without recomposing from conf/.

The file is data: its components are checked against their signatures like any config, and
its own `allowed_target_prefixes` are not trusted: the caller says which modules it allows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from fabricx.config.check import check_config
from fabricx.config.problems import omegaconf_problem
from fabricx.config.schema import (
    DEFAULT_TARGET_PREFIXES,
    DDPStrategyConfig,
    FinishedRunConfig,
    FSDPStrategyConfig,
    StrategyConfig,
    TrainConfig,
)
from fabricx.errors import ConfigError

_STRATEGIES = {"auto": StrategyConfig, "ddp": DDPStrategyConfig, "fsdp": FSDPStrategyConfig}


def read_saved_config(run_dir: Path) -> DictConfig:
    """`run_dir/config.yaml` merged onto the schema, unchecked.

    Raises:
        ConfigError: `run_dir` is no run directory, or its file is not a config.
    """
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise ConfigError(
            f"run={run_dir}: no config.yaml there, so it is not a fabricx run directory; "
            "pass a directory such as runs/<experiment>/<timestamp>-<id>."
        )
    try:
        return as_train_config(OmegaConf.load(path))
    except OmegaConfBaseException as err:
        raise ConfigError(omegaconf_problem(err, str(path))) from None
    except Exception as err:  # not YAML, or not a mapping
        raise ConfigError(f"{path}: not a config file ({type(err).__name__}: {err}).") from None


def as_train_config(data: Any) -> DictConfig:
    """A resolved train config (a mapping, as config.yaml holds it) merged onto the schema,
    its strategy read with the schema its name says."""
    strategy = data.get("strategy") or {}
    schema = _STRATEGIES.get(str(strategy.get("name", "auto")), StrategyConfig)
    return OmegaConf.merge(
        OmegaConf.structured(TrainConfig), {"strategy": OmegaConf.structured(schema)}, data
    )


def load_saved_config(run_dir: Path, prefixes: list[str] | None = None) -> TrainConfig:
    """The checked, typed TrainConfig saved in `run_dir/config.yaml`.

    Args:
        prefixes: the modules its `_target_`s may name; fabricx's defaults when None. The
            file's own list is never used: a run directory cannot widen what runs.

    Raises:
        ConfigError: `run_dir` is no run directory, or its config no longer checks.
    """
    from fabricx.config.trust import TrustedModules, opt_ins

    merged = read_saved_config(run_dir)
    prefixes = prefixes or TrustedModules(DEFAULT_TARGET_PREFIXES)
    # The file's own opt-ins to unsafe callables are data too: only this command's count.
    merged.allow_unsafe_targets = list(opt_ins(prefixes))
    try:
        return check_config(merged, prefixes)
    except ConfigError as err:
        where = run_dir / "config.yaml"
        raise ConfigError(f"{p} (in {where})" for p in err.problems) from None


def check_run_target(cfg: FinishedRunConfig, prefixes: list[str]) -> None:
    """Refuse a run directory without a usable config or checkpoint, before any work.

    For the verbs that work on a finished run (eval, export, bench): `cfg` names the run and
    the checkpoint; `prefixes` are the modules the command allows.
    """
    from fabricx.runs.checkpoints import find_checkpoint

    run_dir = Path(cfg.run)
    load_saved_config(run_dir, prefixes)
    if find_checkpoint(run_dir, cfg.checkpoint) is None:
        raise ConfigError(
            f"checkpoint={cfg.checkpoint}: {run_dir}/checkpoints has no such checkpoint; "
            "use checkpoint=best, checkpoint=last or a .ckpt path."
        )
