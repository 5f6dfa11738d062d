"""Runners that execute an exported model on torch tensors, one class per runtime."""

from __future__ import annotations

from pathlib import Path

import torch

from fabricx.errors import ArtifactError, FabricxError


class OrtRunner:
    """An ONNX Runtime session called like the eager model: runner(**inputs) -> its output
    (a tensor, or a tuple of tensors for a graph with several outputs).

    Args:
        path: the .onnx file (its external-data file, if any, beside it).
        providers: ONNX Runtime execution providers; CPU by default.

    Raises:
        ArtifactError: ONNX Runtime cannot load the file (missing, truncated, not ONNX).
    """

    def __init__(self, path: Path, providers: list[str] | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3  # warnings about unused initializers are noise here
        try:
            self.session = ort.InferenceSession(
                str(path), options, providers=providers or ["CPUExecutionProvider"]
            )
        except Exception as err:  # onnxruntime raises its own types (Fail, InvalidProtobuf)
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ArtifactError(
                f"ONNX Runtime cannot load {path} ({reason}); export it again: fabricx export "
                "run=<dir> export=[...]."
            ) from err
        self.input_names = [i.name for i in self.session.get_inputs()]

    def __call__(self, **inputs: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        missing = set(self.input_names) - set(inputs)
        if missing:
            raise FabricxError(
                f"the ONNX model needs inputs {sorted(missing)} but the task gave {sorted(inputs)};"
                " the task's split_batch and the exported graph disagree: re-export the model."
            )
        feed = {name: inputs[name].detach().cpu().numpy() for name in self.input_names}
        outputs = [torch.from_numpy(out) for out in self.session.run(None, feed)]
        return outputs[0] if len(outputs) == 1 else tuple(outputs)
