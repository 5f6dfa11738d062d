"""Training-loop overhead: one model, five loops (a plain torch loop, the same loop on
Lightning Fabric, a bare Lightning Trainer, `fabricx train`, and `fabricx train
compile.enabled=true`), time per step and per epoch. The compiled run's step time leaves
out the steps that compiled; its compile time is `compile_s` (`fit/compile_s`).

Same model (built from fabricx's config), same data (the tensors of fabricx's datamodule),
same optimizer, learning rate, seed and number of steps; validation after every epoch in all
five. The plain, Fabric and Trainer loops take batches sliced from the shuffled tensors, as
a user who cares about speed writes it: no per-sample collation. fabricx runs as a user types
it, with its defaults (W&B offline, checkpoints, progress bar, LR monitor), and reports its
own timings in metrics.json (`fit/step_ms`, `fit/epoch_s`); the others are timed the same
way (fabricx's FitTimer callback for the Trainer, the same clock reads in the plain and
Fabric loops). A step's time is the median gap between consecutive batch starts after 10
warm-up steps; an epoch's includes its validation and the loop's epoch-end work.

Each run is a fresh process (`python -m benchmarks.loop LOOP CASE DATA_DIR ROOT DEVICE
STEPS` runs one and prints its timings as JSON): a loop run in a process where another loop
ran before measured up to 15% slower on LeNet-5 (allocator and thread-pool state), which
would have flattered whichever loop ran in a subprocess.

    python -m benchmarks --only loop
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F

from benchmarks.common import fabricx_env, metrics, run_fabricx
from benchmarks.synthetic import write_mnist
from fabricx.builders.components import build_datamodule, build_model
from fabricx.config.instantiate import build
from fabricx.extensions.fit_timing import FitTimer
from fabricx.launch.compose import validate

WARMUP = 10
COMMON = ["optim=adamw", "scheduler=none", "precision=32", "stages=[fit]", "trainer.max_epochs=-1"]
COMPILE = ["compile.enabled=true"]  # the fabricx_compile loop: fabricx train with these


def write_data(data_dir: Path) -> None:
    """LeNet-5's MNIST files (the MLP uses the digits bundled with scikit-learn)."""
    write_mnist(data_dir, n_train=1024 + 256 * 24, n_test=512)  # 24 steps an epoch at 256


def cases(data_dir: Path, quick: bool) -> dict[str, dict[str, Any]]:
    """name -> overrides and steps: the tiny MLP (where overhead shows) and LeNet-5."""
    return {
        "mlp_64-128-10_bs64": {
            "overrides": ["data=digits", "model=mlp", "model.hidden_sizes=[128]",
                          "model.dropout=0.0", "data.batch_size=64"],
            "steps": 600 if quick else 2000,
        },
        "lenet5_bs256": {
            "overrides": ["data=mnist", f"data.path={data_dir}", "data.val_size=1024",
                          "model=lenet5", "data.batch_size=256"],
            "steps": 96 if quick else 480,
        },
    }  # fmt: skip


class SlicedBatches:
    """Batches sliced from tensors in a fresh random order every epoch (what a plain loop
    does). An iterable with a length, so Lightning can drive it like a DataLoader."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int) -> None:
        self.x, self.y, self.batch_size = x, y, batch_size
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.x), generator=self.generator).to(self.x.device)
        for i in range(len(self)):
            index = order[i * self.batch_size : (i + 1) * self.batch_size]
            yield self.x[index], self.y[index]


def _eval_batches(x: torch.Tensor, y: torch.Tensor, size: int = 512) -> list[tuple]:
    return [(x[i : i + size], y[i : i + size]) for i in range(0, len(x), size)]


def _setup(overrides: list[str], steps: int, device: str) -> tuple[Any, torch.nn.Module, Any, dict]:
    """fabricx's config, model, optimizer factory and data splits (on `device`)."""
    cfg = validate("train", [*COMMON, *overrides, f"trainer.max_steps={steps}"])
    pl.seed_everything(cfg.seed, verbose=False)
    data = build_datamodule(cfg)
    data.setup("fit")
    splits = {k: (x.to(device), y.to(device)) for k, (x, y) in data.splits.items()}
    model = build_model(cfg).to(device)
    optimizer = build({**cfg.optim, "_partial_": True}, cfg.target_prefixes, "optim")
    return cfg, model, optimizer, splits


