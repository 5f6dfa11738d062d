"""export: write the best checkpoint's model to <run>/export/ in each configured format."""

from __future__ import annotations

from fabricx.export.onnx import export_onnx
from fabricx.stages.context import RunContext


def run(ctx: RunContext) -> None:
    ctx.use_checkpoint()
    ctx.datamodule.setup("test")
    inputs, _ = ctx.task.split_batch(next(iter(ctx.datamodule.test_dataloader())))
    onnx_cfg = ctx.cfg.export.onnx
    if onnx_cfg is not None:
        files = export_onnx(
            ctx.task.model,
            inputs,
            ctx.run_dir / "export" / "model.onnx",
            opset=onnx_cfg.opset,
            dynamic_batch=onnx_cfg.dynamic_batch,
            external_data=onnx_cfg.external_data,
        )
        ctx.artifacts["onnx"] = next(f for f in files if f.suffix == ".onnx")
