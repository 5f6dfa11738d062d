"""Learning-rate schedules from torch's own schedulers, sized by the trainer at fit time."""

from __future__ import annotations

from typing import Any

import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR


def build_lr_scheduler(
    optimizer: torch.optim.Optimizer,
    name: str,
    total_steps: int,
    warmup_fraction: float = 0.0,
    min_lr_ratio: float = 0.0,
) -> dict[str, Any] | None:
    """Lightning's scheduler dict, stepped every optimizer step, or None for `name="none"`.

    Both warm up linearly over `warmup_fraction` of the steps (SequentialLR), then decay to
    `min_lr_ratio` times the base rate at the last step: `cosine` along a half cosine,
    `linear` in a straight line (BERT's fine-tuning schedule).
    """
    if name == "none":
        return None
    total_steps = max(1, int(total_steps))
    warmup = int(total_steps * warmup_fraction)
    base_lr = optimizer.param_groups[0]["lr"]
    decay_steps = max(1, total_steps - warmup)
    decay: torch.optim.lr_scheduler.LRScheduler
    if name == "linear":
        decay = LinearLR(
            optimizer, start_factor=1.0, end_factor=min_lr_ratio, total_iters=decay_steps
        )
    else:
        decay = CosineAnnealingLR(optimizer, T_max=decay_steps, eta_min=base_lr * min_lr_ratio)
    if warmup > 0:
        ramp = LinearLR(optimizer, start_factor=1.0 / warmup, end_factor=1.0, total_iters=warmup)
        scheduler = SequentialLR(optimizer, [ramp, decay], milestones=[warmup])
    else:
        scheduler = decay
    return {"scheduler": scheduler, "interval": "step", "frequency": 1}
