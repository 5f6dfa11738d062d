"""ONNX Runtime's transformer optimizer and dynamic INT8 on a tiny BERT exported by fabricx."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from fabricx.export.family import detect_family  # noqa: E402
from fabricx.export.onnx import export_onnx  # noqa: E402
from fabricx.export.parity import check_parity  # noqa: E402
from fabricx.export.quantize import quantize_int8_dynamic  # noqa: E402
from fabricx.export.runtimes import OrtRunner  # noqa: E402
from fabricx.export.transformer import (  # noqa: E402
    optimize_transformer,
    prepare_for_fusion,
    split_unsqueezes,
)
from fabricx.models.hf import HFTokenClassifier  # noqa: E402

VOCAB = 100


def batch(size: int, length: int, seed: int) -> dict[str, torch.Tensor]:
    """Token ids and a mask with right padding in the first row, left padding in the last."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, VOCAB, (size, length), generator=g)
    mask = torch.ones(size, length, dtype=torch.long)
    mask[0, length // 2 :] = 0
    mask[-1, :2] = 0
    return {"input_ids": ids, "attention_mask": mask}


@pytest.fixture(scope="module")
def bert(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, Path, dict]:
    """A 2-layer BERT (hidden 32) with non-trivial biases and norms, exported as fabricx's
    export stage does for a transformer, and optimized."""
    torch.manual_seed(0)
    config = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
              "intermediate_size": 64, "vocab_size": VOCAB}  # fmt: skip
    model = HFTokenClassifier(5, config=config).eval()
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 1:  # fresh biases are 0 and norms 1: the exporter would share them
                p.add_(0.1 * torch.randn_like(p))
    family = detect_family(model)
    folder = tmp_path_factory.mktemp("bert")
    traced = copy.deepcopy(model)
    assert prepare_for_fusion(traced, family) == ["BertForTokenClassification"]
    axes = {0: "batch", 1: "sequence"}
    export_onnx(traced, batch(4, 16, 0), folder / "model.onnx", dynamic_axes=axes)
    fused = optimize_transformer(folder / "model.onnx", folder / "model.optimized.onnx", family)
    return model, folder, fused


def test_prepared_copy_computes_the_same(bert):
    model, _, _ = bert
    traced = copy.deepcopy(model)
    prepare_for_fusion(traced, detect_family(traced))
    inputs = batch(3, 11, 1)
    with torch.no_grad():
        torch.testing.assert_close(traced(**inputs), model(**inputs), atol=1e-6, rtol=1e-6)


def test_optimizer_fuses_attention_and_norms(bert):
    _, folder, fused = bert
    assert fused["Attention"] == 2  # one per layer
    assert fused["SkipLayerNormalization"] >= 2
    assert fused.get("BiasGelu", 0) + fused.get("FastGelu", 0) + fused.get("Gelu", 0) == 2
    ops = {n.op_type for n in onnx.load(str(folder / "model.optimized.onnx")).graph.node}
    assert "Softmax" not in ops  # the attention really is one op now
    standard = {n.domain for n in onnx.load(str(folder / "model.onnx")).graph.node}
    assert standard <= {"", "ai.onnx"}  # model.onnx itself stays portable
    assert not [p for p in folder.iterdir() if p.name.startswith(".optimize-")]


@pytest.mark.parametrize("name", ["model.onnx", "model.optimized.onnx"])
def test_fp32_graphs_match_eager_with_either_padding(bert, name: str):
    model, folder, _ = bert
    runner = OrtRunner(folder / name)
    for size, length, seed in ((1, 7, 2), (8, 30, 3)):
        results = check_parity(model, runner, batch(size, length, seed), [size], 1e-4, 1e-3)
        assert all(r.passed for r in results), results


def test_dynamic_int8_of_the_optimized_graph(bert, tmp_path: Path):
    model, folder, _ = bert
    dst = quantize_int8_dynamic(folder / "model.optimized.onnx", tmp_path / "model.int8.onnx")
    ops = {n.op_type for n in onnx.load(str(dst)).graph.node}
    assert "QAttention" in ops  # the fused attention's projections are INT8 too
    assert ops & {"DynamicQuantizeMatMul", "MatMulInteger"}
    assert not ops & {"QuantizeLinear", "DequantizeLinear"}  # not Q/DQ: ONNX Runtime only
    runner = OrtRunner(dst)
    for size, length, seed in ((1, 7, 4), (8, 30, 5)):
        results = check_parity(model, runner, batch(size, length, seed), [size], 0.5, 0.1)
        assert all(r.passed for r in results), results
    assert dst.stat().st_size < (folder / "model.optimized.onnx").stat().st_size
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".quantize-")]


def test_split_unsqueezes_keeps_the_result():
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Unsqueeze", ["x", "axes"], ["y"], name="u")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "t"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", 1, 1, "t"])],
        [numpy_helper.from_array(np.array([2, 1], dtype=np.int64), "axes")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert split_unsqueezes(model) == 1
    assert [n.op_type for n in model.graph.node] == ["Unsqueeze", "Unsqueeze"]
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": x})
    np.testing.assert_array_equal(y, x[:, None, None, :])
