"""model.int8.onnx by onnxruntime.quantization: static Q/DQ calibrated on data, or dynamic.

Static: Q/DQ (QuantizeLinear/DequantizeLinear pairs around fp32 ops) is the format both ONNX
Runtime and TensorRT read, so one file serves the CPU and the GPU; conv and dense nets.
Dynamic: INT8 weights, activation scales computed per call (MatMulInteger,
DynamicQuantizeMatMul, QAttention, DynamicQuantizeLSTM); no calibration data, ONNX Runtime
only; transformers and recurrent nets, whose activation ranges vary from input to input.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from fabricx import atomic
from fabricx.errors import FabricxError

CALIBRATION = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}
# The ops each method quantizes when export.onnx_int8.op_types is not given.
DEFAULT_OP_TYPES = {
    "static": ["MatMul", "Gemm", "Conv"],  # Add, Softmax and norms stay fp32 (accuracy)
    "dynamic": ["MatMul", "Attention", "LSTM"],  # every op dynamic INT8 speeds up but Gather
}


def quantize_int8(
    src: Path,
    dst: Path,
    calibration: Iterable[dict[str, np.ndarray]],
    per_channel: bool = True,
    calibrate_method: str = "minmax",
    op_types: list[str] | None = None,
) -> Path:
    """Quantize the fp32 model at `src` to INT8 Q/DQ at `dst`, calibrated on `calibration`.

    Args:
        src: the fp32 model.onnx.
        dst: where model.int8.onnx goes; it appears only once complete and checked.
        calibration: input batches (input name -> array), e.g. a few training batches.
        per_channel: one weight scale per output channel.
        calibrate_method: minmax, entropy or percentile (activation range estimation).
        op_types: the ONNX op types to quantize (None: every type onnxruntime can); the
            others keep fp32, between the Q/DQ pairs of their neighbours.
    """
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Batches(CalibrationDataReader):
        def __init__(self, batches: Iterator[dict[str, np.ndarray]]) -> None:
            self.batches = batches

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    batches = list(calibration)
    if not batches:
        raise FabricxError("INT8 calibration got no batches: the training split is empty.")
    # A model too big for one protobuf (> 2 GB) keeps its weights in <file>.data; so must
    # the quantized one.
    external = Path(f"{src}.data").is_file()
    staging = Path(tempfile.mkdtemp(prefix=".quantize-", dir=dst.parent))
    try:
        # Shape inference and graph clean-up first, as onnxruntime recommends for static Q/DQ.
        # Its symbolic pass cannot always finish (attention masks of transformers); ONNX's own
        # shape inference is enough to quantize then.
        pre = {"save_as_external_data": external}
        try:
            quant_pre_process(str(src), str(staging / "pre.onnx"), **pre)
        except Exception:  # onnxruntime raises a bare Exception("Incomplete symbolic ...")
            quant_pre_process(str(src), str(staging / "pre.onnx"), skip_symbolic_shape=True, **pre)
        quantize_static(
            str(staging / "pre.onnx"),
            str(staging / dst.name),
            Batches(iter(batches)),
            quant_format=QuantFormat.QDQ,
            per_channel=per_channel,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=getattr(CalibrationMethod, CALIBRATION[calibrate_method]),
            op_types_to_quantize=op_types,
            use_external_data_format=external,
        )
        onnx.checker.check_model(str(staging / dst.name), full_check=True)
        atomic.publish_beside(staging, dst)  # the weights first: never a graph without them
        return dst
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def quantize_int8_dynamic(
    src: Path, dst: Path, per_channel: bool = False, op_types: list[str] | None = None
) -> Path:
    """Quantize the fp32 model at `src` dynamically to INT8 at `dst`: INT8 weights, activation
    scales computed per call, so no calibration data is needed.

    Args:
        src: the fp32 model (for a transformer, model.optimized.onnx: its fused Attention
            ops become QAttention, as ONNX Runtime recommends).
        dst: where model.int8.onnx goes; it appears only once complete and checked.
        per_channel: one weight scale per output channel.
        op_types: the ONNX op types to quantize (None: DEFAULT_OP_TYPES["dynamic"]).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    external = Path(f"{src}.data").is_file()
    staging = Path(tempfile.mkdtemp(prefix=".quantize-", dir=dst.parent))
    # It advises (on the root logger) the shape-inference pass static Q/DQ needs; dynamic
    # quantization reads only the weights.
    advice = _Drop("consider to run pre-processing")
    logging.getLogger().addFilter(advice)
    try:
        quantize_dynamic(
            str(src),
            str(staging / dst.name),
            op_types_to_quantize=op_types or DEFAULT_OP_TYPES["dynamic"],
            per_channel=per_channel,
            weight_type=QuantType.QInt8,
            use_external_data_format=external,
        )
        onnx.checker.check_model(str(staging / dst.name), full_check=True)
        atomic.publish_beside(staging, dst)
        return dst
    finally:
        logging.getLogger().removeFilter(advice)
        shutil.rmtree(staging, ignore_errors=True)


class _Drop(logging.Filter):
    """Drops log records whose message contains `text`."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()
