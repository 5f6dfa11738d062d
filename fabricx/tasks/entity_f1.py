"""Entity-level F1 (the CoNLL definition, through seqeval) as a torchmetrics Metric.

An entity counts only when its type and both of its boundaries are right. Predictions are
kept as label ids for every position of every sentence, with each sentence's padded length,
and turned into tag strings at compute time, where ignored positions are dropped. Dropping
them in update() would give tensors of data-dependent size: a host-device sync per step on a
GPU. The states gather across DDP ranks like any torchmetrics state.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from fabricx.data.labels import IGNORE


class EntityF1(Metric):
    """Micro-averaged entity F1 over IOB2 or BIOES tag sequences.

    Args:
        labels: tag of each label id, e.g. ["O", "B-PER", "I-PER", ...].
        ignore_index: label id of positions that are not scored (padding, sub-tokens).
        decode: (scores (B, T, C), target (B, T)) -> label ids (B, T), e.g. a CRF's Viterbi
            decoding (fabricx.tasks.crf.crf_decode); None: each position's highest score.
    """

    full_state_update = False

    def __init__(
        self,
        labels: list[str],
        ignore_index: int = IGNORE,
        decode: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.labels = list(labels)
        self.ignore_index = ignore_index
        self.decode = decode
        # The last compute()'s tag sequences (gold, predicted): fabricx writes the test
        # split's as test_predictions.conll, the input of the CoNLL scoring script.
        self.sequences: tuple[list[list[str]], list[list[str]]] = ([], [])
        self.add_state("preds", default=[], dist_reduce_fx="cat")
        self.add_state("target", default=[], dist_reduce_fx="cat")
        self.add_state("lengths", default=[], dist_reduce_fx="cat")

    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        """logits (B, T, C), target (B, T) with `ignore_index` where nothing is scored."""
        b, t = target.shape
        preds = logits.argmax(-1) if self.decode is None else self.decode(logits, target)
        self.preds.append(preds.flatten())  # (B*T,)
        self.target.append(target.flatten())  # (B*T,)
        self.lengths.append(torch.full((b,), t, device=target.device))  # (B,)

    def compute(self) -> torch.Tensor:
        from seqeval.metrics import f1_score

        # A list of batches before a DDP sync, one concatenated tensor after it.
        if isinstance(self.lengths, list) and not self.lengths:
            return torch.tensor(0.0)
        lengths = dim_zero_cat(self.lengths).tolist()
        preds = dim_zero_cat(self.preds).tolist()
        target = dim_zero_cat(self.target).tolist()
        y_pred, y_true, start = [], [], 0
        for n in lengths:
            scored = [i for i in range(start, start + n) if target[i] != self.ignore_index]
            y_pred.append([self.labels[preds[i]] for i in scored])
            y_true.append([self.labels[target[i]] for i in scored])
            start += n
        self.sequences = (y_true, y_pred)
        return torch.tensor(float(f1_score(y_true, y_pred)), dtype=torch.float32)
