"""`fabricx eval run=<dir>`: re-score a finished run with its own saved config and checkpoint.

Results go to <run>/eval/<timestamp>/ and never touch the run's own files (the temporary
files of a writer killed mid-write aside: fabricx.atomic.remove_stale_temporaries).
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from fabricx.atomic import remove_stale_temporaries
from fabricx.config.schema import EvalConfig
from fabricx.config.typed import to_typed
from fabricx.runs.job import Job
from fabricx.runs.logs import route_lightning_logs
from fabricx.stages.sequence import raise_if_skipped, run_stages
from fabricx.verbs.finished_run import open_run


def run(cfg: DictConfig, job: Job) -> None:
    """Re-score the run `cfg.run` names into `job.run_dir`; the CLI has checked the run."""
    route_lightning_logs()
    eval_cfg: EvalConfig = to_typed(cfg)
    run_dir = Path(eval_cfg.run).resolve()
    remove_stale_temporaries(run_dir)  # left by a writer killed mid-write
    ctx = open_run(
        run_dir,
        job.run_dir,
        checkpoint=eval_cfg.checkpoint,
        extra_target_prefixes=eval_cfg.extra_target_prefixes,
        allow_unsafe_targets=eval_cfg.allow_unsafe_targets,
        accelerator=eval_cfg.accelerator,
    )
    has_onnx = (run_dir / "export" / "model.onnx").is_file()
    run_stages(ctx, ["test", *(["verify"] if eval_cfg.verify_onnx and has_onnx else []), "summary"])
    raise_if_skipped(ctx)
