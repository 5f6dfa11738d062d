"""DDP on two CPU ranks (gloo), and the checks that every rank of a job ran that job's config."""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers.cli import read_json
from tests.helpers.wandb_offline import find_offline_runs, read_offline_run

DDP = ("strategy=ddp", "trainer.devices=2", "trainer.accelerator=cpu", "trainer.max_epochs=2")
DIGEST = re.compile(r"rank (\d) runs config sha256 ([0-9a-f]{16})")


def rank_digests(job_dir: Path) -> dict[int, str]:
    """{rank: config digest} from the job's rank logs (train.log, train_ddp_process_1.log)."""
    found = {}
    for log in job_dir.glob("*.log"):
        for rank, digest in DIGEST.findall(log.read_text()):
            found[int(rank)] = digest
    return found


def check_job(job_dir: Path) -> str:
    """One job: both ranks ran the same config here, one W&B run, each epoch logged once."""
    digests = rank_digests(job_dir)
    assert set(digests) == {0, 1}, f"{job_dir}: rank logs {sorted(job_dir.glob('*.log'))}"
    assert digests[0] == digests[1], f"{job_dir}: ranks ran different configs: {digests}"
    assert read_json(job_dir / "metrics.json")["status"] == "ok"
    (offline,) = find_offline_runs(job_dir / "wandb")  # only rank 0 logs to W&B
    run = read_offline_run(offline)
    epochs = [row["epoch"] for row in run.history if "val/acc" in row]
    assert epochs == [0, 1], f"val/acc logged {len(epochs)} times for 2 epochs: {epochs}"
    return digests[0]
