"""Refuse settings this machine cannot run, before a run directory exists.

Covers the accelerator, precision, strategy and device count: everything that would
otherwise fail only after Lightning started (or after a distributed launch spawned ranks).

Runs in the CLI before Hydra starts (and again in build_trainer, for the Python API).
"""

from __future__ import annotations

import os
from typing import Any

from fabricx.config.schema import TrainConfig
from fabricx.errors import ConfigError, did_you_mean

# Stages that run after fit on the in-memory model, which FSDP leaves sharded and wrapped.
_UNSHARDED_STAGES = ("test", "export", "verify", "bench")


def check_hardware(cfg: TrainConfig) -> None:
    """Raise ConfigError for an accelerator, precision, strategy or device count this machine
    (or the chosen strategy on it) cannot run.

    Raises:
        ConfigError: e.g. trainer.accelerator=tpu without torch_xla, strategy=fsdp without a
            CUDA GPU, process_group_backend=nccl on the CPU, trainer.devices above the number
            of visible GPUs, precision.tf32 without an Ampere or later GPU.
    """
    import torch

    has_cuda = torch.cuda.is_available()
    trainer = cfg.trainer
    accelerator = trainer.get("accelerator", "auto")
    if isinstance(accelerator, str):
        check_accelerator(accelerator)
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not has_cuda)
    on_cuda = has_cuda and accelerator in ("auto", "gpu", "cuda")
    where = f"trainer.accelerator={accelerator}" if has_cuda else "no CUDA GPU is visible here"
    _check_precision(cfg, on_cpu, on_cuda, where)
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
    devices = trainer.get("devices", "auto")
    if on_cuda:
        _check_gpu_count(devices, torch.cuda.device_count())
    elif on_cpu:
        _check_cpu_count(devices, os.cpu_count() or 1)
    _check_nodes(trainer.get("num_nodes", 1))
    if strategy.name == "fsdp":
        _check_fsdp_run(cfg)


def check_accelerator(name: str, key: str = "trainer.accelerator") -> None:
    """Every accelerator Lightning knows by name: refused where it cannot run here.

    Args:
        key: the config key that names it, for the message (`accelerator` for eval).
    """
    from lightning.pytorch.accelerators import AcceleratorRegistry

    known = {"gpu": "cuda", **{n: n for n in AcceleratorRegistry.available_accelerators()}}
    if name == "auto":
        return
    registered = known.get(name)
    if registered is None:
        if key == "trainer.accelerator":
            return  # refused by the config check, with the known ones
        names = ["auto", *sorted(known)]
        raise ConfigError(
            f"{key}={name!r} is not an accelerator Lightning knows ({', '.join(names)})."
            f"{did_you_mean(name, names)}"
        )
    if name == "gpu":
        import torch

        if torch.cuda.is_available() or _mps_available():
            return
    accelerator = AcceleratorRegistry[registered]["accelerator"]
    try:
        available = accelerator.is_available()
    except Exception:  # an accelerator whose probe itself fails is not available either
        available = False
    if not available:
        what = _MISSING.get(registered, f"a {registered} device")
        raise ConfigError(
            f"{key}={name}: {what} is not available on this machine; use "
            f"{key}=cpu (or auto, which picks what is here)."
        )


_MISSING = {
    "cuda": "a CUDA GPU",
    "tpu": "a TPU (torch_xla and TPU devices)",
    "mps": "Apple's MPS (an Apple-silicon Mac)",
}


def _mps_available() -> bool:
    import torch

    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def _check_precision(cfg: TrainConfig, on_cpu: bool, on_cuda: bool, where: str) -> None:
    import torch

    name = cfg.precision.name
    if name in ("16-mixed", "16-true") and on_cpu:
        raise ConfigError(
            f"precision={name} needs a CUDA GPU and this run is on the CPU; use "
            "precision=bf16-mixed (CPU autocast), precision=bf16-true or precision=32."
        )
    if name.startswith("bf16") and on_cuda and not torch.cuda.is_bf16_supported():
        raise ConfigError(
            f"precision={name}: this GPU ({torch.cuda.get_device_name()}) has no bf16; use "
            "precision=16-mixed or precision=32."
        )
    if name.startswith("transformer-engine"):
        import importlib.util

        if not on_cuda or importlib.util.find_spec("transformer_engine") is None:
            raise ConfigError(
                f"precision={name} needs NVIDIA's transformer_engine and a CUDA GPU ({where}"
                "); install transformer_engine on a GPU machine, or use precision=bf16-mixed."
            )
    if cfg.precision.tf32:
        capable = on_cuda and torch.cuda.get_device_capability()[0] >= 8
        if not capable:
            raise ConfigError(
                "precision.tf32=true needs an Ampere or later NVIDIA GPU (compute capability "
                f">= 8.0) and {where if not on_cuda else 'this GPU is older'}; drop "
                "precision.tf32 here."
            )


def _check_cpu_count(devices: Any, cores: int) -> None:
    """On the CPU every device is a process: more than the cores only slows every rank."""
    count = int(devices) if isinstance(devices, int) or str(devices).isdigit() else None
    if isinstance(devices, list):
        count = len(devices)
    if count is not None and count > cores:
        raise ConfigError(
            f"trainer.devices={devices} starts {count} processes on the CPU, which has {cores}"
            f" cores here; use trainer.devices={min(count, cores)} or fewer."
        )


def _check_nodes(num_nodes: Any) -> None:
    """More than one node needs a launcher that starts the other nodes' processes."""
    if not isinstance(num_nodes, int) or num_nodes <= 1:
        return
    from lightning.fabric.plugins.environments import (
        LSFEnvironment,
        SLURMEnvironment,
        TorchElasticEnvironment,
    )

    # Kubeflow's PyTorchJob sets torchrun's variables (TorchElasticEnvironment), or NODE_RANK.
    environments = (SLURMEnvironment, TorchElasticEnvironment, LSFEnvironment)
    launched = "NODE_RANK" in os.environ or any(env.detect() for env in environments)
    if not launched:
        raise ConfigError(
            f"trainer.num_nodes={num_nodes}, but nothing here starts the other nodes' "
            "processes, so the run would wait for them forever. Launch it on a cluster: "
            "hydra/launcher=slurm (one task per device and node), or torchrun on each node."
        )


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
    if cfg.trainer.get("gradient_clip_val") is not None:
        raise ConfigError(
            f"trainer.gradient_clip_val={cfg.trainer['gradient_clip_val']} with strategy=fsdp:"
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
