"""Hugging Face token classifiers as plain nn.Modules: from a pretrained name or directory,
or built from a config (random weights, e.g. a 2-layer BERT for tests)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class HFTokenClassifier(nn.Module):
    """`AutoModelForTokenClassification`, called with named tensors, returning logits.

    Args:
        num_labels: tags per token.
        pretrained: a hub name or a local directory with weights; or None to build from
            `config` (no download).
        model_type: the architecture for `config`, e.g. "bert".
        config: architecture fields for `model_type` (hidden_size, num_hidden_layers, ...,
            vocab_size matching the tokenizer).
    """

    def __init__(
        self,
        num_labels: int,
        pretrained: str | None = None,
        model_type: str = "bert",
        config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        from transformers import AutoConfig, AutoModelForTokenClassification

        if pretrained:
            self.model = AutoModelForTokenClassification.from_pretrained(
                pretrained, num_labels=num_labels
            )
        else:
            arch = AutoConfig.for_model(model_type, num_labels=num_labels, **(config or {}))
            self.model = AutoModelForTokenClassification.from_config(arch)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        # (B, T) token ids and mask -> (B, T, num_labels) logits
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits
