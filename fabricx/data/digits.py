"""scikit-learn's 8x8 handwritten digits: real data shipped with scikit-learn, no download.

1,797 grey-scale images of the digits 0-9 (UCI ML hand-written digits). Small enough to hold
as tensors, so the loaders index them directly; the split is stratified and fixed by the seed.
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from fabricx.data.loaders import eval_loader, train_loader
from fabricx.errors import ConfigError


class DigitsDataModule(pl.LightningDataModule):
    """Train/val/test splits of the digits, features scaled to [0, 1].

    Args:
        batch_size: training batch size.
        eval_batch_size: validation and test batch size.
        num_workers: DataLoader workers (0 is fastest for in-memory tensors).
        seed: fixes the split and the shuffling order.
        num_classes: expected number of classes; checked against the data.
        num_features: expected features per sample (64); checked against the data.
        val_fraction: share of all samples held out for validation.
        test_fraction: share of all samples held out for test.
    """

    def __init__(
        self,
        batch_size: int = 64,
        eval_batch_size: int = 256,
        num_workers: int = 0,
        seed: int = 0,
        num_classes: int = 10,
        num_features: int = 64,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
    ) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.num_classes = num_classes
        self.num_features = num_features
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.splits: dict[str, TensorDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        images, labels = load_digits(return_X_y=True)
        if images.shape[1] != self.num_features or len(set(labels)) != self.num_classes:
            raise ConfigError(
                f"data.num_features={self.num_features} and data.num_classes={self.num_classes}"
                f" do not match the digits data ({images.shape[1]} features,"
                f" {len(set(labels))} classes); remove the overrides."
            )
        held_out = self.val_fraction + self.test_fraction
        x_train, x_rest, y_train, y_rest = train_test_split(
            images, labels, test_size=held_out, stratify=labels, random_state=self.seed
        )
        x_val, x_test, y_val, y_test = train_test_split(
            x_rest,
            y_rest,
            test_size=self.test_fraction / held_out,
            stratify=y_rest,
            random_state=self.seed,
        )

        def tensors(x, y) -> TensorDataset:  # pixel values are 0..16
            return TensorDataset(torch.tensor(x / 16.0, dtype=torch.float32), torch.tensor(y))

        self.splits = {
            "train": tensors(x_train, y_train),
            "val": tensors(x_val, y_val),
            "test": tensors(x_test, y_test),
        }

    def train_dataloader(self) -> DataLoader:
        # Stateful: a checkpoint taken mid-epoch resumes at the next batch (fabricx.data.loaders).
        train = self.splits["train"]
        return train_loader(self, train, self.batch_size, self.seed, self.num_workers)

    def val_dataloader(self) -> DataLoader:
        return eval_loader(self.splits["val"], self.eval_batch_size, self.seed, self.num_workers)

    def test_dataloader(self) -> DataLoader:
        return eval_loader(self.splits["test"], self.eval_batch_size, self.seed, self.num_workers)
