"""model.fp16.onnx from model.onnx: fp16 weights and compute, by onnxruntime's converter."""

from __future__ import annotations

from pathlib import Path

from fabricx.atomic import atomic_open
from fabricx.errors import FabricxError

_PROTOBUF_LIMIT = 2**31 - 1  # one serialized ONNX ModelProto


def convert_fp16(src: Path, dst: Path, keep_io_types: bool = True) -> Path:
    """Convert the fp32 graph at `src` to fp16 and write it to `dst`, checked, atomically.

    Args:
        src: the fp32 model.onnx (its external data, if any, beside it).
        dst: where model.fp16.onnx goes.
        keep_io_types: keep fp32 inputs and outputs (Cast nodes at the edges), so callers
            feed the same arrays as to the fp32 model.
    """
    import onnx
    import onnx_ir
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(src))
    fp16 = convert_float_to_float16(model, keep_io_types=keep_io_types)
    # The converter appends its input Casts after the nodes that read them; ONNX Runtime
    # copes, but the ONNX spec (and onnx.checker, TensorRT's parser) want topological order.
    graph = onnx_ir.from_proto(fp16)
    graph.graph.sort()
    fp16 = onnx_ir.to_proto(graph)
    if fp16.ByteSize() > _PROTOBUF_LIMIT:
        raise FabricxError(
            f"{src}: the fp16 model is over 2 GB, which one ONNX file cannot hold; "
            "fp16 export with external data is not supported yet."
        )
    onnx.checker.check_model(fp16, full_check=True)
    with atomic_open(dst, "wb") as f:
        f.write(fp16.SerializeToString())
    return dst
