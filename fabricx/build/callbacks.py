"""Lightning callbacks from the callbacks group."""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch.callbacks import (
    Callback,
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
    RichProgressBar,
    TQDMProgressBar,
)

from fabricx.config.schema import CallbacksConfig


def build_callbacks(cfg: CallbacksConfig, run_dir: Path, has_logger: bool) -> list[Callback]:
    callbacks: list[Callback] = []
    if cfg.checkpoint.enabled:
        callbacks.append(
            ModelCheckpoint(
                dirpath=run_dir / "checkpoints",
                # The monitored key holds a '/', which would make subdirectories in a filename.
                filename="best-epoch{epoch:03d}-step{step}",
                auto_insert_metric_name=False,
                monitor=cfg.checkpoint.monitor,
                mode=cfg.checkpoint.mode,
                save_top_k=cfg.checkpoint.save_top_k,
                save_last=cfg.checkpoint.save_last,
            )
        )
    if cfg.early_stopping.enabled:
        callbacks.append(
            EarlyStopping(
                monitor=cfg.early_stopping.monitor,
                mode=cfg.early_stopping.mode,
                patience=cfg.early_stopping.patience,
                min_delta=cfg.early_stopping.min_delta,
            )
        )
    if cfg.progress_bar == "rich":
        callbacks.append(RichProgressBar(leave=True))
    elif cfg.progress_bar == "tqdm":
        callbacks.append(TQDMProgressBar())
    if cfg.lr_monitor and has_logger:  # LearningRateMonitor refuses a trainer without loggers
        callbacks.append(LearningRateMonitor(logging_interval="step"))
    return callbacks
