"""Per-entity-type precision, recall and F1 from a run's test_predictions.conll (seqeval).

The test stage of a token-classification run writes one `word gold predicted` line per word
and a blank line between sentences. seqeval scores entities as the CoNLL evaluation does: an
entity counts only when its type and both of its boundaries are right.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def read_conll(path: Path) -> tuple[list[list[str]], list[list[str]]]:
    """(gold tags, predicted tags), one list per sentence; the word is the first column."""
    gold: list[list[str]] = []
    pred: list[list[str]] = []
    sentence_gold: list[str] = []
    sentence_pred: list[str] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 3:  # a blank line (or a -DOCSTART- marker): the sentence ends
                if sentence_gold:
                    gold.append(sentence_gold)
                    pred.append(sentence_pred)
                    sentence_gold, sentence_pred = [], []
                continue
            sentence_gold.append(fields[-2])
            sentence_pred.append(fields[-1])
    if sentence_gold:
        gold.append(sentence_gold)
        pred.append(sentence_pred)
    return gold, pred


def per_type_f1(path: Path) -> dict[str, dict[str, Any]]:
    """{"LOC": {precision, recall, f1, support}, ..., "micro avg": {...}}; {} when unreadable."""
    from seqeval.metrics import classification_report

    try:
        gold, pred = read_conll(path)
    except (OSError, UnicodeDecodeError):
        return {}
    if not gold:
        return {}
    report = classification_report(gold, pred, output_dict=True, zero_division=0)
    out = {}
    for name in sorted(k for k in report if not k.endswith(" avg")):
        out[name] = _scores(report[name])
    if "micro avg" in report:
        out["micro avg"] = _scores(report["micro avg"])
    return out


def _scores(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "precision": float(row["precision"]),
        "recall": float(row["recall"]),
        "f1": float(row["f1-score"]),
        "support": int(row["support"]),
    }
