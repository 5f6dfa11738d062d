"""Checkpoints and run files: atomic writes, weights_only loading, and how verbs find them.

Real components at toy size on CPU: the Lightning fit trains the config's task and MLP on the
digits for three batches, with the checkpoint plugin `build_trainer` installs.
"""

from __future__ import annotations

import json
import os
import stat
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from fabricx.config.typed import plain
from fabricx.extensions.checkpoint_contents import CheckpointContents
from fabricx.extensions.checkpoint_io import AtomicCheckpointIO
from fabricx.runs.checkpoints import find_checkpoint, load_weights
from fabricx.runs.directory import write_json, write_text

PLAIN_SCALARS = (str, int, float, bool, type(None))


def leftovers(directory: Path) -> list[str]:
    """Temporary files an atomic write would leave behind (`.<name>.<random>.tmp`)."""
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The default umask of most systems, whatever the test runner was started with."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


# --- AtomicCheckpointIO ----------------------------------------------------------------------


def test_atomic_checkpoint_io_writes_loadable_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "last.ckpt"  # the parent is created
    checkpoint = {"state_dict": {"w": torch.arange(6.0)}, "epoch": 3}
    AtomicCheckpointIO().save_checkpoint(checkpoint, path)
    loaded = torch.load(path, weights_only=True)
    assert loaded["epoch"] == 3
    assert torch.equal(loaded["state_dict"]["w"], torch.arange(6.0))
    assert leftovers(path.parent) == []
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]


class _Interrupt:
    """Pickling it raises KeyboardInterrupt: a Ctrl-C (BaseException) arriving mid-save."""

    def __reduce__(self) -> Any:
        raise KeyboardInterrupt


def _generator() -> Iterator[int]:
    yield 1


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        pytest.param(lambda: None, Exception, id="lambda"),
        pytest.param(_generator(), Exception, id="generator"),
        pytest.param(_Interrupt(), KeyboardInterrupt, id="keyboard-interrupt"),
    ],
)
def test_failed_save_keeps_previous_checkpoint(
    tmp_path: Path, bad: Any, error: type[BaseException]
) -> None:
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"state_dict": {"w": torch.ones(3)}, "epoch": 1}, path)
    before = path.read_bytes()

    # A big tensor before the bad object, so the save is well under way when it fails.
    doomed = {"state_dict": {"w": torch.zeros(100_000)}, "epoch": 2, "bad": bad}
    with pytest.raises(error):
        io.save_checkpoint(doomed, path)

    assert path.read_bytes() == before
    assert torch.load(path, weights_only=True)["epoch"] == 1
    assert leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def test_atomic_checkpoint_io_file_mode_follows_umask(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"epoch": 0}, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


# --- a real tiny fit -------------------------------------------------------------------------


