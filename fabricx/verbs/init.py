"""`fabricx init DIR`: a project of your own to start from.

It writes a package with a model, a datamodule and a task (a regression on scikit-learn's
bundled diabetes data: real, no download), their config options under conf/, a
`[tool.fabricx]` table that makes plain `fabricx train` find them, a test, and a README that
says how to grow it. Nothing is overwritten: DIR must be new or empty.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from fabricx.errors import ConfigError


def package_name(directory: Path) -> str:
    """A Python package name from the directory's name: `my-lab` -> `my_lab`."""
    name = re.sub(r"\W+", "_", directory.name.lower()).strip("_") or "project"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = f"p_{name}"
    return name


def run(directory: str) -> int:
    """Write the project; print what was written and the first command. Returns 0.

    Raises:
        ConfigError: DIR exists and is not empty.
    """
    root = Path(directory).expanduser()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ConfigError(
            f"fabricx init {directory}: {root} exists and is not empty; give a new directory."
        )
    package = package_name(root)
    files = {path.format(package=package): text.replace("{package}", package)
             for path, text in _FILES.items()}  # fmt: skip
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"))
    print(f"fabricx init: wrote {len(files)} files to {root}/ (package {package}):")
    for relative in sorted(files):
        print(f"  {relative}")
    print(f"next: cd {directory} && fabricx train")
    return 0


_PYPROJECT = """
[project]
name = "{package}"
version = "0.1.0"
description = "Experiments of my own, run with fabricx."
requires-python = ">=3.10"
dependencies = ["fabricx"]

# fabricx finds this table from any folder of the project: `fabricx train` then searches
# conf/ beside fabricx's own configs, may build objects from the package `{package}`, and
# imports it from here without installing it.
[tool.fabricx]
config-dir = "conf"
target-prefixes = ["{package}"]
python-path = ["."]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

_README = """
# {package}

