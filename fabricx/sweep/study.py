"""The study every worker shares: its storage, sampler and pruner, built from the sweep plan.

Storage is a journal file by default (no server; safe for many processes on one file system)
or an RDB URL (SQLite, PostgreSQL) for many nodes. Both keep a heartbeat per running trial:
Optuna's RDBStorage has one; for the journal file, `JournalStorageWithHeartbeat` adds it, so
a trial whose worker was killed is failed and retried (`RetryHeartbeatStaleTrialCallback`)
on either storage.
"""

from __future__ import annotations

import itertools
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.storages import (
    BaseStorage,
    JournalStorage,
    RDBStorage,
    RetryHeartbeatStaleTrialCallback,
)
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock
from optuna.trial import TrialState

from fabricx import internals
from fabricx.errors import ConfigError
from fabricx.sweep.plan import SweepPlan

RDB_SCHEMES = ("sqlite", "postgresql", "mysql")
HEARTBEAT_ATTR = "fabricx:heartbeat"
JOURNAL_FILE = "study.journal"

optuna.logging.set_verbosity(optuna.logging.WARNING)
# The retry and plotting helpers fabricx uses are marked experimental; and fabricx asks and
# tells trials itself while keeping their heartbeat (fabricx.sweep.worker), which Optuna's
# warning about heartbeats outside Study.optimize does not know.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")


# Optuna's heartbeat interface for a storage; it asks `stale_trial_ids` (fabricx.internals).
Heartbeat = internals.heartbeat_base()


class JournalStorageWithHeartbeat(JournalStorage, Heartbeat):
    """A journal-file storage whose running trials record heartbeats, as RDBStorage's do.

    The beat is a trial system attribute (one short journal line per beat); a trial whose
    last beat (or start) is older than `grace_period` seconds is stale.
    """

    def __init__(
        self,
        backend: JournalFileBackend,
        heartbeat_interval: int,
        grace_period: int,
        stale_trial_callback: RetryHeartbeatStaleTrialCallback,
    ) -> None:
        super().__init__(backend)
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period
        self.stale_trial_callback = stale_trial_callback

    def record_heartbeat(self, trial_id: int) -> None:
        self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())

    def stale_trial_ids(self, study_id: int) -> list[int]:
        now = time.time()
        stale = []
        for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
            start = trial.datetime_start.timestamp() if trial.datetime_start else now
            if now - trial.system_attrs.get(HEARTBEAT_ATTR, start) > self.grace_period:
                stale.append(internals.trial_id(trial))
        return stale

    def get_heartbeat_interval(self) -> int:
        return self.heartbeat_interval

    def get_heartbeat_stale_trial_callback(self) -> RetryHeartbeatStaleTrialCallback:
        return self.stale_trial_callback


def storage_spec(storage: str | None, sweep_dir: Path) -> str:
    """The storage as the plan records it: an RDB URL, or the journal file's absolute path."""
    if storage is None:
        return str((sweep_dir / JOURNAL_FILE).resolve())
    scheme = storage.split(":", 1)[0].split("+", 1)[0]
    if "://" in storage:
        if scheme not in RDB_SCHEMES:
            raise ConfigError(
                f"sweep.storage={storage}: '{scheme}' is no storage fabricx knows. Give an RDB "
                "URL (sqlite:///sweep.db, postgresql://user@host/db), a journal file path, "
                "or null for a journal file in the sweep directory."
            )
        return storage
    return str(Path(storage).expanduser().resolve())


