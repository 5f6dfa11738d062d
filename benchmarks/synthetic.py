"""Data in the real on-disk formats, written by the harness: nothing is downloaded.

Random pixels and labels: the numbers measured are speeds, which do not depend on what the
images show. The formats are the real ones, so fabricx reads them with its real loaders.
"""

from __future__ import annotations

import gzip
import pickle
import random
import struct
from pathlib import Path

import numpy as np


def write_mnist(folder: Path, n_train: int, n_test: int) -> Path:
    """MNIST's four gzipped IDX files (28x28 uint8 images, uint8 labels) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
            (folder / f"{prefix}-{kind}-ubyte.gz").write_bytes(
                gzip.compress(header + array.tobytes(), compresslevel=1)
            )
    return folder


def write_cifar10(folder: Path, per_batch: int = 10_000, test: int = 10_000) -> Path:
    """CIFAR-10's python pickles (data_batch_1..5, test_batch) in `folder/cifar-10-batches-py`:
    50,000 training and 10,000 test images by default, the real data set's shape."""
    batches = folder / "cifar-10-batches-py"
    batches.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for name, n in [*((f"data_batch_{i}", per_batch) for i in range(1, 6)), ("test_batch", test)]:
        batch = {
            b"batch_label": name.encode(),
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"labels": [i % 10 for i in range(n)],
        }
        with (batches / name).open("wb") as f:
            pickle.dump(batch, f, protocol=2)
    return folder


def write_conll(folder: Path, sentences: int = 400, words: tuple[int, int] = (8, 30)) -> Path:
    """CoNLL-2003 train/valid/test.txt (word POS chunk NER per line) with PER/LOC entities."""
    rng = random.Random(0)
    names, places = ["John", "Mary", "Anna", "Peter"], ["Paris", "Tokyo", "Lagos"]
    plain = ["met", "in", "the", "said", "on", "a", "visit", "to", "and", "of"]
    folder.mkdir(parents=True, exist_ok=True)
    for name, count in (("train.txt", sentences), ("valid.txt", 100), ("test.txt", 100)):
        lines = ["-DOCSTART- -X- -X- O", ""]
        for _ in range(count):
            for _ in range(rng.randint(*words)):
                kind = rng.random()
                if kind < 0.2:
                    word, tag = rng.choice(names), "B-PER"
                elif kind < 0.3:
                    word, tag = rng.choice(places), "B-LOC"
                else:
                    word, tag = rng.choice(plain), "O"
                lines.append(f"{word} NN O {tag}")
            lines.append("")
        (folder / name).write_text("\n".join(lines))
    return folder


def write_vocab(conll: Path, out: Path) -> int:
    """A whole-word WordPiece vocabulary of a CoNLL folder's train split; returns its size."""
    words = {line.split()[0] for line in (conll / "train.txt").read_text().splitlines() if line}
    words.discard("-DOCSTART-")
    out.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(words)]))
    return 5 + len(words)
