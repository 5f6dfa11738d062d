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


def test_a_verb_on_a_finished_run_keeps_the_runs_own_times(tmp_path: Path, monkeypatch):
    """`fabricx export run=...` records its own times under verbs.export; the run's duration
    (time/total_s, what `fabricx runs` and report.html show) stays the training run's."""
    monkeypatch.setitem(sequence.STAGE_RUNNERS, "export", lambda ctx: time.sleep(0.02))
    ctx = _context(tmp_path)
    ctx.verb = "export"
    ctx.run_record = {"status": "ok", "metrics": {"time/total_s": 4856.0, "time/fit_s": 4700.0}}
    ctx.metrics.update({"time/total_s": 4856.0, "time/fit_s": 4700.0, "test/acc": 0.9})
    sequence.run_stages(ctx, ["export"])
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["metrics"]["time/total_s"] == 4856.0 and record["metrics"]["test/acc"] == 0.9
    assert "time/export_s" not in record["metrics"]  # the verb's, not the run's
    times = record["verbs"]["export"]["times"]
    assert times["time/export_s"] >= 0.02 and times["time/total_s"] < 4856.0
