"""scikit-learn's 8x8 handwritten digits: real data shipped with scikit-learn, no download.

1,797 grey-scale images of the digits 0-9 (UCI ML hand-written digits). Small enough to hold
as tensors on the trainer's device, so its loaders are `TensorBatches`: a batch is one index
into a resident tensor, with no per-sample collation (which cost a tiny MLP's step more than
Lightning itself; benchmarks/). The split is stratified and fixed by the seed.
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch

from fabricx.config.constraints import Fraction, NonNegativeInt, PositiveInt
from fabricx.data.tensor_loader import TensorBatches, resident_batches, trainer_device
from fabricx.errors import DataError

# The shape of scikit-learn's digits: 8x8 images of the digits 0-9.
NUM_FEATURES, NUM_CLASSES = 64, 10


class DigitsDataModule(pl.LightningDataModule):
    """Train/val/test splits of the digits, features scaled to [0, 1].

    Args:
        batch_size: training batch size.
        eval_batch_size: validation and test batch size.
        num_workers: accepted for the shared data schema; resident tensors need no workers.
        seed: fixes the split and the shuffling order.
        num_classes: expected number of classes; checked against the data.
        num_features: expected features per sample (64); checked against the data.
        val_fraction: share of all samples held out for validation.
        test_fraction: share of all samples held out for test.
    """

    def __init__(
        self,
        batch_size: PositiveInt = 64,
        eval_batch_size: PositiveInt = 256,
        num_workers: NonNegativeInt = 0,
        seed: int = 0,
        num_classes: PositiveInt = 10,
        num_features: PositiveInt = 64,
        val_fraction: Fraction = 0.15,
        test_fraction: Fraction = 0.15,
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
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    @classmethod
    def check_arguments(
        cls,
        val_fraction: float,
        test_fraction: float,
        num_features: int = NUM_FEATURES,
        num_classes: int = NUM_CLASSES,
        **_: object,
    ) -> None:
        """Checked by fabricx before any work: the held-out shares must leave training data,
        and the data's shape is the digits' own (known without loading them)."""
        if val_fraction + test_fraction >= 1.0:
            raise ValueError(
                f"val_fraction + test_fraction = {val_fraction + test_fraction} leaves no "
                "training data; lower one of them."
            )
        if (num_features, num_classes) != (NUM_FEATURES, NUM_CLASSES):
            raise ValueError(
                f"num_features={num_features} and num_classes={num_classes} do not match the "
                f"digits data ({NUM_FEATURES} features, {NUM_CLASSES} classes); remove the "
                "overrides."
            )

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        images, labels = load_digits(return_X_y=True)
        if images.shape[1] != self.num_features or len(set(labels)) != self.num_classes:
            raise DataError(  # check_arguments refuses such a config before any work
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

        device = trainer_device(self)

        def tensors(x, y) -> tuple[torch.Tensor, torch.Tensor]:  # pixel values are 0..16
            x = torch.tensor(x / 16.0, dtype=torch.float32)
            return x.to(device), torch.tensor(y).to(device)

        self.splits = {
            "train": tensors(x_train, y_train),
            "val": tensors(x_val, y_val),
            "test": tensors(x_test, y_test),
        }

    def train_dataloader(self) -> TensorBatches:
        # Resumable: its state (epoch, batches yielded, generator) is in every checkpoint.
        return resident_batches(self, self.splits["train"], self.batch_size, self.seed, True)

    def val_dataloader(self) -> TensorBatches:
        return resident_batches(self, self.splits["val"], self.eval_batch_size, self.seed)

    def test_dataloader(self) -> TensorBatches:
        return resident_batches(self, self.splits["test"], self.eval_batch_size, self.seed)
