"""What fabricx reads from a task: any LightningModule works, and these optional members
tell fabricx more (docs/user-code.md has the whole contract).

- `metric: str` and `metric_mode: "max" | "min"`, class attributes: "the metric". The task
  logs it as `val/<metric>` and `test/<metric>`; val picks the best checkpoint, test is the
  run's headline. Without them: the loss, lower is better (or `metric.name`/`metric.mode`).
- `logged_metrics: tuple[str, ...]`, a class attribute: the names logged per split every
  epoch, so monitors can be checked before any work.
- `split_batch(batch) -> (inputs: dict[str, Tensor], target)`: the model's inputs by name
  and the target of a batch. Export, verify and bench then use real test batches, and the
  exported graph's inputs get these names.
- `build_metric(sync_on_compute: bool) -> torchmetrics.Metric`: "the metric" as a fresh
  metric object; with `split_batch`, verify recomputes it through each runtime on the whole
  test split. Without them verify compares outputs only, and says so.
- `example_input_array` (Lightning's own): the export's input when there is no
  `split_batch`: a tensor, a tuple of tensors (the forward's positional arguments) or a dict
  of tensors (its keyword arguments). Its first axis is the batch.
- `export_dynamic_axes: dict[int, str]`: input axes besides the batch that vary (text:
  `{0: "batch", 1: "sequence"}`); `export_output_names`: names for the graph's outputs.
- `export_metadata() -> dict[str, str]`: strings stored in every exported ONNX file's
  metadata (the labels; a CRF's transitions, which decode the graph's scores).
- `write_test_predictions(out_dir, datamodule) -> Path | None`: called on rank 0 after the
  test split is scored, to write the predictions in the field's own format into `out_dir`
  (a token tagger: test_predictions.conll, conlleval's input); returns the file written.

fabricx exports the task's own `forward`, in eval mode, in fp32 on the CPU.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import torch
from torch import nn

from fabricx.errors import StageError
from fabricx.internals import uncompile


def has_batches(task: Any) -> bool:
    """Whether the task says how a batch splits into model inputs and target."""
    return callable(getattr(task, "split_batch", None))


def can_score(task: Any) -> bool:
    """Whether verify can recompute the task's metric through a runtime."""
    return has_batches(task) and callable(getattr(task, "build_metric", None))


def scored_metric(task: Any, metric: Any) -> tuple[str, str]:
    """(name, "max" or "min") of what the task's `build_metric` computes: the task's own
    `metric` and `metric_mode`, whatever the run's `metric` config monitors (say the loss);
    the run's for a task without them."""
    name, mode = getattr(task, "metric", None), getattr(task, "metric_mode", None)
    if isinstance(name, str) and mode in ("max", "min"):
        return name, mode
    return metric.name, metric.mode


def eval_copy(task: nn.Module, device: str | torch.device = "cpu") -> nn.Module:
    """A copy of the task in eval mode, in fp32 on `device`, callable with named inputs.

    Detached from its trainer first: a deep copy would otherwise copy the trainer, its
    loaders and its loggers too. Never compiled: a run with `compile.enabled` exports,
    verifies and times the original module's eager forward.
    """
    trainer = _attached_trainer(task)
    if trainer is not None:
        task.trainer = None
    try:
        copied = copy.deepcopy(task)
    finally:
        if trainer is not None:
            task.trainer = trainer
    uncompile(copied)  # torch's deep copy drops the compiled call; a user's copy may not
    return callable_by_name(copied.to(device, torch.float32).eval())


def _attached_trainer(task: nn.Module) -> Any:
    """The Trainer a LightningModule is attached to; None when it has none, or is another
    kind of module (Lightning's `trainer` raises when there is none)."""
    try:
        trainer = getattr(task, "trainer", None)
    except RuntimeError:  # a LightningModule attached to no Trainer
        return None
    if trainer is None:
        return None
    import lightning.pytorch as pl

    return trainer if isinstance(trainer, pl.Trainer) else None


def example_inputs(task: Any, datamodule: Any) -> dict[str, torch.Tensor]:
    """The inputs an export traces and a benchmark times: the first test batch's (by
    `split_batch`), else `example_input_array` named by the forward's parameters.

    Raises:
        StageError: the task has neither; the message says which to add.
    """
    if has_batches(task):
        datamodule.setup("test")
        inputs, _ = task.split_batch(next(iter(datamodule.test_dataloader())))
        return inputs
    sample = getattr(task, "example_input_array", None)
    if sample is None:
        raise StageError(
            f"{type(task).__qualname__} gives fabricx no input to export: set "
            "`self.example_input_array` in its __init__ (Lightning's convention: a tensor, a "
            "tuple of tensors, or a dict of them, batch first), or define split_batch(batch) "
            "-> (inputs, target); or run without export: export=none."
        )
    return named_inputs(task, sample)


def named_inputs(task: Any, sample: Any) -> dict[str, torch.Tensor]:
    """`example_input_array` as the forward's keyword arguments."""
    if isinstance(sample, dict):
        return dict(sample)
    values = list(sample) if isinstance(sample, (tuple, list)) else [sample]
    names = _positional_names(task)
    if len(names) < len(values):
        names = [*names, *(f"input_{i}" for i in range(len(names), len(values)))]
    return dict(zip(names, values, strict=False))


def _positional_names(task: Any) -> list[str]:
    try:
        params = inspect.signature(task.forward).parameters.values()
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD,)
    return [p.name for p in params if p.kind in kinds]


class _Positional(nn.Module):
    """Calls a module whose forward takes its inputs positionally (`forward(self, *x)`) with
    the named inputs in order, so every runtime can call it by name."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, **inputs: torch.Tensor) -> Any:
        return self.module(*inputs.values())


def callable_by_name(module: nn.Module) -> nn.Module:
    """`module`, or a wrapper that passes named inputs positionally when its forward takes
    no keyword arguments (only *args)."""
    try:
        params = inspect.signature(module.forward).parameters.values()
    except (TypeError, ValueError):
        return module
    kinds = {p.kind for p in params}
    named = (
        inspect.Parameter.POSITIONAL_OR_KEYWORD in kinds or inspect.Parameter.VAR_KEYWORD in kinds
    )
    return module if named or inspect.Parameter.KEYWORD_ONLY in kinds else _Positional(module)


def dynamic_axes(task: Any) -> dict[int, str] | None:
    """The inputs' dynamic axes; None: the batch axis alone."""
    return getattr(task, "export_dynamic_axes", None)


def export_metadata(task: Any) -> dict[str, str]:
    """The task's `export_metadata()`: strings every exported ONNX file carries (a token
    tagger's labels and CRF transitions); none when the task defines no such method."""
    method = getattr(task, "export_metadata", None)
    return dict(method()) if callable(method) else {}


def output_names(task: Any) -> list[str] | None:
    names = getattr(task, "export_output_names", None)
    return list(names) if names else None
