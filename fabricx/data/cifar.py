"""Read CIFAR-10 from its "python version" archive: pickled batches of 10,000 images each.

Each batch is a dict with b"data", a uint8 array of shape (N, 3072) (1024 red, then green,
then blue values per image, row-major), and b"labels", N ints in 0..9 (Krizhevsky's CIFAR
page). The batches were pickled by Python 2, hence ``encoding="bytes"``.

Unpickling can run code named in the file. Only point this reader at the official archive,
whose sha256 `fabricx.data.images` checks on download. As a second guard the unpickler here
only resolves the numpy names an array needs and refuses every other global.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fabricx.data.labels import check_label_range
from fabricx.errors import DataError

TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCHES = ["test_batch"]
BATCHES_DIR = "cifar-10-batches-py"  # the folder the official archive unpacks to
IMAGE_SHAPE = (3, 32, 32)

# What a pickled numpy array refers to (numpy 1 and numpy 2 module names).
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),  # pickle protocol 5
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),  # Python 2 pickles store byte strings through it
}


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that builds dicts, lists and numpy arrays and nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        return super().find_class(module, name)


def find_batches_dir(folder: Path) -> Path:
    """`folder/cifar-10-batches-py` when it exists (the unpacked archive), else `folder`."""
    folder = Path(folder)
    nested = folder / BATCHES_DIR
    return nested if nested.is_dir() else folder


def read_cifar10(
    folder: Path, num_classes: int = 10
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The train (data_batch_1..5) and test (test_batch) splits of CIFAR-10.

    Args:
        folder: the folder holding ``cifar-10-batches-py/``, or that folder itself.
        num_classes: labels must lie in 0..num_classes-1 (CIFAR-10's are 0..9).

    Returns:
        ``{"train": (images, labels), "test": (images, labels)}``; images are uint8
        (N, 3, 32, 32), labels int64 (N,).

    Raises:
        DataError: a batch is missing, is not a pickle, or holds the wrong contents.

    Example::

        splits = read_cifar10(Path("data/cifar10"))
        images, labels = splits["train"]  # (50000, 3, 32, 32) uint8, (50000,) int64
    """
    batches_dir = find_batches_dir(folder)
    missing = [n for n in TRAIN_BATCHES + TEST_BATCHES if not (batches_dir / n).is_file()]
    if missing:
        raise DataError(
            f"{batches_dir}: missing CIFAR-10 batches {missing}. Unpack cifar-10-python.tar.gz"
            " there, or set data.download=true to download it."
        )
    splits = {}
    for split, names in (("train", TRAIN_BATCHES), ("test", TEST_BATCHES)):
        parts = [read_cifar_batch(batches_dir / name, num_classes) for name in names]
        images = torch.cat([p[0] for p in parts])
        labels = torch.cat([p[1] for p in parts])
        splits[split] = (images, labels)
    return splits


def read_cifar_batch(path: Path, num_classes: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """One pickled batch: uint8 images (N, 3, 32, 32) and int64 labels (N,).

    Args:
        path: the batch file.
        num_classes: labels must lie in 0..num_classes-1.

    Raises:
        DataError: the file is not a CIFAR batch, names a global other than numpy's array
            parts, or holds a label out of range (names the file, the item, what is wrong).
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
    # A damaged pickle can fail in many ways (IndexError, KeyError, struct errors, ...); none
    # runs code, since find_class refuses every global outside _ALLOWED_GLOBALS.
    except Exception as err:
        raise DataError(
            f"{path}: cannot read the pickled batch ({err}); the file is truncated, damaged or"
            " not from the CIFAR-10 python archive. Delete it and unpack the archive again."
        ) from err
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        keys = sorted(map(str, batch)) if isinstance(batch, dict) else type(batch).__name__
        raise DataError(
            f"{path}: expected a dict with b'data' and b'labels', found {keys}; is this the"
            " CIFAR-10 python version (CIFAR-100 uses b'fine_labels')?"
        )
    data, labels = batch[b"data"], batch[b"labels"]
    size = int(np.prod(IMAGE_SHAPE))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        found = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data)
        raise DataError(
            f"{path}: b'data' should be a uint8 (N, {size}) array, found {found}; unpack the"
            " CIFAR-10 python archive again."
        )
    if data.shape[1] != size:
        raise DataError(
            f"{path}: b'data' has {data.shape[1]} values per image, expected {size} (3x32x32)."
        )
    try:
        labels = np.asarray(labels)
    except (ValueError, TypeError) as err:  # e.g. a ragged list
        raise DataError(f"{path}: b'labels' is not a list of integers ({err}).") from err
    if labels.ndim != 1 or len(labels) != len(data) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(
            f"{path}: {len(data)} images but b'labels' is {labels.dtype} {labels.shape}; "
            "expected one integer label per image."
        )
    check_label_range(path, labels, num_classes)
    images = torch.from_numpy(data.reshape(-1, *IMAGE_SHAPE).copy())  # (N, 3, 32, 32)
    return images, torch.from_numpy(labels.astype(np.int64))
