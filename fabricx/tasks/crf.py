"""A linear-chain CRF over a tagger's per-word scores (pytorch-crf's `CRF`): its loss, its
Viterbi decoding, and its parameters as plain lists for an exported graph's metadata.

The CRF reads only the scored positions of each sentence (labels other than IGNORE), moved
to the front of the row in order: for a word-level tagger that is every word; for a
sub-word tokenizer it is each word's first piece, so the chain runs over words either way.
Tags are learned transitions, as in Ma and Hovy (2016): no tag pair is forbidden.
"""

from __future__ import annotations

import json
from typing import Any

import torch
from torchcrf import CRF

from fabricx.data.labels import IGNORE

# The ONNX metadata key that holds the CRF (export_metadata), read back by crf_from_metadata.
METADATA_KEY = "fabricx.crf"


def scored_first(target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(order, mask): `order` (B, T) moves each row's scored positions to its front, in
    order; `mask` (B, T) marks them there. A row with nothing scored keeps one position on
    (pytorch-crf needs every chain to start), whose tag nothing reads."""
    scored = target != IGNORE
    order = torch.argsort((~scored).to(torch.int8), dim=1, stable=True)
    mask = torch.gather(scored, 1, order)
    mask[:, 0] = True
    return order, mask


def _gather(x: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    if x.dim() == 2:
        return torch.gather(x, 1, order)
    return torch.gather(x, 1, order.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def crf_loss(crf: CRF, emissions: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The negative log-likelihood of the gold tags, averaged over the batch's sentences."""
    order, mask = scored_first(target)
    tags = _gather(target, order).clamp_min(0)  # IGNORE past a chain's end: any valid id
    return -crf(_gather(emissions.float(), order), tags, mask=mask, reduction="mean")


@torch.no_grad()
def crf_decode(crf: CRF, emissions: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The Viterbi tags (B, T) at the scored positions of `target`; 0 elsewhere (the metric
    drops those positions)."""
    order, mask = scored_first(target)
    paths = crf.decode(_gather(emissions.float(), order), mask=mask)
    tags = torch.zeros_like(target)
    for row, path in enumerate(paths):
        tags[row, order[row, : len(path)]] = torch.tensor(path, device=target.device)
    return tags


def crf_metadata(crf: CRF) -> dict[str, str]:
    """The CRF's parameters as an exported file's metadata: decoding needs them beside the
    graph's emissions (ONNX Runtime: session.get_modelmeta().custom_metadata_map)."""
    params = {
        "start_transitions": crf.start_transitions.tolist(),
        "end_transitions": crf.end_transitions.tolist(),
        "transitions": crf.transitions.tolist(),
    }
    return {METADATA_KEY: json.dumps(params)}


def crf_from_metadata(metadata: dict[str, Any]) -> CRF:
    """The CRF an exported file carries (`crf_metadata`), to decode its emissions.

    Example::

        session = onnxruntime.InferenceSession("export/model.onnx")
        crf = crf_from_metadata(session.get_modelmeta().custom_metadata_map)
        emissions = torch.from_numpy(session.run(None, inputs)[0])
        scored = torch.where(torch.from_numpy(inputs["attention_mask"]) > 0, 0, IGNORE)
        tags = crf_decode(crf, emissions, scored)  # (B, T) label ids
    """
    params = json.loads(metadata[METADATA_KEY])
    crf = CRF(len(params["start_transitions"]), batch_first=True)
    with torch.no_grad():
        for name, value in params.items():
            getattr(crf, name).copy_(torch.tensor(value))
    return crf
