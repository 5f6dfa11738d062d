"""Training-loop overhead: the same MLP steps through a plain loop, a bare Trainer and fabricx.

    python benchmarks/loop_overhead.py                  # 64-128-10 MLP, batch 64, 300 steps
    python benchmarks/loop_overhead.py --steps 600 --repeats 5

The same model (fabricx's MLP, 64 -> 128 -> 10), the scikit-learn digits at batch 64, AdamW
and seed, in one process, three ways:
  plain      a torch loop: forward, cross-entropy, backward, step
  lightning  lightning.pytorch.Trainer with its defaults around a minimal LightningModule
  fabricx    the Trainer, task and datamodule fabricx builds for `fabricx train model.
             hidden_sizes=[128] model.dropout=0 logger=csv` (its callbacks, its loggers)
plain and lightning take the same prebuilt batches; fabricx reads the digits through its
datamodule (a StatefulDataLoader that collates 64 samples a batch), so its number includes
that. Time per step is the median gap between consecutive batch starts after warm-up (for
the plain loop: between loop iterations), median over repeats; epoch-end work (checkpoint,
progress bar) falls mostly outside the median. Validation is off in all three,
so only the training step's cost is compared. A first measurement toward issue 7's harness;
it asserts nothing. Prints a markdown table and writes benchmarks/results/loop_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback

from fabricx.build.components import build_datamodule, build_model, build_task
from fabricx.build.trainer import build_trainer
from fabricx.config.compose import validate
from fabricx.models.mlp import MLP

RESULTS = Path(__file__).resolve().parent / "results"
OVERRIDES = [
    "model.hidden_sizes=[128]", "model.dropout=0.0", "data.batch_size=64", "logger=csv",
    "scheduler=none", "trainer.limit_val_batches=0", "trainer.num_sanity_val_steps=0",
]  # fmt: skip


class StepTimer(Callback):
    """Timestamps of every training batch start: step time without the timer's own cost."""

    def __init__(self) -> None:
        self.starts: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.starts.append(time.perf_counter())


def per_step_ms(starts: list[float], warmup: int) -> float:
    gaps = [b - a for a, b in zip(starts[warmup:], starts[warmup + 1 :], strict=False)]
    return statistics.median(gaps) * 1000


def digits_batches(batch_size: int, steps: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    y = torch.tensor(y)
    out = []
    for i in range(steps):
        idx = torch.arange(i * batch_size, (i + 1) * batch_size) % len(x)
        out.append((x[idx], y[idx]))
    return out


def plain(steps: int, warmup: int) -> float:
    torch.manual_seed(0)
    model = MLP(64, 10, [128], dropout=0.0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    starts = []
    for x, y in digits_batches(64, steps):
        starts.append(time.perf_counter())
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return per_step_ms(starts, warmup)


class Minimal(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.model = MLP(64, 10, [128], dropout=0.0)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.model(x), y)
        self.log("train/loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=3e-3)


def lightning_defaults(steps: int, warmup: int, root: Path) -> float:
    pl.seed_everything(0, verbose=False)
    batches = digits_batches(64, steps)
    timer = StepTimer()
    trainer = pl.Trainer(max_steps=steps, callbacks=[timer], default_root_dir=root,
                         enable_model_summary=False)  # fmt: skip
    # batch_size=None: the prepared batches as they are, no collation (as in the plain loop).
    trainer.fit(Minimal(), train_dataloaders=torch.utils.data.DataLoader(batches, batch_size=None))
    return per_step_ms(timer.starts, warmup)


def fabricx_trainer(steps: int, warmup: int, root: Path) -> float:
    cfg = validate("train", [*OVERRIDES, f"trainer.max_steps={steps}", "trainer.max_epochs=-1"])
    pl.seed_everything(0, workers=True, verbose=False)
    datamodule = build_datamodule(cfg)
    task = build_task(cfg, build_model(cfg))
    trainer = build_trainer(cfg, root, model=task)
    timer = StepTimer()
    trainer.callbacks.append(timer)
    trainer.fit(task, datamodule=datamodule)
    return per_step_ms(timer.starts, warmup)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    os.environ.setdefault("WANDB_MODE", "offline")
    runs: dict[str, list[float]] = {"plain": [], "lightning": [], "fabricx": []}
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            runs["plain"].append(plain(args.steps, args.warmup))
            runs["lightning"].append(lightning_defaults(args.steps, args.warmup, Path(tmp) / "l"))
            runs["fabricx"].append(fabricx_trainer(args.steps, args.warmup, Path(tmp) / "f"))
    medians = {name: statistics.median(times) for name, times in runs.items()}
    report = {
        "host": platform.node(), "torch_threads": torch.get_num_threads(),
        "date": time.strftime("%F"), "steps": args.steps, "warmup": args.warmup,
        "repeats": runs, "median_ms_per_step": medians,
    }  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "loop_overhead.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = ["| loop | ms/step (median) | vs plain |", "|---|---:|---:|"]
    lines += [f"| {k} | {v:.3f} | {v / medians['plain']:.2f}x |" for k, v in medians.items()]
    table = "\n".join(lines)
    (RESULTS / "loop_overhead.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
