"""Hugging Face token and sequence classifiers as plain nn.Modules: from a pretrained name or
directory, or built from a config (random weights, e.g. a 2-layer BERT for tests)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fabricx.config.constraints import PositiveInt


class _HFClassifier(nn.Module):
    """A transformers `AutoModelFor...` (named by `auto_class`), called with named tensors,
    returning logits.

    Args:
        num_labels: classes per token or per sentence.
        pretrained: a hub name or a local directory with weights; or None to build from
            `config` (no download). A base checkpoint gets a freshly initialized head.
        model_type: the architecture for `config`, e.g. "bert" or "distilbert".
        config: architecture fields for `model_type` (hidden_size, num_hidden_layers, ...,
            vocab_size matching the tokenizer).
    """

    auto_class = ""
    # Exported graphs keep both the batch and the sequence axis dynamic.
    export_dynamic_axes = {0: "batch", 1: "sequence"}

    def __init__(
        self,
        num_labels: PositiveInt,
        pretrained: str | None = None,
        model_type: str = "bert",
        config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        import transformers

        auto = getattr(transformers, self.auto_class)
        if pretrained:
            self.model = auto.from_pretrained(pretrained, num_labels=num_labels)
        else:
            arch = transformers.AutoConfig.for_model(
                model_type, num_labels=num_labels, **(config or {})
            )
            self.model = auto.from_config(arch)

    @classmethod
    def check_arguments(
        cls, pretrained: str | None, config: dict[str, Any] | None, **_: object
    ) -> None:
        """Checked by fabricx before any work: one source of weights or architecture."""
        if bool(pretrained) == bool(config):
            raise ValueError(
                "give exactly one of pretrained (a hub name or directory) and config "
                "(architecture fields, e.g. {hidden_size: 32, vocab_size: 100})"
            )

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


class HFTokenClassifier(_HFClassifier):
    """`AutoModelForTokenClassification`: (B, T) ids and mask -> (B, T, num_labels) logits."""

    auto_class = "AutoModelForTokenClassification"


class HFSequenceClassifier(_HFClassifier):
    """`AutoModelForSequenceClassification`: (B, T) ids and mask -> (B, num_labels) logits.

    The head reads the first token ([CLS]) of each sentence, as the pretrained model does.

    Example::

        model = HFSequenceClassifier(2, pretrained="distilbert-base-uncased")
        logits = model(input_ids, attention_mask)  # (B, 2)
    """

    auto_class = "AutoModelForSequenceClassification"
