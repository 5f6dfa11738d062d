"""Loggers: metrics.csv in the run directory, and a W&B run per Hydra job.

A resumed run (fabricx.resume) keeps both: metrics.csv is appended to, and the W&B run id
saved in the run directory at its first start makes W&B continue the same run.
"""

from __future__ import annotations

import csv
import netrc
import os
import secrets
import string
from pathlib import Path

from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

from fabricx.config.schema import TrainConfig
from fabricx.config.typed import plain

# The W&B run id of a training run, written at its first start and read back on resume.
WANDB_ID_FILE = "wandb_run_id.txt"


def wandb_mode(requested: str) -> str:
    """The W&B mode to use: WANDB_MODE wins, then an explicit logger.mode, then auto.

    auto means online only when the user is logged in (WANDB_API_KEY or a netrc entry written
    by `wandb login`); otherwise offline, so a first run never stops to ask for a key.
    """
    env = os.environ.get("WANDB_MODE")
    if env:
        return "offline" if env == "dryrun" else env
    if requested != "auto":
        return requested
    return "online" if _logged_in() else "offline"


def _logged_in() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai").split("://")[-1].rstrip("/")
    try:
        return netrc.netrc().authenticators(host) is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def build_loggers(cfg: TrainConfig, run_dir: Path, group: str | None = None) -> list[Logger]:
    """Loggers for `cfg.logger.backend`; `group` names the multirun a job belongs to."""
    backend = cfg.logger.backend
    if backend == "none":
        return []
    # name="" and version="" put metrics.csv directly in the run directory.
    loggers: list[Logger] = [AppendingCSVLogger(save_dir=str(run_dir), name="", version="")]
    if backend == "wandb":
        loggers.append(build_wandb_logger(cfg, run_dir, group))
    return loggers


def build_wandb_logger(
    cfg: TrainConfig, run_dir: Path, group: str | None, job_type: str = "train"
) -> WandbLogger:
    """A W&B run saved under `run_dir`; `job_type` tells train, export and bench runs apart."""
    # A multirun's job directories are named 0, 1, ...: keep the sweep's name in the run name.
    name = f"{cfg.experiment}/{run_dir.name}"
    if group == run_dir.parent.name:
        name = f"{cfg.experiment}/{run_dir.parent.name}/{run_dir.name}"
    resume_kwargs = {}
    if job_type == "train":  # a resumed run continues its W&B run; export/bench get their own
        resume_kwargs = {"id": _train_run_id(run_dir), "resume": "allow"}
    else:
        name = f"{name}/{job_type}"
    return WandbLogger(
        name=name,
        save_dir=str(run_dir),
        project=cfg.logger.project,
        entity=cfg.logger.entity,
        group=cfg.logger.group or group,
        tags=list(cfg.logger.tags),
        mode=wandb_mode(cfg.logger.mode),
        config=plain(cfg),
        job_type=job_type,
        log_model=False,  # fabricx logs the best checkpoint and exports itself, with metadata
        **resume_kwargs,
    )


def _train_run_id(run_dir: Path) -> str:
    """This run directory's W&B run id: made at the first start, read back when resuming."""
    path = run_dir / WANDB_ID_FILE
    if path.is_file():
        return path.read_text().strip()
    # W&B's own form of id: 8 lower-case letters and digits.
    run_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))
    if rank_zero_only.rank == 0:  # other DDP ranks log nothing to W&B
        from fabricx.runs import write_text

        write_text(path, run_id + "\n")
    return run_id


class AppendingCSVLogger(CSVLogger):
    """Lightning's CSVLogger, but an existing metrics.csv is appended to, not deleted.

    fabricx reuses a run directory only to resume it (fabricx.resume trims the rows logged
    after the checkpoint); the rows before it stay, and the resumed run's follow.
    """

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            path = Path(self.log_dir) / ExperimentWriter.NAME_METRICS_FILE
            kept = path.read_bytes() if path.is_file() else None
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = ExperimentWriter(log_dir=self.log_dir)  # deletes metrics.csv
            if kept:
                path.write_bytes(kept)
                header = kept.decode().splitlines()[0]
                self._experiment.metrics_keys = next(csv.reader([header]))
        return self._experiment
