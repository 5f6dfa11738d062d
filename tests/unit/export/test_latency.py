"""Latency measurement: bounded iterations, ordered percentiles, throughput at the median."""

from __future__ import annotations

import time

import torch

from fabricx.export.latency import measure
from fabricx.export.parity import tile as _tile


def test_measure_respects_min_and_max_iterations():
    calls = []
    latency = measure("sleep", lambda: calls.append(time.sleep(0.001)), 4, warmup_iters=2,
                      min_iters=5, max_iters=8, budget_s=10.0)  # fmt: skip
    assert latency.iters == 8 and len(calls) == 10  # warm-up calls are not timed
    assert 1.0 <= latency.p50_ms <= latency.p90_ms <= latency.p99_ms
    assert abs(latency.throughput - 4 / (latency.p50_ms / 1e3)) < 1e-6


def test_measure_stops_at_the_budget_after_min_iters():
    latency = measure("fast", lambda: None, 1, min_iters=3, max_iters=10**9, budget_s=0.05)
    assert 3 <= latency.iters < 10**9


def test_tile_repeats_a_small_split_to_full_batches():
    pool = {"x": torch.arange(3.0).reshape(3, 1), "m": torch.ones(3, 2)}
    tiled = _tile(pool, 7)
    assert tiled["x"].flatten().tolist() == [0, 1, 2, 0, 1, 2, 0]
    assert tiled["m"].shape == (7, 2)
