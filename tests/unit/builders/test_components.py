"""The built components on their own: digits splits, MLP, task helpers, LR schedules, W&B mode."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest
import torch

from fabricx.data.digits import DigitsDataModule
from fabricx.errors import ConfigError, DataError
from fabricx.extensions.loggers import wandb_mode
from fabricx.models.mlp import MLP
from fabricx.tasks.classification import ClassificationTask
from fabricx.tasks.schedules import (
    InverseTimeDecay,
    WarmupCosine,
    WarmupLinear,
    lightning_scheduler,
)

NUM_DIGITS = 1797

# --- DigitsDataModule -----------------------------------------------------------------------


def _splits(seed: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    data = DigitsDataModule(seed=seed)
    data.setup("fit")
    return dict(data.splits)


def _rows(x: torch.Tensor, y: torch.Tensor) -> Counter:
    """Samples as hashable (pixels, label) rows, counted (the digits hold a few duplicates)."""
    return Counter((tuple(row), label) for row, label in zip(x.tolist(), y.tolist(), strict=True))


@pytest.fixture(scope="module")
def seed0() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    return _splits(0)


def test_digits_splits_partition_the_data(seed0: dict) -> None:
    from sklearn.datasets import load_digits

    sizes = {name: len(y) for name, (_, y) in seed0.items()}
    assert sum(sizes.values()) == NUM_DIGITS
    assert sizes["train"] == pytest.approx(0.70 * NUM_DIGITS, abs=2)
    assert sizes["val"] == pytest.approx(0.15 * NUM_DIGITS, abs=2)
    assert sizes["test"] == pytest.approx(0.15 * NUM_DIGITS, abs=2)

    images, labels = load_digits(return_X_y=True)
    everything = _rows(torch.tensor(images / 16.0, dtype=torch.float32), torch.tensor(labels))
    parts = [_rows(x, y) for x, y in seed0.values()]
    # Disjoint and complete: the splits' samples add up to the data set exactly, duplicates
    # included, so no sample is in two splits and none is lost.
    assert parts[0] + parts[1] + parts[2] == everything

    for x, y in seed0.values():
        assert x.dtype == torch.float32 and x.shape[1] == 64
        assert x.min() >= 0.0 and x.max() <= 1.0
        assert y.dtype == torch.int64


def test_digits_splits_are_stratified(seed0: dict) -> None:
    for name in ("val", "test"):
        counts = torch.bincount(seed0[name][1], minlength=10)
        assert (counts > 0).all(), f"{name} lacks a class: {counts.tolist()}"
        # ~27 samples per class in each held-out split; stratified means within a couple.
        expected = len(seed0[name][1]) / 10
        assert (counts - expected).abs().max() <= 3, counts.tolist()


def test_digits_split_fixed_by_seed(seed0: dict) -> None:
    again = _splits(0)
    for name, (x, y) in seed0.items():
        assert torch.equal(again[name][0], x) and torch.equal(again[name][1], y)
    other = _splits(1)
    assert not torch.equal(other["test"][0], seed0["test"][0])
    assert _rows(*other["test"]) != _rows(*seed0["test"])


def test_digits_loaders_use_batch_sizes() -> None:
    data = DigitsDataModule(batch_size=32, eval_batch_size=100)
    data.setup("fit")
    x, y = next(iter(data.train_dataloader()))
    assert x.shape == (32, 64) and y.shape == (32,)
    x, _ = next(iter(data.val_dataloader()))
    assert x.shape == (100, 64)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [({"num_classes": 5}, "data.num_classes"), ({"num_features": 65}, "data.num_features")],
)
def test_digits_wrong_shape_is_a_config_error_before_work(kwargs: dict, key: str) -> None:
    from fabricx.launch.compose import validate

    override = f"{key}={next(iter(kwargs.values()))}"
    with pytest.raises(ConfigError, match="do not match the digits data") as info:
        validate("train", [override])  # the digits' shape is known without loading them
    assert info.value.exit_code == 2
    (problem,) = info.value.problems
    assert key in problem.keys and f"command-line override '{override}'" in problem
    # Built anyway (Python, no check): setup finds it by reading the data, a data error.
    data = DigitsDataModule(**kwargs)
    with pytest.raises(DataError, match=key) as data_info:
        data.setup("fit")
    assert data_info.value.exit_code == 6
    assert data.splits == {}


# --- MLP and ClassificationTask -------------------------------------------------------------


@pytest.mark.parametrize("hidden", [[], [16], [32, 16]])
def test_mlp_forward_shape(hidden: list[int]) -> None:
    model = MLP(in_features=64, num_classes=10, hidden_sizes=hidden, dropout=0.1)
    assert model(torch.rand(5, 64)).shape == (5, 10)
    assert model(torch.rand(3, 8, 8)).shape == (3, 10)  # flattened after the batch dim
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [*hidden, 10]


def test_split_batch_names_the_input() -> None:
    x, y = torch.rand(4, 64), torch.tensor([0, 1, 2, 3])
    inputs, target = ClassificationTask.split_batch((x, y))
    assert list(inputs) == ["x"] and inputs["x"] is x
    assert target is y
    task = ClassificationTask(MLP(64, 10, [8]), torch.optim.SGD)
    assert task(**inputs).shape == (4, 10)  # the names are the forward's argument names


# --- learning-rate schedules ----------------------------------------------------------------


def _optimizer(lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=lr)


def _lrs(
    optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler, steps: int
) -> list[float]:
    """lr of each optimizer step, then the lr after the last scheduler step."""
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    lrs.append(optimizer.param_groups[0]["lr"])
    return lrs


class _Trainer:
    """What lightning_scheduler reads of a trainer: the fit's length in optimizer steps."""

    def __init__(self, steps: int) -> None:
        self.estimated_stepping_batches = steps


