"""An image dataset end to end through the CLI: LeNet-5 on idx files the test writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cli import read_json, run_cli
from tests.helpers.image_files import write_mnist

pytestmark = pytest.mark.slow


def test_lenet5_on_mnist_idx_files_trains_exports_and_verifies(tmp_path: Path):
    data = write_mnist(tmp_path / "mnist", n_train=200, n_test=60, size=28)  # LeNet-5's 28x28
    result = run_cli(
        "train", "data=mnist", f"data.path={data}", "data.val_size=40", "data.batch_size=32",
        "model=lenet5", "trainer.max_epochs=2", "logger=csv", "export=[onnx,onnx_int8]",
        "bench.batch_sizes=[1,8]", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    (run_dir,) = result.run_dirs()
    record = read_json(run_dir / "metrics.json")
    assert record["stages"] == {
        "fit": "ok",
        "test": "ok",
        "export": "ok",
        "verify": "ok",
        "bench": "ok",
    }
    verify = read_json(run_dir / "export" / "verify.json")
    assert verify["artifacts"]["onnx"]["parity"][0]["shape"] == [1, 1, 28, 28]
    assert verify["passed"]
    int8 = verify["artifacts"]["onnx_int8"]
    assert (int8["method"], int8["family"]) == ("static", "conv")  # a conv net: Q/DQ