def open_storage(plan: SweepPlan) -> BaseStorage:
    retry = RetryHeartbeatStaleTrialCallback(max_retry=plan.max_retries)
    if "://" in plan.storage:
        engine_kwargs = {}
        if plan.storage.startswith("sqlite"):  # many writers: wait for the lock, don't fail
            engine_kwargs = {"connect_args": {"timeout": 120}}
        try:
            return RDBStorage(
                plan.storage,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=plan.heartbeat_s,
                grace_period=plan.grace_s,
                heartbeat_stale_trial_callback=retry,
            )
        except ImportError as err:  # the URL's database driver
            raise ConfigError(
                f"sweep.storage={plan.storage}: its database driver is not installed ({err}); "
                "pip install 'fabricx[cluster]' brings the PostgreSQL one (psycopg)."
            ) from None
    Path(plan.storage).parent.mkdir(parents=True, exist_ok=True)
    # The open-lock works on NFS too, where a sweep's workers on several nodes share the file.
    backend = JournalFileBackend(plan.storage, lock_obj=JournalFileOpenLock(plan.storage))
    return JournalStorageWithHeartbeat(backend, plan.heartbeat_s, plan.grace_s, retry)


def build_sampler(plan: SweepPlan, stream: int = 0) -> optuna.samplers.BaseSampler:
    """The plan's sampler; `stream` separates workers, which would otherwise sample alike."""
    cfg = plan.sampler
    seed = None if cfg["seed"] is None else cfg["seed"] + 7919 * stream
    name = cfg["name"]
    if name == "tpe":
        return optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=cfg["n_startup_trials"], constant_liar=True
        )
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=cfg["n_startup_trials"])
    return optuna.samplers.GridSampler(grid(plan.params), seed=seed)


def grid(params: dict[str, dict[str, Any]]) -> dict[str, list[Any]]:
    """The grid sampler's values per parameter: choices, or low..high by step."""
    values = {}
    for name, p in params.items():
        if p["type"] == "categorical":
            values[name] = list(p["choices"])
        elif p["type"] == "int":
            values[name] = list(range(int(p["low"]), int(p["high"]) + 1, int(p["step"] or 1)))
        else:
            count = round((p["high"] - p["low"]) / p["step"]) + 1
            values[name] = [float(v) for v in np.linspace(p["low"], p["high"], count)]
    return values


def grid_size(params: dict[str, dict[str, Any]]) -> int:
    return len(list(itertools.product(*grid(params).values())))


def build_pruner(plan: SweepPlan) -> optuna.pruners.BasePruner:
    cfg = plan.pruner
    name = cfg["name"]
    if name == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=cfg["n_startup_trials"], n_warmup_steps=cfg["n_warmup_steps"]
        )
    if name == "percentile":
        return optuna.pruners.PercentilePruner(
            cfg["percentile"],
            n_startup_trials=cfg["n_startup_trials"],
            n_warmup_steps=cfg["n_warmup_steps"],
        )
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=cfg["min_resource"],
            max_resource=cfg["max_resource"],
            reduction_factor=cfg["reduction_factor"],
        )
    return optuna.pruners.NopPruner()


def load(plan: SweepPlan, stream: int = 0) -> optuna.Study:
    """The plan's study, created on first use; later calls (workers, resumes) load it."""
    return optuna.create_study(
        storage=open_storage(plan),
        study_name=plan.study_name,
        sampler=build_sampler(plan, stream),
        pruner=build_pruner(plan),
        directions=[o["direction"] for o in plan.objectives],
        load_if_exists=True,
    )


def check_resumable(study: optuna.Study, plan: SweepPlan) -> None:
    """Refuse (exit 2) to continue a study under a different objective or base config.

    The first run records what defines the study; a rerun may change the budget, the
    workers or the launcher, and nothing else, or its trials would not be comparable.
    """
    recorded = study.user_attrs.get("fabricx")
    current = plan.identity()
    if recorded is None:
        study.set_user_attr("fabricx", current)
        return
    changed = [key for key in current if recorded.get(key) != current[key]]
    if changed:
        details = "; ".join(f"{k}: {recorded.get(k)} -> {current[k]}" for k in changed)
        raise ConfigError(
            f"study '{plan.study_name}' in {plan.storage} was started with another "
            f"{', '.join(changed)} ({details}). Rerun the first command to resume it, or "
            "start a new study with sweep.study_name=<new name>."
        )
