"""Data loading: fabricx's tensor-resident loader against a per-sample DataLoader (section 3).

    python -m benchmarks --only data           # quick: 10,000 samples, 3 repeats
    python -m benchmarks --only data --full    # 50,000 samples, 5 repeats

A DataLoader indexes and augments one sample at a time in Python, then collates 512 of them
into a batch. fabricx's TensorBatches does one index and one batched augmentation per batch.
Both apply the standard CIFAR augmentation: a random crop with 4 pixels of zero padding, then
a random horizontal flip. The DataLoader's per-sample version is written with torch ops, as
torchvision does it, so torchvision is not needed. A DataLoader row without augmentation shows
what indexing and collation alone cost. The data is synthetic and CIFAR-10-shaped. Each row is
whole epochs, after one warm-up epoch, median over repeats. Nothing is asserted.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from fabricx.data.tensor_loader import TensorBatches, crop_and_flip

BATCH_SIZE = 512
PADDING = 4
MEAN, STD = 0.4734, 0.2516  # CIFAR-10's pixel mean and std, as a pipeline would normalize
BASELINE = "DataLoader, per-sample crop+flip, 0 workers"


def cifar_like(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded uint8 images (n, 3, 32, 32) normalized to float32, and int64 labels."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (n,), generator=g)
    return (images.float() / 255 - MEAN) / STD, labels


class PerSample(Dataset):
    """What a user writes without a batched loader: index one sample, augment it alone."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, augment: bool) -> None:
        self.x, self.y, self.augment = x, y, augment

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.x[i]
        if self.augment:  # torchvision's RandomCrop(32, padding=4) + RandomHorizontalFlip()
            h, w = image.shape[1:]
            padded = F.pad(image, (PADDING, PADDING, PADDING, PADDING))
            top, left = torch.randint(0, 2 * PADDING + 1, (2,)).tolist()
            image = padded[:, top : top + h, left : left + w]
            if torch.rand(1).item() < 0.5:
                image = image.flip(2)
        return image, self.y[i]


def loaders(
    x: torch.Tensor, y: torch.Tensor, device: torch.device
) -> list[tuple[str, Callable[[], Iterable]]]:
    """(name, factory) per row; built one at a time so only one set of workers is alive."""
    pin = device.type == "cuda"  # pinned host batches make the non_blocking copy asynchronous

    def per_sample(augment: bool, workers: int) -> DataLoader:
        return DataLoader(
            PerSample(x, y, augment),
            batch_size=BATCH_SIZE,
            shuffle=True,
            drop_last=False,
            num_workers=workers,
            persistent_workers=workers > 0,  # start-up is paid in the warm-up epoch only
            pin_memory=pin,
            generator=torch.Generator().manual_seed(0),
        )

    def resident() -> TensorBatches:
        return TensorBatches(
            x.to(device), y.to(device), BATCH_SIZE, shuffle=True, transform=crop_and_flip(PADDING)
        )

    return [
        ("TensorBatches + crop_and_flip(4)", resident),
        (BASELINE, lambda: per_sample(True, 0)),
        ("DataLoader, per-sample crop+flip, 2 workers", lambda: per_sample(True, 2)),
        ("DataLoader, no augmentation, 0 workers", lambda: per_sample(False, 0)),
    ]


def epoch_seconds(batches: Iterable, repeats: int, device: torch.device) -> float:
    """Median seconds per whole epoch after one warm-up epoch, batches landed on `device`."""
    cuda = device.type == "cuda"
    times = []
    for _ in range(repeats + 1):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        for xb, yb in batches:  # a no-op for batches already on `device`
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
        if cuda:  # the copies and kernels queued above belong to this epoch
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def run(quick: bool, device: str = "cpu") -> dict:
    """Samples per second of each loader on the CPU, and on the GPU too when device="cuda".

    Returns {"rows": [{"loader", "device", "batch_size", "samples", "samples_per_s",
    "epoch_s", "vs_dataloader"}, ...], "notes": str}; vs_dataloader is relative to the
    augmented per-sample DataLoader with 0 workers on the same device.
    """
    n, repeats = (10_000, 3) if quick else (50_000, 5)
    x, y = cifar_like(n)
    devices = [torch.device("cpu")]
    notes = [
        f"Synthetic CIFAR-10-shaped float32 data, {n} samples, batch {BATCH_SIZE}, shuffled, "
        f"drop_last=False; median of {repeats} epochs after 1 warm-up epoch.",
        f"{os.cpu_count()} CPU cores, torch {torch.__version__}, {torch.get_num_threads()} "
        "intra-op threads; DataLoader workers are processes that share those cores.",
    ]
    if device == "cuda" and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
        notes.append(
            f"GPU: {torch.cuda.get_device_name()}. GPU rows: TensorBatches holds the data on "
            "the GPU; DataLoaders pin memory and copy each batch with non_blocking=True."
        )
    elif device == "cuda":
        notes.append("device='cuda' asked for, but CUDA is not available: CPU rows only.")
    rows = []
    for dev in devices:
        for name, build in loaders(x, y, dev):
            batches = build()
            seconds = epoch_seconds(batches, repeats, dev)
            del batches  # shuts down persistent workers before the next row
            rows.append(
                {"loader": name, "device": dev.type, "batch_size": BATCH_SIZE, "samples": n,
                 "samples_per_s": n / seconds, "epoch_s": seconds}
            )  # fmt: skip
        base = next(r for r in rows if r["loader"] == BASELINE and r["device"] == dev.type)
        for r in rows:
            if r["device"] == dev.type:
                r["vs_dataloader"] = r["samples_per_s"] / base["samples_per_s"]
    return {"rows": rows, "notes": " ".join(notes)}