def plain(overrides: list[str], steps: int, device: str, fabric: bool = False) -> dict[str, float]:
    """Forward, loss, backward, step; validation after each epoch; clock reads around it.

    With `fabric`, the same loop through Lightning Fabric (`setup`, `fabric.backward`): the
    design the README proposes for fabricx's step, measured beside the others."""
    cfg, model, make_optimizer, splits = _setup(overrides, steps, device)
    optimizer = make_optimizer(model.parameters())
    backward = torch.Tensor.backward
    if fabric:
        from lightning.fabric import Fabric

        runner = Fabric(accelerator="gpu" if device == "cuda" else "cpu", devices=1)
        model, optimizer = runner.setup(model, optimizer)
        backward = runner.backward
    train = SlicedBatches(*splits["train"], cfg.data["batch_size"], cfg.seed)
    val = _eval_batches(*splits["val"])
    gaps, epochs, done = [], [], 0
    while done < steps:
        epoch_start, last = time.perf_counter(), None
        model.train()
        for x, y in train:
            now = time.perf_counter()
            if last is not None and done > WARMUP:
                gaps.append(now - last)
            last = now
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            backward(loss)
            optimizer.step()
            done += 1
            if done == steps:
                break
        model.eval()
        with torch.no_grad():
            correct = sum(int((model(x).argmax(-1) == y).sum()) for x, y in val)
        _ = correct / len(splits["val"][1])
        epochs.append(time.perf_counter() - epoch_start)
    return {"step_ms": statistics.median(gaps) * 1000, "epoch_s": statistics.median(epochs[:-1])}


