"""Each private API fabricx.internals reaches is still where it reaches it.

One test per entry of fabricx.internals: a library release that moves or renames the private
name fails here, not in a user's run. No training: each builds at most a bare Trainer.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import time
from typing import Any

import lightning.pytorch as pl
import optuna
import pytest
import torch
from lightning.fabric.strategies.launchers import subprocess_script as fabric_launcher
from lightning.pytorch.callbacks import LearningRateMonitor, TQDMProgressBar
from lightning.pytorch.strategies.launchers import subprocess_script as trainer_launcher
from omegaconf import OmegaConf

from fabricx import internals


def _bare_trainer() -> pl.Trainer:
    return pl.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )


# torch


def test_onnx_registration_logger_is_the_exporters() -> None:
    module = importlib.import_module(internals.TORCH_ONNX_REGISTRATION_LOGGER)
    assert isinstance(module.logger, logging.Logger)
    assert module.logger.name == internals.TORCH_ONNX_REGISTRATION_LOGGER


def test_in_place_compile_is_found_timed_and_undone() -> None:
    import copy

    class Net(torch.nn.Module):  # dynamo skips torch.nn's own forwards: a forward of ours
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(3, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.linear(x)) + 1

    model = Net()
    assert internals.compiled_modules(model) == []
    model.compile(backend="eager")  # dynamo's compile without inductor's: fast
    assert internals.compiled_modules(model) == [model]
    before = internals.compile_seconds()
    x = torch.randn(4, 3)
    expected = model(x)  # the first call compiles
    assert internals.compile_seconds() > before
    # torch's __getstate__ drops the compiled call: a deep copy runs its own eager forward.
    copied = copy.deepcopy(model)
    assert internals.compiled_modules(copied) == []
    with torch.no_grad():
        copied.linear.weight.zero_()
    assert torch.equal(model(x), expected) and not torch.equal(copied(x), expected)
    assert internals.uncompile(model) is model and internals.compiled_modules(model) == []
    assert torch.equal(model(x), expected)  # the eager forward, the same numbers


def test_inductor_compile_threads_is_its_config_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch._inductor.config as inductor_config

    monkeypatch.setattr(inductor_config, "compile_threads", inductor_config.compile_threads)
    internals.set_inductor_compile_threads(1)
    assert inductor_config.compile_threads == 1
    internals.set_inductor_compile_threads(3)
    assert inductor_config.compile_threads == 3


# Hydra


def test_hydra_args_parser_parses_hydra_flags() -> None:
    args = internals.hydra_args_parser().parse_args(["-m", "a=1", "--cfg", "job"])
    assert args.multirun is True
    assert args.overrides == ["a=1"]
    assert args.cfg == "job"


def test_hydra_config_header_reads_the_package_line() -> None:
    header = internals.hydra_config_header("# @package _global_\n\nseed: 1\n")
    assert header["package"] == "_global_"
    assert internals.hydra_config_header("seed: 1\n") == {"package": None}


# Lightning


@pytest.mark.parametrize("launcher", [fabric_launcher, trainer_launcher])
def test_launchers_build_child_commands_with_hydra_subprocess_cmd(launcher: Any) -> None:
    assert list(inspect.signature(launcher._hydra_subprocess_cmd).parameters) == ["local_rank"]
    calls = inspect.getsource(launcher._SubprocessScriptLauncher._call_children_scripts)
    assert "_hydra_subprocess_cmd(" in calls


def test_use_for_hydra_child_ranks_patches_both_launchers(monkeypatch: Any) -> None:
    for launcher in (fabric_launcher, trainer_launcher):  # put back at the test's end
        monkeypatch.setattr(launcher, "_hydra_subprocess_cmd", launcher._hydra_subprocess_cmd)

    def command(local_rank: int) -> tuple[list[str], str]:
        return ["rank", str(local_rank)], "."

    internals.use_for_hydra_child_ranks(command)
    assert fabric_launcher._hydra_subprocess_cmd is command
    assert trainer_launcher._hydra_subprocess_cmd is command


def test_use_for_hydra_child_ranks_says_when_lightning_lacks_it(monkeypatch: Any) -> None:
    monkeypatch.delattr(trainer_launcher, "_hydra_subprocess_cmd")
    monkeypatch.setattr(
        fabric_launcher, "_hydra_subprocess_cmd", fabric_launcher._hydra_subprocess_cmd
    )
    with pytest.raises(RuntimeError, match="has no _hydra_subprocess_cmd"):
        internals.use_for_hydra_child_ranks(lambda local_rank: ([], "."))


def test_fit_loop_keeps_pending_loader_states() -> None:
    fit_loop = _bare_trainer().fit_loop
    assert isinstance(fit_loop, pl.loops._FitLoop)
    assert callable(fit_loop._load_combined_loader_states)
    assert fit_loop._combined_loader_states_to_load == []
    assert hasattr(fit_loop, "_data_fetcher")
    internals.reload_train_loader_states(fit_loop)  # nothing pending: nothing done


def test_reload_train_loader_states_loads_and_remakes_the_iterator() -> None:
    class Fetcher:
        made = 0

        def __iter__(self) -> Any:
            self.made += 1
            return iter(())

    class FitLoop:
        restarting = True
        loaded = 0

        def __init__(self) -> None:
            self._combined_loader_states_to_load = [{"state": 1}]
            self._data_fetcher = Fetcher()

        def _load_combined_loader_states(self) -> None:
            self.loaded += 1

    loop = FitLoop()
    internals.reload_train_loader_states(loop)
    assert loop.loaded == 1 and loop._data_fetcher.made == 1


def test_logger_connector_says_whether_a_step_logs() -> None:
    trainer = _bare_trainer()
    connector = trainer._logger_connector
    assert isinstance(type(connector).should_update_logs, property)
    assert internals.writes_logs_this_step(trainer) is connector.should_update_logs


def test_learning_rate_monitor_extracts_stats() -> None:
    assert list(inspect.signature(LearningRateMonitor._extract_stats).parameters) == [
        "self",
        "trainer",
        "interval",
    ]
    trainer = _bare_trainer()
    trainer.strategy.optimizers = [torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)]
    stats = internals.learning_rate_stats(LearningRateMonitor(), trainer, "any")
    assert stats == {"lr-SGD": pytest.approx(0.1)}


def test_tqdm_progress_bar_asks_redraw_due() -> None:
    assert list(inspect.signature(TQDMProgressBar._should_update).parameters) == [
        "self",
        "current",
        "total",
    ]
    assert "self._should_update(" in inspect.getsource(TQDMProgressBar.on_train_batch_end)
    base = internals.tqdm_progress_bar()
    assert issubclass(base, TQDMProgressBar)
    lightning_bar, bar = TQDMProgressBar(refresh_rate=3), base(refresh_rate=3)
    for current in range(1, 8):  # by default it redraws as Lightning's own
        assert bar._should_update(current, 7) == lightning_bar._should_update(current, 7)

    class Never(base):  # type: ignore[misc, valid-type]
        def redraw_due(self, current: int, total: int | float) -> bool:
            return False

    assert Never(refresh_rate=1)._should_update(7, 7) is False


# OmegaConf


def test_resolver_names_lists_the_registered_resolvers() -> None:
    names = internals.resolver_names()
    assert "oc.env" in names
    assert all(OmegaConf.has_resolver(name) for name in names)


# Optuna


def test_trial_id_is_the_storages_id() -> None:
    study = optuna.create_study()
    study.ask()
    trial = study.ask()
    trial_id = internals.trial_id(trial)
    assert isinstance(trial_id, int)
    assert trial.storage.get_trial(trial_id).number == trial.number == 1
    assert internals.trial_id(study.trials[1]) == trial_id  # a FrozenTrial's too


class _Beats(optuna.storages.InMemoryStorage, internals.heartbeat_base()):  # type: ignore[misc]
    """An in-memory storage with heartbeats: every running trial is stale."""

    def __init__(self) -> None:
        super().__init__()
        self.beats: list[int] = []

    def record_heartbeat(self, trial_id: int) -> None:
        self.beats.append(trial_id)

    def stale_trial_ids(self, study_id: int) -> list[int]:
        running = self.get_all_trials(study_id, states=(optuna.trial.TrialState.RUNNING,))
        return [internals.trial_id(t) for t in running]

    def get_heartbeat_interval(self) -> int:
        return 1

    def get_heartbeat_stale_trial_callback(self) -> None:
        return None


def test_heartbeat_base_is_optunas_and_its_stale_hook_is_asked() -> None:
    from optuna.storages._heartbeat import BaseHeartbeat

    assert issubclass(internals.heartbeat_base(), BaseHeartbeat)
    assert "_get_stale_trial_ids" in BaseHeartbeat.__abstractmethods__
    study = optuna.create_study(storage=_Beats())
    trial = study.ask()
    optuna.storages.fail_stale_trials(study)  # public; asks the private hook
    assert study.trials[0].state == optuna.trial.TrialState.FAIL
    assert internals.trial_id(trial) == internals.trial_id(study.trials[0])


def test_heartbeat_thread_records_beats() -> None:
    storage = _Beats()
    study = optuna.create_study(storage=storage)
    trial_id = internals.trial_id(study.ask())
    with internals.heartbeat_thread(trial_id, storage):
        deadline = time.monotonic() + 5
        while not storage.beats and time.monotonic() < deadline:
            time.sleep(0.01)
    assert storage.beats and set(storage.beats) == {trial_id}
