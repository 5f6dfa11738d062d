"""Compare an exported model with the eager one: per-tensor parity and the task metric."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torchmetrics import Metric

Runner = Callable[..., torch.Tensor]
SplitBatch = Callable[[Any], tuple[dict[str, torch.Tensor], torch.Tensor]]


@dataclass
class ParityResult:
    batch_size: int
    max_abs_diff: float
    max_rel_diff: float
    passed: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def gather_inputs(
    batches: Iterable[Any], split_batch: SplitBatch, count: int
) -> dict[str, torch.Tensor]:
    """The first `count` samples of `batches`, as one dict of input tensors."""
    parts: dict[str, list[torch.Tensor]] = {}
    seen = 0
    for batch in batches:
        inputs, _ = split_batch(batch)
        for name, tensor in inputs.items():
            parts.setdefault(name, []).append(tensor)
        seen += next(iter(inputs.values())).shape[0]
        if seen >= count:
            break
    return {name: torch.cat(chunks)[:count] for name, chunks in parts.items()}


@torch.no_grad()
def check_parity(
    eager: Runner,
    exported: Runner,
    pool: dict[str, torch.Tensor],
    batch_sizes: list[int],
    atol: float,
    rtol: float,
) -> list[ParityResult]:
    """Run both on the first `b` samples of `pool` for each batch size `b`."""
    available = next(iter(pool.values())).shape[0]
    results = []
    for size in sorted({min(b, available) for b in batch_sizes}):
        inputs = {name: t[:size] for name, t in pool.items()}
        want = eager(**inputs).float()
        got = exported(**inputs).float()
        diff = (want - got).abs()
        results.append(
            ParityResult(
                batch_size=size,
                max_abs_diff=diff.max().item(),
                max_rel_diff=(diff / want.abs().clamp_min(1e-6)).max().item(),
                passed=bool(torch.allclose(got, want, atol=atol, rtol=rtol)),
            )
        )
    return results


@torch.no_grad()
def score(runner: Runner, batches: Iterable[Any], split_batch: SplitBatch, metric: Metric) -> float:
    """The task metric of `runner` over every batch (the whole split).

    Give a metric built with sync_on_compute=False: under DDP only rank 0 verifies, and a
    metric that gathers from the other ranks would wait for them forever.
    """
    metric.reset()
    for batch in batches:
        inputs, target = split_batch(batch)
        metric.update(runner(**inputs).float(), target)
    return float(metric.compute())