def _assert_plain(node: Any, where: str = "config") -> None:
    """Only dicts with str keys, lists and scalars: nothing omegaconf (or anything else)."""
    if isinstance(node, dict):
        assert type(node) is dict, f"{where} is {type(node).__name__}, not dict"
        for key, value in node.items():
            assert isinstance(key, str), f"{where} has a non-str key {key!r}"
            _assert_plain(value, f"{where}.{key}")
    elif isinstance(node, list):
        assert type(node) is list, f"{where} is {type(node).__name__}, not list"
        for i, value in enumerate(node):
            _assert_plain(value, f"{where}[{i}]")
    else:
        assert type(node) in PLAIN_SCALARS, f"{where} is {type(node).__module__}.{type(node)}"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One real fit through the config path: validate -> build_* -> Trainer.fit."""
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import ModelCheckpoint

    from fabricx.builders.components import build_datamodule, build_model, build_task
    from fabricx.launch.compose import validate

    ckpt_dir = tmp_path_factory.mktemp("run") / "checkpoints"
    cfg = validate("train", ["trainer.max_epochs=1"])
    pl.seed_everything(0, verbose=False)
    task = build_task(cfg, build_model(cfg))
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=1,
        limit_train_batches=3,
        limit_val_batches=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(ckpt_dir.parent),
        plugins=[AtomicCheckpointIO()],
        callbacks=[
            ModelCheckpoint(
                dirpath=str(ckpt_dir),
                filename="best-{epoch}",
                monitor="val/acc",
                mode="max",
                save_last=True,
            ),
            CheckpointContents(plain(cfg)),  # build_trainer adds it to every run
        ],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few-workers / small-batch-count advice
        trainer.fit(task, datamodule=build_datamodule(cfg))
    return {"cfg": cfg, "task": task, "ckpt_dir": ckpt_dir}


def test_fit_checkpoint_loads_weights_only_with_plain_config(fitted: dict[str, Any]) -> None:
    ckpt_dir: Path = fitted["ckpt_dir"]
    names = sorted(p.name for p in ckpt_dir.iterdir())
    assert names == ["best-epoch=0.ckpt", "last.ckpt"]  # and no .*.tmp left
    for path in ckpt_dir.iterdir():
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        config = checkpoint["fabricx"]["config"]
        _assert_plain(config)
        assert config["trainer"]["max_epochs"] == 1
        assert config["model"]["_target_"] == "fabricx.models.mlp.MLP"
        assert config["model"]["hidden_sizes"] == list(fitted["cfg"].model["hidden_sizes"])
        assert checkpoint["global_step"] == 3


def test_load_weights_restores_trained_weights(fitted: dict[str, Any]) -> None:
    from fabricx.builders.components import build_model, build_task

    cfg, trained = fitted["cfg"], fitted["task"]
    torch.manual_seed(123)  # a different init from the fit's
    fresh = build_task(cfg, build_model(cfg))
    want = trained.state_dict()
    assert any(not torch.equal(t, want[k]) for k, t in fresh.state_dict().items())

    path = find_checkpoint(fitted["ckpt_dir"].parent, "best")
    assert path is not None and path.name == "best-epoch=0.ckpt"
    checkpoint = load_weights(fresh, path)
    assert checkpoint["fabricx"]["config"]["seed"] == cfg.seed
    got = fresh.state_dict()
    assert got.keys() == want.keys()
    for key, tensor in want.items():
        assert torch.equal(got[key], tensor), key


def test_load_weights_refuses_pickled_code(tmp_path: Path) -> None:
    from fabricx.errors import FabricxError
    from fabricx.models.mlp import MLP

    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": _Unsafe()}, path)
    with pytest.raises(FabricxError, match="could not load checkpoint"):
        load_weights(MLP(4, 2, []), path)


class _Unsafe:
    """Any class instance: weights_only refuses to unpickle it."""


# --- find_checkpoint -------------------------------------------------------------------------


def _touch(path: Path, mtime: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    os.utime(path, (mtime, mtime))
    return path


def test_find_checkpoint_prefers_newest_best(tmp_path: Path) -> None:
    ckpts = tmp_path / "checkpoints"
    old = _touch(ckpts / "best-epoch=9.ckpt", 1_000_000)  # name sorts last, but older
    new = _touch(ckpts / "best-epoch=1.ckpt", 2_000_000)
    last = _touch(ckpts / "last.ckpt", 3_000_000)
    assert find_checkpoint(tmp_path) == new
    assert find_checkpoint(tmp_path, "best") == new
    assert find_checkpoint(tmp_path, "last") == last
    assert find_checkpoint(tmp_path, str(old)) == old


def test_build_trainer_writes_checkpoints_atomically(tmp_path: Path) -> None:
    from fabricx.builders.trainer import build_trainer
    from fabricx.launch.compose import validate

    cfg = validate("train", ["logger=none", "trainer.max_epochs=1", "callbacks.progress_bar=none"])
    trainer = build_trainer(cfg, tmp_path)
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)


def test_find_checkpoint_best_follows_the_ranking_with_top_k(tmp_path: Path) -> None:
    """With save_top_k=2, "best" is the best-ranked file, not the newest one."""
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import ModelCheckpoint
    from torch.utils.data import DataLoader, TensorDataset

    class Scored(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(1, 1)

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            return self.layer(batch[0]).sum()

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            self.log("val/acc", [0.9, 0.5][self.current_epoch])  # epoch 0 is the best

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    loader = DataLoader(TensorDataset(torch.ones(2, 1)), batch_size=2)
    checkpoint = ModelCheckpoint(
        tmp_path / "checkpoints", "best-epoch{epoch:03d}", auto_insert_metric_name=False,
        monitor="val/acc", mode="max", save_top_k=2,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pl.Trainer(
            max_epochs=2, logger=False, enable_progress_bar=False, enable_model_summary=False,
            callbacks=[checkpoint],
        ).fit(Scored(), loader, loader)  # fmt: skip
    assert len(list((tmp_path / "checkpoints").glob("best-*.ckpt"))) == 2
    assert find_checkpoint(tmp_path, "best").name == "best-epoch000.ckpt"


def test_find_checkpoint_falls_back_to_last(tmp_path: Path) -> None:
    last = _touch(tmp_path / "checkpoints" / "last.ckpt", 1_000_000)
    _touch(tmp_path / "checkpoints" / "other.ckpt", 2_000_000)
    assert find_checkpoint(tmp_path, "best") == last


def test_find_checkpoint_none_when_nothing(tmp_path: Path) -> None:
    assert find_checkpoint(tmp_path, "best") is None  # no checkpoints/ at all
    (tmp_path / "checkpoints").mkdir()
    assert find_checkpoint(tmp_path, "best") is None
    assert find_checkpoint(tmp_path, "last") is None
    assert find_checkpoint(tmp_path, str(tmp_path / "missing.ckpt")) is None
    assert find_checkpoint(tmp_path, str(tmp_path / "checkpoints")) is None  # a directory


# --- write_json / write_text -----------------------------------------------------------------


def test_write_text_and_json_atomic_and_complete(tmp_path: Path) -> None:
    text = "line\n" * 50_000
    assert write_text(tmp_path / "a" / "command.txt", text) == tmp_path / "a" / "command.txt"
    assert (tmp_path / "a" / "command.txt").read_text() == text

    data = {"b": [1, 2.5, None], "a": {"nested": "x" * 10_000}, "path": Path("/p")}
    write_json(tmp_path / "a" / "metrics.json", data)
    raw = (tmp_path / "a" / "metrics.json").read_text()
    assert raw.endswith("}\n")
    assert json.loads(raw) == {**data, "path": "/p"}  # default=str for the rest

    write_json(tmp_path / "a" / "metrics.json", {"replaced": True})  # over an existing file
    assert json.loads((tmp_path / "a" / "metrics.json").read_text()) == {"replaced": True}
    assert leftovers(tmp_path / "a") == []
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["command.txt", "metrics.json"]


def test_write_json_failure_keeps_previous_file(tmp_path: Path) -> None:
    path = write_json(tmp_path / "metrics.json", {"acc": 0.5})
    before = path.read_text()
    with pytest.raises(ValueError, match="Circular"):
        circular: dict[str, Any] = {}
        circular["self"] = circular
        write_json(path, circular)
    with pytest.raises(TypeError):
        write_text(path, b"bytes are not text")  # type: ignore[arg-type]
    assert path.read_text() == before
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("writer", ["text", "json"])
def test_write_files_have_normal_permissions(tmp_path: Path, umask_022: None, writer: str) -> None:
    path = tmp_path / "provenance.json"
    if writer == "text":
        write_text(path, "x\n")
    else:
        write_json(path, {"x": 1})
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
