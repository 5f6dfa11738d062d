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
from fabricx.finished_run import open_run
from fabricx.logs import route_lightning_logs
from fabricx.runner import raise_if_skipped, run_stages


def eval_job(cfg: DictConfig) -> None:
    """Hydra's task function for `fabricx eval`; the CLI has checked the run already."""
    from hydra.core.hydra_config import HydraConfig

    route_lightning_logs()
    eval_cfg: EvalConfig = to_typed(cfg)
    run_dir = Path(eval_cfg.run).resolve()
    remove_stale_temporaries(run_dir)  # left by a writer killed mid-write
    ctx = open_run(
        run_dir,
        Path(HydraConfig.get().runtime.output_dir).resolve(),
        checkpoint=eval_cfg.checkpoint,
        extra_target_prefixes=eval_cfg.extra_target_prefixes,
        allow_unsafe_targets=eval_cfg.allow_unsafe_targets,
        accelerator=eval_cfg.accelerator,
    )
    has_onnx = (run_dir / "export" / "model.onnx").is_file()
    run_stages(ctx, ["test", *(["verify"] if eval_cfg.verify_onnx and has_onnx else []), "summary"])
    raise_if_skipped(ctx)
