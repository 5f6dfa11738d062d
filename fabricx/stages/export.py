"""export: the best checkpoint's model to <run>/export/, in each configured format.

model.onnx (fp32) comes first: model.fp16.onnx and model.int8.onnx are derived from it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from fabricx.export.fp16 import convert_fp16
from fabricx.export.onnx import ONNX_FILES, export_onnx
from fabricx.export.quantize import quantize_int8
from fabricx.stages.context import RunContext


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
        export_dir / ONNX_FILES["onnx"],
        opset=base.opset,
        dynamic_batch=base.dynamic_batch,
        external_data=base.external_data,
    )
    fp32 = next(f for f in files if f.suffix == ".onnx")
    ctx.artifacts["onnx"] = fp32
    if export.onnx_fp16 is not None:
        dst = export_dir / ONNX_FILES["onnx_fp16"]
        ctx.artifacts["onnx_fp16"] = convert_fp16(fp32, dst, export.onnx_fp16.keep_io_types)
    if export.onnx_int8 is not None:
        int8 = export.onnx_int8
        ctx.artifacts["onnx_int8"] = quantize_int8(
            fp32,
            export_dir / ONNX_FILES["onnx_int8"],
            _calibration_batches(ctx, int8.calibration_batches),
            per_channel=int8.per_channel,
            calibrate_method=int8.calibrate_method,
        )


def _calibration_batches(ctx: RunContext, count: int) -> Iterator[dict[str, np.ndarray]]:
    """The first `count` training batches' model inputs (the loader's seeded order)."""
    ctx.datamodule.setup("fit")
    for i, batch in enumerate(ctx.datamodule.train_dataloader()):
        if i == count:
            return
        inputs, _ = ctx.task.split_batch(batch)
        yield {name: tensor.detach().cpu().numpy() for name, tensor in inputs.items()}
