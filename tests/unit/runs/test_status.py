"""`fabricx runs` tells ok, failed, preempted, pruned, terminated, running and lost apart:
each status written by the real stage sequence, then read back by the runs table."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from fabricx.errors import ConfigError, TrialPruned
from fabricx.runs import directory
from fabricx.runs.signals import Interrupted, Preempted
from fabricx.runs.table import list_runs, read_row
from fabricx.stages import sequence
from fabricx.stages.context import RunContext


def _stop(error: BaseException):
    def stage(ctx: RunContext) -> None:
        raise error

    return stage


OUTCOMES = {
    "ok": lambda ctx: None,
    "failed": _stop(RuntimeError("the loss went NaN")),
    "preempted": _stop(Preempted(signal.SIGUSR1, signal.SIG_DFL, step=7)),
    "pruned": _stop(TrialPruned("trial 3 pruned at epoch 1")),
    "terminated": _stop(Interrupted(signal.SIGTERM, step=7)),
}


def _finished(run_dir: Path, monkeypatch: pytest.MonkeyPatch, fit) -> Path:
    """A run directory as `fabricx train` leaves it: config, job.json, then the stages."""
    run_dir.mkdir(parents=True)
    directory.write_text(run_dir / "config.yaml", "experiment: digits\n")
    directory.write_text(run_dir / "overrides.yaml", "[]\n")
    directory.record_process(run_dir)
    monkeypatch.setitem(sequence.STAGE_RUNNERS, "fit", fit)
    cfg = SimpleNamespace(metric=SimpleNamespace(name="acc"))
    ctx = RunContext(cfg, run_dir, run_dir, datamodule=None, task=None, trainer=None)
    # Each outcome's own exception goes on up, as it would end the job; the record stays.
    with contextlib.suppress(BaseException):
        sequence.run_stages(ctx, ["fit", "summary"])
    return run_dir


@pytest.mark.parametrize("status", list(OUTCOMES))
def test_each_recorded_outcome_is_its_status_in_the_table(tmp_path, monkeypatch, status):
    run_dir = _finished(tmp_path / "runs" / "digits" / status, monkeypatch, OUTCOMES[status])
    # The process that ran it is this one, still alive: the newer record decides.
    assert read_row(run_dir).status == status


def test_the_table_keeps_each_status_apart_and_filters_by_it(tmp_path, monkeypatch):
    for status, fit in OUTCOMES.items():
        _finished(tmp_path / "runs" / "digits" / status, monkeypatch, fit)
    running = tmp_path / "runs" / "digits" / "running"
    running.mkdir()
    directory.write_text(running / "config.yaml", "experiment: digits\n")
    directory.write_text(running / "overrides.yaml", "[]\n")
    directory.record_process(running)  # this process, alive, and no record yet
    rows = list_runs(tmp_path / "runs", sort="run")
    assert {Path(r.run_dir).name: r.status for r in rows} == {
        name: name for name in [*OUTCOMES, "running"]
    }
    assert [r.status for r in list_runs(tmp_path / "runs", statuses=["pruned", "running"])] == [
        "pruned", "running"]  # fmt: skip
    with pytest.raises(
        ConfigError, match=r"--status prunned: no such status. Did you mean: pruned"
    ):
        list_runs(tmp_path / "runs", statuses=["prunned"])


def test_a_resumed_run_is_running_again_and_a_dead_one_is_lost(tmp_path, monkeypatch):
    run_dir = _finished(tmp_path / "runs" / "digits" / "a", monkeypatch, OUTCOMES["preempted"])
    assert read_row(run_dir).status == "preempted"
    # Requeued: the new job writes job.json after the old record.
    later = time.time() + 5
    directory.record_process(run_dir)
    os.utime(run_dir / "job.json", (later, later))
    assert read_row(run_dir).status == "running"
    # The resumed process died without a record (SIGKILL, out of memory): lost.
    directory.write_json(run_dir / "job.json", {"pid": _dead_pid(), "host": socket.gethostname()})
    os.utime(run_dir / "job.json", (later, later))
    assert read_row(run_dir).status == "lost"


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(done.stdout)


def test_a_pid_given_again_to_a_later_process_is_not_the_run(tmp_path, monkeypatch):
    """Killed without a record, its pid reused by a process started since: lost, not running."""
    run_dir = tmp_path / "runs" / "digits" / "a"
    run_dir.mkdir(parents=True)
    directory.write_text(run_dir / "config.yaml", "experiment: digits\n")
    directory.record_process(run_dir)  # this process's pid, alive
    assert read_row(run_dir).status == "running"
    long_ago = time.time() - 30 * 24 * 3600  # job.json written before this process started
    os.utime(run_dir / "job.json", (long_ago, long_ago))
    assert read_row(run_dir).status == ("lost" if Path("/proc/self/stat").exists() else "running")