A project of your own, run with [fabricx](https://github.com/fabricx/fabricx): a model, a
datamodule and a task in `{package}/`, their config options in `conf/`.

```bash
fabricx train                                   # trains, tests, exports to ONNX, verifies
fabricx train model.hidden_sizes=[128,64] optim.lr=1e-3 trainer.max_epochs=50
fabricx config                                  # the composed config, every argument
python -m pytest                                # the project's test
```

`conf/project/default.yaml` picks this project's options (`data=diabetes model=regressor
task=regression`); every other group is fabricx's (optimizer, schedule, precision,
loggers, export). Runs land in `runs/{package}/<timestamp>-<id>/`.

## What is here

- `{package}/data.py`: `DiabetesDataModule`, a LightningDataModule. Its training loader is
  a torchdata `StatefulDataLoader`, so a run killed mid-epoch resumes at the same batch
  (`fabricx train resume=auto`).
- `{package}/models.py`: `Regressor`, a plain `nn.Module`.
- `{package}/task.py`: `RegressionTask`, a LightningModule. It takes the model, the
  optimizer and the schedule from fabricx's groups, and tells fabricx what its metric is
  (`metric = "mae"`, `metric_mode = "min"`), how to split a batch (`split_batch`) and how to
  recompute the metric through ONNX Runtime (`build_metric`).

## Growing it

- A new model: write the class in `{package}/models.py`, then `conf/model/<name>.yaml` with
  `_target_: {package}.models.<Class>` and its arguments; run `fabricx train model=<name>`.
  Every argument is checked against the class's signature and type hints before any work.
- A new dataset: a LightningDataModule in `{package}/data.py` and `conf/data/<name>.yaml`.
  Return a `StatefulDataLoader` from `train_dataloader` to keep exact mid-epoch resume.
- Another kind of task: any LightningModule in `{package}/task.py` and
  `conf/task/<name>.yaml`. fabricx reads `metric`, `metric_mode`, `split_batch`,
  `build_metric` and Lightning's `example_input_array` when they are there.
- Your own callbacks: `callbacks.extra` (see `conf/callbacks/stop_at_loss.yaml`, used with
  `fabricx train callbacks=[default,stop_at_loss]`).
- A sweep: `conf/search_space/{package}.yaml`, then
  `fabricx sweep search_space={package} sweep.n_trials=20`.
"""

_DATA = '''
"""scikit-learn's diabetes data (442 patients, 10 features, a disease-progression score):
real data that ships with scikit-learn, split by seed, standardised on the training split."""

from __future__ import annotations

from typing import Annotated

import lightning.pytorch as pl
import torch
from annotated_types import Ge, Interval
from torch.utils.data import DataLoader, TensorDataset
from torchdata.stateful_dataloader import StatefulDataLoader

Share = Annotated[float, Interval(gt=0.0, lt=1.0)]


class DiabetesDataModule(pl.LightningDataModule):
    """Train/val/test splits of the diabetes data; targets standardised too.

    Args:
        batch_size: training batch size.
        val_fraction: share of the patients held out for validation.
        test_fraction: share held out for test.
        seed: fixes the split and the shuffling.
        num_features: features per patient (10), for the model's input size.
    """

    def __init__(
        self,
        batch_size: Annotated[int, Ge(1)] = 32,
        val_fraction: Share = 0.15,
        test_fraction: Share = 0.15,
        seed: int = 0,
        num_features: int = 10,
    ) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.seed = seed
        self.num_features = num_features
        self.splits: dict[str, TensorDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        from sklearn.datasets import load_diabetes

        x, y = load_diabetes(return_X_y=True)
        x = torch.tensor(x, dtype=torch.float32)
        y = torch.tensor(y, dtype=torch.float32)
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(self.seed))
        n_val, n_test = int(len(y) * self.val_fraction), int(len(y) * self.test_fraction)
        parts = {"val": order[:n_val], "test": order[n_val : n_val + n_test]}
        parts["train"] = order[n_val + n_test :]
        train_x, train_y = x[parts["train"]], y[parts["train"]]
        x = (x - train_x.mean(0)) / train_x.std(0)  # standardised on the training split
        y = (y - train_y.mean()) / train_y.std()
        self.splits = {name: TensorDataset(x[idx], y[idx]) for name, idx in parts.items()}

    def train_dataloader(self) -> StatefulDataLoader:
        # A StatefulDataLoader saves its position in every checkpoint: a resumed run goes on
        # with the next batch of the same epoch, not with the epoch's first. Give it no
        # generator of its own: it then saves its shuffling generator's state too (fabricx
        # seeds torch from `seed` before building, so the order is still the seed's).
        return StatefulDataLoader(self.splits["train"], batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["val"], batch_size=256)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.splits["test"], batch_size=256)
'''

_MODELS = '''
"""Models: plain nn.Modules; the task trains them, fabricx exports them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import torch
from annotated_types import Ge, Interval
from torch import nn


class Regressor(nn.Module):
    """An MLP from features to one number per sample.

    Args:
        in_features: features per sample.
        hidden_sizes: width of each hidden layer.
        dropout: dropout probability after each hidden layer.
    """

    def __init__(
        self,
        in_features: int,
        hidden_sizes: Sequence[Annotated[int, Ge(1)]] = (64, 64),
        dropout: Annotated[float, Interval(ge=0.0, lt=1.0)] = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)  # (B, in_features) -> (B,)
'''

_TASK = '''
"""The task: a LightningModule that trains a model to predict one number (MSE)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanAbsoluteError, Metric

from fabricx.tasks.schedules import configure


class RegressionTask(pl.LightningModule):
    """Mean squared error to train; mean absolute error as "the metric" (lower is better).

    What fabricx reads (all optional): `metric` and `metric_mode` (it monitors val/mae and
    reports test/mae), `logged_metrics` (checked before any work), `split_batch` (export and
    verify run on real test batches) and `build_metric` (verify recomputes test/mae through
    ONNX Runtime).

    Args:
        model: the model group's module.
        optimizer: the optim group's optimizer, as a partial that takes the parameters.
        scheduler: the scheduler group's schedule, as a partial that takes the optimizer.
    """

    metric = "mae"
    metric_mode = "min"
    logged_metrics = ("loss", "mae")

    def __init__(
        self,
        model: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        # One metric object per split (ModuleDict keys must not shadow Module's methods).
        splits = ("train", "val", "test")
        self.maes = nn.ModuleDict({f"{s}_mae": self.build_metric() for s in splits})

    @staticmethod
    def split_batch(batch: Any) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The model's inputs by name (the exported graph's input names) and the target."""
        x, y = batch
        return {"x": x}, y

    def build_metric(self, sync_on_compute: bool = True) -> Metric:
        return MeanAbsoluteError(sync_on_compute=sync_on_compute)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def _step(self, batch: Any, split: str) -> torch.Tensor:
        inputs, y = self.split_batch(batch)
        prediction = self.model(**inputs)
        loss = F.mse_loss(prediction, y)
        mae = self.maes[f"{split}_mae"]
        mae(prediction, y)
        self.log(f"{split}/loss", loss, on_step=False, on_epoch=True, batch_size=len(y))
        self.log(f"{split}/mae", mae, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self._step(batch, "test")

    def configure_optimizers(self) -> Any:
        # The optim and scheduler groups' partials: fabricx completes them and steps the
        # schedule as its kind needs (every step for fabricx's, every epoch for most of torch's).
        return configure(self, self.optimizer, self.scheduler)
'''

_CALLBACK = '''
"""Callbacks of your own: any Lightning Callback, added with callbacks.extra."""

from __future__ import annotations

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback


class StopAtLoss(Callback):
    """Stops training once the validation loss is below `threshold`.

    Args:
        threshold: the val/loss to reach.
    """

    def __init__(self, threshold: float = 0.0) -> None:
        self.threshold = threshold

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        loss = trainer.callback_metrics.get("val/loss")
        if loss is not None and float(loss) < self.threshold:
            trainer.should_stop = True
'''

_TEST = '''
"""The project end to end through fabricx's Python API: compose, train, export, verify."""

from __future__ import annotations

from pathlib import Path

import fabricx


def test_trains_exports_and_verifies(tmp_path: Path) -> None:
    overrides = [f"paths.runs_dir={tmp_path}", "trainer.max_epochs=5", "logger=csv"]
    cfg = fabricx.compose([*overrides, "stages=[fit,test,export,verify]"])
    assert cfg.model["_target_"] == "{package}.models.Regressor"
    result = fabricx.train(cfg)
    assert result.status == "ok"
    assert result.metrics["test/mae"] < 1.0  # in standard deviations of the target
    assert (result.run_dir / "export" / "model.onnx").is_file()
    assert abs(result.metrics["test/mae_onnx"] - result.metrics["test/mae"]) < 1e-3
'''

_FILES = {
    "pyproject.toml": _PYPROJECT,
    "README.md": _README,
    "{package}/__init__.py": '"""{package}: experiments of my own, run with fabricx."""\n',
    "{package}/data.py": _DATA,
    "{package}/models.py": _MODELS,
    "{package}/task.py": _TASK,
    "{package}/callbacks.py": _CALLBACK,
    "conf/project/default.yaml": """
# @package _global_
# This project's defaults: plain `fabricx train` runs them. Every group can still be chosen
# on the command line (fabricx train model=regressor optim=sgd ...).
defaults:
  - override /data: diabetes
  - override /model: regressor
  - override /task: regression

experiment: {package}
trainer:
  max_epochs: 30
""",
    "conf/data/diabetes.yaml": """
# data=diabetes: scikit-learn's diabetes regression data ({package}.data.DiabetesDataModule).
#   fabricx train data.batch_size=64
_target_: {package}.data.DiabetesDataModule
seed: ${seed}
""",
    "conf/model/regressor.yaml": """
# model=regressor: an MLP to one number ({package}.models.Regressor).
#   fabricx train model.hidden_sizes=[128,64] model.dropout=0.1
_target_: {package}.models.Regressor
in_features: ${data.num_features}
""",
    "conf/task/regression.yaml": """
# task=regression: MSE to train, MAE as the metric ({package}.task.RegressionTask); the
# model, optimizer and schedule come from their groups.
#   fabricx train task=regression optim=sgd
_target_: {package}.task.RegressionTask
""",
    "conf/callbacks/stop_at_loss.yaml": """
# callbacks=[default,stop_at_loss]: fabricx's callbacks, plus one of your own
# ({package}.callbacks.StopAtLoss) that stops once val/loss is low enough.
#   fabricx train callbacks=[default,stop_at_loss] callbacks.extra.stop_at_loss.threshold=0.2
extra:
  stop_at_loss:
    _target_: {package}.callbacks.StopAtLoss
    threshold: 0.1
""",
    "conf/search_space/{package}.yaml": """
# @package sweep
# fabricx sweep search_space={package} sweep.n_trials=20
params:
  optim.lr: {type: float, low: 1.0e-4, high: 3.0e-2, log: true}
  model.dropout: {type: float, low: 0.0, high: 0.5}
""",
    "tests/test_project.py": _TEST,
}
