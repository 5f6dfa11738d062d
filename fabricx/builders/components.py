"""Build the datamodule, the model and the task (with its optimizer and scheduler)."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from torch import nn

from fabricx.config.groups import TASK_SUPPLIED
from fabricx.config.instantiate import build, check_targets
from fabricx.config.schema import TrainConfig
from fabricx.config.signatures import import_target, signature_of


def build_datamodule(cfg: TrainConfig, prefixes: list[str] | None = None) -> pl.LightningDataModule:
    """The data group's LightningDataModule.

    Args:
        prefixes: the modules `_target_`s may name; None: the config's own lists, for a
            config the caller composed (a run directory's config must be given the modules
            the caller trusts: fabricx.runs.saved_config.load_saved_config).
    """
    return build(cfg.data, _prefixes(cfg, prefixes), "data")


def build_model(cfg: TrainConfig, prefixes: list[str] | None = None) -> nn.Module | None:
    """The model group's module, or None with model=none (the task builds its own)."""
    if cfg.model is None:
        return None
    return build(cfg.model, _prefixes(cfg, prefixes), "model")


def build_task(cfg: TrainConfig, model: nn.Module | None, prefixes: list[str] | None = None) -> Any:
    """The LightningModule, given what its signature asks for of the model, the optimizer
    (a partial that the task completes with the parameters) and the scheduler (a partial
    completed with the optimizer), as the checker agreed (fabricx.config.components)."""
    prefixes = _prefixes(cfg, prefixes)
    check_targets(cfg.task, prefixes, "task")  # before its module is imported
    target = cfg.task["_target_"]
    params = signature_of(target, import_target(target)).params
    from_groups = {
        "model": model,
        "optimizer": _factory(cfg.optim, prefixes, "optim"),
        "scheduler": _factory(cfg.scheduler, prefixes, "scheduler"),
    }
    supplied = {name: from_groups[name] for name in TASK_SUPPLIED if name in params}
    return build(cfg.task, prefixes, "task", **supplied)


def _factory(node: dict[str, Any] | None, prefixes: list[str], path: str) -> Any:
    """An optimizer or scheduler as a partial, completed later (with the parameters, the
    optimizer), whether or not its node says `_partial_: true`."""
    return None if node is None else build({**node, "_partial_": True}, prefixes, path)


def _prefixes(cfg: TrainConfig, prefixes: list[str] | None) -> list[str]:
    """The caller's trusted modules; the config's own lists only when the caller gives none."""
    return cfg.target_prefixes if prefixes is None else prefixes
