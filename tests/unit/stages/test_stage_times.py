"""Each stage's wall time lands in the run's record, also for a stage that fails."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from fabricx.stages import sequence
from fabricx.stages.context import RunContext


def _context(tmp_path: Path) -> RunContext:
    cfg = SimpleNamespace(metric=SimpleNamespace(name="acc"))
    return RunContext(cfg, tmp_path, tmp_path, datamodule=None, task=None, trainer=None)


def test_every_stage_time_and_the_total_are_recorded(tmp_path: Path, monkeypatch):
    monkeypatch.setitem(sequence.STAGE_RUNNERS, "fit", lambda ctx: time.sleep(0.05))
    monkeypatch.setitem(sequence.STAGE_RUNNERS, "test", lambda ctx: None)
    ctx = _context(tmp_path)
    sequence.run_stages(ctx, ["fit", "test"])
    metrics = json.loads((tmp_path / "metrics.json").read_text())["metrics"]
    assert 0.05 <= metrics["time/fit_s"] < 5
    assert 0 <= metrics["time/test_s"] < metrics["time/fit_s"]
    assert metrics["time/setup_s"] >= 0 and "time/close_trackers_s" in metrics
    parts = sum(metrics[f"time/{s}_s"] for s in ("setup", "fit", "test", "close_trackers"))
    assert parts <= metrics["time/total_s"] + 1e-6


def test_a_failing_stage_keeps_its_time(tmp_path: Path, monkeypatch):
    def fail(ctx: RunContext) -> None:
        time.sleep(0.02)
        raise RuntimeError("broken export")

    monkeypatch.setitem(sequence.STAGE_RUNNERS, "export", fail)
    ctx = _context(tmp_path)
    with pytest.raises(RuntimeError, match="broken export"):
        sequence.run_stages(ctx, ["export"])
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "failed" and record["stages"] == {"export": "failed"}
    assert record["metrics"]["time/export_s"] >= 0.02
    assert "time/total_s" in record["metrics"]
