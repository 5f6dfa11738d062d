"""Refuse settings this machine cannot run, before a run directory exists.

Covers the accelerator, precision, strategy and device count: everything that would
otherwise fail only after Lightning started (or after a distributed launch spawned ranks).

Imports torch (to see the GPUs) but not lightning, so the CLI runs it before Hydra starts.
"""

from __future__ import annotations

from typing import Any

from fabricx.config.schema import TrainConfig
from fabricx.errors import ConfigError

# Stages that run after fit on the in-memory model, which FSDP leaves sharded and wrapped.
_UNSHARDED_STAGES = ("test", "export", "verify", "bench")


def check_hardware(cfg: TrainConfig) -> None:
    """Raise ConfigError for an accelerator, precision, strategy or device count this machine
    (or the chosen strategy on it) cannot run.

    Raises:
        ConfigError: e.g. strategy=fsdp without a CUDA GPU, process_group_backend=nccl on the
            CPU, or trainer.devices above the number of visible GPUs.
    """
    import torch

    has_cuda = torch.cuda.is_available()
    accelerator = cfg.trainer.accelerator
    if accelerator in ("gpu", "cuda") and not has_cuda:
        raise ConfigError(
            f"trainer.accelerator={accelerator} but no CUDA GPU is visible here; "
            "use trainer.accelerator=cpu (or auto)."
        )
    on_cpu = accelerator == "cpu" or not has_cuda
    on_cuda = has_cuda and accelerator in ("auto", "gpu", "cuda")
    where = f"trainer.accelerator={accelerator}" if has_cuda else "no CUDA GPU is visible here"
    if cfg.precision.name == "16-mixed" and on_cpu:
        raise ConfigError(
            "precision=16-mixed needs a CUDA GPU and this run is on the CPU; use "
            "precision=bf16-mixed (CPU autocast) or precision=32."
        )
    strategy = cfg.strategy
    if strategy.name == "fsdp" and not on_cuda:
        raise ConfigError(
            f"strategy=fsdp needs CUDA GPUs (torch's FSDP runs on CUDA devices only) and {where};"
            " use strategy=ddp on the CPU (gloo), e.g. strategy=ddp trainer.devices=2"
            " trainer.accelerator=cpu."
        )
    if getattr(strategy, "process_group_backend", None) == "nccl" and not on_cuda:
        raise ConfigError(
            f"strategy.process_group_backend=nccl needs CUDA GPUs and {where}; use"
            " strategy.process_group_backend=gloo, or null (gloo on CPU, nccl on GPU)."
        )
    if on_cuda:
        _check_gpu_count(cfg.trainer.devices, torch.cuda.device_count())
    if strategy.name == "fsdp":
        _check_fsdp_run(cfg)


def _check_gpu_count(devices: Any, visible: int) -> None:
    """trainer.devices as Lightning reads it for CUDA: a count, -1/"auto" (all), or indices."""
    if devices in ("auto", -1, "-1"):
        return
    if isinstance(devices, str):
        parts = [p.strip() for p in devices.split(",") if p.strip()]
        devices = [int(p) for p in parts] if "," in devices else int(devices)
    if isinstance(devices, int) and devices > visible:
        raise ConfigError(
            f"trainer.devices={devices} asks for {devices} GPUs but {visible} "
            f"{'is' if visible == 1 else 'are'} visible here; use trainer.devices={visible}"
            " or fewer (-1: all of them), or set CUDA_VISIBLE_DEVICES."
        )
    if isinstance(devices, list) and devices and max(devices) >= visible:
        raise ConfigError(
            f"trainer.devices={devices} names GPU index {max(devices)} but {visible} "
            f"{'is' if visible == 1 else 'are'} visible here (indices 0 to {visible - 1});"
            " name visible GPUs only, or give a count such as trainer.devices="
            f"{min(len(devices), visible)}."
        )


def _check_fsdp_run(cfg: TrainConfig) -> None:
    """What an FSDP run cannot do in fabricx, refused before the ranks start."""
    if cfg.trainer.gradient_clip_val is not None:
        raise ConfigError(
            f"trainer.gradient_clip_val={cfg.trainer.gradient_clip_val} with strategy=fsdp:"
            " Lightning's FSDP cannot clip gradients by norm (it fails at the first step); set"
            " trainer.gradient_clip_val=null, or use strategy=ddp."
        )
    # export and verify drop out with export=none (runner.plan), so only count them with targets.
    after_fit = [
        s
        for s in cfg.stages
        if s in _UNSHARDED_STAGES and (cfg.export.targets or s not in ("export", "verify"))
    ]
    if after_fit:
        sharded = cfg.strategy.state_dict_type == "sharded"  # eval and export read full files
        full = ", with strategy.state_dict_type=full" if sharded else ""
        raise ConfigError(
            f"strategy=fsdp with stages {after_fit}: after fit the in-memory model is sharded"
            " across the ranks and wrapped in FSDP units, and these stages need it whole. Add"
            " stages=[fit]; then score and export the best checkpoint on one device with"
            f" `fabricx eval run=<run dir>` and `fabricx export run=<run dir>`{full}."
        )
