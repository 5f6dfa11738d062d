"""Learning-rate schedules (the scheduler group's fabricx options), and how a task hands any
scheduler to Lightning.

`WarmupCosine` and `WarmupLinear` are torch schedulers stepped every optimizer step and sized
by the trainer at fit time: their `total_steps` is filled in by `lightning_scheduler`, as is
torch's OneCycleLR's. Any other torch scheduler works too (`scheduler._target_=
torch.optim.lr_scheduler.StepLR scheduler.step_size=10`), stepped per epoch unless its class
says `interval = "step"`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any

import torch
from annotated_types import Interval
from torch.optim.lr_scheduler import (
    CosineAnnealingLR,
    CyclicLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    OneCycleLR,
    ReduceLROnPlateau,
    SequentialLR,
)

from fabricx.config.constraints import PositiveFloat, PositiveInt

WarmupShare = Annotated[float, Interval(ge=0.0, lt=1.0)]
FinalShare = Annotated[float, Interval(ge=0.0, le=1.0)]
# torch schedulers that are stepped every batch by design.
_PER_STEP = (OneCycleLR, CyclicLR)
# What a ReduceLROnPlateau watches: every fabricx task logs it each validation epoch.
PLATEAU_MONITOR = "val/loss"


def _warmup_then(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    warmup_share: float,
    decay: Callable[[int], LRScheduler],
) -> tuple[torch.optim.Optimizer, list[LRScheduler], list[int]]:
    """SequentialLR's arguments: a linear ramp over the first `warmup_share` of the steps,
    then `decay(steps left)`."""
    total_steps = max(1, int(total_steps))
    warmup = int(total_steps * warmup_share)
    after = decay(max(1, total_steps - warmup))  # made first: a ramp made first would be undone
    if warmup == 0:
        return optimizer, [after], []
    ramp = LinearLR(optimizer, start_factor=1.0 / warmup, end_factor=1.0, total_iters=warmup)
    return optimizer, [ramp, after], [warmup]


class WarmupCosine(SequentialLR):
    """Linear warm-up over `warmup_fraction` of the steps, then a half cosine down to
    `min_lr_ratio` times the base rate at the last step.

    Args:
        optimizer: given by the task.
        total_steps: optimizer steps of the whole fit (filled in from the trainer).
        warmup_fraction: share of the steps spent warming up.
        min_lr_ratio: final rate as a share of the base rate.
    """

    interval = "step"

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        total_steps: PositiveInt,
        warmup_fraction: WarmupShare = 0.0,
        min_lr_ratio: FinalShare = 0.0,
    ) -> None:
        floor = optimizer.param_groups[0]["lr"] * min_lr_ratio

        def cosine(steps: int) -> LRScheduler:
            return CosineAnnealingLR(optimizer, T_max=steps, eta_min=floor)

        super().__init__(*_warmup_then(optimizer, total_steps, warmup_fraction, cosine))


class WarmupLinear(SequentialLR):
    """Linear warm-up, then a straight line down to `min_lr_ratio` times the base rate
    (BERT's fine-tuning schedule). Arguments as for `WarmupCosine`."""

    interval = "step"

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        total_steps: PositiveInt,
        warmup_fraction: WarmupShare = 0.0,
        min_lr_ratio: FinalShare = 0.0,
    ) -> None:
        def line(steps: int) -> LRScheduler:
            return LinearLR(optimizer, start_factor=1.0, end_factor=min_lr_ratio, total_iters=steps)

        super().__init__(*_warmup_then(optimizer, total_steps, warmup_fraction, line))


class InverseTimeDecay(LambdaLR):
    """lr / (1 + decay_rate * t) at epoch t, from t = 0 (Ma and Hovy 2016's schedule for
    SGD: decay_rate 0.05), stepped every epoch.

    Args:
        optimizer: given by the task.
        decay_rate: how fast the rate falls; at epoch 1 / decay_rate it is half the base.
    """

    interval = "epoch"

    def __init__(self, optimizer: torch.optim.Optimizer, decay_rate: PositiveFloat = 0.05) -> None:
        self.decay_rate = decay_rate
        super().__init__(optimizer, lr_lambda=self.factor)

    def factor(self, epoch: int) -> float:
        return 1.0 / (1.0 + self.decay_rate * epoch)


def lightning_scheduler(
    factory: Callable[..., Any], optimizer: torch.optim.Optimizer, trainer: Any
) -> dict[str, Any]:
    """Lightning's lr_scheduler config for the scheduler group's partial.

    Fills in `total_steps` when the scheduler takes it and the config did not set it (read
    from the trainer only then: reading it sizes the train loader), and says how often
    Lightning steps it: every batch for schedulers whose class says `interval = "step"` and
    for OneCycleLR and CyclicLR, every epoch otherwise; ReduceLROnPlateau watches val/loss.

    Example::

        def configure_optimizers(self):
            optimizer = self.optimizer(self.parameters())
            return {"optimizer": optimizer,
                    "lr_scheduler": lightning_scheduler(self.scheduler, optimizer, self.trainer)}
    """
    target = factory.func if isinstance(factory, functools.partial) else factory
    bound = factory.keywords if isinstance(factory, functools.partial) else {}
    kwargs: dict[str, Any] = {}
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        params = {}
    if "total_steps" in params and "total_steps" not in bound and "epochs" not in bound:
        kwargs["total_steps"] = int(trainer.estimated_stepping_batches)
    scheduler = factory(optimizer, **kwargs)
    interval = getattr(scheduler, "interval", None)
    if interval not in ("step", "epoch"):
        interval = "step" if isinstance(scheduler, _PER_STEP) else "epoch"
    config: dict[str, Any] = {"scheduler": scheduler, "interval": interval, "frequency": 1}
    if isinstance(scheduler, ReduceLROnPlateau):
        config["monitor"] = PLATEAU_MONITOR
    return config


def configure(
    module: Any,
    optimizer_factory: Callable[..., torch.optim.Optimizer],
    scheduler_factory: Callable[..., Any] | None,
) -> Any:
    """What `configure_optimizers` returns for an optimizer partial and an optional
    scheduler partial (the optim and scheduler groups)."""
    optimizer = optimizer_factory(module.parameters())
    if scheduler_factory is None:
        return optimizer
    scheduler = lightning_scheduler(scheduler_factory, optimizer, module.trainer)
    return {"optimizer": optimizer, "lr_scheduler": scheduler}
