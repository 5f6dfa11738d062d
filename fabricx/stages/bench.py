"""bench: latency and throughput of the model on every runtime it runs on, by batch size.

Eager in fp32 and at the training precision, ONNX Runtime on each exported ONNX file (CPU,
and its CUDA provider when present), TensorRT when an engine exists and can run here.
Inputs come from the test split; each case is timed by fabricx.export.latency. Writes
bench.json and bench.png to the output directory and prints the table.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

from fabricx.export.latency import measure
from fabricx.export.onnx import EXPORT_FILES, ONNX_PRECISIONS
from fabricx.export.parity import tile
from fabricx.export.runtimes import OrtRunner
from fabricx.runs import directory as runs
from fabricx.stages.bench_chart import latency_chart
from fabricx.stages.context import RunContext
from fabricx.tasks.contract import eval_copy, example_inputs

Prepare = Callable[[dict[str, torch.Tensor]], Callable[[], Any]]


def run(ctx: RunContext, console: Console | None = None) -> None:
    cfg = ctx.cfg.bench
    ctx.use_checkpoint()
    largest = max(cfg.batch_sizes)
    # One real test batch (or the task's example input), repeated to the largest size:
    # padded text batches cannot be concatenated, and every runtime sees the same inputs.
    pool = tile(example_inputs(ctx.task, ctx.datamodule), largest)
    rows = []
    for runtime, prepare, cuda in _runtimes(ctx):
        for size in cfg.batch_sizes:
            call = prepare({name: t[:size] for name, t in pool.items()})
            latency = measure(
                runtime, call, size, warmup_iters=cfg.warmup_iters, min_iters=cfg.min_iters,
                max_iters=cfg.max_iters, budget_s=cfg.seconds_per_case, cuda=cuda,
            )  # fmt: skip
            rows.append(latency.as_dict())
    eager = {r["batch_size"]: r["p50_ms"] for r in rows if r["runtime"] == "eager_fp32"}
    ort_fp32 = {r["batch_size"]: r["p50_ms"] for r in rows if r["runtime"] == "ort_cpu_fp32"}
    for row in rows:
        row["speedup_vs_eager_fp32"] = eager[row["batch_size"]] / row["p50_ms"]
        if row["batch_size"] in ort_fp32:  # INT8 and fp16 against the fp32 ONNX file
            row["speedup_vs_ort_cpu_fp32"] = ort_fp32[row["batch_size"]] / row["p50_ms"]
        if row["batch_size"] == min(cfg.batch_sizes):  # e.g. a sweep's latency objective
            ctx.metrics[f"bench/{row['runtime']}_p50_ms_bs{row['batch_size']}"] = row["p50_ms"]
        if row["batch_size"] == largest and row["runtime"] != "eager_fp32":
            ctx.metrics[f"bench/{row['runtime']}_speedup_bs{largest}"] = row[
                "speedup_vs_eager_fp32"
            ]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    report = {"device": _device_name(), "torch_threads": torch.get_num_threads(), "rows": rows}
    ctx.artifacts["bench_json"] = runs.write_json(ctx.out_dir / "bench.json", report)
    title = f"{ctx.cfg.experiment}: latency by runtime ({device})"
    ctx.artifacts["bench_png"] = latency_chart(rows, ctx.out_dir / "bench.png", title)
    ctx.tables["bench"] = rows
    _print(rows, console or Console())


def _runtimes(ctx: RunContext) -> Iterator[tuple[str, Prepare, bool]]:
    """(name, prepare(inputs) -> call, synchronize CUDA) for every runtime that applies."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = eval_copy(ctx.task, device)
    yield "eager_fp32", _eager(model, device, contextlib.nullcontext), device.type == "cuda"

    precision = ctx.cfg.precision.name
    if precision in ("bf16-mixed", "16-mixed") and (
        precision == "bf16-mixed" or device.type == "cuda"
    ):
        dtype = torch.bfloat16 if precision == "bf16-mixed" else torch.float16
        autocast = lambda: torch.autocast(device.type, dtype=dtype)  # noqa: E731
        yield f"eager_{precision}", _eager(model, device, autocast), device.type == "cuda"
    elif precision == "bf16-true":
        half = copy.deepcopy(model).to(torch.bfloat16)
        yield (
            "eager_bf16-true",
            _eager(half, device, contextlib.nullcontext, torch.bfloat16),
            device.type == "cuda",
        )

    import onnxruntime as ort

    export_dir = ctx.run_dir / "export"
    providers = {"cpu": "CPUExecutionProvider"}
    if "CUDAExecutionProvider" in ort.get_available_providers() and device.type == "cuda":
        providers["cuda"] = "CUDAExecutionProvider"
    # model.optimized.onnx (the transformer optimizer's fused fp32 graph) right after model.onnx
    names = {t: f"ort_{{where}}_{precision}" for t, precision in ONNX_PRECISIONS.items()}
    names = {"onnx": names.pop("onnx"), "onnx_optimized": "ort_{where}_fp32_optimized", **names}
    for where, provider in providers.items():
        for target, name in names.items():
            path = export_dir / EXPORT_FILES[target]
            if path.is_file():
                yield name.format(where=where), _ort(path, provider), where == "cuda"

    engine = export_dir / EXPORT_FILES["tensorrt"]
    if engine.is_file() and "tensorrt" not in ctx.skipped:
        from fabricx.export.tensorrt import TrtRunner, tensorrt_unavailable_reason

        if tensorrt_unavailable_reason() is None:
            runner = TrtRunner(engine)
            yield "tensorrt", lambda inputs: _bound(runner, _to(inputs, device)), True


