"""Model family detection and what it picks: the fp32 graph optimizer and the INT8 method."""

from __future__ import annotations

import pytest
from torch import nn

from fabricx.config.schema.export import (
    ExportConfig,
    OnnxExportConfig,
    OnnxInt8Config,
    TensorrtConfig,
)
from fabricx.errors import ConfigError
from fabricx.export.family import Family, detect_family, int8_method_for, optimizer_for
from fabricx.models.mlp import MLP


class ConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.head = nn.Linear(4, 2)


class Tagger(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 8)
        self.conv = nn.Conv1d(8, 8, 3)  # a char-CNN feature: still recurrent, LSTM wins
        self.lstm = nn.LSTM(8, 8, bidirectional=True)


class PatchTransformer(nn.Module):  # a ViT: a Conv patch embedding, yet a transformer
    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, 16, 4, stride=4)
        self.encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(16, 4, batch_first=True), num_layers=1
        )


def tiny_bert() -> nn.Module:
    from fabricx.models.hf import HFTokenClassifier

    config = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
              "intermediate_size": 64, "vocab_size": 50}  # fmt: skip
    return HFTokenClassifier(3, config=config)


@pytest.mark.parametrize(
    ("model", "kind"),
    [(MLP(4, 2, [8]), "dense"), (ConvNet(), "conv"), (Tagger(), "recurrent"),
     (nn.GRU(4, 4), "recurrent"), (PatchTransformer(), "transformer")],
)  # fmt: skip
def test_family_by_submodules(model: nn.Module, kind: str):
    assert detect_family(model).kind == kind


def test_torch_attention_gives_heads_and_width():
    family = detect_family(PatchTransformer())
    assert (family.model_type, family.num_heads, family.hidden_size) == ("bert", 4, 16)
    assert family.source == "nn.MultiheadAttention"


def test_hugging_face_model_gives_what_the_optimizer_needs():
    family = detect_family(tiny_bert())
    assert family == Family("transformer", "bert", 2, 32, "BertForTokenClassification (bert)")


def test_hugging_face_type_the_optimizer_does_not_know_falls_through():
    import transformers

    config = transformers.AutoConfig.for_model(
        "bert", hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, vocab_size=50,
    )  # fmt: skip
    model = transformers.BertModel(config)
    model.config.model_type = "not-a-known-type"
    assert detect_family(model).kind == "dense"


@pytest.mark.parametrize(
    ("kind", "optimize", "method"),
    [("transformer", "transformer", "dynamic"), ("recurrent", "none", "dynamic"),
     ("conv", "none", "static"), ("dense", "none", "static")],
)  # fmt: skip
def test_auto_picks_by_family(kind: str, optimize: str, method: str):
    family = Family(kind)
    assert optimizer_for("auto", family) == optimize
    assert int8_method_for("auto", family) == method


def test_explicit_choices_override_the_family():
    assert optimizer_for("none", Family("transformer", "bert")) == "none"
    assert optimizer_for("transformer", Family("dense")) == "transformer"
    assert int8_method_for("static", Family("transformer", "bert")) == "static"
    assert int8_method_for("dynamic", Family("conv")) == "dynamic"


def test_unknown_choice_names_key_value_and_choices():
    with pytest.raises(ConfigError) as err:
        int8_method_for("fast", Family("dense"))
    (problem,) = err.value.problems
    assert problem.key == "export.onnx_int8.method" and problem.value == "fast"
    assert "['auto', 'static', 'dynamic']" in problem


def test_config_checks_the_new_keys():
    with pytest.raises(ConfigError, match=r"export\.onnx\.optimize='fast'"):
        OnnxExportConfig(optimize="fast")
    with pytest.raises(ConfigError, match=r"export\.onnx_int8\.method='qdq'"):
        OnnxInt8Config(method="qdq")
    assert OnnxInt8Config().method == "auto" and OnnxExportConfig().optimize == "auto"


def test_tensorrt_from_dynamic_int8_is_refused_with_the_fix():
    with pytest.raises(ConfigError) as err:
        ExportConfig(
            onnx=OnnxExportConfig(),
            onnx_int8=OnnxInt8Config(method="dynamic"),
            tensorrt=TensorrtConfig(source="onnx_int8"),
        )
    (problem,) = err.value.problems
    assert problem.keys == ("export.onnx_int8.method", "export.tensorrt.source")
    assert "export.onnx_int8.method=static" in problem
    # static (and auto, decided once the model is known) are accepted here
    for method in ("static", "auto"):
        ExportConfig(
            onnx_int8=OnnxInt8Config(method=method), tensorrt=TensorrtConfig(source="onnx_int8")
        )
