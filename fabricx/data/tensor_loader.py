"""Batches sliced from tensors already in memory (GPU memory on a GPU), with batched augmentation.

Why not a DataLoader: for datasets that fit in memory (MNIST, CIFAR-10) a DataLoader collates
one sample at a time in Python and copies every batch to the GPU, which costs more than a
small model's step (airbench, Jordan 2024, keeps CIFAR-10 on the GPU for this reason). Here a
batch is one index into a resident tensor, and augmentation is one tensor op per batch.

Randomness comes from a CPU `torch.Generator` seeded by (seed, epoch): the same seed gives the
same order and the same crops on any device, and an epoch can be replayed with `set_epoch`.
`state_dict()` holds the epoch, the batches it has yielded and that generator's state, so a
run resumed from a mid-epoch checkpoint gets the rest of the epoch's batches, crops included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F

from fabricx.errors import StageError

Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def random_crop(
    x: torch.Tensor, padding: int, generator: torch.Generator, mode: str = "constant"
) -> torch.Tensor:
    """Pad each image by `padding` pixels, then crop it back at a random offset per sample.

    One pad and one gather for the whole batch, no per-sample loop. Padding is zeros, i.e. the
    mean colour for normalized inputs (`mode="reflect"` mirrors the border instead).

    Args:
        x: images (B, C, H, W) on any device.
        padding: pixels added on each side; offsets are drawn from 0..2*padding.
        generator: a CPU generator (the offsets are drawn there, then moved to x's device).
        mode: `torch.nn.functional.pad` mode: "constant" or "reflect".

    Returns:
        (B, C, H, W), same dtype and device as x.
    """
    if padding == 0:
        return x
    b, c, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding), mode=mode)  # (B, C, H+2p, W+2p)
    width = w + 2 * padding
    offsets = torch.randint(0, 2 * padding + 1, (2, b), generator=generator).to(x.device)
    rows = offsets[0][:, None] + torch.arange(h, device=x.device)  # (B, H)
    cols = offsets[1][:, None] + torch.arange(w, device=x.device)  # (B, W)
    # One gather over each image's flattened pixels: a 4-D fancy index costs ~3x more.
    index = (rows[:, :, None] * width + cols[:, None, :]).view(b, 1, h * w)  # (B, 1, H*W)
    crops = padded.flatten(2).gather(2, index.expand(b, c, h * w))  # (B, C, H*W)
    return crops.view(b, c, h, w)


def random_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror a random half of the batch left-right (each sample with probability 0.5).

    Args:
        x: images (B, C, H, W) on any device.
        generator: a CPU generator.

    Returns:
        (B, C, H, W), same dtype and device as x.
    """
    flip = (torch.rand(x.shape[0], generator=generator) < 0.5).to(x.device)  # (B,)
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def crop_and_flip(padding: int) -> Transform:
    """The standard CIFAR augmentation: random crop with `padding`, then random flip."""

    def transform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return random_flip(random_crop(x, padding, generator), generator)

    return transform


class TensorBatches:
    """An iterable of (x, y) batches sliced from two tensors, optionally shuffled and augmented.

    Each `__iter__` is one epoch: with `shuffle`, the order comes from a generator seeded by
    (seed, epoch), and the epoch counter then advances, so every epoch differs yet a run with
    the same seed repeats exactly. `set_epoch(n)` pins the next epoch's number (fabricx's
    LoaderPosition callback does, when a run resumes after a whole epoch).
    `state_dict()`/`load_state_dict()` save and restore the position inside an epoch;
    Lightning does so with every checkpoint.

    Args:
        x: inputs (N, ...), on the device the batches should be on.
        y: targets (N, ...), on the same device.
        batch_size: samples per batch.
        shuffle: reorder every epoch (training); False keeps the stored order (evaluation).
        drop_last: drop the final short batch (keeps batch statistics and step shapes fixed).
        seed: seeds the order and the augmentation.
        transform: `fn(x_batch, generator) -> x_batch` applied to each batch, e.g.
            `crop_and_flip(4)`; None for evaluation.
        rank, world_size: under DDP each rank takes every world_size-th sample of the shared
            order, after dropping the remainder so every rank runs the same number of steps.

    Raises:
        StageError: a bad batch size, mismatched tensors, or a rank outside world_size
            (a datamodule's bug, found once the run works; the config's batch sizes are
            checked before, against the datamodule's signature).

    Example::

        batches = TensorBatches(x, y, batch_size=512, shuffle=True, transform=crop_and_flip(4))
        for xb, yb in batches: ...
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int = 0,
        transform: Transform | None = None,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size < 1:
            raise StageError(f"batch_size={batch_size} must be >= 1.")
        if len(x) != len(y):
            raise StageError(f"x has {len(x)} samples but y has {len(y)}; they must match.")
        if not 0 <= rank < world_size:
            raise StageError(f"rank={rank} must be in 0..world_size-1 (world_size={world_size}).")
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.transform = transform
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        # The epoch being iterated, the batches it has yielded and its generator: the state.
        self._iter_epoch: int | None = None
        self._yielded = 0
        self._generator: torch.Generator | None = None
        self._resume_from: dict[str, Any] | None = None

    def set_epoch(self, epoch: int) -> None:
        """Make the next `__iter__` epoch number `epoch` (its order and augmentation)."""
        self.epoch = epoch

    def state_dict(self) -> dict[str, Any]:
        """Where this loader stands: the epoch, batches yielded in it, the generator's state."""
        if self._iter_epoch is None:  # not iterated yet: the next epoch starts from the top
            return {"epoch": self.epoch, "batches": 0, "generator": None}
        generator = self._generator.get_state() if self._generator is not None else None
        return {"epoch": self._iter_epoch, "batches": self._yielded, "generator": generator}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Make the next `__iter__` continue where `state` stopped (the next epoch if whole)."""
        if state["batches"] >= len(self):
            self.epoch, self._resume_from = state["epoch"] + 1, None
        else:
            self.epoch, self._resume_from = state["epoch"], state

    def _num_samples(self) -> int:
        """Samples this rank sees per epoch."""
        return len(self.x) // self.world_size if self.world_size > 1 else len(self.x)

    def __len__(self) -> int:
        n = self._num_samples()
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        resume, self._resume_from = self._resume_from, None
        epoch = self.epoch
        # Seeded from (seed, epoch), not from a generator carried over between epochs, so an
        # epoch's batches do not depend on how many earlier epochs were fully consumed.
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        self.epoch = epoch + 1
        n = len(self.x)
        order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
        if self.world_size > 1:
            order = order[: self._num_samples() * self.world_size][self.rank :: self.world_size]
        order = order.to(self.x.device)
        start = 0
        if resume is not None:  # the same order; the generator as it was after batch `start`
            start = resume["batches"]
            if resume["generator"] is not None:
                generator.set_state(resume["generator"])
        self._iter_epoch, self._yielded, self._generator = epoch, start, generator
        for i in range(start, len(self)):
            index = order[i * self.batch_size : (i + 1) * self.batch_size]
            xb, yb = self.x[index], self.y[index]
            if self.transform is not None:
                xb = self.transform(xb, generator)
            self._yielded = i + 1
            yield xb, yb


def trainer_device(module: pl.LightningDataModule) -> torch.device:
    """The attached trainer's device (a GPU when it trains on one), else the CPU."""
    trainer = module.trainer
    return trainer.strategy.root_device if trainer is not None else torch.device("cpu")


def resident_batches(
    module: pl.LightningDataModule,
    split: tuple[torch.Tensor, torch.Tensor],
    batch_size: int,
    seed: int,
    train: bool = False,
    transform: Transform | None = None,
) -> TensorBatches:
    """A datamodule's loader over one (x, y) split: for training shuffled, optionally
    augmented and sharded over the DDP ranks; for evaluation in order, every sample, on
    every rank."""
    x, y = split
    if not train:
        return TensorBatches(x, y, batch_size)
    trainer = module.trainer
    rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
    return TensorBatches(
        x, y, batch_size, shuffle=True, seed=seed, transform=transform, rank=rank,
        world_size=world,
    )  # fmt: skip
