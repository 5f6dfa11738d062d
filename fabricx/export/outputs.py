"""A forward's output as the runtimes see it: a flat list of tensors, in the order the ONNX
graph lists its outputs, and back to the task's own nesting (a tensor, or tuples, lists and
dicts of tensors)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from fabricx.errors import StageError


def flatten(outputs: Any) -> list[torch.Tensor]:
    """The tensors of a forward's output in the order the ONNX graph lists its outputs."""
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    if isinstance(outputs, dict):
        return [t for v in outputs.values() for t in flatten(v)]
    if isinstance(outputs, (tuple, list)):
        return [t for v in outputs for t in flatten(v)]
    raise StageError(
        f"the task's forward returned a {type(outputs).__name__}; fabricx exports and checks "
        "tensors, or tuples, lists and dicts of tensors."
    )


def structure(outputs: Any) -> Any:
    """A description of the output's nesting, to rebuild it from flat runtime outputs."""
    if isinstance(outputs, torch.Tensor):
        return None
    if isinstance(outputs, dict):
        return ("dict", list(outputs), [structure(v) for v in outputs.values()])
    kind = "tuple" if isinstance(outputs, tuple) else "list"
    return (kind, None, [structure(v) for v in outputs])


def rebuild(spec: Any, tensors: Iterable[torch.Tensor]) -> Any:
    """The output's nesting (from `structure`) filled with `tensors` in order."""
    items = iter(tensors)

    def fill(node: Any) -> Any:
        if node is None:
            return next(items)
        kind, keys, children = node
        values = [fill(c) for c in children]
        if kind == "dict":
            return dict(zip(keys, values, strict=True))
        return tuple(values) if kind == "tuple" else values

    return fill(spec)
