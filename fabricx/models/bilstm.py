"""A BiLSTM tagger with a character CNN, trained from scratch (Ma and Hovy 2016): each word is
its embedding joined with a max-pooled convolution over its characters, and a bidirectional
LSTM over the sentence scores every word's tag (the CRF over those scores is the task's:
task.crf=true).

The backward direction reverses each sentence within its own length, so padding never
reaches a real word's state: the tags of a sentence do not depend on what it was batched
with, and the graph exports to ONNX with dynamic batch and sentence axes (no packed
sequences, which the exporter cannot trace).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from fabricx.config.constraints import PositiveInt, Probability
from fabricx.data.conll_words import PAD, UNK


def reversal_index(attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, T) positions that reverse each row's first `length` steps; padding stays put.

    Built from the mask (a graph input), so the exported graph's sentence axis stays
    symbolic rather than taking a size the LSTM's tracing rule fixed.
    """
    lengths = attention_mask.sum(dim=1, keepdim=True)  # (B, 1)
    steps = torch.cumsum(torch.ones_like(attention_mask), dim=1) - 1  # (B, T): 0..T-1
    flipped = lengths - 1 - steps
    return torch.where(flipped >= 0, flipped, steps)


def take_steps(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x[b, index[b, t], :] for (B, T, D) features and a (B, T) index."""
    return x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


class CharCNN(nn.Module):
    """Characters -> one vector per word: embed, dropout, convolve, ReLU, max over the word."""

    def __init__(
        self, vocab_size: int, dim: int, filters: int, width: int, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=PAD)
        self.dropout = nn.Dropout(dropout)
        self.conv = nn.Conv1d(dim, filters, kernel_size=width, padding=width // 2)

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        # (B, T, W) -> (B, T, filters)
        b, t, w = char_ids.shape
        x = self.dropout(self.embed(char_ids.reshape(b * t, w))).transpose(1, 2)  # (B*T, dim, W)
        h = torch.relu(self.conv(x))[..., :w]  # (B*T, filters, W); an even width adds one
        # ReLU outputs are >= 0, so zeroing padded characters leaves every maximum unchanged.
        h = h * (char_ids.reshape(b * t, 1, w) != PAD)
        return h.amax(dim=-1).reshape(b, t, -1)


def ma_hovy_init(model: nn.Module) -> None:
    """Ma and Hovy (2016), section 3.1: embeddings uniform in +-sqrt(3/dim) (the padding row
    stays zero), weight matrices Glorot-uniform (each LSTM gate's matrix on its own),
    biases zero, except the LSTM forget gates' at 1."""
    for module in model.modules():
        if isinstance(module, nn.Embedding):
            bound = math.sqrt(3.0 / module.embedding_dim)
            nn.init.uniform_(module.weight, -bound, bound)
            if module.padding_idx is not None:
                nn.init.zeros_(module.weight[module.padding_idx])
        elif isinstance(module, (nn.Linear, nn.Conv1d)):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LSTM):
            for name, param in module.named_parameters():
                if name.startswith("weight"):  # (4*hidden, in): gates i, f, g, o stacked
                    for gate in param.chunk(4, dim=0):
                        nn.init.xavier_uniform_(gate)
                else:  # bias_ih and bias_hh are added: the forget gate's sum is 1
                    nn.init.zeros_(param)
                    if name.startswith("bias_ih"):
                        nn.init.ones_(param[module.hidden_size : 2 * module.hidden_size])


class BiLSTMTagger(nn.Module):
    """Word embedding + character CNN -> BiLSTM layers -> a linear tag scorer.

    Args:
        num_classes: tags per word.
        vocab_size: word-embedding rows (the datamodule's `vocab_size`).
        char_vocab_size: character-embedding rows.
        word_dim: word-embedding size.
        char_dim: character-embedding size.
        char_filters: character-CNN output size per word.
        char_width: character-CNN kernel width.
        hidden_size: LSTM units per direction.
        num_layers: stacked BiLSTM layers.
        dropout: on the word representations and on each layer's output.
        char_dropout: on the character embeddings, before the CNN.
        word_dropout: training-time chance that a word is replaced by the unknown id, so
            the model learns what to do with words it never saw.
        init: "torch" (each layer's own default) or "ma_hovy" (Ma and Hovy 2016, section
            3.1): embeddings uniform in +-sqrt(3/dim), weight matrices Glorot-uniform,
            biases zero but the LSTM forget gates' at 1.
    """

    export_dynamic_axes = {0: "batch", 1: "sequence"}

    def __init__(
        self,
        num_classes: PositiveInt,
        vocab_size: PositiveInt,
        char_vocab_size: PositiveInt,
        word_dim: PositiveInt = 100,
        char_dim: PositiveInt = 30,
        char_filters: PositiveInt = 50,
        char_width: PositiveInt = 3,
        hidden_size: PositiveInt = 200,
        num_layers: PositiveInt = 1,
        dropout: Probability = 0.5,
        char_dropout: Probability = 0.0,
        word_dropout: Probability = 0.05,
        init: Literal["torch", "ma_hovy"] = "torch",
    ) -> None:
        super().__init__()
        self.word_embed = nn.Embedding(vocab_size, word_dim, padding_idx=PAD)
        self.chars = CharCNN(char_vocab_size, char_dim, char_filters, char_width, char_dropout)
        self.dropout = nn.Dropout(dropout)
        self.word_dropout = word_dropout
        sizes = [word_dim + char_filters] + [2 * hidden_size] * (num_layers - 1)
        self.forward_lstms = nn.ModuleList(nn.LSTM(s, hidden_size, batch_first=True) for s in sizes)
        self.backward_lstms = nn.ModuleList(
            nn.LSTM(s, hidden_size, batch_first=True) for s in sizes
        )
        self.head = nn.Linear(2 * hidden_size, num_classes)
        if init == "ma_hovy":
            ma_hovy_init(self)

    def forward(
        self, word_ids: torch.Tensor, char_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        # word_ids, attention_mask: (B, T); char_ids: (B, T, W) -> logits (B, T, num_classes)
        if self.training and self.word_dropout > 0:
            drop = torch.rand(word_ids.shape, device=word_ids.device) < self.word_dropout
            word_ids = word_ids.masked_fill(drop & (word_ids != PAD), UNK)
        x = torch.cat([self.word_embed(word_ids), self.chars(char_ids)], dim=-1)
        x = self.dropout(x)
        # The backward LSTM reads each sentence reversed within its length (its own inverse).
        index = reversal_index(attention_mask)
        for fwd, bwd in zip(self.forward_lstms, self.backward_lstms, strict=True):
            ahead, _ = fwd(x)
            behind, _ = bwd(take_steps(x, index))
            x = self.dropout(torch.cat([ahead, take_steps(behind, index)], dim=-1))
        return self.head(x)
