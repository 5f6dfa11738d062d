"""`fabricx export run=<dir> export=[...]`: export a finished run again, without training.

It uses the run's own config and checkpoint (fabricx.verbs.finished_run), writes into the run
directory, and rewrites its metrics.json keeping the training run's metrics and stages while
replacing its own earlier results. The run's own status stays what training made it; this
command's outcome (ok, failed, interrupted) goes under "verbs" in the same record. When the
run logged to W&B, the command opens a W&B run of its own (job type export, grouped under
the run) for its files and tables.
"""

from __future__ import annotations

from omegaconf import DictConfig

from fabricx.config.instantiate import resolve_target
from fabricx.config.schema import ExportRunConfig
from fabricx.config.typed import to_typed
from fabricx.export.onnx import EXPORT_FILES
from fabricx.runs.job import Job
from fabricx.runs.logs import route_lightning_logs
from fabricx.stages.context import RunContext
from fabricx.stages.sequence import raise_if_skipped, run_stages
from fabricx.tasks.contract import scored_metric
from fabricx.verbs.finished_run import open_for_verb, saved_for_verb


def run(cfg: DictConfig, job: Job) -> None:
    """Export the run `cfg.run` names to `cfg.export`'s targets, and verify them.

    export/ then holds exactly the named targets (and model.onnx, which they derive from):
    files of other targets are removed, so no stale artifact outlives its verification.
    """
    route_lightning_logs()
    export_cfg: ExportRunConfig = to_typed(cfg)
    run_dir, prefixes, saved = saved_for_verb(export_cfg, export=export_cfg.export)
    task_class = resolve_target(saved.task["_target_"], prefixes, "task")
    name, _ = scored_metric(task_class, saved.metric)  # test/acc_onnx, test/acc_onnx_int8, ...
    ctx = open_for_verb(
        export_cfg, run_dir, saved, "export", replaces=("verify/", "export/", f"test/{name}_")
    )
    _remove_other_targets(ctx)
    run_stages(ctx, ["export", *(["verify"] if export_cfg.verify else []), "summary", "report"])
    raise_if_skipped(ctx)


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
