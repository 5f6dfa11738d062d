"""Small CoNLL-2003-style files and a WordPiece vocab, written by tests (no download)."""

from __future__ import annotations

import random
from pathlib import Path

PEOPLE = ["John", "Mary", "Smith", "Anna", "Peter"]
PLACES = ["Paris", "Berlin", "Tokyo", "Lagos"]
ORGS = ["Reuters", "Siemens", "Acme"]
WORDS = ["visited", "met", "in", "the", "said", "on", "with", "today", "and", "talks"]
VOCAB = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    *PEOPLE,
    *PLACES,
    *ORGS,
    *WORDS,
    "##er",
    "##s",
]


def write_conll(folder: Path, sizes: tuple[int, int, int] = (240, 60, 60), seed: int = 0) -> Path:
    """train/valid/test.txt in the original 4-column form, IOB2 tags, plus vocab.txt."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, count in zip(("train.txt", "valid.txt", "test.txt"), sizes, strict=True):
        lines = ["-DOCSTART- -X- -X- O", ""]
        for _ in range(count):
            for token, tag in _sentence(rng):
                lines.append(f"{token} NNP B-NP {tag}")
            lines.append("")
        (folder / name).write_text("\n".join(lines))
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    return folder


def _sentence(rng: random.Random) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for _ in range(rng.randint(2, 9)):
        kind = rng.random()
        if kind < 0.2:
            pairs += [(rng.choice(PEOPLE), "B-PER"), (rng.choice(PEOPLE), "I-PER")]
        elif kind < 0.35:
            pairs.append((rng.choice(PLACES), "B-LOC"))
        elif kind < 0.45:
            pairs.append((rng.choice(ORGS), "B-ORG"))
        else:
            pairs.append((rng.choice(WORDS), "O"))
    return pairs


TINY_BERT = (
    "model.config={hidden_size:32,num_hidden_layers:2,num_attention_heads:2,"
    f"intermediate_size:64,vocab_size:{len(VOCAB)},max_position_embeddings:64}}"
)
