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

    `cosine` warms up linearly over `warmup_fraction` of the steps (SequentialLR), then decays
    to `min_lr_ratio` times the base rate at the last step.
    """
    if name == "none":
        return None
    total_steps = max(1, int(total_steps))
    warmup = int(total_steps * warmup_fraction)
    base_lr = optimizer.param_groups[0]["lr"]
    cosine = CosineAnnealingLR(
        optimizer, T_max=max(1, total_steps - warmup), eta_min=base_lr * min_lr_ratio
    )
    if warmup > 0:
        ramp = LinearLR(optimizer, start_factor=1.0 / warmup, end_factor=1.0, total_iters=warmup)
        scheduler = SequentialLR(optimizer, [ramp, cosine], milestones=[warmup])
    else:
        scheduler = cosine
    return {"scheduler": scheduler, "interval": "step", "frequency": 1}
