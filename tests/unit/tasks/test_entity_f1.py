"""Entity F1 as a torchmetrics Metric agrees with seqeval's CoNLL scoring."""

from __future__ import annotations

import pytest
import torch
from seqeval.metrics import f1_score

from fabricx.tasks.entity_f1 import EntityF1

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def one_hot(ids: list[list[int]]) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(ids), len(LABELS)).float()


def test_matches_seqeval_and_ignores_unscored_positions():
    # Sentence 1: PER found with the right boundaries; LOC predicted one token too short.
    # Sentence 2: a spurious LOC. Positions labelled -100 (sub-tokens, padding) never count.
    target = torch.tensor([[-100, 1, 2, 0, 3, 4, -100], [-100, 0, 0, -100, -100, -100, -100]])
    preds = [[0, 1, 2, 0, 3, 0, 1], [0, 3, 0, 1, 1, 1, 1]]
    metric = EntityF1(LABELS)
    metric.update(one_hot(preds)[:1], target[:1])
    metric.update(one_hot(preds)[1:], target[1:])
    y_true = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC"], ["O", "O"]]
    y_pred = [["B-PER", "I-PER", "O", "B-LOC", "O"], ["B-LOC", "O"]]
    expected = f1_score(y_true, y_pred)
    # 1 of 3 predicted entities is right (P = 1/3), 1 of 2 true ones found (R = 1/2).
    assert expected == pytest.approx(0.4)
    assert metric.compute().item() == pytest.approx(expected)


def test_perfect_and_empty():
    metric = EntityF1(LABELS)
    assert metric.compute().item() == 0.0
    target = torch.tensor([[1, 2, 0]])
    metric.update(one_hot([[1, 2, 0]]), target)
    assert metric.compute().item() == 1.0


def test_states_concatenated_by_a_ddp_sync_compute_the_same():
    """After a DDP sync (FSDP syncs even on one GPU) each list state is one tensor, on which
    a truth test such as `if not self.lengths` would raise."""
    target = torch.tensor([[1, 2, 0, -100], [3, 4, -100, -100]])
    metric = EntityF1(LABELS)
    metric.update(one_hot([[1, 2, 0, 0], [3, 0, 0, 0]]), target)
    expected = metric.compute().item()
    for state in ("preds", "target", "lengths"):  # what torchmetrics' "cat" reduction leaves
        setattr(metric, state, torch.cat(getattr(metric, state)))
    metric._computed = None
    assert metric.compute().item() == pytest.approx(expected) == pytest.approx(0.5)
