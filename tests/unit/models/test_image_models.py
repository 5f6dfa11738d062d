"""Every image model: forward shape, a backward pass, and an ONNX export that matches eager."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fabricx.export.onnx import export_onnx
from fabricx.export.parity import check_parity
from fabricx.export.runtimes import OrtRunner
from fabricx.models.airbench import AirbenchNet
from fabricx.models.lenet import LeNet5
from fabricx.models.resnet import ResNet18

MODELS = {
    "lenet5": (lambda: LeNet5(10, 1), (1, 28, 28)),
    "resnet18": (lambda: ResNet18(10, 3, width=8), (3, 32, 32)),
    "airbench": (lambda: AirbenchNet(10, widths=(8, 16, 16), stem_width=4), (3, 32, 32)),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_forward_backward_and_onnx_parity(name: str, tmp_path: Path):
    build, shape = MODELS[name]
    torch.manual_seed(0)
    model = build()
    x = torch.randn(4, *shape)
    logits = model(x)
    assert logits.shape == (4, 10)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)

    model.eval()
    path = tmp_path / "model.onnx"
    export_onnx(model, {"x": x}, path)
    results = check_parity(
        model, OrtRunner(path), {"x": torch.randn(16, *shape)}, [1, 7, 16], 1e-4, 1e-3
    )
    assert all(r.passed for r in results), results


def test_resnet18_full_width_has_the_paper_parameter_count():
    params = sum(p.numel() for p in ResNet18(10).parameters())
    assert 11.1e6 < params < 11.3e6  # ~11.17M for the CIFAR variant
