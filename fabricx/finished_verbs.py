"""`fabricx export` and `fabricx bench`: add results to a finished run, without training.

Both use the run's own config and checkpoint (fabricx.finished_run), write into the run
directory, and rewrite its metrics.json keeping the training run's metrics and stages while
replacing their own earlier results. The run's own status stays what training made it; each
command's outcome (ok, failed, interrupted) goes under "verbs" in the same record. When the
run logged to W&B, each command opens a W&B run of its own (job type export or bench,
grouped under the run) for its files and tables.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from fabricx.atomic import remove_stale_temporaries
from fabricx.build.loggers import build_wandb_logger
from fabricx.config.instantiate import resolve_target
from fabricx.config.saved import load_saved_config
from fabricx.config.schema import BenchRunConfig, ExportRunConfig, TrainConfig
from fabricx.config.typed import to_typed
from fabricx.export.onnx import EXPORT_FILES
from fabricx.finished_run import finished_run_prefixes, merge_previous_record, open_run
from fabricx.logs import route_lightning_logs
from fabricx.runner import raise_if_skipped, run_stages
from fabricx.stages.context import RunContext
from fabricx.tasks.contract import scored_metric


def export_job(cfg: DictConfig) -> None:
    """Hydra's task function for `fabricx export run=<dir> export=[...]`.

    export/ then holds exactly the named targets (and model.onnx, which they derive from):
    files of other targets are removed, so no stale artifact outlives its verification.
    """
    route_lightning_logs()
    export_cfg: ExportRunConfig = to_typed(cfg)
    run_dir = Path(export_cfg.run).resolve()
    prefixes = finished_run_prefixes(
        export_cfg.extra_target_prefixes, export_cfg.allow_unsafe_targets
    )
    saved = replace(load_saved_config(run_dir, prefixes), export=export_cfg.export)
    task_class = resolve_target(saved.task["_target_"], prefixes, "task")
    name, _ = scored_metric(task_class, saved.metric)  # test/acc_onnx, test/acc_onnx_int8, ...
    ctx = _open(
        export_cfg, run_dir, saved, "export", replaces=("verify/", "export/", f"test/{name}_")
    )
    _remove_other_targets(ctx)
    run_stages(ctx, ["export", *(["verify"] if export_cfg.verify else []), "summary"])
    raise_if_skipped(ctx)


def bench_job(cfg: DictConfig) -> None:
    """Hydra's task function for `fabricx bench run=<dir>`: times whatever the run exported."""
    route_lightning_logs()
    bench_cfg: BenchRunConfig = to_typed(cfg)
    run_dir = Path(bench_cfg.run).resolve()
    prefixes = finished_run_prefixes(
        bench_cfg.extra_target_prefixes, bench_cfg.allow_unsafe_targets
    )
    saved = replace(load_saved_config(run_dir, prefixes), bench=bench_cfg.bench)
    ctx = _open(bench_cfg, run_dir, saved, "bench", replaces=("bench/",))
    run_stages(ctx, ["bench", "summary"])


def _open(
    cfg: ExportRunConfig | BenchRunConfig,
    run_dir: Path,
    saved: TrainConfig,
    job: str,
    replaces: tuple[str, ...],
) -> RunContext:
    remove_stale_temporaries(run_dir)  # left by a writer killed mid-write
    ctx = open_run(
        run_dir,
        run_dir,
        checkpoint=cfg.checkpoint,
        extra_target_prefixes=cfg.extra_target_prefixes,
        allow_unsafe_targets=cfg.allow_unsafe_targets,
        accelerator="cpu" if job == "export" else "auto",  # export and ORT verify: CPU
        saved=saved,
    )
    merge_previous_record(ctx, replaces=replaces)
    ctx.verb, ctx.run_record = job, _read_record(run_dir / "metrics.json")
    prefixes = finished_run_prefixes(cfg.extra_target_prefixes, cfg.allow_unsafe_targets)
    logger = build_wandb_logger(saved, run_dir, prefixes, job_type=job)
    if logger is not None:  # the run logged to W&B: this command gets a W&B run of its own
        ctx.trainer.loggers = [logger]
    return ctx


def _read_record(path: Path) -> dict[str, Any]:
    """The run's metrics.json; {} when it has none (killed) or it cannot be read."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _remove_other_targets(ctx: RunContext) -> None:
    export_dir = ctx.run_dir / "export"
    keep = {"onnx", *ctx.cfg.export.targets}
    ctx.skipped.pop("tensorrt", None)  # asked again (or not at all): this command decides
    for target, name in EXPORT_FILES.items():
        if target in keep:
            continue
        ctx.artifacts.pop(target, None)
        for path in (export_dir / name, export_dir / f"{name}.data", export_dir / f"{name}.json"):
            path.unlink(missing_ok=True)
