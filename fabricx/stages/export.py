"""export: the best checkpoint's model to <run>/export/, in each configured format.

model.onnx (fp32, standard ONNX) comes first: model.optimized.onnx (ONNX Runtime's transformer
optimizer, transformers only by default), model.fp16.onnx and model.int8.onnx are derived from
it, and the TensorRT engine (model.plan) is built from model.onnx, fp16 or a Q/DQ INT8 file.
The model's family (fabricx.export.family) picks the optimizer and the INT8 method: dynamic
quantization of the optimized graph for transformers and recurrent nets, static Q/DQ
calibrated on training batches for conv and dense nets.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fabricx.errors import ArtifactError, ConfigError
from fabricx.export.family import detect_family, int8_method_for, optimizer_for
from fabricx.export.fp16 import convert_fp16
from fabricx.export.onnx import EXPORT_FILES, export_onnx
from fabricx.export.quantize import DEFAULT_OP_TYPES, quantize_int8, quantize_int8_dynamic
from fabricx.export.sidecar import sidecar_path
from fabricx.export.transformer import optimize_transformer, prepare_for_fusion
from fabricx.runs import directory as runs
from fabricx.stages.context import RunContext
from fabricx.tasks.contract import (
    dynamic_axes,
    eval_copy,
    example_inputs,
    export_metadata,
    has_batches,
    output_names,
)

log = logging.getLogger(__name__)


def run(ctx: RunContext) -> None:
    ctx.use_checkpoint()
    export = ctx.cfg.export
    export_dir = ctx.run_dir / "export"
    # The task's own forward (fabricx.tasks.contract): traced on a real test batch when the
    # task says how to split one, else on its example_input_array.
    inputs = example_inputs(ctx.task, ctx.datamodule)

    base = export.base_onnx
    model = eval_copy(ctx.task)
    # The family picks the fp32 graph optimizer and the INT8 method (each overridable).
    family = detect_family(model)
    optimizer = optimizer_for(base.optimize, family)
    int8_method = int8_method_for(export.onnx_int8.method, family) if export.onnx_int8 else None
    log.info(
        "export: %s model (%s): optimize=%s, INT8 method=%s", family.kind, family.source,
        optimizer, int8_method or "-",
    )  # fmt: skip
    trt_source = export.tensorrt.source if export.tensorrt is not None else None
    if trt_source == "onnx_int8" and int8_method == "dynamic":  # auto picked it; see the config
        raise ArtifactError(
            f"export.tensorrt.source=onnx_int8 needs Q/DQ INT8, but export.onnx_int8.method="
            f"{export.onnx_int8.method} picked dynamic quantization for this {family.kind} "
            "model, which TensorRT cannot read; export again with export.onnx_int8.method="
            f"static (no retraining: fabricx export run={ctx.run_dir} ...)."
        )
    if optimizer == "transformer":
        prepare_for_fusion(model, family)  # the same numbers, in the pattern the fusion knows
    files = export_onnx(
        model,
        inputs,
        export_dir / EXPORT_FILES["onnx"],
        opset=base.opset,
        dynamic_batch=base.dynamic_batch,
        external_data=base.external_data,
        dynamic_axes=dynamic_axes(ctx.task),  # text: batch and sequence
        output_names=output_names(ctx.task),
        metadata=export_metadata(ctx.task),
    )
    fp32 = next(f for f in files if f.suffix == ".onnx")
    ctx.artifacts["onnx"] = fp32
    optimized = None
    _remove(export_dir / EXPORT_FILES["onnx_optimized"])  # none left from an earlier export
    if optimizer == "transformer":
        optimized = export_dir / EXPORT_FILES["onnx_optimized"]
        fused = optimize_transformer(fp32, optimized, family)
        made = {"optimizer": "onnxruntime.transformers", "family": family.as_dict()}
        runs.write_json(sidecar_path(optimized), {**made, "fused_ops": fused})
        ctx.artifacts["onnx_optimized"] = optimized
        ctx.metrics["export/onnx_optimized_fused_ops"] = sum(fused.values())
        if not fused:
            log.warning(
                "export.onnx.optimize: ONNX Runtime's transformer optimizer fused nothing in "
                "%s (%s); %s is model.onnx's graph.", fp32, family.source, optimized.name,
            )  # fmt: skip
    if export.onnx_fp16 is not None:
        dst = export_dir / EXPORT_FILES["onnx_fp16"]
        ctx.artifacts["onnx_fp16"] = convert_fp16(fp32, dst, export.onnx_fp16.keep_io_types)
    if export.onnx_int8 is not None:
        int8 = export.onnx_int8
        dst = export_dir / EXPORT_FILES["onnx_int8"]
        op_types = int8.op_types or DEFAULT_OP_TYPES[int8_method]
        record: dict[str, Any] = {
            "method": int8_method,
            "family": family.kind,
            "op_types": op_types,
        }
        if int8_method == "dynamic":
            # On the fused graph where there is one, as ONNX Runtime recommends for
            # transformers: its Attention ops become QAttention.
            source = optimized or fp32
            quantize_int8_dynamic(source, dst, per_channel=int8.per_channel, op_types=op_types)
            record["source"] = source.name
        else:
            quantize_int8(
                fp32,
                dst,
                _calibration_batches(ctx, int8.calibration_batches, inputs),
                per_channel=int8.per_channel,
                calibrate_method=int8.calibrate_method,
                op_types=op_types,
            )
            record["source"] = fp32.name
            record["calibration_batches"] = ctx.metrics["export/onnx_int8_calibration_batches"]
        runs.write_json(sidecar_path(dst), record)
        ctx.artifacts["onnx_int8"] = dst
    if export.tensorrt is not None:
        _build_tensorrt(ctx, inputs)


def _remove(path: Path) -> None:
    for file in (path, Path(f"{path}.data"), sidecar_path(path)):
        file.unlink(missing_ok=True)


def _build_tensorrt(ctx: RunContext, inputs: dict[str, torch.Tensor]) -> None:
    """model.plan from the configured ONNX file, or a recorded skip when TensorRT cannot run."""
    from fabricx.export.tensorrt import build_engine, tensorrt_unavailable_reason

    reason = tensorrt_unavailable_reason()
    if reason is not None:
        log.warning(reason)
        ctx.skipped["tensorrt"] = reason
        return
    trt = ctx.cfg.export.tensorrt
    engine = ctx.run_dir / "export" / EXPORT_FILES["tensorrt"]
    try:
        build_engine(
            ctx.artifacts[trt.source],
            engine,
            tensorrt_profiles(ctx, inputs),
            workspace_bytes=int(trt.workspace_gb * 2**30),
            timing_cache_path=Path(trt.timing_cache).expanduser() if trt.timing_cache else None,
        )
    except ConfigError as err:  # the model's shapes give no profile: found mid-run, no engine
        raise ArtifactError(
            f"cannot build the TensorRT engine {engine}:\n  - " + "\n  - ".join(err.problems)
        ) from err
    ctx.artifacts["tensorrt"] = engine


def tensorrt_profiles(ctx: RunContext, inputs: dict[str, torch.Tensor]) -> list[Any]:
    """The engine's optimization profile: it must admit every shape the engine will see.

    Batch: verify's and bench's sizes and the test loader's own batch (the metric runs on
    it), opt at that typical batch. Text: every padded length of the test split.
    """
    from fabricx.export.tensorrt import derive_profiles

    axes = dynamic_axes(ctx.task) or {0: "batch"}
    shapes = {name: tuple(tensor.shape) for name, tensor in inputs.items()}
    typical = next(iter(shapes.values()))[0]
    sizes = [*ctx.cfg.export.verify.batch_sizes, *ctx.cfg.bench.batch_sizes, typical]
    seq_lens = _sequence_lengths(ctx) if 1 in axes and has_batches(ctx.task) else None
    dynamic = {n: {a: label for a, label in axes.items() if a < len(s)} for n, s in shapes.items()}
    return derive_profiles(shapes, sizes, dynamic_axes=dynamic, seq_lens=seq_lens)


def _sequence_lengths(ctx: RunContext) -> list[int]:
    """Every padded length of the test split's batches (text: axis 1 of the inputs)."""
    lengths = set()
    for batch in ctx.datamodule.test_dataloader():
        inputs, _ = ctx.task.split_batch(batch)
        lengths.add(int(next(iter(inputs.values())).shape[1]))
    return sorted(lengths)


