"""ONNX export, the ONNX Runtime runner and the parity/metric checks, on real toy models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from fabricx.data.digits import DigitsDataModule  # noqa: E402
from fabricx.errors import FabricxError  # noqa: E402
from fabricx.export.onnx import export_onnx  # noqa: E402
from fabricx.export.parity import check_parity, parity_cases, score  # noqa: E402
from fabricx.export.runtimes import OrtRunner  # noqa: E402
from fabricx.models.mlp import MLP  # noqa: E402
from fabricx.tasks.classification import ClassificationTask  # noqa: E402

BATCH_SIZES = [1, 7, 64]
ATOL = RTOL = 1e-4


class MaskedLinear(nn.Module):
    """Two named inputs: the exported graph must keep both names and both batch dims."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.proj(x * mask) + mask.sum(dim=1, keepdim=True)


class Raises(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("this model cannot run")


class DataDependent(nn.Module):
    """Python control flow on a tensor's value: torch.export cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return self.proj(x)
        return -self.proj(x)


def staging_dirs(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".export-"))


def assert_symbolic_batch(model_path: Path, input_names: list[str]) -> None:
    proto = onnx.load(str(model_path), load_external_data=False)
    assert [i.name for i in proto.graph.input] == input_names
    assert [o.name for o in proto.graph.output] == ["logits"]
    for value in [*proto.graph.input, *proto.graph.output]:
        batch = value.type.tensor_type.shape.dim[0]
        assert batch.dim_param, f"{value.name}: batch dim is fixed ({batch.dim_value})"
        assert not batch.HasField("dim_value")


def eager_runner(model: nn.Module) -> Any:
    model.eval()
    return lambda **inputs: model(**inputs)


# --- fixtures: each model is exported once per module ---------------------------------------


@pytest.fixture(scope="module")
def digits_pool() -> dict[str, torch.Tensor]:
    """64 real test images, gathered the way the verify stage gathers them."""
    data = DigitsDataModule(eval_batch_size=16)
    data.setup("test")
    # Fixed-shape data: parity_cases concatenates the loader's batches, then slices 64 rows.
    (pool,) = parity_cases(data.test_dataloader(), ClassificationTask.split_batch, [64])
    return pool


@pytest.fixture(scope="module")
def mlp_export(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    torch.manual_seed(0)
    model = MLP(in_features=64, num_classes=10, hidden_sizes=[32, 16], dropout=0.5)
    model.train()  # export must switch dropout off itself
    path = tmp_path_factory.mktemp("mlp") / "export" / "model.onnx"
    written = export_onnx(model, {"x": torch.rand(4, 64)}, path, output_names=["logits"])
    return {"model": model, "path": path, "written": written}


@pytest.fixture(scope="module")
def masked_export(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    torch.manual_seed(0)
    model = MaskedLinear()
    path = tmp_path_factory.mktemp("masked") / "model.onnx"
    example = {"x": torch.randn(3, 8), "mask": torch.ones(3, 8)}
    written = export_onnx(model, example, path, output_names=["logits"])
    return {"model": model, "path": path, "written": written}


# --- export_onnx ----------------------------------------------------------------------------


def test_mlp_export_is_valid_with_symbolic_batch(mlp_export: dict[str, Any]) -> None:
    path: Path = mlp_export["path"]
    assert mlp_export["written"] == [path]
    onnx.checker.check_model(str(path), full_check=True)
    assert_symbolic_batch(path, ["x"])
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.onnx"]
    assert staging_dirs(path.parent) == []
    assert mlp_export["model"].training  # the caller's model is left as it was


def test_mlp_onnx_matches_eager(
    mlp_export: dict[str, Any], digits_pool: dict[str, torch.Tensor]
) -> None:
    runner = OrtRunner(mlp_export["path"])
    assert runner.input_names == ["x"]
    results = check_parity(
        eager_runner(mlp_export["model"]), runner, digits_pool, BATCH_SIZES, ATOL, RTOL
    )
    assert [r.batch_size for r in results] == BATCH_SIZES
    for result in results:
        assert result.passed, result
        assert result.max_abs_diff < 1e-4, result
        keys = {"batch_size", "max_abs_diff", "max_rel_diff", "passed", "shape", "outputs"}
        assert set(result.as_dict()) == keys
        assert result.shape == [result.batch_size, 64]
    assert runner(x=digits_pool["x"][:7]).shape == (7, 10)


def test_two_input_export_matches_eager(masked_export: dict[str, Any]) -> None:
    path: Path = masked_export["path"]
    onnx.checker.check_model(str(path), full_check=True)
    assert_symbolic_batch(path, ["x", "mask"])
    assert staging_dirs(path.parent) == []

    generator = torch.Generator().manual_seed(1)
    pool = {
        "x": torch.randn(64, 8, generator=generator),
        "mask": (torch.rand(64, 8, generator=generator) > 0.3).float(),
    }
    runner = OrtRunner(path)
    assert runner.input_names == ["x", "mask"]
    results = check_parity(
        eager_runner(masked_export["model"]), runner, pool, BATCH_SIZES, ATOL, RTOL
    )
    assert [r.batch_size for r in results] == BATCH_SIZES
    assert all(r.passed and r.max_abs_diff < 1e-4 for r in results), results


def test_external_data_beside_model(tmp_path: Path, digits_pool: dict[str, torch.Tensor]) -> None:
    torch.manual_seed(0)
    model = MLP(in_features=64, num_classes=10, hidden_sizes=[32])
    path = tmp_path / "model.onnx"
    written = export_onnx(
        model, {"x": torch.rand(2, 64)}, path, external_data=True, output_names=["logits"]
    )

    data_files = [p for p in written if p.name.endswith(".data")]
    assert path in written and len(data_files) == 1
    assert data_files[0].parent == tmp_path and data_files[0].stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)
    proto = onnx.load(str(path), load_external_data=False)
    locations = {
        e.value
        for init in proto.graph.initializer
        for e in init.external_data
        if e.key == "location"
    }
    assert locations == {data_files[0].name}  # relative: found beside the model
    onnx.checker.check_model(str(path), full_check=True)

    results = check_parity(
        eager_runner(model), OrtRunner(path), digits_pool, BATCH_SIZES, ATOL, RTOL
    )
    assert all(r.passed for r in results), results


@pytest.mark.parametrize("model_cls", [Raises, DataDependent])
def test_failed_export_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_cls: type[nn.Module]
) -> None:
    monkeypatch.chdir(tmp_path)  # an exporter report written to the cwd would show up here
    out = tmp_path / "export"
    path = out / "model.onnx"
    with pytest.raises(Exception):  # noqa: B017 - the exporter's own error type is private
        export_onnx(model_cls(), {"x": torch.randn(4, 8)}, path)
    assert not path.exists()
    assert list(out.iterdir()) == []  # no model.onnx, no .export-* staging directory
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_failed_export_keeps_previous_model(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"previous export")
    with pytest.raises(Exception):  # noqa: B017
        export_onnx(Raises(), {"x": torch.randn(4, 8)}, path)
    assert path.read_bytes() == b"previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


# --- parity, score, runner ------------------------------------------------------------------


def test_check_parity_catches_a_wrong_runner(
    mlp_export: dict[str, Any], digits_pool: dict[str, torch.Tensor]
) -> None:
    runner = OrtRunner(mlp_export["path"])
    wrong = lambda **inputs: runner(**inputs) + 1.0  # noqa: E731
    results = check_parity(
        eager_runner(mlp_export["model"]), wrong, digits_pool, BATCH_SIZES, ATOL, RTOL
    )
    assert len(results) == len(BATCH_SIZES)
    for result in results:
        assert not result.passed
        assert result.max_abs_diff == pytest.approx(1.0, abs=1e-3)


def test_check_parity_clamps_batch_sizes_to_pool() -> None:
    pool = {"x": torch.randn(5, 3)}
    identity = lambda x: x  # noqa: E731
    results = check_parity(identity, identity, pool, [1, 7, 64], ATOL, RTOL)
    assert [r.batch_size for r in results] == [1, 5]
    assert all(r.passed and r.max_abs_diff == 0.0 for r in results)


def test_score_is_accuracy_over_all_batches() -> None:
    from torchmetrics.classification import MulticlassAccuracy

    logits = torch.tensor(
        [
            [5.0, 0.0, 0.0],  # 0
            [0.0, 5.0, 0.0],  # 1
            [0.0, 0.0, 5.0],  # 2
            [5.0, 0.0, 0.0],  # 0
            [0.0, 5.0, 0.0],  # 1
            [0.0, 0.0, 5.0],  # 2
            [0.0, 5.0, 0.0],  # 1
        ]
    )
    targets = torch.tensor([0, 1, 1, 0, 2, 2, 0])
    hand_count = 4 / 7  # rows 0, 1, 3, 5 are right
    batches = DataLoader(TensorDataset(logits, targets), batch_size=3)  # 3 + 3 + 1
    metric = MulticlassAccuracy(num_classes=3, average="micro")
    identity = lambda x: x  # noqa: E731

    accuracy = score(identity, batches, ClassificationTask.split_batch, metric)
    assert accuracy == pytest.approx(hand_count)
    # The metric is reset first: a second call does not accumulate the first one's samples.
    assert score(identity, batches, ClassificationTask.split_batch, metric) == pytest.approx(
        hand_count
    )
    always_zero = lambda x: torch.zeros_like(x).index_fill(1, torch.tensor([0]), 1.0)  # noqa: E731
    assert score(always_zero, batches, ClassificationTask.split_batch, metric) == pytest.approx(
        3 / 7  # three targets are class 0
    )


def test_score_onnx_equals_eager(
    mlp_export: dict[str, Any], digits_pool: dict[str, torch.Tensor]
) -> None:
    batches = DataLoader(TensorDataset(digits_pool["x"], torch.arange(64) % 10), batch_size=16)
    task_metric = ClassificationTask(MLP(64, 10, []), torch.optim.SGD).build_metric()
    args = (batches, ClassificationTask.split_batch, task_metric)
    eager = score(eager_runner(mlp_export["model"]), *args)
    assert score(OrtRunner(mlp_export["path"]), *args) == pytest.approx(eager)


def test_ort_runner_names_missing_input(masked_export: dict[str, Any]) -> None:
    runner = OrtRunner(masked_export["path"])
    with pytest.raises(FabricxError, match=r"needs inputs \[.mask.\]"):
        runner(x=torch.randn(2, 8))
    with pytest.raises(FabricxError, match="mask"):
        runner(x=torch.randn(2, 8), masks=torch.ones(2, 8))  # a misspelt name


def test_parity_cases_for_padded_text_cover_a_short_and_a_long_length() -> None:
    from fabricx.export.parity import parity_cases

    def batch(rows: int, length: int) -> dict[str, torch.Tensor]:
        ids = torch.ones(rows, length, dtype=torch.long)
        return {"input_ids": ids, "attention_mask": ids, "labels": ids}

    def split(b: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        return {"input_ids": b["input_ids"], "attention_mask": b["attention_mask"]}, b["labels"]

    # Two batches of two lengths: as many distinct shapes as inputs, yet text.
    cases = parity_cases([batch(16, 23), batch(16, 41)], split, [1, 16])
    assert [tuple(c["input_ids"].shape) for c in cases] == [(1, 23), (16, 23), (1, 41), (16, 41)]
    fixed = parity_cases([batch(16, 8), batch(16, 8)], split, [1, 32])
    assert [tuple(c["input_ids"].shape) for c in fixed] == [(1, 8), (32, 8)]
