"""The logger group: every logger it names, each given its place in the run directory.

`logger` maps names to `_target_` nodes (`logger=[wandb,csv]`, `logger=[wandb,tensorboard]`,
your own). For the loggers fabricx knows it fills in what ties the logger to the run, so each
Hydra job has one tracker run of its own and a resumed run continues it:
- CSV: metrics.csv in the run directory, appended to on resume;
- TensorBoard: event files in <run>/tensorboard/;
- MLflow: a run named after the run directory, its id kept in mlflow_run_id.txt; the
  tracking store is `tracking_uri`, else $MLFLOW_TRACKING_URI, else runs/mlflow.db (SQLite);
- W&B: its files under the run directory, its id kept in wandb_run_id.txt.
Any other Lightning logger gets `save_dir` (the run directory) when it takes one.
"""

from __future__ import annotations

import os
import secrets
import string
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import (
    CSVLogger,
    Logger,
    MLFlowLogger,
    TensorBoardLogger,
    WandbLogger,
)
from lightning.pytorch.utilities import rank_zero_only

from fabricx.config.groups import logger_supplied
from fabricx.config.instantiate import build, check_targets
from fabricx.config.schema import TrainConfig
from fabricx.config.signatures import import_target, signature_of
from fabricx.config.typed import plain
from fabricx.runs.directory import write_text

# The W&B and MLflow run ids of a training run, written at its first start, read on resume.
WANDB_ID_FILE = "wandb_run_id.txt"
MLFLOW_ID_FILE = "mlflow_run_id.txt"
TENSORBOARD_DIR = "tensorboard"


def build_loggers(
    cfg: TrainConfig, run_dir: Path, prefixes: list[str], group: str | None = None
) -> list[Logger]:
    """Every logger of `cfg.logger`; `group` names the multirun a job belongs to."""
    loggers = []
    for name, node in cfg.logger.items():
        if node is None:
            continue
        check_targets(node, prefixes, f"logger.{name}")  # before its module is imported
        cls = import_target(node["_target_"])
        supplied = _supplied(cls, node, cfg, run_dir, group)
        logger = build(node, prefixes, f"logger.{name}", **supplied)
        if isinstance(logger, MLFlowLogger):
            _keep_mlflow_id(logger, run_dir)
        loggers.append(logger)
    return loggers


def _supplied(
    cls: Any, node: dict[str, Any], cfg: TrainConfig, run_dir: Path, group: str | None
) -> dict[str, Any]:
    """What ties a logger of class `cls` to this run: the arguments the checker reserves for
    fabricx (fabricx.config.groups.logger_supplied), and the W&B group of a multirun."""
    if not isinstance(cls, type):
        return {}
    if issubclass(cls, CSVLogger):  # name="" and version="": metrics.csv in run_dir itself
        return {"save_dir": str(run_dir), "name": "", "version": ""}
    if issubclass(cls, TensorBoardLogger):
        return {"save_dir": str(run_dir), "name": TENSORBOARD_DIR, "version": ""}
    if issubclass(cls, MLFlowLogger):
        supplied = {"run_name": _run_name(cfg, run_dir, group), "run_id": _read_id(run_dir)}
        if not node.get("tracking_uri") and not os.environ.get("MLFLOW_TRACKING_URI"):
            store = Path(cfg.paths.runs_dir).resolve() / "mlflow.db"
            supplied["tracking_uri"] = f"sqlite:///{store}"
        return supplied
    if issubclass(cls, WandbLogger):
        return {
            "name": _run_name(cfg, run_dir, group),
            "save_dir": str(run_dir),
            "id": train_run_id(run_dir),
            "resume": "allow",  # a resumed run continues its W&B run
            "config": plain(cfg),
            "job_type": "train",
            **({} if node.get("group") else {"group": group}),
        }
    params = signature_of(node["_target_"], cls).params  # any other logger: its save_dir
    return {"save_dir": str(run_dir)} if logger_supplied(cls, params) else {}


def wandb_logger_name(cfg: TrainConfig, prefixes: list[str]) -> str | None:
    """The name under `logger` of the W&B logger, or None when the run logs no W&B."""
    for name, node in cfg.logger.items():
        if node is None:
            continue
        check_targets(node, prefixes, f"logger.{name}")  # before its module is imported
        cls = import_target(node["_target_"])
        if isinstance(cls, type) and issubclass(cls, WandbLogger):
            return name
    return None


def build_wandb_logger(
    cfg: TrainConfig, run_dir: Path, prefixes: list[str], job_type: str
) -> Logger | None:
    """A W&B run of its own for `fabricx export` or `fabricx bench` on a finished run that
    logged to W&B (grouped under the run), or None when it did not."""
    name = wandb_logger_name(cfg, prefixes)
    if name is None:
        return None
    node = cfg.logger[name]
    supplied = {
        "name": f"{_run_name(cfg, run_dir, None)}/{job_type}",
        "save_dir": str(run_dir),
        "config": plain(cfg),
        "job_type": job_type,
        "group": node.get("group") or run_dir.name,
    }
    rest = {k: v for k, v in node.items() if k != "group"}
    return build(rest, prefixes, f"logger.{name}", **supplied)


def _run_name(cfg: TrainConfig, run_dir: Path, group: str | None) -> str:
    """experiment/run (a multirun's job directories are named 0, 1, ...: keep the sweep's)."""
    if group == run_dir.parent.name:
        return f"{cfg.experiment}/{run_dir.parent.name}/{run_dir.name}"
    return f"{cfg.experiment}/{run_dir.name}"


def train_run_id(run_dir: Path) -> str:
    """This run directory's W&B run id: made at the first start, read back when resuming."""
    path = run_dir / WANDB_ID_FILE
    if path.is_file():
        return path.read_text().strip()
    # W&B's own form of id: 8 lower-case letters and digits.
    run_id = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))
    if rank_zero_only.rank == 0:  # other DDP ranks log nothing to W&B
        write_text(path, run_id + "\n")
    return run_id


def _read_id(run_dir: Path) -> str | None:
    path = run_dir / MLFLOW_ID_FILE
    return path.read_text().strip() if path.is_file() else None


def _keep_mlflow_id(logger: MLFlowLogger, run_dir: Path) -> None:
    """Create the MLflow run now (rank 0) and keep its id for a resume."""
    if rank_zero_only.rank != 0 or (run_dir / MLFLOW_ID_FILE).is_file():
        return
    run_id = logger.run_id  # creates the experiment and the run
    if run_id:
        write_text(run_dir / MLFLOW_ID_FILE, run_id + "\n")
