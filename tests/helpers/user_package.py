"""A user's own package and config folder, written outside fabricx, as a user would bring them.

`mylab` holds:
- a model with list, float and Literal arguments that returns two tensors (a mean and a
  log-variance: heteroscedastic regression, a kind fabricx does not ship);
- a datamodule with its own arguments, whose training loader can save its position (a
  torchdata StatefulDataLoader) or not (a plain DataLoader), to test both resumes;
- a LightningModule task with a lower-is-better metric (rmse) and Lightning's
  `example_input_array`, but no `split_batch` or `build_metric`: fabricx exports and
  compares its outputs without recomputing the metric;
- a callback with an argument, which writes what it saw into the run directory.

`conf/` holds their options, and a search space over the model's own arguments.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

NETS = '''
from typing import Literal

import torch
from torch import nn


class WaveNet(nn.Module):
    """Features -> (mean, log-variance) of the target."""

    def __init__(
        self,
        in_features: int,
        widths: list[int],
        dropout: float = 0.0,
        activation: Literal["relu", "gelu", "tanh"] = "relu",
    ) -> None:
        super().__init__()
        act = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}[activation]
        layers, width = [], in_features
        for size in widths:
            layers += [nn.Linear(width, size), act(), nn.Dropout(dropout)]
            width = size
        self.body = nn.Sequential(*layers)
        self.mean = nn.Linear(width, 1)
        self.log_var = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.mean(h).squeeze(-1), self.log_var(h).squeeze(-1)
'''

DATA = '''
import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, TensorDataset
from torchdata.stateful_dataloader import StatefulDataLoader


class WaveData(pl.LightningDataModule):
    """y = sin(x . w) + noise, with w fixed by `seed`."""

    def __init__(
        self,
        num_samples: int = 512,
        num_features: int = 4,
        noise: float = 0.1,
        batch_size: int = 32,
        stateful: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.num_samples, self.num_features, self.noise = num_samples, num_features, noise
        self.batch_size, self.stateful, self.seed = batch_size, stateful, seed
        self.splits = {}

    def setup(self, stage=None) -> None:
        if self.splits:
            return
        g = torch.Generator().manual_seed(self.seed)
        x = torch.randn(self.num_samples, self.num_features, generator=g)
        w = torch.randn(self.num_features, generator=g)
        y = torch.sin(x @ w) + self.noise * torch.randn(self.num_samples, generator=g)
        n = self.num_samples // 5
        self.splits = {
            "val": TensorDataset(x[:n], y[:n]),
            "test": TensorDataset(x[n : 2 * n], y[n : 2 * n]),
            "train": TensorDataset(x[2 * n :], y[2 * n :]),
        }

    def train_dataloader(self):
        # No generator of its own: a StatefulDataLoader then keeps its shuffling generator's
        # state in its own (fabricx seeds torch before building, so the order is the seed's).
        loader = StatefulDataLoader if self.stateful else DataLoader
        return loader(self.splits["train"], batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.splits["val"], batch_size=64)

    def test_dataloader(self):
        return DataLoader(self.splits["test"], batch_size=64)
'''

TASKS = '''
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import nn


class GaussianRegression(pl.LightningModule):
    """Gaussian negative log-likelihood; the metric is RMSE of the mean, lower is better."""

    metric = "rmse"
    metric_mode = "min"
    export_output_names = ("mean", "log_var")

    def __init__(self, model: nn.Module, optimizer: Any, num_features: int = 4) -> None:
        super().__init__()
        self.model = model
        self.optimizer = optimizer
        self.example_input_array = torch.zeros(8, num_features)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model(x)

    def _step(self, batch: Any, split: str) -> torch.Tensor:
        x, y = batch
        mean, log_var = self(x)
        loss = F.gaussian_nll_loss(mean, y, log_var.exp())
        rmse = torch.sqrt(F.mse_loss(mean, y))
        self.log(f"{split}/loss", loss, on_step=False, on_epoch=True)
        self.log(f"{split}/rmse", rmse, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._step(batch, "test")

    def configure_optimizers(self):
        return self.optimizer(self.parameters())
'''

CALLBACKS = '''
import json
from pathlib import Path

from lightning.pytorch.callbacks import Callback


class BatchCounter(Callback):
    """Counts training batches; writes {"batches": n, "every": every} to <run>/<file_name>."""

    def __init__(self, every: int = 1, file_name: str = "batches.json") -> None:
        self.every = every
        self.file_name = file_name
        self.batches = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch_idx % self.every == 0:
            self.batches += 1

    def on_train_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            path = Path(trainer.default_root_dir) / self.file_name
            path.write_text(json.dumps({"batches": self.batches, "every": self.every}))
'''

BROKEN = """
import not_a_module_anywhere  # noqa: F401
"""

CONF = {
    "model/wave_net.yaml": """
        _target_: mylab.nets.WaveNet
        in_features: ${data.num_features}
        widths: [16, 16]
        dropout: 0.1
        activation: gelu
    """,
    "model/broken.yaml": """
        _target_: mylab.broken.Net
    """,
    "data/waves.yaml": """
        _target_: mylab.data.WaveData
        num_samples: 320
        seed: ${seed}
    """,
    "task/gaussian.yaml": """
        _target_: mylab.tasks.GaussianRegression
        num_features: ${data.num_features}
    """,
    "callbacks/counter.yaml": """
        extra:
          counter:
            _target_: mylab.callbacks.BatchCounter
            every: 2
    """,
    "search_space/waves.yaml": """
        # @package sweep
        params:
          model.dropout: {type: float, low: 0.0, high: 0.3}
          model.activation: {type: categorical, choices: [relu, tanh]}
    """,
}

# The command line that selects the user's options: what every test below starts from.
USER_ARGS = [
    "data=waves", "model=wave_net", "task=gaussian", "scheduler=none", "optim.lr=0.01",
    "callbacks=[default,counter]", "extra_target_prefixes=[mylab]",
]  # fmt: skip


def write_user_project(root: Path) -> Path:
    """mylab/ and conf/ under `root`; returns the config folder."""
    package = root / "mylab"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for name, text in (
        ("nets", NETS), ("data", DATA), ("tasks", TASKS), ("callbacks", CALLBACKS),
        ("broken", BROKEN),
    ):  # fmt: skip
        (package / f"{name}.py").write_text(textwrap.dedent(text).lstrip())
    conf = root / "conf"
    for relative, text in CONF.items():
        path = conf / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return conf
