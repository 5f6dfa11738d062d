"""Every use of a private API of Lightning, Hydra, OmegaConf, Optuna or torch, in one place.

Each is here because the library has no public way to do it; tests/unit/test_internals.py
fails when a release moves one, so an upgrade breaks a test, not a user's run. The one
exception: fabricx.config.trust names private torch modules ('torch.jit._serialization',
'torch._ops') as strings in its denylist of targets; those name modules a config must not
reach, and use no API.

Libraries are imported inside each function, so importing this module stays cheap.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

# torch

TORCH_ONNX_REGISTRATION_LOGGER = "torch.onnx._internal.exporter._registration"
"""The logger of torch's ONNX exporter that warns once per torchvision op it cannot register
when torchvision is absent; torch has no public switch for those warnings."""


def compiled_modules(module: Any) -> list[Any]:
    """The submodules of `module` (itself included) that `nn.Module.compile()` compiled in
    place: it keeps the compiled call in the private `_compiled_call_impl`, and torch has no
    public test for it (an `OptimizedModule` wrapper is what `torch.compile(m)` returns)."""
    return [m for m in module.modules() if getattr(m, "_compiled_call_impl", None) is not None]


def uncompile(module: Any) -> Any:
    """`module` with every in-place `nn.Module.compile()` undone, so calls run its eager
    forward; returns it. A deep copy of a compiled module shares the original's compiled
    call (a function), so a copy calls the original's weights until this clears it: torch
    has no public `uncompile`."""
    for submodule in compiled_modules(module):
        submodule._compiled_call_impl = None
    return module


def set_inductor_compile_threads(threads: int) -> None:
    """How many processes TorchInductor compiles in (its `compile_threads`; above 1 a pool
    of worker subprocesses): torch sets it only from the TORCHINDUCTOR_COMPILE_THREADS
    environment variable, read once at import, and exposes no public setter."""
    import torch._inductor.config as inductor_config

    inductor_config.compile_threads = threads


def compile_seconds() -> float:
    """Seconds this process has spent in torch.compile so far (TorchDynamo's frame compiles
    and the compiled backward's, from its private `calculate_time_spent`); 0 where nothing
    imported TorchDynamo. torch reports its compile times only in logs and traces."""
    import sys

    if "torch._dynamo" not in sys.modules:
        return 0.0
    from torch._dynamo.utils import calculate_time_spent

    return float(calculate_time_spent().get("total_wall_time", 0.0))


# Hydra


def hydra_args_parser() -> Any:
    """Hydra's own argparse parser (-m, --cfg, --config-dir, ...): fabricx reads the same
    flags as Hydra, parsed the same way, before and around Hydra's main."""
    from hydra._internal.utils import get_args_parser

    return get_args_parser()


def hydra_config_header(config_text: str) -> dict[str, str | None]:
    """The `# @package ...` header of a config file's text, parsed as Hydra's own config
    sources parse it (ConfigSource's private `_get_header_dict`), for a config source of
    fabricx's own: Hydra's plugin API has no public parser for it."""
    from hydra.plugins.config_source import ConfigSource

    return ConfigSource._get_header_dict(config_text)


# Lightning


def use_for_hydra_child_ranks(command: Callable[[int], tuple[Sequence[str], str]]) -> None:
    """Make Lightning's subprocess launchers (Fabric's and the Trainer's) start DDP child
    rank `local_rank` with `command(local_rank)` (a command line and its working directory)
    under Hydra: they call their module's private `_hydra_subprocess_cmd`, and take no
    command of one's own."""
    from lightning.fabric.strategies.launchers import subprocess_script as fabric_launcher
    from lightning.pytorch.strategies.launchers import subprocess_script as trainer_launcher

    for launcher in (fabric_launcher, trainer_launcher):
        if not hasattr(launcher, "_hydra_subprocess_cmd"):
            raise RuntimeError(
                f"{launcher.__name__} has no _hydra_subprocess_cmd: this Lightning version "
                "launches DDP ranks differently; fabricx.launch.ranks needs updating for it."
            )
        launcher._hydra_subprocess_cmd = command


def reload_train_loader_states(fit_loop: Any) -> None:
    """Load the loader states a resumed fit loop still holds into its train loader, and make
    the loader's iterator again from them; nothing when none are pending. Lightning loads
    them only in its own setup (too early, issue #20550), with no public call to do it."""
    pending = getattr(fit_loop, "_combined_loader_states_to_load", None)
    fetcher = getattr(fit_loop, "_data_fetcher", None)
    if pending and fit_loop.restarting and fetcher is not None:
        fit_loop._load_combined_loader_states()
        iter(fetcher)  # the iterator was made before the states were loaded


def writes_logs_this_step(trainer: Any) -> bool:
    """Whether Lightning writes this training step's logged values to the loggers: its logger
    connector's `should_update_logs`, which no public API exposes (it reads the fit loop's
    private step count); True where a release lacks it (every step logs: correct, slower)."""
    connector = getattr(trainer, "_logger_connector", None)
    return getattr(connector, "should_update_logs", True)


def learning_rate_stats(monitor: Any, trainer: Any, interval: str) -> dict[str, float]:
    """A LearningRateMonitor's values for `interval` ("step" or "any") under its own names
    (`lr-AdamW`, `lr-AdamW/pg2`, ...), from its private `_extract_stats`: Lightning gives
    them only to its own logger call."""
    return monitor._extract_stats(trainer, interval)


@functools.cache
def tqdm_progress_bar() -> type:
    """Lightning's TQDMProgressBar whose private per-batch redraw test `_should_update(current,
    total)` calls `redraw_due(current, total)`, for a subclass to override: Lightning has
    no public way to redraw less often than every `refresh_rate` batches."""
    from lightning.pytorch.callbacks import TQDMProgressBar

    class RedrawTestedTQDMProgressBar(TQDMProgressBar):
        def redraw_due(self, current: int, total: int | float) -> bool:
            return TQDMProgressBar._should_update(self, current, total)  # type: ignore[arg-type]

        def _should_update(self, current: int, total: int | float) -> bool:  # type: ignore[override]
            return self.redraw_due(current, total)

    return RedrawTestedTQDMProgressBar


# OmegaConf


def resolver_names() -> list[str]:
    """The names of the registered OmegaConf resolvers, from its private registry
    (`BaseContainer._resolvers`): OmegaConf tells only whether one name is registered."""
    from omegaconf.basecontainer import BaseContainer

    return list(BaseContainer._resolvers)


# Optuna


def trial_id(trial: Any) -> int:
    """The storage's id of a trial (Trial or FrozenTrial), which storage calls and
    `optuna.trial.Trial(study, trial_id)` take; Optuna keeps it private (`_trial_id`), and
    the public `number` counts within one study only."""
    return trial._trial_id


def heartbeat_thread(trial_id: int, storage: Any) -> Any:
    """Optuna's heartbeat thread for a trial, a context manager that records a beat every
    interval while open (a no-op for a storage without heartbeats): Optuna runs it only
    inside Study.optimize, from the private optuna.storages._heartbeat."""
    from optuna.storages._heartbeat import get_heartbeat_thread

    return get_heartbeat_thread(trial_id, storage)


@functools.cache
def heartbeat_base() -> type:
    """Optuna's heartbeat interface for a storage (BaseHeartbeat, in the private
    optuna.storages._heartbeat; Optuna fails stale trials of a storage that is one), whose
    private hook `_get_stale_trial_ids(study_id)` calls `stale_trial_ids(study_id)`, for a
    subclass to implement: only RDBStorage has heartbeats publicly."""
    import abc

    from optuna.storages._heartbeat import BaseHeartbeat

    class Heartbeat(BaseHeartbeat):
        @abc.abstractmethod
        def stale_trial_ids(self, study_id: int) -> list[int]:
            """The ids of the study's running trials whose heartbeat stopped."""

        def _get_stale_trial_ids(self, study_id: int) -> list[int]:
            return self.stale_trial_ids(study_id)

    return Heartbeat