class UserModule(pl.LightningModule):
    """The LightningModule a user writes: loss and accuracy logged, the same optimizer."""

    def __init__(self, model: torch.nn.Module, make_optimizer: Any) -> None:
        super().__init__()
        self.model, self.make_optimizer = model, make_optimizer

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self.model(x), y)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        logits = self.model(x)
        self.log("val/loss", F.cross_entropy(logits, y))
        self.log("val/acc", (logits.argmax(-1) == y).float().mean(), prog_bar=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.make_optimizer(self.parameters())


def bare_trainer(overrides: list[str], steps: int, device: str, root: Path) -> dict[str, float]:
    """`pl.Trainer` with its defaults (progress bar, checkpointing, logger, model summary)."""
    cfg, model, make_optimizer, splits = _setup(overrides, steps, device)
    timer = FitTimer(warmup_steps=WARMUP)
    trainer = pl.Trainer(max_steps=steps, max_epochs=-1, callbacks=[timer], default_root_dir=root)
    train = SlicedBatches(*splits["train"], cfg.data["batch_size"], cfg.seed)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        # batch_size=None: the sliced batches as they are (a list alone would be read as
        # several validation loaders).
        val = torch.utils.data.DataLoader(_eval_batches(*splits["val"]), batch_size=None)
        trainer.fit(UserModule(model, make_optimizer), train, val)
    summary = timer.summary()
    return {"step_ms": summary["fit/step_ms"], "epoch_s": summary["fit/epoch_s"]}


def fabricx_train(overrides: list[str], steps: int, device: str, cwd: Path) -> dict[str, float]:
    """`fabricx train ...` in a subprocess; its metrics.json has the same timings (and
    `fit/compile_s` for a compiled run)."""
    accelerator = "gpu" if device == "cuda" else "cpu"
    args = ["train", *COMMON, *overrides, f"trainer.max_steps={steps}",
            f"trainer.accelerator={accelerator}"]  # fmt: skip
    wall, run_dir = run_fabricx(args, cwd)
    found = metrics(run_dir)
    return {"step_ms": found["fit/step_ms"], "epoch_s": found["fit/epoch_s"],
            "first_step_s": found["fit/first_step_s"], "wall_s": wall,
            "compile_s": found.get("fit/compile_s")}  # fmt: skip


def run_loop(loop: str, name: str, case: dict[str, Any], data_dir: Path, root: Path,
             device: str) -> dict[str, float]:  # fmt: skip
    """One loop over one case in a fresh process, working in `root`; its timings."""
    root.mkdir(parents=True, exist_ok=True)
    if loop == "fabricx":
        return fabricx_train(case["overrides"], case["steps"], device, root)
    if loop == "fabricx_compile":
        compiled = [*case["overrides"], *COMPILE]
        return fabricx_train(compiled, case["steps"], device, root)
    args = [loop, name, str(data_dir), str(root), device, str(case["steps"])]
    env = {**fabricx_env(), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.loop", *args], capture_output=True, text=True, env=env
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"benchmarks.loop {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def paired(runs: list[dict[str, float]], base: list[dict[str, float]], key: str) -> list[float]:
    """Each repeat's ratio of `key` to the same repeat's `base` run (run just before it)."""
    return [r[key] / b[key] for r, b in zip(runs, base, strict=True)]


def run(quick: bool, device: str = "cpu") -> dict[str, Any]:
    """Every case through the five loops, `repeats` times each, interleaved.

    Times are medians over the repeats. Ratios are medians of paired ratios: the five loops
    of one repeat run back to back, so a drift in the machine's speed between repeats (on
    the 2-core VM the plain LeNet-5 loop's median moved between 10 and 13.5 ms within an
    hour) cancels out of the ratio; the range of the paired ratios is reported beside it.
    """
    repeats = 2 if quick else 7
    rows, raw = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        write_data(tmp_path / "mnist")
        for name, case in cases(tmp_path / "mnist", quick).items():
            found: dict[str, list[dict[str, float]]] = {
                "plain": [], "fabric": [], "lightning": [], "fabricx": [], "fabricx_compile": []
            }  # fmt: skip
            for i in range(repeats):
                for loop, runs in found.items():
                    root = tmp_path / f"{name}-{loop}-{i}"
                    runs.append(run_loop(loop, name, case, tmp_path / "mnist", root, device))
            raw[name] = found
            for loop, runs in found.items():
                vs_plain = paired(runs, found["plain"], "step_ms")
                rows.append({
                    "case": name, "loop": loop, "device": device, "steps": case["steps"],
                    "step_ms": statistics.median(r["step_ms"] for r in runs),
                    "step_vs_plain": statistics.median(vs_plain),
                    "step_vs_plain_range": f"{min(vs_plain):.2f}-{max(vs_plain):.2f}",
                    "step_vs_lightning": statistics.median(paired(runs, found["lightning"], "step_ms")),
                    "epoch_s": statistics.median(r["epoch_s"] for r in runs),
                    "epoch_vs_plain": statistics.median(paired(runs, found["plain"], "epoch_s")),
                    "first_step_s": statistics.median(r["first_step_s"] for r in runs) if loop.startswith("fabricx") else None,
                    "compile_s": statistics.median(r["compile_s"] for r in runs) if loop == "fabricx_compile" else None,
                })  # fmt: skip
    return {"rows": rows, "repeats": raw, "torch_threads": torch.get_num_threads()}


def main(argv: list[str]) -> None:
    """`LOOP CASE DATA_DIR ROOT DEVICE STEPS`: one run; its timings as JSON on stdout."""
    loop, name, data_dir, root, device, steps = argv
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    case = cases(Path(data_dir), quick=True)[name]
    args = (case["overrides"], int(steps), device)
    if loop == "lightning":
        found = bare_trainer(*args, Path(root))
    else:
        found = plain(*args, fabric=loop == "fabric")
    print(json.dumps(found))


if __name__ == "__main__":
    main(sys.argv[1:])
