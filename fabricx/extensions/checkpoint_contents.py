"""What every checkpoint holds besides Lightning's own state: the run's config, and only data
that `torch.load(weights_only=True)` reads.

fabricx loads checkpoints with weights_only=True, so a checkpoint from elsewhere cannot run
code. A task that calls `self.save_hyperparameters()` with its model or optimizer among the
arguments (lightning-hydra-template's tasks do) would put pickled objects into the file and
break that; their hyper-parameters are kept as data instead: a partial as its `_target_` and
arguments, any other object as its class name. The weights are in the state dict anyway.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from omegaconf import OmegaConf

# Where a checkpoint keeps fabricx's record of the run.
RECORD_KEY = "fabricx"


class CheckpointContents(Callback):
    """Adds the run's config under checkpoint["fabricx"]["config"] and turns the saved
    hyper-parameters into plain data.

    Args:
        config: the run's resolved config as plain containers.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint[RECORD_KEY] = {"config": self.config}
        for key in ("hyper_parameters", "datamodule_hyper_parameters"):
            if key in checkpoint:
                checkpoint[key] = plain_data(checkpoint[key])


def plain_data(value: Any) -> Any:
    """`value` with every object that weights_only cannot load replaced by data."""
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return value
    if isinstance(value, functools.partial):
        func = value.func
        return {
            "_target_": f"{func.__module__}.{getattr(func, '__qualname__', func)}",
            "_partial_": True,
            **{k: plain_data(v) for k, v in value.keywords.items()},
        }
    if isinstance(value, Mapping):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if OmegaConf.is_config(value):  # a DictConfig or ListConfig
        return plain_data(OmegaConf.to_container(value, resolve=True))
    kind = type(value)
    return f"<{kind.__module__}.{kind.__qualname__}: not saved as data>"
