"""The sweep's parts in one process: search space, budget, heartbeat retry, plan, from_sweep."""

from __future__ import annotations

import json
import time
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.storages import fail_stale_trials
from optuna.storages.journal import JournalFileOpenLock
from optuna.trial import TrialState

from fabricx.config.paths import conf_dir
from fabricx.errors import ConfigError
from fabricx.sweep import study as studies
from fabricx.sweep.best import expand_from_sweep
from fabricx.sweep.plan import SweepPlan, trial_base_args
from fabricx.sweep.space import as_overrides, corner_cases, suggest
from fabricx.sweep.worker import WAIT, counted, next_trial

SPACE = {
    "optim": {"type": "categorical", "choices": ["adamw", "sgd"], "when": None},
    "optim.lr": {"type": "float", "low": 1e-4, "high": 1e-1, "step": None, "log": True},
    "optim.momentum": {
        "type": "float", "low": 0.8, "high": 0.99, "step": None, "log": False,
        "when": {"optim": "sgd"},
    },
    "data.batch_size": {"type": "int", "low": 32, "high": 128, "step": 32, "log": False},
}  # fmt: skip


def _plan(tmp_path: Path, **changes) -> SweepPlan:
    fields = dict(
        study_name="units", sweep_dir=str(tmp_path), storage=str(tmp_path / "study.journal"),
        n_trials=2, workers=1, objectives=[{"metric": "val/acc", "direction": "maximize"}],
        params=SPACE, enqueue=[], sampler={"name": "random", "seed": 0, "n_startup_trials": 2},
        pruner={"name": "median", "n_startup_trials": 0, "n_warmup_steps": 0},
        heartbeat_s=1, grace_s=2, max_retries=1, train_args=["recipe=digits_mlp", "stages=[fit]"],
        command=["fabricx", "sweep", "recipe=digits_mlp"],
    )  # fmt: skip
    fields.update(changes)
    return SweepPlan(**fields)


def test_conditional_parameter_is_sampled_only_when_its_condition_holds():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial({"optim": "adamw"})
    study.enqueue_trial({"optim": "sgd"})
    adamw, sgd = suggest(study.ask(), SPACE), suggest(study.ask(), SPACE)
    assert "optim.momentum" not in adamw and 0.8 <= sgd["optim.momentum"] <= 0.99
    assert sgd["data.batch_size"] in (32, 64, 96, 128)


def test_overrides_read_back_as_the_same_values():
    values = {"optim.lr": 0.001, "model.hidden_sizes": "[128,64]", "optim": "sgd", "x.flag": True}
    assert as_overrides(values) == [
        "optim.lr=0.001", "model.hidden_sizes=[128,64]", "optim=sgd", "x.flag=true"
    ]  # fmt: skip


def test_corner_cases_cover_every_choice_and_both_ends():
    cases = corner_cases(SPACE)
    assert {c["optim"] for c in cases} == {"adamw", "sgd"}
    assert {c["optim.lr"] for c in cases} == {1e-4, 1e-1}
    assert all(("optim.momentum" in c) == (c["optim"] == "sgd") for c in cases)


def test_trial_base_args_drop_the_sweep_own_overrides():
    given = ["recipe=digits_mlp", "sweep.n_trials=4", "search_space=tiny", "stages=[fit,test]",
             "+sweep.x=1", "optim.lr=0.1"]  # fmt: skip
    assert trial_base_args(given, ["fit"]) == ["recipe=digits_mlp", "optim.lr=0.1", "stages=[fit]"]


def test_budget_counts_running_trials_and_stops_at_it(tmp_path: Path):
    plan = _plan(tmp_path)
    study = studies.load(plan)
    lock = JournalFileOpenLock(str(tmp_path / "budget.lock"))
    first = next_trial(study, plan, lock)
    second = next_trial(study, plan, lock)
    assert isinstance(first, optuna.Trial) and isinstance(second, optuna.Trial)
    assert next_trial(study, plan, lock) == WAIT  # budget spent, trials still running
    study.tell(first, 0.5)
    study.tell(second, state=TrialState.PRUNED)
    assert next_trial(study, plan, lock) is None


def test_silent_trial_on_the_journal_file_is_failed_and_retried_with_its_values(tmp_path):
    plan = _plan(tmp_path)
    study = studies.load(plan)
    trial = study.ask()
    values = suggest(trial, SPACE)
    trial.storage.record_heartbeat(trial._trial_id)
    fail_stale_trials(study)
    assert study.trials[0].state == TrialState.RUNNING  # its heartbeat is fresh
    study._storage.set_trial_system_attr(trial._trial_id, studies.HEARTBEAT_ATTR, time.time() - 60)
    fail_stale_trials(study)
    failed, retry = study.get_trials(deepcopy=False)
    assert failed.state == TrialState.FAIL and retry.state == TrialState.WAITING
    assert retry.params == values and retry.system_attrs["failed_trial"] == 0
    assert counted(study.get_trials(deepcopy=False)) == 1  # the retry replaces it


