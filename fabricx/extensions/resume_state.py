"""The callbacks that make a resume exact: a current last.ckpt, RNG states, loader position.

Lightning's own checkpoint already holds the weights, the optimizer and scheduler states, the
loop counters and the train loader's position (when the loader has `state_dict`). Missing:
- a checkpoint taken often enough: ModelCheckpoint(save_last=True) rewrites last.ckpt only
  when it also saves a top-k checkpoint, so after an epoch that did not improve, last.ckpt
  is stale. `LastCheckpoint` writes it every N steps and at the end of every epoch.
- the random number generators: dropout draws from torch's global RNG, and a resumed run
  must draw what the uninterrupted run would have drawn. `RngStates` saves torch's (CPU
  and CUDA), numpy's and Python's states in every checkpoint and restores them.
- the loader position is saved but, in Lightning 2.6, dropped on load whenever
  `configure_optimizers` reads `trainer.estimated_stepping_batches`, as fabricx's schedules
  do (Lightning issue #20550). `LoaderPosition` loads it, late but before the first batch.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, Checkpoint
from lightning.pytorch.utilities import CombinedLoader, rank_zero_warn

from fabricx import internals


class LastCheckpoint(Checkpoint):
    """Keep `dirpath/last.ckpt` current: every `every_n_train_steps` optimizer steps, and at
    the end of every training epoch (after validation, so it holds the epoch's best score).

    The file is what `resume=` continues from. Writes go through the trainer's checkpoint
    plugin (fabricx's writes a temporary file, then renames it), so a kill mid-write leaves
    the previous last.ckpt whole.

    A `Checkpoint`, so Lightning runs it after the other callbacks at each hook: the state it
    saves includes what early stopping and the best-checkpoint callback did that step.

    Args:
        dirpath: the run's checkpoints/ directory.
        every_n_train_steps: also save every N optimizer steps mid-epoch; 0 saves at epoch
            ends only. The last batch of an epoch is skipped: the epoch-end save follows.

    Raises:
        ValueError: every_n_train_steps < 0.

    Example::

        trainer = pl.Trainer(callbacks=[LastCheckpoint(run_dir / "checkpoints", 100)])
    """

    FILE_NAME = "last.ckpt"

    def __init__(self, dirpath: Path, every_n_train_steps: int = 0) -> None:
        if every_n_train_steps < 0:
            raise ValueError(f"every_n_train_steps={every_n_train_steps} must be >= 0.")
        self.path = Path(dirpath) / self.FILE_NAME
        self.every_n_train_steps = every_n_train_steps
        self._saved_at_step = -1

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._saved_at_step = trainer.global_step  # a resumed run starts from a saved step

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        n, step = self.every_n_train_steps, trainer.global_step
        # With gradient accumulation several batches share a step; the first one after the
        # optimizer step saves, so a checkpoint never holds half an accumulation.
        if n < 1 or step % n != 0 or step == self._saved_at_step:
            return
        if trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            return  # on_train_epoch_end saves a moment later, with the epoch closed
        self._save(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._save(trainer)

    def _save(self, trainer: pl.Trainer) -> None:
        if trainer.sanity_checking:
            return
        # Every rank calls it; the strategy picks writers. A full checkpoint (optimizer,
        # loops, callbacks): what a resume needs; saying so spares Lightning's per-save notice.
        trainer.save_checkpoint(self.path, weights_only=False)
        self._saved_at_step = trainer.global_step


class RngStates(Callback):
    """Save the RNG states in every checkpoint; restore them when a resumed fit starts.

    Restored in `on_train_start`, the last hook before the first batch: building the model,
    the sanity check and the loaders' set-up all run between loading the checkpoint and
    training, and must not shift what the first resumed step draws. Under DDP the states of
    rank 0 (the one that writes checkpoints) are restored on every rank; fabricx seeds every
    rank alike, so they hold the same states.
    """

    def __init__(self) -> None:
        self._to_restore: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return collect_rng_states()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._to_restore = state_dict

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._to_restore is not None:
            set_rng_states(self._to_restore)
            self._to_restore = None


class LoaderPosition(Callback):
    """Put a resumed run's train loader where the checkpoint left it, before the first batch.

    Two gaps in Lightning 2.6, both closed at `on_train_start` of a resumed fit:
    - Mid-epoch: reading `trainer.estimated_stepping_batches` (for the LR schedule's length)
      builds the train loader before the checkpoint is loaded, and the fit loop then never
      loads the saved loader states into it: the resumed epoch would start over from its
      first batch (Lightning issue #20550). This loads the pending states and makes the
      loader's iterator again from them; it does nothing when Lightning loaded them itself.
    - After a whole epoch: Lightning does not load loader states then, and tells the new
      epoch's number to the loader's sampler (`set_epoch`). A loader without a sampler that
      counts its own epochs (`TensorBatches`) is told the epoch here instead.
    """

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        fit_loop = trainer.fit_loop
        iterables = trainer.train_dataloader
        if not fit_loop.is_resuming or iterables is None:
            return
        loaders = CombinedLoader(iterables).flattened  # each loader, as Lightning flattens them
        if _mid_epoch(trainer) and not all(_stateful(it) for it in loaders):
            _skip_rest_of_epoch(trainer, pl_module)
            return
        epoch = fit_loop.epoch_progress.current.processed  # the epoch training goes on with
        for iterable in loaders:
            if not hasattr(iterable, "sampler") and callable(getattr(iterable, "set_epoch", None)):
                iterable.set_epoch(epoch)
        internals.reload_train_loader_states(fit_loop)


def _mid_epoch(trainer: pl.Trainer) -> bool:
    """Whether the checkpoint a fit resumes from was saved mid-epoch (Lightning's own test)."""
    batches = trainer.num_training_batches
    if batches == float("inf"):
        return False
    steps_per_epoch = math.ceil(batches / trainer.accumulate_grad_batches)
    return trainer.global_step % steps_per_epoch != 0


def _stateful(loader: Any) -> bool:
    """Whether a loader can save and restore its position (a StatefulDataLoader can)."""
    return callable(getattr(loader, "state_dict", None)) and callable(
        getattr(loader, "load_state_dict", None)
    )


def _skip_rest_of_epoch(trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
    """Resume at the next epoch boundary: a loader that cannot restore its position would
    replay the epoch's first batches and never show the rest. Lightning's public way to end
    an epoch early is `on_train_batch_start` returning -1; the module's own hook is wrapped
    for that one call and then put back."""
    rank_zero_warn(
        f"resuming at step {trainer.global_step}, mid-epoch, but the train loader "
        f"({type(trainer.train_dataloader).__name__}) cannot restore its position: the rest "
        "of this epoch is skipped and training goes on at the next epoch, so the run is not "
        "the uninterrupted one. Return a torchdata StatefulDataLoader from train_dataloader "
        "for an exact resume."
    )
    own = pl_module.__dict__.get("on_train_batch_start")

    def end_epoch(batch: Any, batch_idx: int) -> int:
        if own is None:
            del pl_module.on_train_batch_start
        else:
            pl_module.on_train_batch_start = own
        return -1

    pl_module.on_train_batch_start = end_epoch


def collect_rng_states() -> dict[str, Any]:
    """torch (CPU and every CUDA device), numpy and Python RNG states, as tensors and plain
    containers, so the checkpoint still loads with `torch.load(weights_only=True)`."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
    }
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore what `collect_rng_states` returned."""
    torch.set_rng_state(states["torch"])
    n = states["numpy"]
    np.random.set_state(
        (n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
         n["cached_gaussian"])
    )  # fmt: skip
    p = states["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))
    cuda = states.get("cuda")
    if cuda is not None and torch.cuda.is_available():
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
        else:
            rank_zero_warn(
                f"The checkpoint holds CUDA RNG states of {len(cuda)} devices but "
                f"{torch.cuda.device_count()} are visible: CUDA RNG states are not restored, "
                "so random ops on the GPU (e.g. dropout) differ from the uninterrupted run."
            )
