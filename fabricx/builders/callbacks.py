"""Lightning callbacks from the callbacks group."""

from __future__ import annotations

import signal
from pathlib import Path

from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint

from fabricx.config.schema import CallbacksConfig
from fabricx.extensions.fit_timing import FitTimer
from fabricx.extensions.lr_logging import StepLearningRateMonitor
from fabricx.extensions.progress import ThrottledRichProgressBar, ThrottledTQDMProgressBar
from fabricx.extensions.resume_state import LastCheckpoint, LoaderPosition, RngStates
from fabricx.extensions.signal_checkpoint import SignalCheckpoint


def build_callbacks(
    cfg: CallbacksConfig,
    run_dir: Path,
    has_logger: bool,
    preemption_signal: signal.Signals | None = None,
) -> list[Callback]:
    """The callbacks group's callbacks, in the order they must run.

    Args:
        preemption_signal: the cluster's signal before a preemption (fabricx.runs.job.Job);
            on it, last.ckpt is saved at the step end and the job is requeued.
    """
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
            # save, at once); on the preemption signal the job saves it and requeues.
            callbacks += [last, SignalCheckpoint(last.path, preemption_signal)]
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
