"""report.html from a run directory's files: each section from its file, nothing remote."""

from __future__ import annotations

import json
import re
from pathlib import Path

from seqeval.metrics import f1_score

from benchmarks.synthetic import write_run_dirs
from fabricx.pages.entities import per_type_f1, read_conll
from fabricx.pages.run_page import build_run_page, write_run_report

CONLL = """EU B-ORG B-ORG
rejects O O
German B-MISC B-MISC
call O O
. O O

Peter B-PER B-PER
Blackburn I-PER O

BRUSSELS B-LOC B-LOC
1996-08-22 O O
"""


def _run(tmp_path: Path) -> Path:
    (run_dir,) = write_run_dirs(tmp_path / "runs", 1, epochs=4)
    return run_dir


def test_a_page_holds_curves_metrics_and_provenance_and_nothing_remote(tmp_path: Path):
    run_dir = _run(tmp_path)
    path = write_run_report(run_dir)
    html = path.read_text()
    # One figure of curves: loss, then the metric (acc), each by step and by epoch.
    assert html.count("<svg") == 1 and html.count('<g id="axes_') == 4
    for text in ("Curves", "Final metrics", "test/acc", "Provenance", "optim.lr=", "val/acc"):
        assert text in html, text
    # Opens offline: no script, no stylesheet or image from elsewhere.
    assert "<script" not in html
    assert not re.search(r"(src|href)=['\"]?https?:", html)
    assert path.stat().st_size < 150_000
    # The curves as a picture too, beside the page.
    assert (run_dir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Sections whose files are absent are left out, not shown empty.
    for absent in ("parity", "Latency", "confusion", "entity type"):
        assert absent not in html


def test_parity_latency_and_confusion_sections(tmp_path: Path):
    run_dir = _run(tmp_path)
    (run_dir / "export").mkdir()
    parity = [{"batch_size": b, "shape": [b, 64], "max_abs_diff": 1e-6, "max_rel_diff": 1e-5,
               "passed": b != 64} for b in (1, 64)]  # fmt: skip
    verify = {
        "metric": "test/acc",
        "artifacts": {
            "onnx": {
                "file": "model.onnx",
                "runtime": "onnxruntime",
                "passed": False,
                "metric": 0.96,
                "metric_change": 0.0,
                "parity": parity,
                "tolerance": {"atol": 1e-4, "rtol": 1e-3},
            }
        },
    }
    (run_dir / "export" / "verify.json").write_text(json.dumps(verify))
    rows = [{"runtime": rt, "batch_size": b, "p50_ms": 0.1 * b, "p90_ms": 0.2 * b,
             "p99_ms": 0.3 * b, "throughput": 1000.0} for rt in ("eager_fp32", "ort_cpu_fp32")
            for b in (1, 8)]  # fmt: skip
    (run_dir / "bench.json").write_text(json.dumps({"device": "CPU", "rows": rows}))
    confusion = {"labels": ["cat", "dog"], "matrix": [[9, 1], [2, 8]]}
    (run_dir / "confusion.json").write_text(json.dumps(confusion))
    html = build_run_page(run_dir)
    assert "Exported artifacts: parity" in html and "model.onnx" in html
    assert html.count("<span class='bad'>no</span>") == 2  # the artifact and its batch 64
    assert "Latency" in html and html.count("<svg") == 2  # the curves, the latency
    assert "confusion matrix" in html and ">cat<" in html and "0.9000" in html  # recall


def test_per_entity_type_f1_matches_seqeval(tmp_path: Path):
    run_dir = _run(tmp_path)
    (run_dir / "test_predictions.conll").write_text(CONLL)
    gold, pred = read_conll(run_dir / "test_predictions.conll")
    assert len(gold) == 3 and gold[1] == ["B-PER", "I-PER"] and pred[1] == ["B-PER", "O"]
    scores = per_type_f1(run_dir / "test_predictions.conll")
    assert scores["PER"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert scores["LOC"]["f1"] == 1.0
    assert abs(scores["micro avg"]["f1"] - f1_score(gold, pred)) < 1e-9
    assert "F1 per entity type" in build_run_page(run_dir)


def test_a_run_without_a_record_still_gets_a_page(tmp_path: Path):
    run_dir = _run(tmp_path)
    (run_dir / "metrics.json").unlink()
    (run_dir / "metrics.csv").write_text("epoch,step\n")
    html = build_run_page(run_dir)
    assert "has not finished" in html and "<svg" not in html
