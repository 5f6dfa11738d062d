"""The benchmark harness's quick mode runs and writes its report (speed is not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_mode_runs_loop_and_data_and_writes_the_report(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "loop,data", "--device", "cpu",
         "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (report_json,) = tmp_path.glob("*.json")
    report = json.loads(report_json.read_text())
    assert report["mode"] == "quick" and list(report["sections"]) == ["loop", "data"]
    loops = {(r["case"], r["loop"]): r for r in report["sections"]["loop"]["rows"]}
    for case in ("mlp_64-128-10_bs64", "lenet5_bs256"):
        for loop in ("plain", "fabric", "lightning", "fabricx", "fabricx_compile"):
            row = loops[case, loop]
            assert row["step_ms"] > 0 and row["epoch_s"] > 0
        assert loops[case, "plain"]["step_vs_plain"] == 1.0
        assert loops[case, "fabricx"]["first_step_s"] > 0  # from the run's metrics.json
        assert loops[case, "fabricx_compile"]["compile_s"] > 0  # fit/compile_s
        assert loops[case, "fabricx"]["compile_s"] is None
    data = {r["loader"]: r for r in report["sections"]["data"]["rows"]}
    assert data["TensorBatches + crop_and_flip(4)"]["samples_per_s"] > 0
    for target in ("LeNet-5 compile step below the plain eager loop",
                   "LeNet-5 without compile no slower than a bare Trainer"):  # fmt: skip
        assert any(target in t for t in report["targets"])
    markdown = report_json.with_suffix(".md").read_text()
    assert "| mlp_64-128-10_bs64 | fabricx |" in markdown and markdown in proc.stdout


def test_unknown_section_is_refused_with_the_choices(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "loops", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "unknown section(s) ['loops']" in proc.stderr and "'startup'" in proc.stderr
    assert not list(tmp_path.iterdir())
