"""The CRF's loss and Viterbi decoding against brute force over every tag sequence, with
unscored positions between scored ones (a sub-word tokenizer's pattern); the metadata round
trip an exported file relies on; the tagger task training with it."""

from __future__ import annotations

import itertools

import pytest
import torch
from torchcrf import CRF

from fabricx.data.labels import IGNORE
from fabricx.tasks.crf import (
    crf_decode,
    crf_from_metadata,
    crf_loss,
    crf_metadata,
    scored_first,
)


def _path_score(crf: CRF, emissions: torch.Tensor, tags: list[int]) -> torch.Tensor:
    score = crf.start_transitions[tags[0]] + emissions[0, tags[0]]
    for prev, cur, i in zip(tags, tags[1:], range(1, len(tags)), strict=False):
        score = score + crf.transitions[prev, cur] + emissions[i, cur]
    return score + crf.end_transitions[tags[-1]]


def _brute_force(crf: CRF, emissions: torch.Tensor, gold: list[int]) -> tuple[float, list[int]]:
    """(NLL of gold, best path) over the scored positions alone, by enumeration."""
    paths = list(itertools.product(range(crf.num_tags), repeat=emissions.shape[0]))
    scores = torch.stack([_path_score(crf, emissions, list(p)) for p in paths])
    nll = torch.logsumexp(scores, 0) - _path_score(crf, emissions, gold)
    return nll.item(), list(paths[int(scores.argmax())])


@pytest.fixture
def crf() -> CRF:
    torch.manual_seed(0)
    crf = CRF(3, batch_first=True)
    with torch.no_grad():  # transitions strong enough to change the per-position argmax
        crf.transitions.normal_(0, 2.0)
    return crf


def test_loss_and_decode_equal_brute_force_over_scored_positions_only(crf: CRF):
    torch.manual_seed(1)
    emissions = torch.randn(2, 6, 3)
    # Row 0: scored at 0, 2, 3 (pieces after a word's first ignored), padding after;
    # row 1: scored at 0..4.
    target = torch.tensor([[1, IGNORE, 0, 2, IGNORE, IGNORE], [2, 2, 0, 1, 1, IGNORE]])
    rows = [[0, 2, 3], [0, 1, 2, 3, 4]]
    expected_nll, expected_paths = [], []
    for b, positions in enumerate(rows):
        nll, best = _brute_force(crf, emissions[b, positions], target[b, positions].tolist())
        expected_nll.append(nll)
        expected_paths.append(best)

    loss = crf_loss(crf, emissions, target)
    assert loss.item() == pytest.approx(sum(expected_nll) / 2, rel=1e-5)  # mean over sentences

    tags = crf_decode(crf, emissions, target)
    for b, positions in enumerate(rows):
        assert tags[b, positions].tolist() == expected_paths[b]
    # The transitions matter here: the path is not every position's own argmax.
    assert any(
        tags[b, positions].tolist() != emissions[b, positions].argmax(-1).tolist()
        for b, positions in enumerate(rows)
    )


def test_loss_has_gradients_for_the_emissions_and_the_transitions(crf: CRF):
    emissions = torch.randn(2, 4, 3, requires_grad=True)
    target = torch.tensor([[0, 1, 2, IGNORE], [1, 1, 0, 2]])
    crf_loss(crf, emissions, target).backward()
    assert emissions.grad is not None and emissions.grad[0, 3].abs().sum() == 0  # unscored
    assert crf.transitions.grad is not None and crf.transitions.grad.abs().sum() > 0


def test_a_row_with_nothing_scored_does_not_break_the_batch(crf: CRF):
    emissions = torch.randn(2, 3, 3)
    target = torch.tensor([[IGNORE, IGNORE, IGNORE], [0, 1, IGNORE]])
    _, mask = scored_first(target)
    assert mask.tolist() == [[True, False, False], [True, True, False]]
    assert torch.isfinite(crf_loss(crf, emissions, target))
    assert crf_decode(crf, emissions, target).shape == (2, 3)


def test_metadata_round_trip_decodes_the_same_tags(crf: CRF):
    metadata = crf_metadata(crf)
    assert set(metadata) == {"fabricx.crf"} and isinstance(metadata["fabricx.crf"], str)
    rebuilt = crf_from_metadata(metadata)
    for name in ("start_transitions", "end_transitions", "transitions"):
        assert torch.equal(getattr(rebuilt, name), getattr(crf, name))
    emissions, target = torch.randn(4, 7, 3), torch.zeros(4, 7, dtype=torch.long)
    target[2, 5:] = IGNORE
    assert torch.equal(crf_decode(rebuilt, emissions, target), crf_decode(crf, emissions, target))
