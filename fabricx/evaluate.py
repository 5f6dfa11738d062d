"""`fabricx eval run=<dir>`: re-score a finished run with its own saved config and checkpoint.

Nothing is recomposed from conf/ (which may have changed since the run); the run directory's
config.yaml is the source. Results go to <run>/eval/<timestamp>/ and never touch the run's
own files. The allowed `_target_` modules are fabricx's defaults plus what this command
allows: a config file inside a run directory cannot widen them.
"""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import RichProgressBar
from omegaconf import DictConfig

from fabricx.build.components import build_datamodule, build_model, build_task
from fabricx.config.saved import check_eval_target, load_saved_config
from fabricx.config.schema import DEFAULT_TARGET_PREFIXES, EvalConfig
from fabricx.config.typed import to_typed
from fabricx.logs import route_lightning_logs
from fabricx.runner import run_stages
from fabricx.stages.context import RunContext


def eval_job(cfg: DictConfig) -> None:
    """Hydra's task function for `fabricx eval`."""
    from hydra.core.hydra_config import HydraConfig

    route_lightning_logs()
    eval_cfg: EvalConfig = to_typed(cfg)
    check_eval_target(eval_cfg)
    run_dir = Path(eval_cfg.run)
    saved = load_saved_config(run_dir)
    prefixes = [*DEFAULT_TARGET_PREFIXES, *eval_cfg.extra_target_prefixes]
    pl.seed_everything(saved.seed, workers=True, verbose=False)
    datamodule = build_datamodule(saved, prefixes)
    task = build_task(saved, build_model(saved, prefixes), prefixes)
    precision = saved.precision.name
    if precision == "16-mixed" and not torch.cuda.is_available():
        precision = "32-true"  # fp16 autocast needs CUDA; fp32 scores the same weights
    trainer = pl.Trainer(
        accelerator=eval_cfg.accelerator,
        devices=1,
        precision=precision,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        callbacks=[RichProgressBar(leave=True)],
    )
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    ctx = RunContext(
        saved, run_dir, out_dir, datamodule, task, trainer, checkpoint=eval_cfg.checkpoint
    )
    has_onnx = (run_dir / "export" / "model.onnx").is_file()
    stages = ["test", *(["verify"] if eval_cfg.verify_onnx and has_onnx else []), "summary"]
    run_stages(ctx, stages)