def test_schedulers_are_stepped_as_their_kind_needs() -> None:
    """fabricx's schedules and OneCycleLR every step, with the fit's length filled in; other
    torch schedulers every epoch; ReduceLROnPlateau watches val/loss."""
    from functools import partial

    from torch.optim import lr_scheduler

    cosine = lightning_scheduler(partial(WarmupCosine), _optimizer(0.1), _Trainer(40))
    assert cosine["interval"] == "step" and cosine["frequency"] == 1
    one_cycle = partial(lr_scheduler.OneCycleLR, max_lr=0.1)
    config = lightning_scheduler(one_cycle, _optimizer(0.1), _Trainer(30))
    assert config["interval"] == "step" and config["scheduler"].total_steps == 30
    step = lightning_scheduler(partial(lr_scheduler.StepLR, step_size=2), _optimizer(0.1), None)
    assert step["interval"] == "epoch" and "monitor" not in step
    plateau = lightning_scheduler(partial(lr_scheduler.ReduceLROnPlateau), _optimizer(0.1), None)
    assert plateau["interval"] == "epoch" and plateau["monitor"] == "val/loss"


def test_cosine_warms_up_then_decays_to_min() -> None:
    lr, total, min_ratio = 0.1, 40, 0.1
    optimizer = _optimizer(lr)
    scheduler = WarmupCosine(optimizer, total, warmup_fraction=0.25, min_lr_ratio=min_ratio)
    lrs = _lrs(optimizer, scheduler, total)
    warmup = 10

    assert lrs[0] == pytest.approx(lr / warmup)
    ramp = lrs[: warmup + 1]
    assert all(b > a for a, b in pairwise(ramp)), ramp
    assert max(lrs) == pytest.approx(lr)
    assert lrs[warmup] == pytest.approx(lr)
    decay = lrs[warmup:]
    assert all(b < a for a, b in pairwise(decay)), decay
    assert lrs[total - 1] > min_ratio * lr  # the last step still learns
    assert lrs[total] == pytest.approx(min_ratio * lr)  # and the schedule ends at the floor
    assert min(lrs) == pytest.approx(min_ratio * lr)


def test_cosine_without_warmup_starts_at_lr() -> None:
    optimizer = _optimizer(0.5)
    lrs = _lrs(optimizer, WarmupCosine(optimizer, 10, min_lr_ratio=0.0), 10)
    assert lrs[0] == pytest.approx(0.5)
    assert all(b < a for a, b in pairwise(lrs))
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)


def test_linear_warms_up_then_decays_in_a_straight_line() -> None:
    optimizer = _optimizer(0.1)
    lrs = _lrs(optimizer, WarmupLinear(optimizer, 20, warmup_fraction=0.2), 20)
    assert lrs[4] == pytest.approx(0.1)  # the peak, after 4 warm-up steps
    steps = [a - b for a, b in pairwise(lrs[4:])]
    assert steps == pytest.approx([0.1 / 16] * 16)  # equal decrements down to zero
    assert lrs[20] == pytest.approx(0.0, abs=1e-12)