def _calibration_batches(
    ctx: RunContext, count: int, example: dict[str, torch.Tensor]
) -> Iterator[dict[str, np.ndarray]]:
    """The first `count` training batches' model inputs (the loader's seeded order); the
    number really used is recorded, and said when the split has fewer.

    A task without `split_batch` gives no way to read inputs from a batch: its example
    input is the only calibration data then, and a warning says so.
    """
    if not has_batches(ctx.task):
        log.warning(
            "export.onnx_int8: %s defines no split_batch, so INT8 is calibrated on its "
            "example_input_array alone; define split_batch(batch) -> (inputs, target) to "
            "calibrate on training batches.", type(ctx.task).__qualname__,
        )  # fmt: skip
        ctx.metrics["export/onnx_int8_calibration_batches"] = 1
        yield {name: tensor.detach().cpu().numpy() for name, tensor in example.items()}
        return
    ctx.datamodule.setup("fit")
    used = 0
    for batch in ctx.datamodule.train_dataloader():
        if used == count:
            break
        inputs, _ = ctx.task.split_batch(batch)
        used += 1
        yield {name: tensor.detach().cpu().numpy() for name, tensor in inputs.items()}
    if used < count:
        log.warning(
            "export.onnx_int8.calibration_batches=%d but the training split has %d batches; "
            "calibrated on %d.", count, used, used,
        )  # fmt: skip
    ctx.metrics["export/onnx_int8_calibration_batches"] = used
