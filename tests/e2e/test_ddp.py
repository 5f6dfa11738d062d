"""DDP under Hydra with real processes: 2 CPU ranks on gloo, in a single run and in a multirun.

Every rank of a job must run that job's config (not start a sweep of its own), in that job's
run directory, with one W&B run per job and each metric logged once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.ddp import DDP, check_job

pytestmark = pytest.mark.slow


def test_multirun_of_ddp_jobs_runs_each_job_once_on_both_ranks(tmp_path: Path):
    result = run_cli("train", "-m", *DDP, "seed=1,2", "stages=[fit,test]", cwd=tmp_path)
    assert result.returncode == 0, result.output
    (sweep,) = (tmp_path / "runs" / "default").iterdir()  # no run directories of rank 1's own
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert [j.name for j in jobs] == ["0", "1"]
    digests = [check_job(job) for job in jobs]
    assert digests[0] != digests[1]  # each job's ranks ran that job's seed
    for job, seed in zip(jobs, (1, 2), strict=True):
        assert f"seed: {seed}" in (job / "config.yaml").read_text()
        assert not (job / ".pl_hydra").exists() and (job / ".hydra").is_dir()


def test_single_ddp_run_both_ranks_share_its_directory(tmp_path: Path):
    result = run_cli("train", *DDP, "stages=[fit,test]", cwd=tmp_path)
    assert result.returncode == 0, result.output
    (run_dir,) = result.run_dirs()
    check_job(run_dir)
