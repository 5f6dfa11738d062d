"""Exact resume, the pieces in process: loaders and batches that restart mid-epoch, RNG states
in a weights_only checkpoint, the config checks, what may change on resume, metrics.csv trimmed
to the checkpoint. A real run killed and resumed: tests/e2e/test_resume.py."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from fabricx.data.loaders import train_loader
from fabricx.data.tensor_loader import TensorBatches, crop_and_flip
from fabricx.errors import ConfigError
from fabricx.extensions.resume_state import LastCheckpoint, collect_rng_states, set_rng_states
from fabricx.launch.compose import validate
from fabricx.runs import resume


def test_tensor_batches_resume_mid_epoch_with_augmentation():
    x, y = torch.randn(50, 3, 8, 8), torch.arange(50)

    def batches() -> TensorBatches:
        return TensorBatches(x, y, 8, shuffle=True, seed=3, transform=crop_and_flip(2))

    reference = batches()
    epochs = [list(reference) for _ in range(3)]
    killed = batches()
    list(killed)  # epoch 0
    it = iter(killed)
    first = [next(it) for _ in range(3)]  # 3 batches into epoch 1
    state = killed.state_dict()
    assert (state["epoch"], state["batches"]) == (1, 3)

    resumed = batches()
    resumed.load_state_dict(state)
    rest, next_epoch = list(resumed), list(resumed)
    for got, want in zip([*first, *rest], epochs[1], strict=True):
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])  # crops too
    for got, want in zip(next_epoch, epochs[2], strict=True):
        assert torch.equal(got[0], want[0])


def test_tensor_batches_state_after_a_whole_epoch_starts_the_next():
    x, y = torch.randn(20, 1, 4, 4), torch.arange(20)
    done = TensorBatches(x, y, 8, shuffle=True, seed=0)
    list(done)
    fresh = TensorBatches(x, y, 8, shuffle=True, seed=0)
    fresh.load_state_dict(done.state_dict())
    reference = TensorBatches(x, y, 8, shuffle=True, seed=0)
    list(reference)
    assert fresh.epoch == 1
    assert all(torch.equal(a[1], b[1]) for a, b in zip(fresh, reference, strict=True))


def test_train_loader_resumes_mid_epoch_and_orders_epochs_by_seed_and_epoch():
    data = TensorDataset(torch.arange(40.0))

    class Module:  # a datamodule not attached to a trainer: one rank
        trainer = None

    def epoch(loader, n: int) -> list[list[float]]:
        loader.sampler.set_epoch(n)  # what Lightning does at every epoch start
        return [b[0].tolist() for b in loader]

    reference = train_loader(Module(), data, 4, seed=7)
    epochs = [epoch(reference, n) for n in range(2)]
    assert epochs[0] != epochs[1]  # a new order every epoch

    killed = train_loader(Module(), data, 4, seed=7)
    killed.sampler.set_epoch(1)
    it = iter(killed)
    first = [next(it)[0].tolist() for _ in range(4)]
    resumed = train_loader(Module(), data, 4, seed=7)
    resumed.load_state_dict(killed.state_dict())  # the sampler's state carries the epoch
    assert first + [b[0].tolist() for b in resumed] == epochs[1]


def test_rng_states_round_trip_through_a_weights_only_checkpoint(tmp_path: Path):
    import random

    import numpy as np

    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    path = tmp_path / "rng.ckpt"
    torch.save({"rng": collect_rng_states()}, path)
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.rand(5), np.random.rand(5), random.random()  # move every generator on
    set_rng_states(torch.load(path, weights_only=True)["rng"])
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(got[0], expected[0])
    assert np.array_equal(got[1], expected[1]) and got[2] == expected[2]


def test_last_checkpoint_refuses_a_negative_interval(tmp_path: Path):
    with pytest.raises(ValueError, match="every_n_train_steps=-1 must be >= 0"):
        LastCheckpoint(tmp_path, every_n_train_steps=-1)


def test_config_checks_resume_and_every_n_train_steps():
    assert validate("train", ["resume=auto"]).resume == "auto"
    assert validate("train", []).resume is None
    with pytest.raises(ConfigError, match="every_n_train_steps=-2 must be >= 0"):
        validate("train", ["callbacks.checkpoint.every_n_train_steps=-2"])
    with pytest.raises(ConfigError, match=r"last.ckpt, but this config writes none"):
        validate("train", ["resume=auto", "callbacks.checkpoint.save_last=false"])
    with pytest.raises(ConfigError, match="resume='' names nothing"):
        validate("train", ["resume=''"])


def test_compatible_refuses_model_and_data_changes_and_reports_the_rest(tmp_path: Path):
    saved = {"model": {"hidden_sizes": [128, 64]}, "data": {"batch_size": 64, "path": "a"},
             "trainer": {"max_epochs": 3}, "resume": None, "seed": 0}  # fmt: skip
    same_shapes = {**saved, "data": {"batch_size": 64, "path": "b"}, "resume": "auto",
                   "trainer": {"max_epochs": 5}}  # fmt: skip
    changed = resume.check_compatible(saved, same_shapes, tmp_path)
    assert changed == {"data.path": ["a", "b"], "trainer.max_epochs": [3, 5]}
    other_model = {**saved, "model": {"hidden_sizes": [32]}, "seed": 1}
    with pytest.raises(ConfigError) as err:
        resume.check_compatible(saved, other_model, tmp_path)
    refused = [p.split("=")[0] for p in err.value.problems]
    assert refused == ["resume: model.hidden_sizes", "resume: seed"]
    assert "[128, 64]" in err.value.problems[0] and "command.txt" in err.value.problems[0]


def test_trim_metrics_csv_drops_the_rows_after_the_checkpoint(tmp_path: Path):
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,loss,step\r\n0,1.0,4\r\n0,0.9,9\r\n1,0.8,14\r\n")
    resume._trim_metrics_csv(path, step=10)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert [r["step"] for r in rows] == ["4", "9"]
