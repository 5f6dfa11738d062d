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


_STATUSES = ("ok",) * 16 + ("failed", "pruned", "preempted", "terminated")


def write_run_dirs(root: Path, n: int, epochs: int = 20) -> list[Path]:
    """`n` run directories as `fabricx train` leaves them (no checkpoints), under
    root/<experiment>/<timestamp>-<id>/: config.yaml, overrides.yaml, command.txt,
    provenance.json, job.json, metrics.csv and metrics.json, with varied overrides and
    statuses (mostly ok), for `fabricx runs` and the report pages."""
    import json

    import yaml

    rng = random.Random(0)
    dirs = []
    for i in range(n):
        experiment = ("digits_mlp", "mnist_lenet5", "cifar10_resnet18")[i % 3]
        lr, seed = rng.choice((1e-3, 3e-3, 1e-2)), i % 5
        run_dir = root / experiment / f"20261201-{i // 60 % 24:02d}{i % 60:02d}00-{i:06x}"
        run_dir.mkdir(parents=True)
        overrides = [f"optim.lr={lr}", f"seed={seed}", "trainer.max_epochs=20"]
        config = {
            "experiment": experiment, "seed": seed,
            "data": {"_target_": "fabricx.data.digits.DigitsDataModule", "batch_size": 64,
                     "val_fraction": 0.1, "num_workers": 0, "seed": seed},
            "model": {"_target_": "fabricx.models.mlp.MLP", "in_features": 64, "hidden": [128],
                      "num_classes": 10, "dropout": 0.1},
            "task": {"_target_": "fabricx.tasks.classification.ClassificationTask",
                     "num_classes": 10, "label_smoothing": 0.0},
            "optim": {"_target_": "torch.optim.AdamW", "_partial_": True, "lr": lr,
                      "weight_decay": 0.01, "betas": [0.9, 0.999], "eps": 1e-8},
            "trainer": {"max_epochs": epochs, "accelerator": "cpu", "devices": 1,
                        "precision": "32-true", "log_every_n_steps": 10},
            "metric": {"name": "acc", "mode": "max"},
            "export": {"targets": ["onnx"]}, "stages": ["fit", "test", "export", "verify"],
        }  # fmt: skip
        (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        (run_dir / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        (run_dir / "command.txt").write_text("fabricx train " + " ".join(overrides) + "\n")
        git = {"sha": f"{i % 7:040x}", "dirty": i % 11 == 0, "diff_sha256": None}
        (run_dir / "provenance.json").write_text(
            json.dumps({"git": git, "fabricx_git": git, "host": "node", "seed": seed})
        )
        (run_dir / "job.json").write_text(json.dumps({"pid": 1, "host": "node", "started": ""}))
        status = _STATUSES[i % len(_STATUSES)]
        acc, rows, steps = 0.1, ["epoch,step,train/loss,train/acc,val/loss,val/acc"], 0
        for epoch in range(epochs):
            acc = min(0.99, acc + (1 - acc) * lr * 30 * rng.uniform(0.5, 1.5))
            steps += 25
            rows.append(f"{epoch},{steps},{1 - acc:.4f},{acc:.4f},{1.1 - acc:.4f},{acc - 0.01:.4f}")
        (run_dir / "metrics.csv").write_text("\n".join(rows) + "\n")
        metrics = {"test/acc": acc - 0.02, "test/loss": 1.1 - acc, "val/acc": acc - 0.01,
                   "time/total_s": 20 + rng.random() * 40, "fit/step_ms": 0.8}  # fmt: skip
        record = {"status": status, "metric": {"name": "test/acc", "value": metrics["test/acc"]},
                  "metrics": metrics, "stages": {"fit": "ok"}, "skipped": {}}  # fmt: skip
        (run_dir / "metrics.json").write_text(json.dumps(record, indent=2))
        dirs.append(run_dir)
    return dirs
