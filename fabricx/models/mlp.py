"""A multilayer perceptron: the embedded default's model."""

from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    """Linear -> GELU -> Dropout blocks, then a linear classifier head.

    Args:
        in_features: features per sample; inputs of any shape are flattened after the batch dim.
        num_classes: output logits per sample.
        hidden_sizes: width of each hidden layer.
        dropout: dropout probability after each hidden layer.
    """

    def __init__(
        self, in_features: int, num_classes: int, hidden_sizes: list[int], dropout: float = 0.0
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