def _eager(model: torch.nn.Module, device: torch.device, autocast: Callable[[], Any],
           dtype: torch.dtype | None = None) -> Prepare:  # fmt: skip
    def prepare(inputs: dict[str, torch.Tensor]) -> Callable[[], Any]:
        inputs = _to(inputs, device, dtype)

        def call() -> Any:
            with torch.inference_mode(), autocast():
                return model(**inputs)

        return call

    return prepare


def _ort(path: Any, provider: str) -> Prepare:
    session = OrtRunner(path, providers=[provider]).session
    names = [i.name for i in session.get_inputs()]

    def prepare(inputs: dict[str, torch.Tensor]) -> Callable[[], Any]:
        feed = {name: inputs[name].cpu().numpy() for name in names}  # converted once, untimed
        return lambda: session.run(None, feed)

    return prepare


def _bound(runner: Callable[..., Any], inputs: dict[str, torch.Tensor]) -> Callable[[], Any]:
    return lambda: runner(**inputs)


def _to(
    inputs: dict[str, torch.Tensor], device: torch.device, dtype: torch.dtype | None = None
) -> dict[str, torch.Tensor]:
    return {
        name: t.to(device, dtype) if dtype is not None and t.is_floating_point() else t.to(device)
        for name, t in inputs.items()
    }


def _device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    import platform

    return f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def _print(rows: list[dict[str, Any]], console: Console) -> None:
    table = Table(
        title="bench: median latency (ms) and throughput (samples/s)",
        title_justify="left",
        show_edge=False,
    )
    for column in ("runtime", "batch", "p50 ms", "p90 ms", "p99 ms", "samples/s", "vs eager fp32"):
        table.add_column(column, justify="left" if column == "runtime" else "right")
    for r in rows:
        table.add_row(
            r["runtime"], str(r["batch_size"]), f"{r['p50_ms']:.3f}", f"{r['p90_ms']:.3f}",
            f"{r['p99_ms']:.3f}", f"{r['throughput']:,.0f}", f"{r['speedup_vs_eager_fp32']:.2f}x",
        )  # fmt: skip
    console.print(table)
