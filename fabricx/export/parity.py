"""Compare an exported model with the eager one: per-tensor parity and the task metric."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torchmetrics import Metric

from fabricx.errors import StageError
from fabricx.export.outputs import flatten

Runner = Callable[..., torch.Tensor]
SplitBatch = Callable[[Any], tuple[dict[str, torch.Tensor], torch.Tensor]]


@dataclass
class ParityResult:
    batch_size: int
    max_abs_diff: float
    max_rel_diff: float
    passed: bool
    shape: list[int] | None = None  # of the first input, e.g. [batch, sequence]
    outputs: int = 1  # output tensors compared

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parity_cases(
    batches: Iterable[Any], split_batch: SplitBatch, batch_sizes: list[int]
) -> list[dict[str, torch.Tensor]]:
    """Held-out inputs at every batch size, and for padded text at a short and a long length.

    Fixed-shape data (images, features): the first `b` samples for each size `b`. Variable
    length (each batch padded to its longest sentence): the first `b` rows of the shortest
    and of the longest batch among the first 32, so both ends of the sequence axis are run.
    """
    loaded = [split_batch(batch)[0] for _, batch in zip(range(32), batches, strict=False)]
    first = {name: tuple(t.shape[1:]) for name, t in loaded[0].items()}
    if all({n: tuple(t.shape[1:]) for n, t in inputs.items()} == first for inputs in loaded):
        pool = {name: torch.cat([inputs[name] for inputs in loaded]) for name in first}
        return slices(pool, batch_sizes)

    def length(inputs: dict[str, torch.Tensor]) -> int:
        return next(iter(inputs.values())).shape[1]

    cases = []
    for inputs in (min(loaded, key=length), max(loaded, key=length)):
        cases += slices(inputs, batch_sizes)
    return cases


def slices(pool: dict[str, torch.Tensor], batch_sizes: list[int]) -> list[dict[str, torch.Tensor]]:
    """The first `b` rows of `pool` for each batch size `b` (capped at what the pool holds)."""
    available = next(iter(pool.values())).shape[0]
    return [
        {n: t[:b] for n, t in pool.items()}
        for b in sorted({min(b, available) for b in batch_sizes})
    ]


@torch.no_grad()
def check_cases(
    eager: Runner, exported: Runner, cases: list[dict[str, torch.Tensor]], atol: float, rtol: float
) -> list[ParityResult]:
    """Run both on every case; compare every output tensor (a task may return several)."""
    results = []
    for inputs in cases:
        wanted = [t.float() for t in flatten(eager(**inputs))]
        got = [t.float() for t in flatten(exported(**inputs))]
        if len(wanted) != len(got):
            raise StageError(
                f"the eager model returns {len(wanted)} tensors but the exported one "
                f"{len(got)}: the export is stale; export again."
            )
        diffs = [(w - g).abs() for w, g in zip(wanted, got, strict=True)]
        first = next(iter(inputs.values()))
        results.append(
            ParityResult(
                batch_size=first.shape[0],
                max_abs_diff=max(d.max().item() if d.numel() else 0.0 for d in diffs),
                max_rel_diff=max(
                    (d / w.abs().clamp_min(1e-6)).max().item() if d.numel() else 0.0
                    for d, w in zip(diffs, wanted, strict=True)
                ),
                passed=all(
                    torch.allclose(g, w, atol=atol, rtol=rtol)
                    for g, w in zip(got, wanted, strict=True)
                ),
                shape=list(first.shape),
                outputs=len(wanted),
            )
        )
    return results


def tile(pool: dict[str, torch.Tensor], count: int) -> dict[str, torch.Tensor]:
    """Repeat a batch's rows until there are `count` (a benchmark needs full batches)."""
    have = next(iter(pool.values())).shape[0]
    repeats = -(-count // have)
    return {name: t.repeat(repeats, *([1] * (t.dim() - 1)))[:count] for name, t in pool.items()}


def check_parity(
    eager: Runner,
    exported: Runner,
    pool: dict[str, torch.Tensor],
    batch_sizes: list[int],
    atol: float,
    rtol: float,
) -> list[ParityResult]:
    """check_cases on the first `b` samples of `pool` for each batch size `b`."""
    available = next(iter(pool.values())).shape[0]
    sizes = sorted({min(b, available) for b in batch_sizes})
    return check_cases(
        eager, exported, [{n: t[:b] for n, t in pool.items()} for b in sizes], atol, rtol
    )


@torch.no_grad()
def score(runner: Runner, batches: Iterable[Any], split_batch: SplitBatch, metric: Metric) -> float:
    """The task metric of `runner` over every batch (the whole split).

    Give a metric built with sync_on_compute=False: under DDP only rank 0 verifies, and a
    metric that gathers from the other ranks would wait for them forever.
    """
    metric.reset()
    for batch in batches:
        inputs, target = split_batch(batch)
        outputs = runner(**inputs)
        metric.update(outputs.float() if isinstance(outputs, torch.Tensor) else outputs, target)
    return float(metric.compute())
