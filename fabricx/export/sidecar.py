"""`<file>.json` beside an exported file: how it was made (a TensorRT engine's GPU and
TensorRT version; an ONNX file's INT8 method, model family, fused ops). No torch here: the
TensorRT module, which must import without torch, uses it too."""

from __future__ import annotations

from pathlib import Path


def sidecar_path(path: Path) -> Path:
    """`model.int8.onnx` -> `model.int8.onnx.json`."""
    return path.with_name(path.name + ".json")
