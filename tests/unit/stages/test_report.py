"""The report stage: report.html and confusion.json at the end of a run, never its failure."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from fabricx.stages import sequence
from fabricx.stages.context import RunContext


def _context(tmp_path: Path, task: object = None) -> RunContext:
    cfg = SimpleNamespace(metric=SimpleNamespace(name="acc"))
    return RunContext(cfg, tmp_path, tmp_path, datamodule=None, task=task, trainer=None)


def test_report_and_confusion_are_written_and_named_in_the_record(tmp_path: Path, monkeypatch):
    def test(ctx: RunContext) -> None:
        ctx.metrics["test/acc"] = 0.75

    monkeypatch.setitem(sequence.STAGE_RUNNERS, "test", test)
    task = SimpleNamespace(test_confusion=[[3, 1], [0, 4]])
    sequence.run_stages(_context(tmp_path, task), ["test", "summary", "report"])
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "ok" and "notes" not in record
    assert set(record["artifacts"]) >= {"report_html", "confusion_json"}
    assert json.loads((tmp_path / "confusion.json").read_text()) == {
        "labels": ["0", "1"], "matrix": [[3, 1], [0, 4]]}  # fmt: skip
    html = (tmp_path / "report.html").read_text()
    assert "0.7500" in html and "confusion matrix" in html
    assert 0 <= record["metrics"]["time/report_s"] <= record["metrics"]["time/total_s"]


def test_a_report_that_cannot_be_written_is_a_note_not_a_failure(tmp_path: Path, monkeypatch):
    monkeypatch.setitem(sequence.STAGE_RUNNERS, "fit", lambda ctx: None)
    (tmp_path / "report.html").mkdir()  # the page cannot take its place
    sequence.run_stages(_context(tmp_path), ["fit", "report"])
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "ok"
    assert record["notes"]["report"].startswith("report.html not written: ")
    assert "report_html" not in record["artifacts"]


def test_a_failed_run_gets_its_page_with_the_error(tmp_path: Path, monkeypatch):
    def fail(ctx: RunContext) -> None:
        raise RuntimeError("the loss went NaN at step 12")

    monkeypatch.setitem(sequence.STAGE_RUNNERS, "fit", fail)
    with pytest.raises(RuntimeError):
        sequence.run_stages(_context(tmp_path), ["fit", "report"])
    html = (tmp_path / "report.html").read_text()
    assert "badge failed" in html and "the loss went NaN at step 12" in html
