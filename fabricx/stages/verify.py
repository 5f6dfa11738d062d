"""verify: every exported file against the eager fp32 model, on its runtime.

ONNX files run on ONNX Runtime (model.optimized.onnx too, held to model.onnx's fp32
tolerances), the TensorRT engine on TensorRT (skipped, with the reason, where TensorRT
cannot run). Each entry carries how its file was made (the optimizer's fused ops, the INT8
method and the model family) from the export stage's <file>.json.

Per artifact: parity of the output tensor at several batch sizes (so the dynamic batch
dimension is really exercised), within that artifact's precision's tolerances, then the
task's metric recomputed through the runtime on the whole test split (for a task that says
how to score a batch: fabricx.tasks.contract; otherwise outputs only, and verify.json and
metrics.json say so). The report goes to
export/verify.json before any failure is raised, so nothing is lost.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch

from fabricx.config.schema import EXPORT_TARGETS, TARGET_SCHEMAS, Tolerance
from fabricx.errors import StageError
from fabricx.export.onnx import EXPORT_FILES, ONNX_PRECISIONS
from fabricx.export.outputs import flatten, rebuild, structure
from fabricx.export.parity import check_cases, parity_cases, score, slices, tile
from fabricx.export.runtimes import OrtRunner
from fabricx.export.sidecar import sidecar_path
from fabricx.runs import directory as runs
from fabricx.stages.context import RunContext
from fabricx.tasks.contract import (
    can_score,
    eval_copy,
    example_inputs,
    has_batches,
    scored_metric,
)


def run(ctx: RunContext) -> None:
    export_dir = ctx.run_dir / "export"
    # The configured targets, model.onnx (every other target derives from it) and whatever
    # else the run has exported since (fabricx export adds targets to a finished run).
    wanted = set(ctx.cfg.export.targets)
    on_disk = {t for t, name in EXPORT_FILES.items() if (export_dir / name).is_file()}
    targets = [t for t in EXPORT_TARGETS if t in wanted | on_disk or (t == "onnx" and wanted)]
    if "onnx_optimized" in on_disk:  # model.onnx through the transformer optimizer
        targets.insert(targets.index("onnx") + 1 if "onnx" in targets else 0, "onnx_optimized")
    if "tensorrt" in targets:
        from fabricx.export.tensorrt import tensorrt_unavailable_reason

        reason = ctx.skipped.get("tensorrt") or tensorrt_unavailable_reason()
        if reason is not None:
            ctx.skipped["tensorrt"] = reason
            targets.remove("tensorrt")
    missing = [t for t in targets if not (export_dir / EXPORT_FILES[t]).is_file()]
    if missing:
        raise StageError(
            f"verify needs {', '.join(str(export_dir / EXPORT_FILES[t]) for t in missing)}; run the"
            " export stage first (stages=[export,verify])."
        )
    ctx.use_checkpoint()
    datamodule, task = ctx.datamodule, ctx.task
    batch_sizes = ctx.cfg.export.verify.batch_sizes
    name, mode = scored_metric(task, ctx.cfg.metric)  # what build_metric computes
    eager = eval_copy(task)
    if has_batches(task):
        datamodule.setup("test")
        cases = parity_cases(datamodule.test_dataloader(), task.split_batch, batch_sizes)
    else:  # the example input, tiled or cut to every batch size
        cases = slices(tile(example_inputs(task, datamodule), max(batch_sizes)), batch_sizes)
    scoring = can_score(task)
    if not scoring:
        ctx.notes["verify"] = (
            f"outputs compared only: {type(task).__qualname__} defines no split_batch and "
            "build_metric, so the test metric was not recomputed through the runtimes"
        )
    spec = structure(eager(**cases[0]))  # a task may return several tensors

    def test_metric(runner: Any) -> float:  # in this process alone: under DDP rank 0 verifies
        metric = task.build_metric(sync_on_compute=False)

        def nested(**inputs: torch.Tensor) -> Any:
            return rebuild(spec, flatten(runner(**inputs)))

        return score(nested, datamodule.test_dataloader(), task.split_batch, metric)

    eager_metric = test_metric(eager) if scoring else None
    onnx_metric = eager_metric  # replaced by model.onnx's, which is always verified first

    report: dict[str, Any] = {
        "metric": f"test/{name}",
        "metric_recomputed": scoring,
        "eager_fp32": eager_metric,
        "artifacts": {},
        **({"note": ctx.notes["verify"]} if not scoring else {}),
    }
    failures = []
    for target in targets:
        tolerance = _tolerance(ctx, target)
        runner, runtime, providers = _runner(ctx, target, export_dir)
        parity = check_cases(eager, runner, cases, tolerance.atol, tolerance.rtol)
        entry: dict[str, Any] = {
            "file": EXPORT_FILES[target],
            "runtime": runtime,
            "providers": providers,
            "tolerance": {
                "precision": _precision(ctx, target),
                **{f.name: getattr(tolerance, f.name) for f in dataclasses.fields(Tolerance)},
            },
            "parity": [p.as_dict() for p in parity],
            **_how_made(export_dir / EXPORT_FILES[target]),
        }
        metric_ok = True
        if scoring:
            runtime_metric = test_metric(runner)
            # "Drop" in the metric's own direction: lower is better for a loss or an error.
            change = runtime_metric - eager_metric
            drop = -change if mode == "max" else change
            metric_ok = drop <= tolerance.max_metric_drop
            entry.update(
                metric=runtime_metric,
                metric_change=change,
                # fp16 and INT8 against the fp32 file they were made from, as well as eager
                metric_change_vs_onnx=runtime_metric - onnx_metric if target != "onnx" else 0.0,
            )
            ctx.metrics[f"test/{name}_{target}"] = runtime_metric
            if target == "onnx":
                onnx_metric = runtime_metric
            if not metric_ok:
                worse = "drops" if mode == "max" else "rises"
                failures.append(
                    f"{EXPORT_FILES[target]}: test/{name} {worse} from {eager_metric:.4f} (eager)"
                    f" to {runtime_metric:.4f}, more than export.{target}.max_metric_drop="
                    f"{tolerance.max_metric_drop}"
                )
        entry["passed"] = all(p.passed for p in parity) and metric_ok
        report["artifacts"][target] = entry
        ctx.metrics[f"verify/{target}_max_abs_diff"] = max(p.max_abs_diff for p in parity)
        failures += [
            f"{EXPORT_FILES[target]} at batch {p.batch_size} (shape {p.shape}): "
            f"max |eager - runtime| = "
            f"{p.max_abs_diff:.3g} exceeds atol={tolerance.atol} + rtol={tolerance.rtol}"
            for p in parity if not p.passed
        ]  # fmt: skip
    report["passed"] = not failures
    path = runs.write_json(ctx.out_dir / "export" / "verify.json", report)
    if failures:
        details = "; ".join(failures)
        raise StageError(f"Export verification failed: {details}. Files kept; see {path}.")


def _runner(ctx: RunContext, target: str, export_dir: Path) -> tuple[Any, str, list[str]]:
    """The runtime that runs `target`'s file: ONNX Runtime, or TensorRT for the engine."""
    if target == "tensorrt":
        from fabricx.export.tensorrt import TrtRunner

        source_target = ctx.cfg.export.tensorrt.source if ctx.cfg.export.tensorrt else "onnx"
        source = export_dir / EXPORT_FILES[source_target]
        return TrtRunner(export_dir / EXPORT_FILES["tensorrt"], onnx_path=source), "tensorrt", []
    runner = OrtRunner(export_dir / EXPORT_FILES[target])
    return runner, "onnxruntime", runner.session.get_providers()


