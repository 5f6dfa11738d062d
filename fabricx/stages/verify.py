"""verify: the exported model against the eager one, on ONNX Runtime.

Parity per output tensor at several batch sizes (so the dynamic batch dimension is really
exercised), then the task's metric recomputed through the runtime on the whole test split.
Results go to export/verify.json before any failure is raised, so nothing is lost.
"""

from __future__ import annotations

import copy

import torch

from fabricx import runs
from fabricx.errors import StageError
from fabricx.export.parity import check_parity, gather_inputs, score
from fabricx.export.runtimes import OrtRunner
from fabricx.stages.context import RunContext


def run(ctx: RunContext) -> None:
    path = ctx.run_dir / "export" / "model.onnx"
    if not path.is_file():
        raise StageError(
            f"verify needs {path}; run the export stage first (stages=[export,verify])."
        )
    ctx.use_checkpoint()
    verify = ctx.cfg.export.verify
    datamodule, split_batch = ctx.datamodule, ctx.task.split_batch
    datamodule.setup("test")

    eager = copy.deepcopy(ctx.task.model).to("cpu", torch.float32).eval()
    runner = OrtRunner(path)
    pool = gather_inputs(datamodule.test_dataloader(), split_batch, max(verify.batch_sizes))
    parity = check_parity(eager, runner, pool, verify.batch_sizes, verify.atol, verify.rtol)

    name = ctx.cfg.task.metric
    eager_metric = score(
        eager,
        datamodule.test_dataloader(),
        split_batch,
        ctx.task.build_metric(sync_on_compute=False),
    )
    ort_metric = score(
        runner,
        datamodule.test_dataloader(),
        split_batch,
        ctx.task.build_metric(sync_on_compute=False),
    )
    metric_ok = eager_metric - ort_metric <= verify.max_metric_drop
    report = {
        "model": str(path),
        "runtime": "onnxruntime",
        "providers": runner.session.get_providers(),
        "tolerance": {
            "atol": verify.atol,
            "rtol": verify.rtol,
            "max_metric_drop": verify.max_metric_drop,
        },
        "parity": [p.as_dict() for p in parity],
        "metric": {"name": f"test/{name}", "eager_fp32": eager_metric, "onnxruntime": ort_metric},
        "passed": all(p.passed for p in parity) and metric_ok,
    }
    runs.write_json(ctx.out_dir / "export" / "verify.json", report)
    ctx.metrics[f"test/{name}_onnx"] = ort_metric
    ctx.metrics["verify/onnx_max_abs_diff"] = max(p.max_abs_diff for p in parity)

    failures = [
        f"batch {p.batch_size}: max |eager - onnx| = {p.max_abs_diff:.3g} exceeds "
        f"atol={verify.atol} + rtol={verify.rtol}"
        for p in parity if not p.passed
    ]  # fmt: skip
    if not metric_ok:
        failures.append(
            f"test/{name} drops from {eager_metric:.4f} (eager) to {ort_metric:.4f} (ONNX Runtime),"
            f" more than export.verify.max_metric_drop={verify.max_metric_drop}"
        )
    if failures:
        raise StageError(
            "ONNX verification failed: " + "; ".join(failures) + f". Files kept; see "
            f"{ctx.out_dir / 'export' / 'verify.json'}."
        )
