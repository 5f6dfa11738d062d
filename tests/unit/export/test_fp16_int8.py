"""fp16 conversion and INT8 Q/DQ quantization of an exported model, on ONNX Runtime (CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from fabricx.errors import FabricxError
from fabricx.export.fp16 import convert_fp16
from fabricx.export.onnx import export_onnx
from fabricx.export.parity import check_parity
from fabricx.export.quantize import quantize_int8
from fabricx.export.runtimes import OrtRunner
from fabricx.models.mlp import MLP


@pytest.fixture(scope="module")
def fp32(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, Path]:
    torch.manual_seed(0)
    model = MLP(16, 4, [32]).eval()
    path = tmp_path_factory.mktemp("fp32") / "model.onnx"
    export_onnx(model, {"x": torch.randn(8, 16)}, path)
    return model, path


def test_fp16_model_is_checked_sorted_and_close(fp32, tmp_path: Path):
    model, path = fp32
    dst = convert_fp16(path, tmp_path / "model.fp16.onnx")
    graph = onnx.load(str(dst))
    onnx.checker.check_model(graph, full_check=True)  # topologically sorted
    initializers = {onnx.TensorProto.DataType.Name(t.data_type) for t in graph.graph.initializer}
    assert "FLOAT16" in initializers
    io = [i.type.tensor_type.elem_type for i in [*graph.graph.input, *graph.graph.output]]
    assert io == [onnx.TensorProto.FLOAT] * 2  # keep_io_types: callers feed fp32
    results = check_parity(model, OrtRunner(dst), {"x": torch.randn(64, 16)}, [1, 64], 1e-2, 1e-2)
    assert all(r.passed for r in results)
    assert 0 < max(r.max_abs_diff for r in results) < 1e-2
    assert dst.stat().st_size < path.stat().st_size


def test_int8_model_is_qdq_and_close(fp32, tmp_path: Path):
    model, path = fp32
    rng = np.random.default_rng(0)
    batches = [{"x": rng.standard_normal((16, 16), dtype=np.float32)} for _ in range(4)]
    dst = quantize_int8(path, tmp_path / "model.int8.onnx", batches, per_channel=True)
    ops = {node.op_type for node in onnx.load(str(dst)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    pool = {"x": torch.from_numpy(rng.standard_normal((64, 16), dtype=np.float32))}
    results = check_parity(model, OrtRunner(dst), pool, [1, 64], atol=0.2, rtol=0.1)
    assert all(r.passed for r in results), results
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".quantize-")]


@pytest.mark.parametrize("method", ["entropy", "percentile"])
def test_int8_calibration_methods(fp32, tmp_path: Path, method: str):
    _, path = fp32
    rng = np.random.default_rng(1)
    batches = [{"x": rng.standard_normal((16, 16), dtype=np.float32)} for _ in range(2)]
    dst = quantize_int8(path, tmp_path / "m.onnx", batches, calibrate_method=method)
    assert OrtRunner(dst)(x=torch.randn(3, 16)).shape == (3, 4)


def test_int8_without_calibration_data_says_so(fp32, tmp_path: Path):
    _, path = fp32
    with pytest.raises(FabricxError, match="calibration got no batches"):
        quantize_int8(path, tmp_path / "model.int8.onnx", [])
    assert not (tmp_path / "model.int8.onnx").exists()


def test_int8_of_a_model_with_external_data_keeps_it_beside(tmp_path: Path):
    torch.manual_seed(0)
    model = MLP(16, 4, [32]).eval()
    src = tmp_path / "model.onnx"
    export_onnx(model, {"x": torch.randn(8, 16)}, src, external_data=True)
    assert (tmp_path / "model.onnx.data").is_file()
    rng = np.random.default_rng(0)
    batches = [{"x": rng.standard_normal((16, 16), dtype=np.float32)} for _ in range(2)]
    dst = quantize_int8(src, tmp_path / "model.int8.onnx", batches)
    assert OrtRunner(dst)(x=torch.randn(5, 16)).shape == (5, 4)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".quantize-")]
