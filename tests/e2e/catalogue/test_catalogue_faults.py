"""Catalogue, faults family: a run that is stopped loses nothing and lies about nothing.

Each case stops or disturbs a real `fabricx` process (SIGTERM, SIGINT, SIGKILL, a failing or
interrupted verb, ranks started by torchrun) and checks the promise: the exit status says
what happened (143 terminated, 130 interrupted), metrics.json says it too, a checkpoint
saved on the way out resumes, no temporary file of fabricx outlives its writer, and a verb
run later on a finished run (eval, export) never rewrites that run's own status.

Real runs cost ~10 s each here, so a few module fixtures train once and each case works on
a copy (shutil.copytree) of what they left.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.cli import CliResult, cli_env, read_json, run_cli

pytestmark = pytest.mark.slow

# digits with batches of 8: 158 steps an epoch, a last.ckpt every 3 steps, so a signal sent
# when the first last.ckpt appears lands early in fit and the stop comes mid-epoch.
FIT = ["trainer.max_epochs=1", "data.batch_size=8", "callbacks.checkpoint.every_n_train_steps=3",
       "stages=[fit]", "export=none", "logger=csv"]  # fmt: skip
STEPS = 158
TIMEOUT_S = 240  # per subprocess: a hang fails its case instead of the whole file


# --- helpers -------------------------------------------------------------------------------


def _start(cwd: Path, *args: str) -> subprocess.Popen:
    """`fabricx ARGS...` in `cwd`, in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "fabricx", *args],
        cwd=cwd, env=cli_env(cwd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _wait_for(done: Callable[[], bool], proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not done():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"ended (status {proc.returncode}) before {what}:\n{out[-3000:]}{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {what} within {TIMEOUT_S} s")
        time.sleep(0.005)


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
    """Wait for `proc`; its exit status and its whole output."""
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"still running {TIMEOUT_S} s after the signal:\n{out[-3000:]}{err}")
    return proc.returncode, out + err


@dataclass
class Stopped:
    run_dir: Path  # the run directory, as the stop left it (a copy: later cases resume it)
    returncode: int
    output: str


def _stop_mid_fit(cwd: Path, signum: int, *extra: str) -> Stopped:
    """Train FIT, send `signum` as soon as the first last.ckpt exists, wait for the end."""
    cwd.mkdir(parents=True, exist_ok=True)
    proc = _start(cwd, "train", *FIT, *extra)
    _wait_for(lambda: bool(list(cwd.glob("runs/*/*/checkpoints/last.ckpt"))), proc, "a last.ckpt")
    os.kill(proc.pid, signum)
    code, output = _finish(proc)
    (run_dir,) = [p for p in (cwd / "runs" / "default").iterdir() if p.is_dir()]
    copy = cwd / "as-left" / run_dir.name
    shutil.copytree(run_dir, copy)
    return Stopped(copy, code, output)


def _record(run_dir: Path) -> dict:
    path = run_dir / "metrics.json"
    assert path.is_file(), f"no metrics.json in {run_dir}: {sorted(os.listdir(run_dir))}"
    return read_json(path)


def _global_step(checkpoint: Path) -> int:
    import torch

    return int(torch.load(checkpoint, map_location="cpu", weights_only=True)["global_step"])


# A process killed in the middle of fabricx's own atomic write (fabricx.atomic): what a
# SIGKILL during a checkpoint save leaves behind.
_WRITER = """
import sys, time
from pathlib import Path
from fabricx.atomic import atomic_open
with atomic_open(Path(sys.argv[1]), "wb") as f:
    f.write(b"half a checkpoint")
    f.flush()
    print("writing", flush=True)
    time.sleep(600)
"""


