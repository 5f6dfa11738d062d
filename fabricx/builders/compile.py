"""compile.* and channels_last: the built task made faster in place, before fit.

`nn.Module.compile()` compiles a module's call in place, so the module, its parameters and
its state_dict keys stay the same objects and names as an eager run's: checkpoints load into
either, and export, verify and bench (which copy the task; fabricx.tasks.contract.eval_copy)
use the original eager forward. Only `fabricx train` calls this: `fabricx eval`, `export`
and `bench` on a finished run never compile.
"""

from __future__ import annotations

import logging
import os

import torch
from torch import nn

from fabricx import internals
from fabricx.config.schema import CompileConfig, TrainConfig

log = logging.getLogger(__name__)
_FEW_CORES = 4
_THREADS_VAR = "TORCHINDUCTOR_COMPILE_THREADS"


def compiled_part(task: nn.Module) -> nn.Module:
    """What `compile` compiles: the task's `model` (fabricx's tasks, and most users'), else
    the task itself (then only calls through the task, `self(x)`, run compiled)."""
    model = getattr(task, "model", None)
    return model if isinstance(model, nn.Module) else task


def apply_speed_settings(task: nn.Module, cfg: TrainConfig) -> None:
    """`channels_last`, then `compile`, on the task's model, in place."""
    part = compiled_part(task)
    if cfg.channels_last:
        # Only 4-d weights (convolutions) change; a convolution then runs channels-last
        # whatever its input's format, and its output stays channels-last for the next one.
        part.to(memory_format=torch.channels_last)
    if cfg.compile.enabled:
        compile_module(part, cfg.compile)


def compile_module(module: nn.Module, cfg: CompileConfig) -> None:
    """`module.compile(...)` with the config's settings; compiles lazily, at the first call.

    On a machine of few cores, inductor compiles in this process: its pool of compile
    worker processes (one per core) took the cores from the training steps and, for seconds
    after, from eager calls (the bench stage's eager model at batch 8: 15 ms a call instead
    of 0.09 ms, 2-core VM). TORCHINDUCTOR_COMPILE_THREADS, where set, decides instead.
    """
    few_cores = (os.cpu_count() or 1) <= _FEW_CORES
    if cfg.backend == "inductor" and few_cores and _THREADS_VAR not in os.environ:
        internals.set_inductor_compile_threads(1)
    module.compile(
        mode=None if cfg.mode == "default" else cfg.mode,
        dynamic=cfg.dynamic,
        fullgraph=cfg.fullgraph,
        backend=cfg.backend,
    )
    log.info(
        "compile: %s compiled in place (torch.compile mode=%s, backend=%s, dynamic=%s); the "
        "first batches of train and of validation compile it (fit/compile_s)",
        type(module).__qualname__, cfg.mode, cfg.backend, cfg.dynamic,
    )  # fmt: skip
