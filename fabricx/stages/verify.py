"""verify: every exported ONNX file against the eager fp32 model, on ONNX Runtime.

Per artifact: parity of the output tensor at several batch sizes (so the dynamic batch
dimension is really exercised), within that artifact's precision's tolerances, then the
task's metric recomputed through the runtime on the whole test split. The report goes to
export/verify.json before any failure is raised, so nothing is lost.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import torch

from fabricx import runs
from fabricx.config.schema import ONNX_TARGETS, Tolerance
from fabricx.errors import StageError
from fabricx.export.onnx import ONNX_FILES
from fabricx.export.parity import check_parity, gather_inputs, score
from fabricx.export.runtimes import OrtRunner
from fabricx.stages.context import RunContext

PRECISIONS = {"onnx": "fp32", "onnx_fp16": "fp16", "onnx_int8": "int8 (Q/DQ)"}


def run(ctx: RunContext) -> None:
    export_dir = ctx.run_dir / "export"
    # The configured targets, plus model.onnx, which every ONNX target is derived from.
    wanted = set(ctx.cfg.export.targets)
    targets = [t for t in ONNX_TARGETS if t in wanted or (t == "onnx" and wanted)]
    missing = [t for t in targets if not (export_dir / ONNX_FILES[t]).is_file()]
    if missing:
        raise StageError(
            f"verify needs {', '.join(str(export_dir / ONNX_FILES[t]) for t in missing)}; run the"
            " export stage first (stages=[export,verify])."
        )
    ctx.use_checkpoint()
    datamodule, split_batch = ctx.datamodule, ctx.task.split_batch
    datamodule.setup("test")
    batch_sizes = ctx.cfg.export.verify.batch_sizes
    name = ctx.cfg.task.metric

    eager = copy.deepcopy(ctx.task.model).to("cpu", torch.float32).eval()
    pool = gather_inputs(datamodule.test_dataloader(), split_batch, max(batch_sizes))

    def test_metric(runner: Any) -> float:  # in this process alone: under DDP rank 0 verifies
        metric = ctx.task.build_metric(sync_on_compute=False)
        return score(runner, datamodule.test_dataloader(), split_batch, metric)

    eager_metric = test_metric(eager)

    report: dict[str, Any] = {"metric": f"test/{name}", "eager_fp32": eager_metric, "artifacts": {}}
    failures = []
    for target in targets:
        tolerance = _tolerance(ctx, target)
        runner = OrtRunner(export_dir / ONNX_FILES[target])
        parity = check_parity(eager, runner, pool, batch_sizes, tolerance.atol, tolerance.rtol)
        runtime_metric = test_metric(runner)
        metric_ok = eager_metric - runtime_metric <= tolerance.max_metric_drop
        report["artifacts"][target] = {
            "file": ONNX_FILES[target],
            "runtime": "onnxruntime",
            "providers": runner.session.get_providers(),
            "tolerance": {
                "precision": PRECISIONS[target],
                **{f.name: getattr(tolerance, f.name) for f in dataclasses.fields(Tolerance)},
            },
            "parity": [p.as_dict() for p in parity],
            "metric": runtime_metric,
            "metric_change": runtime_metric - eager_metric,
            "passed": all(p.passed for p in parity) and metric_ok,
        }  # fmt: skip
        ctx.metrics[f"test/{name}_{target}"] = runtime_metric
        ctx.metrics[f"verify/{target}_max_abs_diff"] = max(p.max_abs_diff for p in parity)
        failures += [
            f"{ONNX_FILES[target]} at batch {p.batch_size}: max |eager - onnx| = "
            f"{p.max_abs_diff:.3g} exceeds atol={tolerance.atol} + rtol={tolerance.rtol}"
            for p in parity if not p.passed
        ]  # fmt: skip
        if not metric_ok:
            failures.append(
                f"{ONNX_FILES[target]}: test/{name} drops from {eager_metric:.4f} (eager) to "
                f"{runtime_metric:.4f}, more than export.{target}.max_metric_drop="
                f"{tolerance.max_metric_drop}"
            )
    report["passed"] = not failures
    path = runs.write_json(ctx.out_dir / "export" / "verify.json", report)
    if failures:
        details = "; ".join(failures)
        raise StageError(f"ONNX verification failed: {details}. Files kept; see {path}.")


def _tolerance(ctx: RunContext, target: str) -> Tolerance:
    configured = getattr(ctx.cfg.export, target)
    return configured if configured is not None else ctx.cfg.export.base_onnx
