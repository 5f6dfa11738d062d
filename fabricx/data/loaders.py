"""DataLoaders for the datamodules that collate samples: resumable mid-epoch for training.

A training loader is a torchdata `StatefulDataLoader`. Lightning saves the state of any
loader with `state_dict`/`load_state_dict` in every checkpoint, and loads it back when
`trainer.fit(ckpt_path=...)` restarts mid-epoch. The resumed loader then yields the rest of
the epoch's batches, in the same order, and nothing it already yielded.

The order of each epoch comes from (seed, epoch), as in `DistributedSampler`. It does not
come from a generator carried from epoch to epoch. A carried generator also feeds the
loader's base seed, and that draw is not in the loader's state, so after a resume it would
be missing and the next epoch's order would differ. With (seed, epoch), an epoch's order
is the same however the run got there.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sized
from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, Dataset
from torchdata.stateful_dataloader import StatefulDataLoader
from torchdata.stateful_dataloader.sampler import StatefulDistributedSampler

from fabricx.runs.signals import leave_stops_to_the_job


class EpochShuffleSampler(StatefulDistributedSampler):
    """A new random order every epoch, from (seed, epoch); its state says where it stopped.

    A `DistributedSampler`, so under DDP Lightning keeps it instead of putting its own
    in. Each rank takes its share of the epoch's order. Lightning calls `set_epoch` at every
    epoch start. The state holds the epoch and the samples yielded so far: a loader restored
    mid-epoch reproduces that epoch's order and skips what it already gave out.

    Args:
        dataset: the samples (anything with a length).
        seed: with the epoch, fixes the order.
        num_replicas, rank: the DDP world size and this rank (1 and 0 without DDP).
    """

    def __init__(self, dataset: Sized, seed: int, num_replicas: int = 1, rank: int = 0) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "epoch": self.epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.epoch = state_dict.get("epoch", self.epoch)


def train_loader(
    module: Any,
    dataset: Dataset,
    batch_size: int,
    seed: int,
    num_workers: int = 0,
    collate_fn: Callable[[list[Any]], Any] | None = None,
) -> StatefulDataLoader:
    """Shuffled training batches that resume mid-epoch, sharded over the DDP ranks.

    Args:
        module: the LightningDataModule; its trainer (once attached) gives the rank.
        dataset: map-style training samples.
        batch_size: samples per batch on each rank.
        seed: fixes each epoch's order (with the epoch number).
        num_workers: worker processes.
        collate_fn: batches the samples; None is torch's default collate.
    """
    trainer = getattr(module, "trainer", None)
    rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
    with warnings.catch_warnings():
        # torchdata 0.11's constructor calls torch.set_vital, which torch 2.13 deprecates.
        warnings.filterwarnings("ignore", message=".*set_vital.*")
        return StatefulDataLoader(
            dataset,
            batch_size=batch_size,
            sampler=EpochShuffleSampler(dataset, seed, num_replicas=world, rank=rank),
            num_workers=num_workers,
            collate_fn=collate_fn,
            worker_init_fn=leave_stops_to_the_job,
            # A generator of its own: without one, the loader's base seed (for workers) would
            # be drawn from torch's global RNG at every epoch start, which dropout draws from.
            generator=torch.Generator().manual_seed(seed),
        )


def eval_loader(
    dataset: Dataset,
    batch_size: int,
    seed: int,
    num_workers: int = 0,
    collate_fn: Callable[[list[Any]], Any] | None = None,
) -> DataLoader:
    """Validation or test batches in stored order (no state needed: each pass is whole)."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collate_fn,
        worker_init_fn=leave_stops_to_the_job,
        generator=torch.Generator().manual_seed(seed),  # keeps the global RNG untouched
    )


class SplitLoaders(pl.LightningDataModule):
    """A datamodule whose three loaders differ only in their samples: the train loader is
    stateful and shuffled (`train_loader`), val and test keep stored order (`eval_loader`).

    Subclasses set `batch_size`, `eval_batch_size`, `seed`, `num_workers` and give
    `samples(split)` (split: "train", "val" or "test") and `collate(rows)`.
    """

    batch_size: int
    eval_batch_size: int
    seed: int
    num_workers: int

    def samples(self, split: str) -> Dataset:
        raise NotImplementedError

    def collate(self, rows: list[Any]) -> Any:
        raise NotImplementedError

    def train_dataloader(self) -> StatefulDataLoader:
        return train_loader(
            self, self.samples("train"), self.batch_size, self.seed, self.num_workers,
            collate_fn=self.collate,
        )  # fmt: skip

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader("test")

    def _eval_loader(self, split: str) -> DataLoader:
        return eval_loader(
            self.samples(split), self.eval_batch_size, self.seed, self.num_workers,
            collate_fn=self.collate,
        )  # fmt: skip
