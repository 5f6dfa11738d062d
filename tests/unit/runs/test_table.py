"""The runs table: rows read from run directories' small files, statuses, sort, filters."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.synthetic import write_run_dirs
from fabricx.errors import ConfigError
from fabricx.runs.table import ACTIVE_S, find_run_dirs, list_runs, read_row, run_status


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    write_run_dirs(tmp_path / "runs", 20, epochs=3)
    return tmp_path / "runs"


def test_rows_hold_what_each_run_recorded(runs: Path):
    rows = list_runs(runs)
    assert len(rows) == 20
    row = next(r for r in rows if Path(r.run_dir).name.endswith("-000000"))
    record = json.loads((Path(row.run_dir) / "metrics.json").read_text())
    assert row.experiment == "digits_mlp"
    assert row.metric_name == "test/acc" and row.metric_value == record["metric"]["value"]
    assert row.duration_s == record["metrics"]["time/total_s"]
    assert row.git_sha == "0" * 40 and row.git_dirty is True
    assert row.overrides == {"optim.lr": row.overrides["optim.lr"], "seed": "0",
                             "trainer.max_epochs": "20"}  # fmt: skip
    # What differs between the runs listed: lr and seed vary, max_epochs never does.
    assert set(row.differs) == {"optim.lr", "seed"}


def test_sort_filter_and_threshold(runs: Path):
    best_first = list_runs(runs, sort="-metric")
    values = [r.metric_value for r in best_first]
    assert values == sorted(values, reverse=True)
    ok = list_runs(runs, statuses=["ok"], experiments=["mnist_lenet5"])
    assert ok and all(r.status == "ok" and r.experiment == "mnist_lenet5" for r in ok)
    assert {r.status for r in list_runs(runs)} >= {"ok", "failed", "pruned", "preempted"}
    threshold = sorted(values)[10]
    kept = list_runs(runs, where=[f"metric>={threshold}", "val/acc>0"])
    assert len(kept) == sum(v >= threshold for v in values)
    by_metric_key = list_runs(runs, sort="test/loss")
    losses = [r.metrics["test/loss"] for r in by_metric_key]
    assert losses == sorted(losses)


def test_bad_input_names_the_problem_and_the_fix(tmp_path: Path, runs: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"holds no run directory.*paths.runs_dir"):
        list_runs(tmp_path / "empty")
    with pytest.raises(ConfigError, match=r"no such directory"):
        list_runs(tmp_path / "missing")
    with pytest.raises(ConfigError, match=r"--sort metrc: no such column.*Did you mean"):
        list_runs(runs, sort="metrc")
    with pytest.raises(ConfigError, match=r"--where 'metric~0.9': write KEY OP NUMBER"):
        list_runs(runs, where=["metric~0.9"])
    # A threshold on a metric no run has would silently empty the table: refused instead.
    with pytest.raises(
        ConfigError, match=r"--where val/accc: no such column.*Did you mean: val/acc"
    ):
        list_runs(runs, where=["val/accc>0.5"])


def test_running_lost_and_finished(tmp_path: Path):
    (run_dir,) = write_run_dirs(tmp_path / "runs", 1, epochs=1)
    record = json.loads((run_dir / "metrics.json").read_text())
    host = socket.gethostname()
    # A job (re)started after the record, its process alive on this host: running.
    (run_dir / "metrics.json").unlink()
    (run_dir / "job.json").write_text(json.dumps({"pid": os.getpid(), "host": host}))
    assert run_status(run_dir, {}) == "running"
    # The same process gone without a record (SIGKILL, out of memory): lost.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    (run_dir / "job.json").write_text(json.dumps({"pid": int(dead.stdout), "host": host}))
    assert run_status(run_dir, {}) == "lost"
    # Another host: judged by how recently the run wrote a file.
    (run_dir / "job.json").write_text(json.dumps({"pid": 1, "host": "elsewhere"}))
    assert run_status(run_dir, {}) == "running"
    later = (run_dir / "job.json").stat().st_mtime + ACTIVE_S + 1
    assert run_status(run_dir, {}, now=later) == "lost"
    # The record written after the job started: its status.
    (run_dir / "metrics.json").write_text(json.dumps(record))
    os.utime(run_dir / "job.json", (0, 0))
    assert read_row(run_dir).status == record["status"]


def test_run_directories_are_found_but_not_walked_into(tmp_path: Path):
    (run_dir,) = write_run_dirs(tmp_path / "runs", 1, epochs=1)
    nested = run_dir / "eval" / "20261201-000000"
    nested.mkdir(parents=True)
    (nested / "metrics.json").write_text("{}")
    (run_dir / "checkpoints").mkdir()
    assert list(find_run_dirs(tmp_path / "runs")) == [run_dir]
