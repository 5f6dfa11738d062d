"""Latency of one runner at one batch size: warm-up, then timed calls until the budget.

Medians need enough samples to be stable and a CPU run needs a bound on its time, so each
case runs at least `min_iters` and at most `max_iters` calls, stopping once `budget_s` has
passed. CUDA work is synchronized around every call, so a call's time is its whole latency.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch


@dataclass
class Latency:
    runtime: str
    batch_size: int
    iters: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    throughput: float  # samples per second at the median latency

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure(
    runtime: str,
    call: Callable[[], Any],
    batch_size: int,
    *,
    warmup_iters: int = 5,
    min_iters: int = 20,
    max_iters: int = 1000,
    budget_s: float = 0.5,
    cuda: bool = False,
) -> Latency:
    """Time `call()` (one forward pass on a prepared batch of `batch_size` samples)."""
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for _ in range(warmup_iters):
        call()
    sync()
    times: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(times) < max_iters and (len(times) < min_iters or time.perf_counter() < deadline):
        start = time.perf_counter()
        call()
        sync()
        times.append(time.perf_counter() - start)
    ms = np.array(times) * 1e3
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return Latency(
        runtime=runtime,
        batch_size=batch_size,
        iters=len(times),
        p50_ms=float(p50),
        p90_ms=float(p90),
        p99_ms=float(p99),
        mean_ms=float(ms.mean()),
        throughput=float(batch_size / (p50 / 1e3)),
    )
