"""`compile.enabled=true`: a compiled run against an eager one of the same seed, as typed.

The tolerance stated in the README ("Speed"): on the digits MLP without dropout,
a compiled run's test accuracy is within 0.01 of the eager run's and its test loss within
0.1% (fp32 sums in another order; measured: equal to 5 digits). With dropout the random
masks differ (inductor draws its own random numbers): the runs agree only as two seeds do.
"""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
import torch

from tests.helpers.cli import CliResult, assert_refused_before_a_run, cli_env, read_json, run_cli
from tests.helpers.user_package import USER_ARGS, write_user_project

pytestmark = pytest.mark.slow

RUN = ["model.dropout=0.0", "trainer.max_epochs=2", "logger=none", "export=[onnx]",
       "bench.batch_sizes=[1]", "seed=3"]  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same run twice, eager and compiled."""
    cwd = tmp_path_factory.mktemp("compile")
    found = {}
    for name, extra in (("eager", []), ("compiled", ["compile.enabled=true"])):
        result = run_cli("train", *RUN, *extra, f"experiment={name}", cwd=cwd)
        assert result.returncode == 0, result.output
        (found[name],) = result.run_dirs(name)
    return found


def _metrics(run_dir: Path) -> dict[str, float]:
    return read_json(run_dir / "metrics.json")["metrics"]


def test_compiled_metrics_match_eager_within_the_stated_tolerance(runs: dict[str, Path]):
    eager, compiled = _metrics(runs["eager"]), _metrics(runs["compiled"])
    assert abs(compiled["test/acc"] - eager["test/acc"]) <= 0.01
    assert compiled["test/loss"] == pytest.approx(eager["test/loss"], rel=1e-3)
    # Compile time is reported apart from the step time, for the compiled run only.
    assert compiled["fit/compile_s"] > 0 and "fit/compile_s" not in eager
    assert compiled["fit/step_ms"] > 0
    assert compiled["fit/compile_s"] * 1000 > 10 * compiled["fit/step_ms"]


def test_checkpoints_of_a_compiled_run_have_the_eager_runs_keys(runs: dict[str, Path]):
    keys = {}
    for name, run_dir in runs.items():
        (best,) = (run_dir / "checkpoints").glob("best-*.ckpt")
        keys[name] = list(torch.load(best, weights_only=True)["state_dict"])
    assert keys["compiled"] == keys["eager"]
    assert not any("_orig_mod" in k for k in keys["compiled"])


def test_export_and_verify_of_a_compiled_run_are_the_eager_modules(runs: dict[str, Path]):
    record = read_json(runs["compiled"] / "metrics.json")
    assert record["stages"]["export"] == "ok" and record["stages"]["verify"] == "ok"
    assert record["metrics"]["test/acc_onnx"] == record["metrics"]["test/acc"]
    graphs = {
        name: onnx.load(str(run_dir / "export" / "model.onnx")).graph
        for name, run_dir in runs.items()
    }
    ops = {name: [node.op_type for node in graph.node] for name, graph in graphs.items()}
    assert ops["compiled"] == ops["eager"]  # the original module's graph, not inductor's
    inputs = {name: [i.name for i in graph.input] for name, graph in graphs.items()}
    assert inputs["compiled"] == inputs["eager"] == ["x"]


def test_eval_of_a_compiled_run_does_not_compile(runs: dict[str, Path], tmp_path: Path):
    result = run_cli("eval", f"run={runs['compiled']}", cwd=tmp_path)
    assert result.returncode == 0, result.output
    assert "compiled in place" not in result.output


def test_a_mode_torch_does_not_have_is_refused_before_a_run(tmp_path: Path):
    result = run_cli("train", "compile.enabled=true", "compile.mode=fastest", cwd=tmp_path)
    assert_refused_before_a_run(result, "compile.mode='fastest' is not one of ['default', ")
    assert "'max-autotune'" in result.stderr


def test_a_users_own_model_compiles(tmp_path: Path):
    write_user_project(tmp_path / "lab")
    env = {**cli_env(tmp_path), "PYTHONPATH": str(tmp_path / "lab")}
    result: CliResult = run_cli(
        "train", "--config-dir", str(tmp_path / "lab" / "conf"), *USER_ARGS,
        "compile.enabled=true", "trainer.max_epochs=1", "logger=none", "export=none",
        "stages=[fit,test]", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    assert "WaveNet compiled in place" in result.output
    (run_dir,) = result.run_dirs()
    assert _metrics(run_dir)["fit/compile_s"] > 0
