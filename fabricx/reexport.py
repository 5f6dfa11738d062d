"""`fabricx export run=<dir> export=[...]`: export a finished run again, without training.

The run's own config and checkpoint are used, with the export targets this command names.
Files go to <run>/export/ and the run's metrics.json is updated in place: its earlier
metrics and stages stay, the export and verify results are added or replaced.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from omegaconf import DictConfig

from fabricx.config.saved import load_saved_config
from fabricx.config.schema import ExportRunConfig
from fabricx.config.typed import to_typed
from fabricx.finished_run import merge_previous_record, open_run
from fabricx.logs import route_lightning_logs
from fabricx.runner import raise_if_skipped, run_stages


def export_job(cfg: DictConfig) -> None:
    """Hydra's task function for `fabricx export`; the CLI has checked the run already."""
    route_lightning_logs()
    export_cfg: ExportRunConfig = to_typed(cfg)
    run_dir = Path(export_cfg.run).resolve()
    saved = replace(load_saved_config(run_dir), export=export_cfg.export)
    ctx = open_run(
        run_dir,
        run_dir,
        checkpoint=export_cfg.checkpoint,
        extra_target_prefixes=export_cfg.extra_target_prefixes,
        accelerator="cpu",  # export and ONNX Runtime verification run on the CPU
        saved=saved,
    )
    metric = f"test/{saved.task.metric}_"  # test/acc_onnx, test/acc_onnx_int8, ...
    merge_previous_record(ctx, replaces=("verify/", metric))
    ctx.skipped.pop("tensorrt", None)  # asked again: this run decides
    run_stages(ctx, ["export", *(["verify"] if export_cfg.verify else []), "summary"])
    raise_if_skipped(ctx)
