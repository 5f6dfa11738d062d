"""`fabricx runs`, `fabricx runs compare` and `fabricx report` as a user types them, and the
pages opened in a real browser (headless Chromium): they draw their plots, fetch nothing
and log no console error.

    FABRICX_SCREENSHOTS=docs/images python -m pytest tests/e2e/test_report.py -k browser

saves a screenshot of each kind of page (the ones in docs/images/ were made so).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.synthetic import write_run_dirs
from tests.helpers.browser import browser_missing, render
from tests.helpers.cli import run_cli
from tests.helpers.sweeps import finished_sweep

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def synthetic_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("runs-cli")
    write_run_dirs(cwd / "runs", 30, epochs=5)
    return cwd


def test_runs_lists_sorts_filters_and_exports(synthetic_runs: Path):
    table = run_cli("runs", cwd=synthetic_runs)
    assert table.returncode == 0, table.output
    assert "30 runs under runs" in table.stdout and "test/acc" in table.stdout
    assert "optim.lr=" in table.stdout and "preempted" in table.stdout
    as_json = run_cli("runs", "--json", "--sort", "-metric", "--status", "ok", cwd=synthetic_runs)
    rows = json.loads(as_json.stdout)
    assert rows and all(r["status"] == "ok" for r in rows)
    assert [r["metric_value"] for r in rows] == sorted(
        (r["metric_value"] for r in rows), reverse=True
    )
    as_csv = run_cli(
        "runs", "runs/digits_mlp", "--csv", "--where", "metric>=0.5", cwd=synthetic_runs
    )
    lines = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert lines and all(float(r["metric_value"]) >= 0.5 for r in lines)
    assert {r["experiment"] for r in lines} == {"digits_mlp"}


def test_runs_imports_neither_torch_nor_matplotlib(synthetic_runs: Path):
    code = (
        "import sys, fabricx.cli; fabricx.cli.main(['runs', '--json']); "
        "print(sorted(m for m in ('torch', 'lightning', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=synthetic_runs, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["runs", "nowhere"], "nowhere: no such directory"),
        (["runs", "runs", "--sort", "acc"], "--sort acc: no such column or metric"),
        (["runs", "--where", "metric=>1"], "write KEY OP NUMBER"),
        (["runs", "compare", "runs"], "needs two run directories or more"),
        (["report"], "usage: fabricx report run=<run or sweep directory>"),
        (["report", "run=runs"], "not a run directory (no config.yaml) nor a sweep directory"),
    ],
)
def test_bad_input_exits_2_and_says_how_to_fix_it(synthetic_runs: Path, args, message):
    result = run_cli(*args, cwd=synthetic_runs)
    assert result.returncode == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


def test_compare_and_report_write_their_pages(synthetic_runs: Path):
    a, b = sorted((synthetic_runs / "runs" / "digits_mlp").iterdir())[:2]
    compared = run_cli("runs", "compare", str(a), str(b), "--out", "cmp.html", cwd=synthetic_runs)
    assert compared.returncode == 0, compared.output
    assert "seed" in compared.stdout and "test/acc" in compared.stdout
    assert (synthetic_runs / "cmp.html").read_text().count("<svg") == 1  # val loss, val acc
    reported = run_cli("report", f"run={a}", cwd=synthetic_runs)
    assert reported.returncode == 0, reported.output
    assert (a / "report.html").is_file() and str(a / "report.html") in reported.stdout


@pytest.mark.skipif(browser_missing() is not None, reason=f"needs {browser_missing()}")
def test_browser_renders_every_page_with_its_plots_and_no_console_error(
    default_run, tmp_path: Path
):
    """A real run's page (curves, confusion matrix, parity, latency), a comparison of three
    runs, and a sweep's page rebuilt by `fabricx report run=<sweep dir>` from its study."""
    (run_dir,) = default_run.run_dirs()
    study, plan = finished_sweep(tmp_path)
    swept = run_cli("report", f"run={plan.dir}", cwd=tmp_path)
    assert swept.returncode == 0, swept.output
    trials = [Path(t.user_attrs["run_dir"]) for t in study.trials[:3]]
    compare = run_cli("runs", "compare", *map(str, trials), cwd=tmp_path)
    assert compare.returncode == 0, compare.output
    shots = os.environ.get("FABRICX_SCREENSHOTS")
    pages = {
        "report-run": (run_dir / "report.html", 2),  # the curves (loss, acc), the latency
        "report-compare": (tmp_path / "compare.html", 1),  # every run: train loss, val loss, acc
        "report-sweep": (plan.dir / "report.html", 3),  # history, importances, parallel
    }
    for name, (page, plots) in pages.items():
        shot = Path(shots) / f"{name}.png" if shots else None
        seen = render(page, shot)
        assert seen.svgs == plots, (name, seen)
        assert seen.tables >= 1 and seen.title.startswith("fabricx"), (name, seen)
        assert not [e for e in seen.console if e["level"] in ("SEVERE", "WARNING")], seen.console
        assert seen.resources == [], (name, seen.resources)  # nothing fetched: offline
        print(f"{name}: {page.stat().st_size / 1024:.0f} kB, {plots} plots, rendered")
