"""export: the best checkpoint's model to <run>/export/, in each configured format.

model.onnx (fp32) comes first: model.fp16.onnx and model.int8.onnx are derived from it, and
the TensorRT engine (model.plan) is built from one of the three.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from fabricx.export.fp16 import convert_fp16
from fabricx.export.onnx import EXPORT_FILES, export_onnx
from fabricx.export.quantize import quantize_int8
from fabricx.stages.context import RunContext

log = logging.getLogger(__name__)


def run(ctx: RunContext) -> None:
    ctx.use_checkpoint()
    export, datamodule = ctx.cfg.export, ctx.datamodule
    export_dir = ctx.run_dir / "export"
    datamodule.setup("test")
    inputs, _ = ctx.task.split_batch(next(iter(datamodule.test_dataloader())))

    base = export.base_onnx
    files = export_onnx(
        ctx.task.model,
        inputs,
        export_dir / EXPORT_FILES["onnx"],
        opset=base.opset,
        dynamic_batch=base.dynamic_batch,
        external_data=base.external_data,
        dynamic_axes=getattr(ctx.task, "export_dynamic_axes", None),  # text: batch and sequence
    )
    fp32 = next(f for f in files if f.suffix == ".onnx")
    ctx.artifacts["onnx"] = fp32
    if export.onnx_fp16 is not None:
        dst = export_dir / EXPORT_FILES["onnx_fp16"]
        ctx.artifacts["onnx_fp16"] = convert_fp16(fp32, dst, export.onnx_fp16.keep_io_types)
    if export.onnx_int8 is not None:
        int8 = export.onnx_int8
        ctx.artifacts["onnx_int8"] = quantize_int8(
            fp32,
            export_dir / EXPORT_FILES["onnx_int8"],
            _calibration_batches(ctx, int8.calibration_batches),
            per_channel=int8.per_channel,
            calibrate_method=int8.calibrate_method,
            op_types=int8.op_types,
        )
    if export.tensorrt is not None:
        _build_tensorrt(ctx, inputs)


def _build_tensorrt(ctx: RunContext, inputs: dict[str, torch.Tensor]) -> None:
    """model.plan from the configured ONNX file, or a recorded skip when TensorRT cannot run."""
    from fabricx.export.tensorrt import build_engine, derive_profiles, tensorrt_unavailable_reason

    reason = tensorrt_unavailable_reason()
    if reason is not None:
        log.warning(reason)
        ctx.skipped["tensorrt"] = reason
        return
    trt = ctx.cfg.export.tensorrt
    shapes = {name: tuple(tensor.shape) for name, tensor in inputs.items()}
    profiles = derive_profiles(shapes, ctx.cfg.export.verify.batch_sizes)
    engine = ctx.run_dir / "export" / EXPORT_FILES["tensorrt"]
    build_engine(
        ctx.artifacts[trt.source],
        engine,
        profiles,
        workspace_bytes=int(trt.workspace_gb * 2**30),
        timing_cache_path=Path(trt.timing_cache).expanduser() if trt.timing_cache else None,
    )
    ctx.artifacts["tensorrt"] = engine


def _calibration_batches(ctx: RunContext, count: int) -> Iterator[dict[str, np.ndarray]]:
    """The first `count` training batches' model inputs (the loader's seeded order)."""
    ctx.datamodule.setup("fit")
    for i, batch in enumerate(ctx.datamodule.train_dataloader()):
        if i == count:
            return
        inputs, _ = ctx.task.split_batch(batch)
        yield {name: tensor.detach().cpu().numpy() for name, tensor in inputs.items()}