def _writer(target: Path) -> subprocess.Popen:
    """A process in the middle of an atomic write of `target` (its temporary file exists)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(target)], env=cli_env(target.parent),
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    return proc


def _temporaries(run_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob(".*.tmp"))


def _killed_mid_write(target: Path) -> list[str]:
    """SIGKILL a writer of `target` mid-write; the temporary files it left (relative names)."""
    proc = _writer(target)
    proc.kill()
    proc.wait()
    left = [p.name for p in target.parent.glob(f".{target.name}.*.tmp")]
    assert left, "the killed writer left no temporary file to clean"
    return left


USER_FILES = ("notes.tmp", ".draft.tmp", "checkpoints/mine.ckpt.tmp", "checkpoints/.keep.tmp")


def _plant_user_files(run_dir: Path) -> None:
    for name in USER_FILES:
        (run_dir / name).write_text("the user's own")


def _user_files_kept(run_dir: Path) -> None:
    for name in USER_FILES:
        assert (run_dir / name).read_text() == "the user's own", f"{name} was touched"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- fixtures: each trains once ----------------------------------------------------------


@dataclass
class TerminatedAndResumed:
    stopped: Stopped
    resumed: CliResult
    run_dir: Path  # where the resume ran (the directory the stop left, resumed in place)


@pytest.fixture(scope="module")
def terminated(tmp_path_factory: pytest.TempPathFactory) -> TerminatedAndResumed:
    """SIGTERM mid-fit, then `resume=<the run>` in the same working directory."""
    cwd = tmp_path_factory.mktemp("sigterm")
    stopped = _stop_mid_fit(cwd, signal.SIGTERM)
    (run_dir,) = [p for p in (cwd / "runs" / "default").iterdir() if p.is_dir()]
    resumed = run_cli("train", *FIT, f"resume={run_dir}", cwd=cwd, timeout=TIMEOUT_S)
    return TerminatedAndResumed(stopped, resumed, run_dir)


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory) -> Stopped:
    """SIGINT (Ctrl-C) mid-fit."""
    return _stop_mid_fit(tmp_path_factory.mktemp("sigint"), signal.SIGINT)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run (status ok) with model.onnx, verified: cases work on copies of it."""
    cwd = tmp_path_factory.mktemp("finished")
    result = run_cli(
        "train", "trainer.max_epochs=1", "stages=[fit,test,export,verify]", "export=[onnx]",
        "logger=csv", cwd=cwd, timeout=TIMEOUT_S,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    (run_dir,) = result.run_dirs()
    assert _record(run_dir)["status"] == "ok"
    return run_dir


@pytest.fixture
def finished_copy(finished_run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "runs" / "default" / finished_run.name
    shutil.copytree(finished_run, copy)
    return copy


# --- SIGTERM and SIGINT during fit ---------------------------------------------------------


def test_fault_sigterm_during_fit_exits_143(terminated: TerminatedAndResumed):
    stopped = terminated.stopped
    assert stopped.returncode == 143, stopped.output[-3000:]
    assert "Traceback" not in stopped.output, stopped.output[-3000:]


def test_fault_sigterm_during_fit_writes_an_honest_record(terminated: TerminatedAndResumed):
    run_dir = terminated.stopped.run_dir
    record = _record(run_dir)
    assert record["status"] == "terminated", record
    assert record["stages"]["fit"] == "interrupted", record["stages"]
    stop = record["interrupted"]
    assert stop["signal"] == "SIGTERM" and stop["stage"] == "fit", stop
    # The checkpoint saved on the way out is there and holds the step the record names.
    checkpoint = Path(stop["checkpoint"])
    assert checkpoint.name == "last.ckpt", stop
    saved = run_dir / "checkpoints" / "last.ckpt"
    assert _global_step(saved) == stop["step"] and 0 < stop["step"] < STEPS, stop


def test_fault_sigterm_checkpoint_resumes_to_the_end(terminated: TerminatedAndResumed):
    resumed = terminated.resumed
    assert resumed.returncode == 0, resumed.output[-3000:]
    assert resumed.run_dirs() == [terminated.run_dir], "resume must continue the same run"
    record = _record(terminated.run_dir)
    assert record["status"] == "ok" and record["stages"]["fit"] == "ok", record
    assert "interrupted" not in record, "a finished resume still reports the old stop"
    (entry,) = read_json(terminated.run_dir / "resumes.json")
    stopped_at = _record(terminated.stopped.run_dir)["interrupted"]["step"]
    assert entry["checkpoint"]["global_step"] == stopped_at
    assert _global_step(terminated.run_dir / "checkpoints" / "last.ckpt") == STEPS


def test_fault_sigint_during_fit_exits_130_with_an_honest_record(interrupted: Stopped):
    assert interrupted.returncode == 130, interrupted.output[-3000:]
    assert "Traceback" not in interrupted.output, interrupted.output[-3000:]
    record = _record(interrupted.run_dir)
    assert record["status"] == "interrupted", record
    assert record["stages"]["fit"] == "interrupted", record["stages"]
    stop = record["interrupted"]
    assert stop["signal"] == "SIGINT" and stop["stage"] == "fit", stop
    assert _global_step(interrupted.run_dir / "checkpoints" / "last.ckpt") == stop["step"]


# --- SIGKILL: nothing runs on the way out --------------------------------------------------


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """SIGKILL mid-fit, a second SIGKILL in the middle of a checkpoint write, user files
    beside them; then `resume=auto`."""
    cwd = tmp_path_factory.mktemp("sigkill")
    stopped = _stop_mid_fit(cwd, signal.SIGKILL)
    (run_dir,) = [p for p in (cwd / "runs" / "default").iterdir() if p.is_dir()]
    left = _killed_mid_write(run_dir / "checkpoints" / "last.ckpt")
    _killed_mid_write(run_dir / "metrics.json")
    _plant_user_files(run_dir)
    before = _temporaries(run_dir)
    resumed = run_cli("train", *FIT, "resume=auto", cwd=cwd, timeout=TIMEOUT_S)
    return {"stopped": stopped, "run_dir": run_dir, "left": left, "before": before,
            "resumed": resumed}  # fmt: skip


def test_fault_sigkill_during_fit_resumes_with_resume_auto(killed_and_resumed: dict):
    resumed, run_dir = killed_and_resumed["resumed"], killed_and_resumed["run_dir"]
    assert killed_and_resumed["stopped"].returncode == -signal.SIGKILL
    assert resumed.returncode == 0, resumed.output[-3000:]
    assert resumed.run_dirs() == [run_dir], "resume=auto must continue the killed run"
    assert _record(run_dir)["status"] == "ok"
    assert _global_step(run_dir / "checkpoints" / "last.ckpt") == STEPS


def test_fault_stale_tmp_cleaned_on_resume(killed_and_resumed: dict):
    run_dir = killed_and_resumed["run_dir"]
    assert killed_and_resumed["resumed"].returncode == 0
    assert len(killed_and_resumed["before"]) >= 2, killed_and_resumed["before"]
    assert _temporaries(run_dir) == [".draft.tmp", "checkpoints/.keep.tmp"], (
        "fabricx's stale temporary files must go, the user's files stay"
    )
    _user_files_kept(run_dir)


def test_fault_stale_tmp_cleaned_by_eval_and_a_live_writer_is_left_alone(
    finished_copy: Path, tmp_path: Path
):
    _killed_mid_write(finished_copy / "checkpoints" / "last.ckpt")
    _plant_user_files(finished_copy)
    live = _writer(finished_copy / "export" / "verify.json")  # still writing: not stale
    try:
        live_tmp = [p.name for p in (finished_copy / "export").glob(".verify.json.*.tmp")]
        result = run_cli("eval", f"run={finished_copy}", "verify_onnx=false", cwd=tmp_path,
                         timeout=TIMEOUT_S)  # fmt: skip
        assert result.returncode == 0, result.output[-3000:]
        assert not list((finished_copy / "checkpoints").glob(".last.ckpt.*.tmp"))
        assert [p.name for p in (finished_copy / "export").glob(".verify.json.*.tmp")] == live_tmp
        _user_files_kept(finished_copy)
    finally:
        live.kill()
        live.wait()


# --- ranks started by torchrun -------------------------------------------------------------


def test_fault_torchrun_two_ranks_make_one_run_directory(tmp_path: Path):
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_port", str(_free_port()), "-m", "fabricx", "train", "strategy=ddp",
        "trainer.devices=2", "trainer.accelerator=cpu", "trainer.max_epochs=1",
        "stages=[fit]", "export=none", "logger=csv",
    ]  # fmt: skip
    env = {**cli_env(tmp_path), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S)  # fmt: skip
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    entries = sorted(p.name for p in (tmp_path / "runs" / "default").iterdir())
    assert len(entries) == 1, f"one run directory for both ranks, found {entries}"
    run_dir = tmp_path / "runs" / "default" / entries[0]
    record = _record(run_dir)
    assert record["status"] == "ok" and record["stages"] == {"fit": "ok"}, record
    # Both ranks ran in it: each logs the digest of its config, to its own log file there.
    logs = "".join(p.read_text() for p in run_dir.glob("*.log"))
    listing = sorted(p.name for p in run_dir.iterdir())
    assert "rank 0 runs config sha256" in logs, listing
    assert "rank 1 runs config sha256" in logs, listing
    assert (run_dir / ".hydra").is_dir() and not list(run_dir.rglob(".hydra/.hydra"))


# --- verbs on a finished run never rewrite its status --------------------------------------


def _stop_export(run_dir: Path, cwd: Path, signum: int) -> tuple[int, str]:
    """`fabricx export` adding onnx_int8; `signum` once it has rewritten model.onnx."""
    onnx = run_dir / "export" / "model.onnx"
    before = onnx.stat().st_mtime_ns
    proc = _start(cwd, "export", f"run={run_dir}", "export=[onnx,onnx_int8]")
    _wait_for(lambda: onnx.is_file() and onnx.stat().st_mtime_ns != before, proc,
              "model.onnx rewritten")  # fmt: skip
    os.kill(proc.pid, signum)
    return _finish(proc)


def test_fault_export_interrupted_with_sigint_keeps_the_run_status(
    finished_copy: Path, tmp_path: Path
):
    code, output = _stop_export(finished_copy, tmp_path, signal.SIGINT)
    assert code == 130, output[-3000:]
    record = _record(finished_copy)
    assert record["status"] == "ok", "an interrupted export rewrote the training run's status"
    assert "error" not in record, record
    assert record["verbs"]["export"]["status"] == "interrupted", record.get("verbs")


def test_fault_export_terminated_with_sigterm_keeps_the_run_status(
    finished_copy: Path, tmp_path: Path
):
    code, output = _stop_export(finished_copy, tmp_path, signal.SIGTERM)
    assert code == 143, output[-3000:]
    record = _record(finished_copy)
    assert record["status"] == "ok", "a terminated export rewrote the training run's status"
    assert record["verbs"]["export"]["status"] == "terminated", record.get("verbs")
    assert not _temporaries(finished_copy), "the stopped export left temporary files"


def test_fault_failed_export_keeps_the_run_status(finished_copy: Path, tmp_path: Path):
    # An INT8 file cannot match fp32 outputs exactly: verify fails (exit 1), files kept.
    result = run_cli(
        "export", f"run={finished_copy}", "export=[onnx,onnx_int8]", "export.onnx_int8.atol=0",
        "export.onnx_int8.rtol=0", cwd=tmp_path, timeout=TIMEOUT_S,
    )  # fmt: skip
    assert result.returncode == 1, result.output[-3000:]
    assert "Export verification failed" in result.stderr
    record = _record(finished_copy)
    assert record["status"] == "ok", "a failed export rewrote the training run's status"
    assert "error" not in record, "the export's error is the export's, not the run's"
    assert record["verbs"]["export"]["status"] == "failed"
    assert "Export verification failed" in record["verbs"]["export"]["error"]


def test_fault_export_twice_keeps_files_consistent(finished_copy: Path, tmp_path: Path):
    listings, records = [], []
    for _ in range(2):
        result = run_cli("export", f"run={finished_copy}", "export=[onnx,onnx_int8]",
                         cwd=tmp_path, timeout=TIMEOUT_S)  # fmt: skip
        assert result.returncode == 0, result.output[-3000:]
        listings.append(sorted(p.name for p in (finished_copy / "export").iterdir()))
        records.append(_record(finished_copy))
    assert (
        listings[0]
        == listings[1]
        == ["model.int8.onnx", "model.int8.onnx.json", "model.onnx", "verify.json"]
    )
    assert records[0]["status"] == records[1]["status"] == "ok"
    assert records[0]["metrics"].keys() == records[1]["metrics"].keys()
    for name, path in records[1]["artifacts"].items():
        assert Path(path).is_file(), f"metrics.json names {name}={path}, which is gone"
    verify = read_json(finished_copy / "export" / "verify.json")
    assert verify["passed"] and set(verify["artifacts"]) == {"onnx", "onnx_int8"}
    assert not _temporaries(finished_copy)


def test_fault_eval_leaves_the_run_record_as_it_was(finished_copy: Path, tmp_path: Path):
    before = (finished_copy / "metrics.json").read_bytes()
    result = run_cli("eval", f"run={finished_copy}", cwd=tmp_path, timeout=TIMEOUT_S)
    assert result.returncode == 0, result.output[-3000:]
    assert (finished_copy / "metrics.json").read_bytes() == before
    (eval_dir,) = (finished_copy / "eval").iterdir()
    assert json.loads((eval_dir / "metrics.json").read_text())["status"] == "ok"


@pytest.mark.parametrize(
    ("signum", "code", "status"),
    [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")],
)
def test_fault_signal_to_the_process_group_with_loader_workers(
    tmp_path: Path, signum: int, code: int, status: str
) -> None:
    """SLURM's scancel and Ctrl-C in a terminal signal every process of the group, DataLoader
    workers included: the workers must leave the stop to the job, which still saves
    last.ckpt at the step end and says so."""
    from tests.helpers.conll_files import write_conll

    data = write_conll(tmp_path / "conll", sizes=(2000, 40, 40))
    cwd = tmp_path / "work"
    cwd.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fabricx", "train", "data=conll2003_words", f"data.path={data}",
         "data.vocab_size=64", "data.batch_size=4", "data.num_workers=2",
         "model=bilstm_tagger", "model.hidden_size=16", "model.word_dim=8",
         "task=token_classification", "trainer.max_epochs=3", "stages=[fit]", "export=none",
         "logger=csv", "callbacks.checkpoint.every_n_train_steps=5"],
        cwd=cwd, env=cli_env(cwd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    _wait_for(lambda: bool(list(cwd.glob("runs/*/*/checkpoints/last.ckpt"))), proc, "a last.ckpt")
    os.killpg(proc.pid, signum)
    returncode, output = _finish(proc)
    (run_dir,) = [p for p in (cwd / "runs" / "default").iterdir() if p.is_dir()]
    record = _record(run_dir)
    assert returncode == code, output[-3000:]
    assert record["status"] == status, record
    assert record["interrupted"]["checkpoint"], record["interrupted"]
    assert "exited unexpectedly" not in output
