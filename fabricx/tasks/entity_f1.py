"""Entity-level F1 (the CoNLL definition, through seqeval) as a torchmetrics Metric.

An entity counts only when its type and both of its boundaries are right. Predictions are
kept as label ids per scored token (ignored positions dropped) and turned into tag strings at
compute time, so the states gather across DDP ranks like any torchmetrics state.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat


class EntityF1(Metric):
    """Micro-averaged entity F1 over IOB2 tag sequences.

    Args:
        labels: tag of each label id, e.g. ["O", "B-PER", "I-PER", ...].
        ignore_index: label id of positions that are not scored (padding, sub-tokens).
    """

    full_state_update = False

    def __init__(self, labels: list[str], ignore_index: int = -100, **kwargs) -> None:
        super().__init__(**kwargs)
        self.labels = list(labels)
        self.ignore_index = ignore_index
        self.add_state("preds", default=[], dist_reduce_fx="cat")
        self.add_state("target", default=[], dist_reduce_fx="cat")
        self.add_state("lengths", default=[], dist_reduce_fx="cat")

    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        """logits (B, T, C), target (B, T) with `ignore_index` where nothing is scored."""
        keep = target != self.ignore_index
        self.preds.append(logits.argmax(-1)[keep])
        self.target.append(target[keep])
        self.lengths.append(keep.sum(dim=1))

    def compute(self) -> torch.Tensor:
        from seqeval.metrics import f1_score

        if not self.lengths:
            return torch.tensor(0.0)
        lengths = dim_zero_cat(self.lengths).tolist()
        preds = dim_zero_cat(self.preds).tolist()
        target = dim_zero_cat(self.target).tolist()
        y_pred, y_true, start = [], [], 0
        for n in lengths:
            y_pred.append([self.labels[i] for i in preds[start : start + n]])
            y_true.append([self.labels[i] for i in target[start : start + n]])
            start += n
        return torch.tensor(float(f1_score(y_true, y_pred)), dtype=torch.float32)
