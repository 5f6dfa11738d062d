"""A model's family, read from its submodules: it picks how ONNX Runtime speeds the model up.

- transformer: a Hugging Face model whose `config.model_type` ONNX Runtime's transformer
  optimizer knows (BERT, RoBERTa, DistilBERT, ELECTRA, GPT-2, ...), or torch's own
  nn.MultiheadAttention / nn.TransformerEncoderLayer. Its fp32 graph gets the transformer
  optimizer (attention and layer-norm fusion), its INT8 file dynamic quantization.
- recurrent: nn.LSTM, nn.GRU or nn.RNN. Dynamic INT8 (weight-only, activation scales per call).
- conv: convolution layers. Static Q/DQ INT8 calibrated on data (the format TensorRT reads).
- dense: anything else (MLPs). Static Q/DQ, as for conv nets.

The first that applies wins, in that order (a ViT's patch embedding is a Conv, yet it is a
transformer).
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from typing import Any

from torch import nn

from fabricx.config.schema.export import INT8_METHODS, OPTIMIZE_CHOICES
from fabricx.errors import check_choice

FAMILIES = ("transformer", "recurrent", "conv", "dense")
# Hugging Face config.model_type -> the model_type of onnxruntime.transformers.optimizer.
ORT_MODEL_TYPES = {
    "bert": "bert", "roberta": "bert", "xlm-roberta": "bert", "camembert": "bert",
    "distilbert": "bert", "electra": "bert", "albert": "bert", "gpt2": "gpt2",
    "gpt_neox": "gpt_neox", "bart": "bart", "t5": "t5", "vit": "vit", "clip": "clip",
    "phi": "phi", "swin": "swin",
}  # fmt: skip
# Encoder-only types whose attention mask fabricx can hand over in BERT's classic additive
# form at export time (fabricx.export.transformer), so the attention fusion recognizes it.
ENCODER_TYPES = ("bert",)


_CONV = (
    nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d
)  # fmt: skip


@dataclass(frozen=True)
class Family:
    """What family a model is, and what ONNX Runtime's transformer optimizer needs to know.

    Attributes:
        kind: one of FAMILIES.
        model_type: the optimizer's model_type ("bert", "gpt2"); None when not a transformer.
        num_heads: attention heads; 0 when unknown (the optimizer reads them from the graph).
        hidden_size: the model width; 0 when unknown.
        source: what gave the family away, e.g. "BertForTokenClassification (bert)".
    """

    kind: str
    model_type: str | None = None
    num_heads: int = 0
    hidden_size: int = 0
    source: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def detect_family(model: nn.Module) -> Family:
    """The family of `model` (a task, or the network inside it), from its submodules."""
    modules = list(model.modules())
    for module in modules:
        hf = _hf_transformer(module)
        if hf is not None:
            return hf
    for module in modules:
        if isinstance(module, nn.MultiheadAttention):
            return Family(
                "transformer", "bert", module.num_heads, module.embed_dim, "nn.MultiheadAttention"
            )
    for module in modules:
        if isinstance(module, nn.RNNBase):  # LSTM, GRU, RNN
            return Family("recurrent", source=type(module).__name__)
    for module in modules:
        if isinstance(module, _CONV):
            return Family("conv", source=type(module).__name__)
    return Family("dense", source=type(model).__name__)


def _hf_transformer(module: nn.Module) -> Family | None:
    """A Hugging Face PreTrainedModel of a type the optimizer knows, as a Family; else None.

    transformers is only looked at when already imported: a model made with it has imported it.
    """
    transformers = sys.modules.get("transformers")
    if transformers is None or not isinstance(module, transformers.PreTrainedModel):
        return None
    config = module.config
    ort_type = ORT_MODEL_TYPES.get(getattr(config, "model_type", ""))
    if ort_type is None:
        return None
    heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_head", 0)
    hidden = getattr(config, "hidden_size", None) or getattr(config, "n_embd", 0)
    source = f"{type(module).__name__} ({config.model_type})"
    return Family("transformer", ort_type, int(heads or 0), int(hidden or 0), source)


def optimizer_for(optimize: str, family: Family) -> str:
    """What export.onnx.optimize=`optimize` means for `family`: "transformer" or "none"."""
    check_choice("export.onnx.optimize", optimize, OPTIMIZE_CHOICES)
    if optimize == "auto":
        return "transformer" if family.kind == "transformer" else "none"
    return optimize


def int8_method_for(method: str, family: Family) -> str:
    """What export.onnx_int8.method=`method` means for `family`: "static" or "dynamic".

    auto: dynamic for transformers and recurrent nets (their activations' ranges vary by
    input, and their time goes to MatMuls whose weights INT8 halves), static Q/DQ for conv
    and dense nets.
    """
    check_choice("export.onnx_int8.method", method, INT8_METHODS)
    if method == "auto":
        return "dynamic" if family.kind in ("transformer", "recurrent") else "static"
    return method
