"""Runners that execute an exported model on torch tensors, one class per runtime."""

from __future__ import annotations

from pathlib import Path

import torch

from fabricx.errors import FabricxError


class OrtRunner:
    """An ONNX Runtime session called like the eager model: runner(**inputs) -> its output
    (a tensor, or a tuple of tensors for a graph with several outputs).

    Args:
        path: the .onnx file (its external-data file, if any, beside it).
        providers: ONNX Runtime execution providers; CPU by default.
    """

    def __init__(self, path: Path, providers: list[str] | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3  # warnings about unused initializers are noise here
        self.session = ort.InferenceSession(
            str(path), options, providers=providers or ["CPUExecutionProvider"]
        )
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
