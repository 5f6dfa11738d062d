"""Launching through submitit, for real: `hydra/launcher=slurm` on the single-node SLURM
cluster of tests/helpers/slurm_cluster.py (a 2-rank DDP job whose ranks SLURM starts), and
`hydra/launcher=local` (submitit's local executor)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.cli import cli_env, read_json, run_cli
from tests.helpers.ddp import DDP, check_job

pytestmark = pytest.mark.slow


def _only_job(cwd: Path, timeout: float = 0.0) -> Path:
    """The one job directory of the one sweep under cwd (waiting up to `timeout` for it)."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = [
            p
            for p in (cwd / "runs" / "default").glob("*/*")
            if p.is_dir() and not p.name.startswith(".")
        ]
        if jobs or time.monotonic() >= deadline:
            (job,) = jobs
            return job
        time.sleep(0.2)


def test_ddp_job_through_slurm_runs_one_rank_per_task(slurm_cluster, tmp_path: Path):
    proc = _slurm_train(slurm_cluster, tmp_path, "hydra.launcher.timeout_min=10", *DDP,
                        "stages=[fit,test]")  # fmt: skip
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output + slurm_cluster.logs()
    job = _only_job(tmp_path)
    check_job(job)  # both ranks ran this job's config, one W&B run, each epoch logged once
    # SLURM started the ranks as the job's two tasks (srun), each with its own submitit log.
    submitit = job.parent / ".submitit"
    task_logs = sorted(p.name.split("_", 1)[1] for p in submitit.rglob("*_log.out"))
    assert task_logs == ["0_log.out", "1_log.out"], task_logs
    assert "SLURMEnvironment" in (job / "train.log").read_text()


def test_local_launcher_runs_each_job_in_its_own_process(tmp_path: Path):
    result = run_cli(
        "train", "-m", "hydra/launcher=local", "seed=3", "trainer.max_epochs=1",
        "stages=[fit,test]", "logger=csv", cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    job = _only_job(tmp_path)
    assert read_json(job / "metrics.json")["status"] == "ok"
    assert "seed: 3" in (job / "config.yaml").read_text()
    assert list((job.parent / ".submitit").rglob("*_result.pkl"))  # it ran through submitit


# --- preemption --------------------------------------------------------------------------

# Long enough to be preempted three times mid-training: small batches, many steps, and a
# last.ckpt every 10 steps, so each restart shows its progress before the next signal.
PREEMPTIBLE = (
    *DDP[:3], "trainer.max_epochs=12", "data.batch_size=8", "logger=wandb",
    "callbacks.checkpoint.every_n_train_steps=10", "stages=[fit,test]",
)  # fmt: skip


def _slurm_train(cluster, cwd: Path, *overrides: str) -> subprocess.Popen:
    env = {**cli_env(cwd), **cluster.env}
    args = ["train", "-m", "hydra/launcher=slurm", f"hydra.launcher.partition={cluster.partition}"]
    return subprocess.Popen(
        [sys.executable, "-m", "fabricx", *args, *overrides],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _slurm_job_id(cwd: Path, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        folders = [p for p in cwd.glob("runs/default/*/.submitit/*") if p.name.isdigit()]
        if folders:
            return folders[0].name
        time.sleep(0.2)
    raise TimeoutError(f"no SLURM job under {cwd}/runs")


def _wait_for_new_checkpoint(path: Path, after: float, proc: subprocess.Popen) -> float:
    """Until `path` is rewritten after `after` (this segment trained 10 steps); its mtime."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_mtime > after:
            return path.stat().st_mtime
        assert proc.poll() is None, proc.communicate()[0]
        time.sleep(0.1)
    raise TimeoutError(f"{path} not rewritten")


def _weights(run_dir: Path) -> dict:
    import torch

    state = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    return state["state_dict"]


def test_preempted_slurm_job_requeues_resumes_and_ends_like_an_uninterrupted_one(
    slurm_cluster, tmp_path: Path
):
    (tmp_path / "straight").mkdir()
    straight = _slurm_train(slurm_cluster, tmp_path / "straight", *PREEMPTIBLE)
    output, _ = straight.communicate(timeout=600)
    assert straight.returncode == 0, output + slurm_cluster.logs()
    reference = _only_job(tmp_path / "straight")

    cwd = tmp_path / "preempted"
    cwd.mkdir()
    started = time.monotonic()
    proc = _slurm_train(slurm_cluster, cwd, *PREEMPTIBLE)
    job_id = _slurm_job_id(cwd)
    job_dir = None
    mtime = 0.0
    for _ in range(3):
        job_dir = job_dir or _only_job(cwd, timeout=60)
        _wait_for_new_checkpoint(job_dir / "checkpoints" / "last.ckpt", mtime, proc)
        # What `#SBATCH --signal=USR1@N` does before a preemption: signal the job's steps,
        # where the ranks run (`--batch` would reach only the batch shell, which waits on srun).
        slurm_cluster.run("scancel", "--signal=USR1", job_id)
        slurm_cluster.release(job_id)  # requeued: PENDING until its begin time
        mtime = time.time()  # the next signal waits for a checkpoint of the next start
    output, _ = proc.communicate(timeout=600)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, output + slurm_cluster.logs()
    assert job_dir is not None

    record = read_json(job_dir / "metrics.json")
    assert record["status"] == "ok", record
    assert len(read_json(job_dir / "resumes.json")) == 3
    ids = {p.name.rsplit("-", 1)[1] for p in (job_dir / "wandb").glob("offline-run-*")}
    assert len(ids) == 1, ids  # one W&B run, continued after every restart
    left = sorted(p.name for p in (job_dir / "checkpoints").iterdir())
    assert len(left) <= 2, left  # last.ckpt and the best one: no pile of preemption files
    diffs = [
        (a - b).abs().max().item()
        for a, b in zip(_weights(reference).values(), _weights(job_dir).values(), strict=True)
    ]
    print(f"preempted 3x: max |w - w_uninterrupted| = {max(diffs):.3g}; {elapsed:.0f}s; {left}")
    assert max(diffs) == 0.0
