"""Loggers: metrics.csv in the run directory, and a W&B run per Hydra job."""

from __future__ import annotations

import netrc
import os
from pathlib import Path

from lightning.pytorch.loggers import CSVLogger, Logger, WandbLogger

from fabricx.config.schema import TrainConfig
from fabricx.config.typed import plain


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
    loggers: list[Logger] = [CSVLogger(save_dir=str(run_dir), name="", version="")]
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
    if job_type != "train":
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
    )
