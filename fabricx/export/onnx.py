"""Export a model to ONNX with torch.onnx's dynamo exporter, checked and written atomically."""

from __future__ import annotations

import copy
import logging
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fabricx import atomic, internals

# Where each export target's file lives in <run>/export/.
EXPORT_FILES = {
    "onnx": "model.onnx",
    # model.onnx through ONNX Runtime's transformer optimizer (export.onnx.optimize); it
    # holds ONNX Runtime contrib ops, so it is not a TensorRT source.
    "onnx_optimized": "model.optimized.onnx",
    "onnx_fp16": "model.fp16.onnx",
    "onnx_int8": "model.int8.onnx",
    "tensorrt": "model.plan",
}
# The precision each ONNX target holds; the runtimes' names in bench use it too.
ONNX_PRECISIONS = {"onnx": "fp32", "onnx_fp16": "fp16", "onnx_int8": "int8"}


def export_onnx(
    model: nn.Module,
    example_inputs: dict[str, torch.Tensor],
    path: Path,
    opset: int = 18,
    dynamic_batch: bool = True,
    external_data: bool = False,
    dynamic_axes: dict[int, str] | None = None,
    output_names: list[str] | None = None,
    metadata: dict[str, str] | None = None,
) -> list[Path]:
    """Export `model` (called as model(**example_inputs)) to `path`; return the files written.

    The model is copied to CPU fp32 in eval mode (dropout off, batch-norm frozen), exported
    with dynamic axes on every input (`dynamic_axes`, e.g. {0: "batch", 1: "sequence"} for
    text; the batch axis alone by default), and checked with onnx.checker's full check.
    Files appear under their final names only once all of them are complete.

    Args:
        output_names: the graph's output names; None: the exporter's own.
        metadata: key-value strings stored in the file (ONNX Runtime reads them back with
            session.get_modelmeta().custom_metadata_map): a task's `export_metadata()`.
    """
    import onnx

    # torch resets its loggers' levels at import, so this cannot live in the logging config:
    # without torchvision the exporter warns once per torchvision op it cannot register.
    logging.getLogger(internals.TORCH_ONNX_REGISTRATION_LOGGER).setLevel(logging.ERROR)
    model = copy.deepcopy(model).to("cpu", torch.float32).eval()
    inputs = {name: t.detach().to("cpu") for name, t in example_inputs.items()}
    axes = dynamic_axes or {0: "batch"}
    dims = {axis: torch.export.Dim(label) for axis, label in axes.items()}
    per_input = {name: {a: d for a, d in dims.items() if a < t.dim()} for name, t in inputs.items()}
    dynamic_shapes = {"args": tuple(per_input.values())} if dynamic_batch else None
    model = _ByPosition(model, list(inputs))
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=path.parent))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's deprecation chatter, not ours
            torch.onnx.export(
                model,
                args=tuple(inputs.values()),
                f=str(staging / path.name),
                dynamo=True,
                opset_version=opset,
                input_names=list(inputs),
                output_names=output_names,
                dynamic_shapes=dynamic_shapes,
                external_data=external_data,
                verbose=False,
            )
        if dynamic_shapes is not None:
            labels = {name: {a: axes[a] for a in dims} for name, dims in per_input.items()}
            _rederive_shapes(staging / path.name, labels)
        if metadata:
            add_metadata(staging / path.name, metadata)
        onnx.checker.check_model(str(staging / path.name), full_check=True)
        stale = path.parent / f"{path.name}.data"
        if stale.exists() and not (staging / stale.name).exists():
            stale.unlink()  # left by an earlier export with external data
        # The graph goes last: a model.onnx only ever appears beside its complete weights.
        return atomic.publish_beside(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class _ByPosition(nn.Module):
    """Takes the named inputs positionally and passes them on by name.

    torch.export traces `forward(*args)` with one dynamic-shape spec per position, whatever
    the wrapped forward's own signature (`x`, `input_ids, attention_mask`, `**inputs`).
    """

    def __init__(self, module: nn.Module, names: list[str]) -> None:
        super().__init__()
        self.module = module
        self.names = names

    def forward(self, *args: torch.Tensor) -> Any:
        return self.module(**dict(zip(self.names, args, strict=True)))


def add_metadata(path: Path, metadata: dict[str, str]) -> None:
    """Set `metadata` in the ONNX file's metadata_props (other keys are kept)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    kept = {p.key: p.value for p in model.metadata_props if p.key not in metadata}
    onnx.helper.set_model_props(model, {**kept, **metadata})
    onnx.save(model, str(path))


def _rederive_shapes(path: Path, dynamic_axes: dict[str, dict[int, str]]) -> None:
    """Declare the dynamic input axes, and infer every other shape from them.

    The exporter records the shapes it saw while tracing, and some ops' tracing rules fix
    a dynamic size to the example's (nn.LSTM fixes the sequence length; the exporter may
    then even declare that input axis fixed), although the ONNX ops themselves take any
    size. The inputs get the axes the caller asked for, and shapes inferred from them say
    what the graph really does; the verify stage then runs it at other sizes. Weights kept
    as external data are left where they are.
    """
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for graph_input in model.graph.input:
        dims = graph_input.type.tensor_type.shape.dim
        for axis, label in dynamic_axes.get(graph_input.name, {}).items():
            if axis < len(dims):
                dims[axis].ClearField("dim_value")
                dims[axis].dim_param = label
    del model.graph.value_info[:]
    for output in model.graph.output:
        output.type.tensor_type.ClearField("shape")
    model = onnx.shape_inference.infer_shapes(model, data_prop=True)
    onnx.save(model, str(path))
