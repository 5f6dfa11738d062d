"""DDP under Hydra with real processes: 2 CPU ranks on gloo, in a single run and in a multirun.

Every rank of a job must run that job's config (not start a sweep of its own), in that job's
run directory, with one W&B run per job and each metric logged once.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import read_json, run_cli
from wandb_offline import find_offline_runs, read_offline_run

from fabricx.ranks import child_rank_command

pytestmark = pytest.mark.slow

DDP = ("strategy=ddp", "trainer.devices=2", "trainer.accelerator=cpu", "trainer.max_epochs=2")
DIGEST = re.compile(r"rank (\d) runs config sha256 ([0-9a-f]{16})")


def _rank_digests(job_dir: Path) -> dict[int, str]:
    """{rank: config digest} from the job's rank logs (train.log, train_ddp_process_1.log)."""
    found = {}
    for log in job_dir.glob("*.log"):
        for rank, digest in DIGEST.findall(log.read_text()):
            found[int(rank)] = digest
    return found


def _check_job(job_dir: Path) -> str:
    """One job: both ranks ran the same config here, one W&B run, each epoch logged once."""
    digests = _rank_digests(job_dir)
    assert set(digests) == {0, 1}, f"{job_dir}: rank logs {sorted(job_dir.glob('*.log'))}"
    assert digests[0] == digests[1], f"{job_dir}: ranks ran different configs: {digests}"
    assert read_json(job_dir / "metrics.json")["status"] == "ok"
    (offline,) = find_offline_runs(job_dir / "wandb")  # only rank 0 logs to W&B
    run = read_offline_run(offline)
    epochs = [row["epoch"] for row in run.history if "val/acc" in row]
    assert epochs == [0, 1], f"val/acc logged {len(epochs)} times for 2 epochs: {epochs}"
    return digests[0]


def test_multirun_of_ddp_jobs_runs_each_job_once_on_both_ranks(tmp_path: Path):
    result = run_cli("train", "-m", *DDP, "seed=1,2", "stages=[fit,test]", cwd=tmp_path)
    assert result.returncode == 0, result.output
    (sweep,) = (tmp_path / "runs" / "default").iterdir()  # no run directories of rank 1's own
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert [j.name for j in jobs] == ["0", "1"]
    digests = [_check_job(job) for job in jobs]
    assert digests[0] != digests[1]  # each job's ranks ran that job's seed
    for job, seed in zip(jobs, (1, 2), strict=True):
        assert f"seed: {seed}" in (job / "config.yaml").read_text()
        assert not (job / ".pl_hydra").exists() and (job / ".hydra").is_dir()


def test_single_ddp_run_both_ranks_share_its_directory(tmp_path: Path):
    result = run_cli("train", *DDP, "stages=[fit,test]", cwd=tmp_path)
    assert result.returncode == 0, result.output
    (run_dir,) = result.run_dirs()
    _check_job(run_dir)


def test_child_rank_command_outside_hydra_is_an_error():
    """It only makes sense inside a Hydra job; Lightning calls it only then."""
    with pytest.raises(ValueError, match="HydraConfig was not set"):
        child_rank_command(1)
