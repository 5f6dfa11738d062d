"""Lightning callbacks from the callbacks group."""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint

from fabricx.build.lr_logging import StepLearningRateMonitor
from fabricx.build.preemption import SignalCheckpoint
from fabricx.build.progress import ThrottledRichProgressBar, ThrottledTQDMProgressBar
from fabricx.build.resume_callbacks import LastCheckpoint, LoaderPosition, RngStates
from fabricx.build.timing import FitTimer
from fabricx.config.schema import CallbacksConfig
from fabricx.preemption import preemption_signal, under_slurm


def build_callbacks(cfg: CallbacksConfig, run_dir: Path, has_logger: bool) -> list[Callback]:
    # Every checkpoint carries the RNG states, so a resume from any of them is exact; the
    # loader's position is restored even where Lightning drops it.
    # FitTimer: fit/step_ms, fit/epoch_s and fit/first_step_s in metrics.json.
    callbacks: list[Callback] = [RngStates(), LoaderPosition(), FitTimer()]
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
                save_last=False,  # LastCheckpoint keeps last.ckpt; Lightning's goes stale
            )
        )
        if cfg.checkpoint.save_last:
            every_n = cfg.checkpoint.every_n_train_steps
            last = LastCheckpoint(run_dir / "checkpoints", every_n)
            # SIGTERM and SIGINT stop fit at a step end with last.ckpt saved (without one to
            # save, at once); on SLURM's preemption signal the job saves it and requeues.
            preemption = preemption_signal() if under_slurm() else None
            callbacks += [last, SignalCheckpoint(last.path, preemption)]
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
        callbacks.append(ThrottledRichProgressBar(cfg.progress_refresh_per_second))
    elif cfg.progress_bar == "tqdm":
        callbacks.append(ThrottledTQDMProgressBar(cfg.progress_refresh_per_second))
    if cfg.lr_monitor and has_logger:  # LearningRateMonitor refuses a trainer without loggers
        callbacks.append(StepLearningRateMonitor(logging_interval="step"))
    return callbacks
