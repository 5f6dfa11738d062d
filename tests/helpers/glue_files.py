"""Small GLUE SST-2 files in the real TSV format and a WordPiece vocab, written by tests (no
download): a sentence's one sentiment word gives its label away."""

from __future__ import annotations

import random
from pathlib import Path

POSITIVE = ["good", "great", "fun"]
NEGATIVE = ["bad", "awful", "dull"]
NEUTRAL = ["the", "film", "plot", "is", "a", "and", "it", "was", "story", "actors", "of", "this"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *POSITIVE, *NEGATIVE, *NEUTRAL]
TINY_BERT = (
    "model.config={hidden_size:32,num_hidden_layers:2,num_attention_heads:2,"
    f"intermediate_size:64,vocab_size:{len(VOCAB)},max_position_embeddings:64}}"
)


def _sentence(rng: random.Random, label: int) -> str:
    """Neutral filler around one sentiment word that gives the label away."""
    words = [rng.choice(NEUTRAL) for _ in range(rng.randint(1, 12))]
    words.insert(rng.randint(0, len(words)), rng.choice(POSITIVE if label else NEGATIVE))
    return " ".join(words)


def write_sst2(folder: Path, sizes: tuple[int, int] = (200, 40), seed: int = 0) -> Path:
    """train.tsv and dev.tsv (sentence<TAB>label), test.tsv (index<TAB>sentence), vocab.txt."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, count in zip(("train.tsv", "dev.tsv"), sizes, strict=True):
        labels = [rng.randint(0, 1) for _ in range(count)]
        rows = [(_sentence(rng, label), label) for label in labels]
        lines = ["sentence\tlabel", *(f"{s}\t{y}" for s, y in rows)]
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    test = ["index\tsentence", *(f"{i}\t{_sentence(rng, i % 2)}" for i in range(10))]
    (folder / "test.tsv").write_text("\n".join(test) + "\n", encoding="utf-8")
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return folder
