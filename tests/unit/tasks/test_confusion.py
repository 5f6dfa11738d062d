"""The classification task keeps the test split's confusion matrix for report.html."""

from __future__ import annotations

import functools

import lightning.pytorch as pl
import torch
from sklearn.metrics import confusion_matrix
from torch.utils.data import DataLoader, DistributedSampler, IterableDataset, TensorDataset

from fabricx.data.tensor_loader import TensorBatches
from fabricx.models.mlp import MLP
from fabricx.tasks.classification import ClassificationTask, reads_a_shard


def test_the_test_confusion_matrix_counts_every_test_sample():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(13, 6, generator=g), torch.randint(0, 3, (13,), generator=g)
    loader = DataLoader(TensorDataset(x, y), batch_size=8)  # batches of 8 and 5
    task = ClassificationTask(
        MLP(6, 3, [8], dropout=0.0),  # the same predictions after test as during it
        optimizer=functools.partial(torch.optim.SGD, lr=0.1),
        num_classes=3,
    )
    trainer = pl.Trainer(
        accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False,
    )  # fmt: skip
    trainer.test(task, dataloaders=loader, verbose=False)
    with torch.no_grad():
        predicted = task.model(x).argmax(-1)
    expected = confusion_matrix(y, predicted, labels=[0, 1, 2]).tolist()
    assert task.test_confusion == expected  # rows: the true class
    assert sum(map(sum, task.test_confusion)) == 13


def test_under_ddp_a_shard_is_told_from_a_whole_split():
    """Which ranks' matrices add up: shards do; a split every rank reads whole counts once."""
    data = TensorDataset(torch.randn(10, 2), torch.zeros(10, dtype=torch.long))
    sharded = DataLoader(data, sampler=DistributedSampler(data, num_replicas=2, rank=0))
    assert reads_a_shard(sharded) is True
    assert reads_a_shard(DataLoader(data, batch_size=4)) is False
    x, y = data.tensors
    assert reads_a_shard(TensorBatches(x, y, batch_size=4)) is False  # evaluation batches
    assert reads_a_shard(TensorBatches(x, y, batch_size=4, world_size=2)) is True

    class Stream(IterableDataset):
        def __iter__(self):
            yield from zip(*data.tensors, strict=True)

    assert reads_a_shard(DataLoader(Stream(), batch_size=4)) is None
