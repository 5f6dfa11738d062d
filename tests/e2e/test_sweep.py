"""`fabricx sweep` with real processes: workers, trials as `fabricx train` runs, pruning,
failures, a worker killed and the study resumed, multi-objective, RDB storages, DDP trials.

Each trial is a real training of the digits MLP for a few epochs (5-10 s on 2 cores).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.cli import assert_refused_before_a_run, cli_env, read_json, run_cli
from tests.helpers.ddp import DDP, rank_digests
from tests.helpers.wandb_offline import find_offline_runs, read_offline_run

pytestmark = pytest.mark.slow

SPACE = """# @package sweep
params:
  optim.lr: {type: float, low: 1.0e-3, high: 3.0e-2, log: true}
  optim.eps: {type: float, low: 1.0e-9, high: 1.0e-7}
"""
ENQUEUE = """enqueue:
  - {optim.lr: 0.01}
  - {optim.lr: 0.005}
  - {optim.eps: -1.0}     # torch.optim.AdamW refuses it when fit starts: the trial fails
  - {optim.lr: 1.0e-5}    # learns next to nothing in an epoch: the median pruner stops it
"""
QUICK = ("recipe=digits_mlp", "callbacks.progress_bar=none")


def _config_dir(tmp_path: Path, space: str = SPACE) -> Path:
    conf = tmp_path / "conf"
    (conf / "search_space").mkdir(parents=True)
    (conf / "search_space" / "tiny.yaml").write_text(space)
    return conf


def _sweep_args(conf: Path, *overrides: str) -> list[str]:
    return ["sweep", "--config-dir", str(conf), "search_space=tiny", *QUICK, *overrides]


def _trials(sweep_dir: Path) -> list[dict[str, str]]:
    with open(sweep_dir / "trials.csv", newline="") as f:
        return list(csv.DictReader(f))


def _sweep_dir(cwd: Path, study: str = "digits_mlp") -> Path:
    return cwd / "runs" / "digits_mlp" / "sweeps" / study


def test_two_workers_prune_record_a_failed_trial_and_report(tmp_path: Path):
    conf = _config_dir(tmp_path, SPACE + ENQUEUE)
    result = run_cli(
        *_sweep_args(conf, "sweep.n_trials=6", "sweep.workers=2", "trainer.max_epochs=3"),
        "sweep.pruner.n_startup_trials=2", "sweep.pruner.n_warmup_steps=0",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    sweep_dir = _sweep_dir(tmp_path)
    trials = _trials(sweep_dir)
    assert len(trials) == 6
    states = {int(t["number"]): t["state"] for t in trials}
    assert states[2] == "fail" and "Invalid epsilon value" in trials[2]["error"], trials[2]
    assert states[3] == "pruned", trials[3]
    assert list(states.values()).count("complete") >= 2
    assert {t["worker"].rsplit(":", 1)[1] for t in trials} == {"0", "1"}  # both pulled trials
    # The pruned trial is an ordinary run that stopped after its first epoch, status "pruned".
    pruned_dir = Path(trials[3]["run_dir"])
    assert read_json(pruned_dir / "metrics.json")["status"] == "pruned"
    assert trials[3]["epochs_reported"] == "1"
    # Each trial is a W&B run of the study's group, tagged with its number and values.
    run = read_offline_run(find_offline_runs(Path(trials[0]["run_dir"]) / "wandb")[0])
    header = next(r.run for r in run.records if r.WhichOneof("record_type") == "run")
    assert header.run_group == "digits_mlp"
    assert "trial-0" in header.tags and "optim.lr=0.01" in header.tags
    # The report: best trial, Pareto-free single objective, plots.
    best = read_json(sweep_dir / "best.json")
    assert states[best["best"]["trial"]] == "complete"
    assert best["trials"]["pruned"] >= 1 and best["trials"]["fail"] == 1
    for plot in ("history.png", "intermediate.png", "importances.png"):
        assert (sweep_dir / plot).stat().st_size > 1000, best["plots"]
    # The sweep's page links every trial's own page, the pruned and the failed one too.
    page = (sweep_dir / "report.html").read_text()
    assert best["report"] == str(sweep_dir / "report.html")
    assert page.count(">report</a>") >= 6 and page.count("<svg") == 3
    # One command trains the best trial in full: its values, every stage but export. The
    # sweep ran with --config-dir: a sweep directory is data, so the user names it again.
    full = run_cli("train", "--config-dir", str(conf), f"from_sweep={sweep_dir}",
                   "trainer.max_epochs=1", "export=[]", "logger=csv", cwd=tmp_path)  # fmt: skip
    assert full.returncode == 0, full.output
    (run_dir,) = [d for d in full.run_dirs("digits_mlp") if "sweeps" not in d.parts]
    command = (run_dir / "command.txt").read_text()
    assert f"optim.lr={best['best']['params']['optim.lr']!r}" in command
    assert "test/acc" in read_json(run_dir / "metrics.json")["metrics"]


def _worker_pids(sweep_dir: Path) -> list[int]:
    out = subprocess.run(["pgrep", "-f", f"fabricx.sweep.worker {sweep_dir}"],
                         capture_output=True, text=True)  # fmt: skip
    return [int(p) for p in out.stdout.split()]


def _alive(pattern: str) -> bool:
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0


def test_killed_worker_trial_is_retried_when_the_command_is_rerun(tmp_path: Path):
    conf = _config_dir(tmp_path)
    args = _sweep_args(
        conf, "sweep.n_trials=3", "sweep.workers=1", "trainer.max_epochs=6", "logger=csv",
        "sweep.pruner.name=none", "sweep.heartbeat_s=1", "sweep.grace_s=3",
    )  # fmt: skip
    sweep_dir = _sweep_dir(tmp_path)
    first = subprocess.Popen([sys.executable, "-m", "fabricx", *args], cwd=tmp_path,
                             env=cli_env(tmp_path), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)  # fmt: skip
    epoch_done = sweep_dir / "trials" / "0001" / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 180
    while not epoch_done.exists():  # trial 1 is mid-way: it finished an epoch
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()[0]
        time.sleep(0.2)
    (worker,) = _worker_pids(sweep_dir)
    os.kill(worker, signal.SIGKILL)
    output = first.communicate(timeout=60)[0]
    assert first.returncode == 1, output
    assert "worker 0 was killed by signal 9" in output and "to resume the study" in output
    time.sleep(1)
    assert not _alive(str(sweep_dir / "trials" / "0001")), "the trial outlived its worker"

    second = run_cli(*args, cwd=tmp_path)  # the same command: resume
    assert second.returncode == 0, second.output
    trials = {int(t["number"]): t for t in _trials(sweep_dir)}
    (retry,) = [t for t in trials.values() if t["retry_of"] == "1"]
    assert trials[1]["state"] == "fail" and trials[1]["retried_by"] == retry["number"]
    assert "worker lost" in trials[1]["error"]
    assert retry["optim.lr"] == trials[1]["optim.lr"]  # retried with its own values
    assert [t["state"] for n, t in trials.items() if n != 1] == ["complete"] * 3, trials
    assert len(trials) == 4  # the budget of 3, plus the retry that replaced trial 1

    # Nothing left to do: a rerun reports again; a changed base config is refused.
    again = run_cli(*args, "sweep.report_only=true", cwd=tmp_path)
    assert again.returncode == 0 and len(_trials(sweep_dir)) == 4, again.output
    changed = run_cli(*args, "trainer.max_epochs=7", cwd=tmp_path)
    assert changed.returncode == 2, changed.output
    assert "was started with another train_args" in changed.stderr
    assert "sweep.study_name=" in changed.stderr


def test_sweep_runs_as_a_slurm_job_array(slurm_cluster, tmp_path: Path):
    conf = _config_dir(tmp_path)
    env = {**cli_env(tmp_path), **slurm_cluster.env}
    result = run_cli(
        *_sweep_args(conf, "sweep.n_trials=3", "sweep.workers=2", "trainer.max_epochs=2"),
        "sweep.launcher=slurm", f"sweep.slurm.partition={slurm_cluster.partition}",
        "sweep.slurm.timeout_min=10", "logger=csv",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.output + slurm_cluster.logs()
    assert "submitted job array" in result.stdout
    sweep_dir = _sweep_dir(tmp_path)
    trials = _trials(sweep_dir)
    assert [t["state"] for t in trials] == ["complete"] * 3, trials
    folders = [p.name for p in (sweep_dir / "slurm").iterdir() if p.is_dir()]
    tasks = sorted(name.split("_")[1] for name in folders if "_" in name)  # <array>_<task>
    assert tasks == ["0", "1"], list((sweep_dir / "slurm").iterdir())


def test_multi_objective_sweep_on_sqlite_writes_the_pareto_front(tmp_path: Path):
    conf = _config_dir(tmp_path)
    result = run_cli(
        *_sweep_args(conf, "sweep.n_trials=4", "sweep.workers=2", "trainer.max_epochs=2"),
        f"sweep.storage=sqlite:///{tmp_path}/study.db", "sweep.sampler.name=random",
        "sweep.pruner.name=none", "stages=[fit,bench]", "bench.batch_sizes=[1]",
        "bench.seconds_per_case=0.05", "logger=csv",
        "sweep.objectives=[{metric: val/acc, direction: maximize},"
        "{metric: bench/eager_fp32_p50_ms_bs1, direction: minimize}]",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    sweep_dir = _sweep_dir(tmp_path)
    assert (tmp_path / "study.db").is_file() and not (sweep_dir / "study.journal").exists()
    best = read_json(sweep_dir / "best.json")
    front = best["pareto_front"]
    objectives = {"val/acc", "bench/eager_fp32_p50_ms_bs1"}
    assert front and all(set(row["values"]) == objectives for row in front)
    assert (sweep_dir / "pareto.png").stat().st_size > 1000
    # Several trials are best: from_sweep asks which one, and takes one given.
    ambiguous = run_cli("train", f"from_sweep={sweep_dir}", cwd=tmp_path)
    assert ambiguous.returncode == 2 and "sweep_trial=N" in ambiguous.stderr, ambiguous.output
    chosen = front[-1]["trial"]
    shown = run_cli("train", "--config-dir", str(conf), f"from_sweep={sweep_dir}",
                    f"sweep_trial={chosen}", "--cfg", "job", cwd=tmp_path)  # fmt: skip
    assert shown.returncode == 0, shown.output
    assert f"lr: {front[-1]['params']['optim.lr']}" in shown.stdout


def test_ddp_trials_on_postgresql_run_the_same_values_on_both_ranks(postgres_url, tmp_path):
    conf = _config_dir(tmp_path)
    result = run_cli(
        *_sweep_args(conf, "sweep.n_trials=1", *DDP, "logger=csv"),
        f"sweep.storage='{postgres_url}'", "sweep.pruner.n_startup_trials=0",  # quoted: = and &
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    (trial,) = _trials(_sweep_dir(tmp_path))
    assert trial["state"] == "complete" and trial["epochs_reported"] == "2", trial
    digests = rank_digests(Path(trial["run_dir"]))
    assert set(digests) == {0, 1} and digests[0] == digests[1], digests
    plan = json.loads((_sweep_dir(tmp_path) / "sweep.json").read_text())
    assert plan["storage"].startswith("postgresql://")


SPACE_ARGS = ("recipe=digits_mlp", "search_space=tiny")
TWO_OBJECTIVES = (
    "sweep.objectives=[{metric: val/acc, direction: maximize},"
    "{metric: val/loss, direction: minimize}]"
)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ([*SPACE_ARGS, "+sweep.params.optim.lrr={type: float, low: 0.1, high: 0.2}"], "lrr"),
        ([], "sweep.params is empty"),  # no recipe, no search_space=
        ([*SPACE_ARGS, "-m"], "drop -m"),
        ([*SPACE_ARGS, TWO_OBJECTIVES], "sweep.pruner.name=none"),
        ([*SPACE_ARGS, "sweep.enqueue=[{model.dropout: 0.2}]"], "sweep.enqueue[0]"),
    ],
)
def test_sweep_config_errors_exit_2_before_any_trial(tmp_path, overrides, message):
    conf = _config_dir(tmp_path)
    result = run_cli("sweep", "--config-dir", str(conf), *overrides, cwd=tmp_path)
    assert_refused_before_a_run(result, message)


def test_from_sweep_without_a_report_is_a_config_error(tmp_path: Path):
    result = run_cli("train", f"from_sweep={tmp_path}/nowhere", cwd=tmp_path)
    assert result.returncode == 2 and "no best.json" in result.stderr, result.output


def test_recipe_brings_its_search_space_and_hydra_flags_still_work(tmp_path: Path):
    result = run_cli("sweep", "recipe=digits_mlp", "--cfg", "job", cwd=tmp_path)
    assert result.returncode == 0, result.output
    assert "optim.lr:" in result.stdout and "stages:\n- fit\n" in result.stdout
    assert not (tmp_path / "runs").exists()