def _how_made(path: Path) -> dict[str, Any]:
    """What the export stage recorded beside the file (<file>.json): the optimizer and its
    fused ops, the INT8 method and the model family. The TensorRT sidecar is the engine's
    own (GPU, TensorRT version) and stays out."""
    sidecar = sidecar_path(path)
    if path.suffix != ".onnx" or not sidecar.is_file():
        return {}
    return json.loads(sidecar.read_text())


def _precision(ctx: RunContext, target: str) -> str:
    if target == "tensorrt":  # strongly typed: the engine runs at its source file's precision
        source = ctx.cfg.export.tensorrt.source if ctx.cfg.export.tensorrt else "onnx"
        return f"{ONNX_PRECISIONS[source]} (TensorRT engine)"
    return "fp32" if target == "onnx_optimized" else ONNX_PRECISIONS[target]


def _tolerance(ctx: RunContext, target: str) -> Tolerance:
    """The target's configured tolerances; for a file exported by a later `fabricx export`
    (not in this run's config), the defaults of that target's precision. The optimized fp32
    graph is held to model.onnx's."""
    if target == "onnx_optimized":
        return ctx.cfg.export.base_onnx
    configured = getattr(ctx.cfg.export, target)
    return configured if configured is not None else TARGET_SCHEMAS[target]()
