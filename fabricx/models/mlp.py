"""A multilayer perceptron: the embedded default's model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import torch
from annotated_types import MinLen
from torch import nn

from fabricx.config.constraints import PositiveInt, Probability


class MLP(nn.Module):
    """Linear -> GELU -> Dropout blocks, then a linear classifier head.

    Args:
        in_features: features per sample; inputs of any shape are flattened after the batch dim.
        num_classes: output logits per sample.
        hidden_sizes: width of each hidden layer.
        dropout: dropout probability after each hidden layer.
    """

    def __init__(
        self,
        in_features: PositiveInt,
        num_classes: PositiveInt,
        hidden_sizes: Annotated[Sequence[PositiveInt], MinLen(1)] = (128, 64),
        dropout: Probability = 0.1,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), nn.GELU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))  # (B, ...) -> (B, in_features) -> (B, num_classes)