def test_resuming_with_another_base_config_is_refused(tmp_path: Path):
    plan = _plan(tmp_path)
    studies.check_resumable(studies.load(plan), plan)
    studies.check_resumable(studies.load(plan), _plan(tmp_path, n_trials=9, workers=4))
    changed = _plan(tmp_path, train_args=["recipe=digits_mlp", "optim=sgd", "stages=[fit]"])
    with pytest.raises(ConfigError, match="was started with another train_args"):
        studies.check_resumable(studies.load(changed), changed)


def test_unknown_storage_scheme_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="redis"):
        studies.storage_spec("redis://host/0", tmp_path)
    assert studies.storage_spec(None, tmp_path).endswith("study.journal")


def test_grid_values_per_parameter():
    grid = studies.grid({"a": SPACE["data.batch_size"], "b": SPACE["optim"]})
    assert grid == {"a": [32, 64, 96, 128], "b": ["adamw", "sgd"]}


def test_sweep_yaml_picks_the_same_groups_as_train_yaml():
    def groups(name: str) -> list:
        defaults = yaml.safe_load((conf_dir() / name).read_text())["defaults"]
        return [d for d in defaults if isinstance(d, dict) and "search_space" not in d]

    assert groups("sweep.yaml") == groups("train.yaml")


def test_from_sweep_expands_to_the_best_trial_without_sweep_only_overrides(tmp_path: Path):
    trial_dir = tmp_path / "trials" / "0003"
    trial_dir.mkdir(parents=True)
    (trial_dir / "overrides.yaml").write_text(yaml.safe_dump(
        ["recipe=digits_mlp", "stages=[fit]", "optim.lr=0.01", "++logger.wandb.group=s",
         "++logger.wandb.tags=[a]"]
    ))  # fmt: skip
    (tmp_path / "best.json").write_text(json.dumps({"best": {"trial": 3}}))
    (tmp_path / "sweep.json").write_text(json.dumps({"train_args": ["recipe=digits_mlp"]}))
    expanded = expand_from_sweep([f"from_sweep={tmp_path}", "trainer.max_epochs=1"])
    assert expanded == ["recipe=digits_mlp", "optim.lr=0.01", "trainer.max_epochs=1"]


SPACE_NEEDS = {
    "cifar10_resnet18": ["data.path=/data/cifar10"],
    "conll2003_bilstm": ["data.path=/d"],
}


@pytest.mark.parametrize(
    "name", sorted(p.stem for p in (conf_dir() / "search_space").glob("*.yaml"))
)
def test_every_search_space_composes_with_its_recipe(name: str):
    """Each shipped space is its recipe's: every choice and range end is a valid config."""
    from fabricx.launch.compose import validate
    from fabricx.launch.sweep_space import check_space

    overrides = [f"recipe={name}", f"search_space={name}", *SPACE_NEEDS.get(name, [])]
    typed = validate("sweep", overrides)
    assert typed.sweep.params
    check_space(typed, overrides, None)


@pytest.mark.parametrize("sampler", ["tpe", "random", "cmaes", "grid"])
def test_every_sampler_searches_the_space(tmp_path: Path, sampler: str):
    """Each sampler drives a few trials of the numeric part of the space, in storage."""
    numeric = {k: SPACE[k] for k in ("data.batch_size",)}
    numeric["x"] = {"type": "float", "low": 0.0, "high": 1.0, "step": 0.25, "log": False}
    config = {"name": sampler, "seed": 0, "n_startup_trials": 2}
    study = studies.load(_plan(tmp_path, params=numeric, sampler=config))
    for _ in range(6):
        trial = study.ask()
        values = suggest(trial, numeric)
        study.tell(trial, values["x"] - values["data.batch_size"] / 1000)
    assert len({tuple(t.params.values()) for t in study.trials}) >= 3  # it explores


@pytest.mark.parametrize(
    ("name", "kind"),
    [("median", "MedianPruner"), ("percentile", "PercentilePruner"),
     ("hyperband", "HyperbandPruner"), ("none", "NopPruner")],
)  # fmt: skip
def test_pruners_are_built_from_the_plan(tmp_path: Path, name: str, kind: str):
    pruner = {"name": name, "n_startup_trials": 1, "n_warmup_steps": 0, "percentile": 25.0,
              "min_resource": 1, "max_resource": 9, "reduction_factor": 3}  # fmt: skip
    assert type(studies.build_pruner(_plan(tmp_path, pruner=pruner))).__name__ == kind