def test_inverse_time_decay_is_ma_and_hovys_per_epoch_rate() -> None:
    from functools import partial

    optimizer = _optimizer(0.015)
    config = lightning_scheduler(partial(InverseTimeDecay, decay_rate=0.05), optimizer, None)
    assert config["interval"] == "epoch"  # lr_t = lr / (1 + 0.05 t) at epoch t
    lrs = _lrs(optimizer, config["scheduler"], 40)
    assert lrs[:3] == pytest.approx([0.015, 0.015 / 1.05, 0.015 / 1.1])
    assert lrs[20] == pytest.approx(0.0075)  # half the base rate at t = 1 / 0.05
    # Resuming: the schedule is rebuilt from its arguments and its step count.
    resumed = InverseTimeDecay(_optimizer(0.015), decay_rate=0.05)
    resumed.load_state_dict(config["scheduler"].state_dict())
    assert resumed.last_epoch == 40 and resumed.get_last_lr() == pytest.approx([0.015 / 3])


# --- wandb_mode -----------------------------------------------------------------------------


@pytest.fixture
def no_wandb_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No W&B variables and a HOME without a .netrc."""
    for var in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_BASE_URL", "NETRC"):
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.mark.parametrize(
    ("env", "requested", "expected"),
    [
        ("dryrun", "online", "offline"),
        ("dryrun", "auto", "offline"),
        ("disabled", "online", "disabled"),
        ("online", "offline", "online"),
    ],
)
def test_wandb_mode_env_wins(
    no_wandb_env: Path, monkeypatch: pytest.MonkeyPatch, env: str, requested: str, expected: str
) -> None:
    monkeypatch.setenv("WANDB_MODE", env)
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    assert wandb_mode(requested) == expected


@pytest.mark.parametrize("requested", ["online", "offline", "disabled"])
def test_wandb_mode_explicit_kept(
    no_wandb_env: Path, monkeypatch: pytest.MonkeyPatch, requested: str
) -> None:
    assert wandb_mode(requested) == requested
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    assert wandb_mode(requested) == requested


def test_wandb_mode_auto_offline_when_logged_out(no_wandb_env: Path) -> None:
    assert list(no_wandb_env.iterdir()) == []
    assert wandb_mode("auto") == "offline"


def test_wandb_mode_auto_online_with_api_key(
    no_wandb_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    assert wandb_mode("auto") == "online"


def test_wandb_mode_auto_reads_netrc(no_wandb_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = no_wandb_env / ".netrc"
    netrc.write_text("machine api.wandb.ai\n  login user\n  password " + "k" * 40 + "\n")
    netrc.chmod(0o600)
    assert wandb_mode("auto") == "online"
    monkeypatch.setenv("WANDB_BASE_URL", "https://wandb.example.com/")
    assert wandb_mode("auto") == "offline"  # logged in to another host only
    netrc.write_text("machine wandb.example.com login user password secret\n")
    assert wandb_mode("auto") == "online"


def test_callbacks_group_builds_what_it_names(tmp_path: Path) -> None:
    """callbacks=default's switches: checkpoint, early stopping, progress bar, lr monitor."""
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from fabricx.builders.callbacks import build_callbacks
    from fabricx.extensions.fit_timing import FitTimer
    from fabricx.extensions.lr_logging import StepLearningRateMonitor
    from fabricx.extensions.progress import ThrottledRichProgressBar, ThrottledTQDMProgressBar
    from fabricx.extensions.resume_state import LastCheckpoint, LoaderPosition, RngStates
    from fabricx.extensions.signal_checkpoint import SignalCheckpoint
    from fabricx.launch.compose import validate

    def kinds(overrides: list[str], has_logger: bool = True) -> set[type]:
        cfg = validate("train", overrides)
        return {type(c) for c in build_callbacks(cfg.callbacks, tmp_path, has_logger)}

    resume = {RngStates, LoaderPosition, FitTimer}  # always: exact resumes, fit/* timings
    assert kinds([]) == {
        ModelCheckpoint, LastCheckpoint, SignalCheckpoint, ThrottledRichProgressBar,
        StepLearningRateMonitor, *resume,
    }  # fmt: skip
    assert LastCheckpoint not in kinds(["callbacks.checkpoint.save_last=false"])
    assert EarlyStopping in kinds(["callbacks.early_stopping.enabled=true"])
    assert ThrottledTQDMProgressBar in kinds(["callbacks.progress_bar=tqdm"])
    bare = kinds(["callbacks.progress_bar=none", "callbacks.checkpoint.enabled=false"], False)
    assert bare == resume  # and no LR monitor without a logger, which it would refuse
