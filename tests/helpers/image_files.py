"""Image datasets in their real on-disk formats, written by the tests: MNIST's IDX files,
CIFAR-10's pickles, and a class-per-folder tree of PNG and JPEG files."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
from PIL import Image

_IDX_CODES = {np.uint8: 0x08, np.int32: 0x0C, np.float32: 0x0D}


def write_idx(path: Path, array: np.ndarray, gz: bool | None = None) -> Path:
    """An IDX file: 0, 0, type code, ndim, big-endian int32 dims, big-endian values."""
    header = bytes([0, 0, _IDX_CODES[array.dtype.type], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    gz = path.suffix == ".gz" if gz is None else gz
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def write_mnist(
    folder: Path, n_train: int = 40, n_test: int = 20, gz: bool = True, size: int = 10
) -> Path:
    """Four MNIST-named IDX files with size x size images; labels cycle through 0..9."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        pixels = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", pixels)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", np.arange(n, dtype=np.uint8) % 10)
    return folder


def write_cifar(folder: Path, per_batch: int = 8, nested: bool = True) -> Path:
    """A CIFAR-10-style folder: data_batch_1..5 and test_batch pickles of `per_batch` images."""
    batches = folder / "cifar-10-batches-py" if nested else folder
    batches.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        batch = {
            b"batch_label": name.encode(),
            b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            b"labels": [int(i) % 10 for i in rng.permutation(per_batch * 2)[:per_batch]],
        }
        batch[b"labels"][:2] = [0, 9]  # every split spans 0..9
        with (batches / name).open("wb") as f:
            pickle.dump(batch, f, protocol=2)
    return folder


def write_image_folder(root: Path, sizes=((8, 8),), per_class: int = 4) -> Path:
    """root/<class>/*.png|jpg for classes a, b, c; mixed modes (RGB, L, RGBA)."""
    rng = np.random.default_rng(2)
    for name in ["a", "b", "c"]:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            w, h = sizes[i % len(sizes)]
            pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            img = Image.fromarray(pixels)
            if i % 3 == 1:
                img.convert("L").save(root / name / f"{i}.png")
            elif i % 3 == 2:
                img.save(root / name / f"{i}.jpg", quality=95)
            else:
                img.convert("RGBA").save(root / name / f"{i}.PNG")
        (root / name / "notes.txt").write_text("not an image")
    return root
