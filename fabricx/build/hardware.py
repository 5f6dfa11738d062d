"""Refuse settings this machine cannot run, before a run directory exists.

Imports torch (to see the GPUs) but not lightning, so the CLI runs it before Hydra starts.
"""

from __future__ import annotations

from fabricx.config.schema import TrainConfig
from fabricx.errors import ConfigError


def check_hardware(cfg: TrainConfig) -> None:
    """Raise ConfigError for an accelerator or precision this machine lacks."""
    import torch

    has_cuda = torch.cuda.is_available()
    accelerator = cfg.trainer.accelerator
    if accelerator in ("gpu", "cuda") and not has_cuda:
        raise ConfigError(
            f"trainer.accelerator={accelerator} but no CUDA GPU is visible here; "
            "use trainer.accelerator=cpu (or auto)."
        )
    on_cpu = accelerator == "cpu" or not has_cuda
    if cfg.precision.name == "16-mixed" and on_cpu:
        raise ConfigError(
            "precision=16-mixed needs a CUDA GPU and this run is on the CPU; use "
            "precision=bf16-mixed (CPU autocast) or precision=32."
        )
