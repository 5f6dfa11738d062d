"""Kill a real `fabricx train` with SIGKILL at its first mid-epoch last.ckpt, resume it with
`resume=auto`, and compare it with the same run never stopped."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from tests.helpers.cli import CliResult, cli_env, run_cli


@dataclass
class KilledAndResumed:
    uninterrupted: Path  # run directory of the run that was never stopped
    resumed: Path  # run directory of the killed run, after resume=auto finished it
    killed_copy: Path  # the killed run's directory as the kill left it (not resumed)
    killed_at_step: int
    steps_per_epoch: int
    resume_result: CliResult
    config_before: bytes


def kill_and_resume(
    tmp_path: Path,
    args: list[str],
    steps_per_epoch: int,
    threads: int | None = None,
    extra_env: dict[str, str] | None = None,
) -> KilledAndResumed:
    """Run `fabricx train ARGS` once whole; once killed (SIGKILL) at its first mid-epoch
    last.ckpt and then continued with `resume=auto` in the same directory.

    `threads` sets OMP_NUM_THREADS for all three processes alike; `extra_env` adds to their
    environment (a user's package on PYTHONPATH).
    """
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    whole.mkdir(), killed.mkdir()

    def env(cwd: Path) -> dict[str, str]:
        threads_env = {"OMP_NUM_THREADS": str(threads)} if threads else {}
        return {**cli_env(cwd), **threads_env, **(extra_env or {})}

    result = run_cli("train", *args, cwd=whole, env=env(whole))
    assert result.returncode == 0, result.output
    (uninterrupted,) = result.run_dirs()
    print(f"uninterrupted run: {result.seconds:.1f} s")

    proc = subprocess.Popen(
        [sys.executable, "-m", "fabricx", "train", *args],
        cwd=killed, env=env(killed), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(killed.glob("runs/*/*/checkpoints/last.ckpt")):
        assert proc.poll() is None, f"ended before its first checkpoint: {proc.stderr.read()}"
        assert time.monotonic() < deadline, "no last.ckpt within 120 s"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)  # the real process, mid-training, no clean-up
    proc.wait()
    proc.stderr.close()
    (run_dir,) = [p.parents[1] for p in killed.glob("runs/*/*/checkpoints/last.ckpt")]
    step = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    assert step % steps_per_epoch != 0, f"the kill came at an epoch end (step {step})"
    assert not (run_dir / "metrics.json").exists(), "the run finished before the kill"
    copy = tmp_path / "killed-copy" / run_dir.name
    shutil.copytree(run_dir, copy)
    config_before = (run_dir / "config.yaml").read_bytes()

    resumed = run_cli("train", *args, "resume=auto", cwd=killed, env=env(killed))
    assert resumed.returncode == 0, resumed.output
    assert resumed.run_dirs() == [run_dir], "resume must continue the same run directory"
    print(f"killed at step {step}; resumed run: {resumed.seconds:.1f} s")
    return KilledAndResumed(
        uninterrupted, run_dir, copy, step, steps_per_epoch, resumed, config_before
    )


def max_weight_difference(a: Path, b: Path) -> float:
    """Largest |a - b| over every tensor of the two runs' final last.ckpt state_dicts."""
    sa = torch.load(a / "checkpoints" / "last.ckpt", weights_only=True)
    sb = torch.load(b / "checkpoints" / "last.ckpt", weights_only=True)
    assert sa["global_step"] == sb["global_step"]
    assert sa["state_dict"].keys() == sb["state_dict"].keys()
    return max(
        (sa["state_dict"][k].double() - sb["state_dict"][k].double()).abs().max().item()
        for k in sa["state_dict"]
    )
