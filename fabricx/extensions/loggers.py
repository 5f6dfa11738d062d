"""fabricx's two logger classes, each a Lightning logger with one thing added.

- `WandbLogger`: `mode: auto` logs online only when you are logged in, offline otherwise, so a
  first run never stops to ask for a key; `log_artifacts` says whether the best checkpoint
  and the exported files go to W&B as model artifacts.
- `CSVLogger`: appends to an existing metrics.csv, so a resumed run keeps its earlier rows.

Both take the directory, the run name and the run id from fabricx (fabricx.builders.loggers), so
every run has one tracker run of its own, which a resume continues.
"""

from __future__ import annotations

import csv
import netrc
import os
from pathlib import Path
from typing import Any, Literal

from lightning.pytorch.loggers import CSVLogger as LightningCSVLogger
from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

WandbMode = Literal["auto", "online", "offline", "disabled"]


def wandb_mode(requested: str) -> str:
    """The W&B mode to use: WANDB_MODE wins, then an explicit mode, then auto.

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


class WandbLogger(LightningWandbLogger):
    """Lightning's WandbLogger with an `auto` mode and fabricx's artifact switch.

    Args:
        project: the W&B project.
        entity: the W&B team or user; None: your default.
        group: groups runs in the W&B UI; None: a multirun's name.
        tags: tags of the run.
        mode: auto (online when logged in, else offline), online, offline or disabled;
            WANDB_MODE in the environment wins.
        log_artifacts: log the best checkpoint and every exported file as model artifacts.
        name, save_dir, id, resume: set by fabricx (the run directory and its W&B run id).
        **kwargs: any other argument of `wandb.init` (notes, settings, ...); fabricx passes
            `config` and `job_type` this way too.
    """

    def __init__(
        self,
        project: str = "fabricx",
        entity: str | None = None,
        group: str | None = None,
        tags: list[str] | None = None,
        mode: WandbMode = "auto",
        log_artifacts: bool = True,
        name: str | None = None,
        save_dir: str = ".",
        id: str | None = None,
        resume: str | None = None,
        **kwargs: Any,
    ) -> None:
        optional = {"resume": resume} if resume is not None else {}
        super().__init__(
            name=name,
            save_dir=save_dir,
            id=id,
            project=project,
            log_model=False,  # fabricx logs the best checkpoint and exports, with metadata
            entity=entity,
            group=group,
            tags=list(tags or []),
            mode=wandb_mode(mode),
            **optional,
            **kwargs,
        )
        self.log_artifacts = log_artifacts


class CSVLogger(LightningCSVLogger):
    """Lightning's CSVLogger, but an existing metrics.csv is appended to, not deleted.

    fabricx reuses a run directory only to resume it (fabricx.runs.resume trims the rows logged
    after the checkpoint); the rows before it stay, and the resumed run's follow.

    Args:
        save_dir, name, version: set by fabricx, so metrics.csv lies in the run directory.
        prefix: put before every metric's name.
        flush_logs_every_n_steps: rows are written to disk this often.
    """

    def __init__(
        self,
        save_dir: str = ".",
        name: str = "",
        version: str = "",
        prefix: str = "",
        flush_logs_every_n_steps: int = 100,
    ) -> None:
        super().__init__(
            save_dir=save_dir,
            name=name,
            version=version,
            prefix=prefix,
            flush_logs_every_n_steps=flush_logs_every_n_steps,
        )
        self._writer_made = False

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._writer_made:
            return super().experiment
        path = Path(self.log_dir) / ExperimentWriter.NAME_METRICS_FILE
        kept = path.read_bytes() if path.is_file() else None
        writer = super().experiment  # Lightning's writer: it deletes metrics.csv
        self._writer_made = True
        if kept:
            path.write_bytes(kept)
            header = kept.decode().splitlines()[0]
            writer.metrics_keys = next(csv.reader([header]))
        return writer
