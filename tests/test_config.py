"""Config validation as users meet it: compose, check, explain every problem at once.

Real Hydra composition of the repository's conf/, no mocks. Nothing here imports torch or
lightning: `fabricx config` and every config error must answer before those load.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import textwrap
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from fabricx.config.compose import compose, quote_numeric_choices, validate
from fabricx.config.paths import conf_dir
from fabricx.config.saved import load_saved_config
from fabricx.config.schema import (
    GROUP_SCHEMAS,
    AdamWConfig,
    ClassificationTaskConfig,
    DigitsDataConfig,
    MLPConfig,
    SGDConfig,
    TrainConfig,
)
from fabricx.config.typed import to_typed
from fabricx.errors import ConfigError

# --- helpers ------------------------------------------------------------------------------


def _group_options() -> list[tuple[str, str]]:
    """(group, option) for every YAML file in conf/<group>/, Hydra's own folder excepted, and
    recipes: they set values across groups (# @package _global_); tests/test_recipes.py.
    search_space belongs to the sweep config: tests/test_sweep_units.py composes each."""
    return sorted(
        (group.name, path.stem)
        for group in conf_dir().iterdir()
        if group.is_dir() and group.name not in ("hydra", "recipe", "search_space")
        for path in group.glob("*.yaml")
    )


# Options that compose only with required values and companions: the text setup. Validation
# reads no file, so the path and tokenizer only have to be given.
TEXT = (
    "data=conll2003", "data.path=/data/conll2003", "data.tokenizer=bert-base-cased",
    "model=hf_token_classifier", "model.pretrained=bert-base-cased", "task=token_classification",
)  # fmt: skip
SST2 = (
    "data=glue_sst2", "data.path=/data/glue", "data.tokenizer=distilbert-base-uncased",
    "model=hf_sequence_classifier", "model.pretrained=distilbert-base-uncased",
    "task=classification",
)  # fmt: skip
# The from-scratch tagger reads word and character ids, not sub-tokens.
WORDS = (
    "data=conll2003_words", "data.path=/data/conll2003", "model=bilstm_tagger",
    "task=token_classification",
)  # fmt: skip
OPTION_NEEDS = {
    # Image datasets pair with image models (the default mlp reads data.num_features).
    ("data", "mnist"): ("data=mnist", "data.path=/data/mnist", "model=lenet5"),
    ("data", "fashion_mnist"): ("data=fashion_mnist", "data.path=/d", "model=lenet5"),
    ("data", "cifar10"): ("data=cifar10", "data.path=/data/cifar10", "model=resnet18"),
    ("data", "image_folder"): (
        "data=image_folder",
        "data.path=/data/x",
        "data.num_classes=5",
        "model=resnet18",
    ),
    ("data", "conll2003"): TEXT,
    ("model", "hf_token_classifier"): TEXT,
    ("task", "token_classification"): TEXT,
    ("data", "conll2003_words"): WORDS,
    ("model", "bilstm_tagger"): WORDS,
    ("data", "glue_sst2"): SST2,
    ("model", "hf_sequence_classifier"): SST2,
}


def _option_param(group: str, option: str) -> Any:
    return pytest.param(group, option, id=f"{group}={option}")


@functools.cache
def _validated(*overrides: str) -> TrainConfig:
    """validate("train", overrides), composed once per module run (tests only read it)."""
    return validate("train", list(overrides))


@functools.cache
def _columns() -> list[tuple[str, ...]]:
    """Override lists that together choose every option of every group at least once.

    One option of every group per composition: as many compositions as the largest group
    has options, instead of one per option, keeps this module fast. `_with_option` falls
    back to the option alone when its column fails.
    """
    by_group: dict[str, list[str]] = {}
    for group, option in _group_options():
        if (group, option) not in OPTION_NEEDS:
            by_group.setdefault(group, []).append(option)
    width = max(len(options) for options in by_group.values())
    return [
        tuple(f"{group}={options[i % len(options)]}" for group, options in by_group.items())
        for i in range(width)
    ]


def _with_option(group: str, option: str) -> TrainConfig:
    """The validated config that chooses `group=option`; alone when its column fails."""
    override = f"{group}={option}"
    if (group, option) in OPTION_NEEDS:
        return _validated(*OPTION_NEEDS[group, option])
    for column in _columns():
        if override in column:
            try:
                return _validated(*column)
            except ConfigError:
                break
    return _validated(override)


def _assert_contains(expected: Any, actual: Any, where: str) -> None:
    """Every value written in a group's YAML file reaches the typed config unchanged."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), where
        for key, value in expected.items():
            assert key in actual, f"{where}.{key} missing from the typed config"
            _assert_contains(value, actual[key], f"{where}.{key}")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def _only_problem(err: pytest.ExceptionInfo[ConfigError]) -> str:
    problems = err.value.problems
    assert len(problems) == 1, problems
    return problems[0]


@pytest.fixture(scope="module")
def default_cfg() -> TrainConfig:
    return _validated()


# --- the default config and every option --------------------------------------------------


def test_default_config_is_typed(default_cfg: TrainConfig) -> None:
    cfg = default_cfg
    assert type(cfg) is TrainConfig
    assert type(cfg.data) is DigitsDataConfig
    assert type(cfg.model) is MLPConfig
    assert type(cfg.task) is ClassificationTaskConfig
    assert type(cfg.optim) is AdamWConfig
    assert cfg.optim._target_ == "torch.optim.AdamW"
    assert cfg.export.targets == ["onnx"]
    # Interpolations are resolved into plain values by the one conversion at entry.
    assert cfg.model.in_features == cfg.data.num_features == 64
    assert cfg.model.num_classes == cfg.task.num_classes == cfg.data.num_classes == 10
    assert cfg.data.seed == cfg.seed == 0
    assert cfg.callbacks.checkpoint.monitor == cfg.task.monitor == "val/acc"
    assert (cfg.scheduler.name, cfg.precision.name, cfg.strategy.name) == (
        "cosine",
        "32-true",
        "auto",
    )


def test_export_none_has_no_targets() -> None:
    cfg = _with_option("export", "none")
    assert cfg.export.targets == []
    assert cfg.export.onnx is None


def test_to_typed_converts_a_composed_config() -> None:
    cfg = to_typed(compose("train", ["optim=sgd", "seed=7"]))
    assert type(cfg) is TrainConfig
    assert type(cfg.optim) is SGDConfig
    assert cfg.data.seed == 7


def test_to_typed_reports_every_group_check_at_once() -> None:
    cfg = compose("train", ["optim.lr=-1", "trainer.max_epochs=0", "trainer.max_steps=0"])
    with pytest.raises(ConfigError, match=r"optim\.lr=-1\.0 must be > 0") as err:
        to_typed(cfg)
    problems = err.value.problems
    assert len(problems) == 2, problems
    assert "trainer.max_epochs=0 trains nothing" in problems[1]


def test_to_typed_reports_unknown_and_missing_keys_together() -> None:
    cfg = compose("train", ["+optim.foo=1", "data.num_classes=???"])
    with pytest.raises(ConfigError, match=r"optim\.foo is not a key of AdamWConfig") as err:
        to_typed(cfg)
    problems = err.value.problems
    assert len(problems) == 2, problems
    assert "data.num_classes is required but has no value" in problems[1]


def test_documented_options_exist() -> None:
    options = set(_group_options())
    for pair in [
        ("optim", "adamw"),
        ("optim", "sgd"),
        ("scheduler", "cosine"),
        ("scheduler", "none"),
        ("precision", "32"),
        ("precision", "bf16-mixed"),
        ("precision", "16-mixed"),
        ("strategy", "auto"),
        ("strategy", "ddp"),
        ("trainer", "default"),
        ("trainer", "debug"),
        ("logger", "wandb"),
        ("logger", "csv"),
        ("logger", "none"),
        ("export", "onnx"),
        ("export", "none"),
    ]:
        assert pair in options


@pytest.mark.parametrize(("group", "option"), [_option_param(*p) for p in _group_options()])
def test_every_group_option_composes(group: str, option: str) -> None:
    cfg = _with_option(group, option)
    node = getattr(cfg, group)
    assert isinstance(node, next(iter(GROUP_SCHEMAS[group].values())))
    written = OmegaConf.to_container(OmegaConf.load(conf_dir() / group / f"{option}.yaml"))
    written.pop("defaults", None)
    for needed in OPTION_NEEDS.get((group, option), ()):  # values the option asks you to set
        key = needed.split("=", 1)[0]
        if key.startswith(f"{group}."):
            written.pop(key.split(".", 1)[1], None)
    typed = OmegaConf.to_container(OmegaConf.structured(cfg)[group], resolve=True)
    _assert_contains(written, typed, group)


def test_numeric_option_names_select_their_option() -> None:
    """Hydra reads the 32 of `precision=32` as an int; fabricx quotes numeric group choices."""
    assert validate("train", ["precision=32"]).precision.name == "32-true"
    assert validate("train", ["precision='32'"]).precision.name == "32-true"
    assert quote_numeric_choices(["precision=32", "seed=3", "-m", "trainer.max_epochs=2"]) == [
        "precision='32'",
        "seed=3",
        "-m",
        "trainer.max_epochs=2",
    ]


OPTION_EFFECTS = {
    "optim=sgd": lambda c: type(c.optim) is SGDConfig and c.optim._target_ == "torch.optim.SGD",
    "scheduler=none": lambda c: c.scheduler.name == "none",
    "precision=bf16-mixed": lambda c: c.precision.name == "bf16-mixed",
    "precision=16-mixed": lambda c: c.precision.name == "16-mixed",
    "strategy=ddp": lambda c: c.strategy.name == "ddp",
    "trainer=debug": lambda c: c.trainer.fast_dev_run == 2 and c.trainer.max_epochs == 1,
    "logger=csv": lambda c: c.logger.backend == "csv",
    "logger=none": lambda c: c.logger.backend == "none",
}


@pytest.mark.parametrize("override", list(OPTION_EFFECTS))
def test_option_takes_effect(override: str) -> None:
    assert OPTION_EFFECTS[override](_with_option(*override.split("=")))


# --- one problem of each kind -------------------------------------------------------------

# (overrides, `match` for the error, fragments the single problem must all contain)
PROBLEMS = [
    pytest.param(
        ["optim.lrr=0.1"],
        r"optim\.lrr: no such key in 'optim'",
        ["command-line override 'optim.lrr=0.1'", "Did you mean: lr?"],
        id="misspelt-key",
    ),
    pytest.param(
        ["trainer.max_epochs=abc"],
        r"trainer\.max_epochs: Value 'abc'",
        ["command-line override 'trainer.max_epochs=abc'", "Expected int."],
        id="wrong-type",
    ),
    pytest.param(
        ["optim=adamx"],
        r"'optim' has no option 'adamx'",
        ["optim=adamx", "Options: adamw, sgd.", "Did you mean: adamw?"],
        id="unknown-group-option",
    ),
    pytest.param(
        ["optimm=sgd"],
        r"optimm: no such key in the top level",
        ["command-line override 'optimm=sgd'", "Did you mean: optim?"],
        id="unknown-top-level-key",
    ),
    pytest.param(
        ["optim.lr=[1,2"],
        r"malformed override 'optim\.lr=\[1,2'",
        ["key=value", "+new_key=value"],
        id="malformed-override",
    ),
    pytest.param(
        ["data.num_classes=???"],
        r"data\.num_classes is required but has no value",
        ["command-line override 'data.num_classes=???'", "data.num_classes=<value>"],
        id="missing-value",
    ),
    pytest.param(
        ["+foo=1"],
        r"foo is not a key of TrainConfig",
        ["command-line override '+foo=1'", "fabricx/config/schema.py"],
        id="added-key-not-in-schema",
    ),
    pytest.param(
        ["optim.lr=-1"],
        r"optim\.lr=-1\.0 must be > 0",
        ["command-line override 'optim.lr=-1'"],
        id="post-init-range",
    ),
    pytest.param(
        ["precision.name=fp8"],
        r"precision\.name='fp8' is not one of",
        ["'32-true', 'bf16-mixed', '16-mixed', 'bf16-true'", "override 'precision.name=fp8'"],
        id="post-init-choice",
    ),
    pytest.param(
        ["precision.name=bf16"],
        r"precision\.name='bf16' is not one of",
        ["Did you mean: bf16-true, bf16-mixed?", "override 'precision.name=bf16'"],
        id="post-init-choice-did-you-mean",
    ),
    pytest.param(
        ["optim.lr=0.1,0.2"],
        r"'optim\.lr=0\.1,0\.2' sweeps over several values",
        ["-m (--multirun)", "key=[a,b]"],
        id="sweep-without-multirun",
    ),
]


@pytest.mark.parametrize(("overrides", "match", "fragments"), PROBLEMS)
def test_problem_names_key_source_and_fix(
    overrides: list[str], match: str, fragments: list[str]
) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        validate("train", overrides)
    problem = _only_problem(err)
    for fragment in fragments:
        assert fragment in problem
    assert "Traceback" not in problem


# --- several problems at once -------------------------------------------------------------


def test_every_bad_override_is_reported_at_once() -> None:
    overrides = ["optim=adamx", "trainer.max_epochs=x", "optim.lrr=1"]
    with pytest.raises(ConfigError, match="adamx") as err:
        validate("train", overrides)
    problems = err.value.problems
    assert len(problems) == 3, problems
    assert "'optim' has no option 'adamx'" in problems[0]
    assert "trainer.max_epochs: Value 'x'" in problems[1]
    assert "Expected int" in problems[1]
    assert "optim.lrr: no such key in 'optim'" in problems[2]
    assert "Did you mean: lr?" in problems[2]
    # The message of the error carries every problem, one per line.
    assert str(err.value).splitlines() == problems


def test_every_group_check_is_reported_at_once() -> None:
    overrides = ["optim.lr=-1", "trainer.max_epochs=0", "trainer.max_steps=0", "data.batch_size=0"]
    with pytest.raises(ConfigError, match=r"must be > 0") as err:
        validate("train", overrides)
    problems = err.value.problems
    assert len(problems) == 3, problems
    joined = "\n".join(problems)
    assert "data.batch_size=0" in joined
    assert "optim.lr=-1.0 must be > 0 (from command-line override 'optim.lr=-1')." in joined
    assert "trainer.max_epochs=0 trains nothing" in joined


def test_every_malformed_override_is_reported_at_once() -> None:
    with pytest.raises(ConfigError, match="malformed override") as err:
        validate("train", ["optim.lr=[1,2", "seed=(", "optim=sgd"])
    problems = err.value.problems
    assert len(problems) == 2, problems
    assert "'optim.lr=[1,2'" in problems[0]
    assert "'seed=('" in problems[1]


def test_every_added_unknown_key_is_reported_at_once() -> None:
    with pytest.raises(ConfigError, match="foo is not a key of TrainConfig") as err:
        validate("train", ["+foo=1", "+optim.betas2=2"])
    problems = err.value.problems
    assert len(problems) == 2, problems
    assert "'+foo=1'" in problems[0]
    assert "optim.betas2 is not a key of AdamWConfig. Did you mean: betas?" in problems[1]
    assert "'+optim.betas2=2'" in problems[1]


# --- multirun -------------------------------------------------------------------------------


def test_multirun_sweep_validates_and_returns_the_first_job() -> None:
    cfg = validate("train", ["optim.lr=0.1,0.01", "seed=1,2,3"], multirun=True)
    assert type(cfg) is TrainConfig
    assert (cfg.optim.lr, cfg.seed) == (0.1, 1)


def test_multirun_refuses_a_sweep_with_one_bad_value() -> None:
    with pytest.raises(ConfigError, match=r"trainer\.max_epochs: Value 'abc'") as err:
        validate("train", ["trainer.max_epochs=1,abc"], multirun=True)
    assert "Expected int" in _only_problem(err)


def test_multirun_refuses_a_value_that_fails_a_group_check() -> None:
    with pytest.raises(ConfigError, match=r"optim\.lr=-1\.0 must be > 0"):
        validate("train", ["optim.lr=0.1,-1", "seed=1,2,3"], multirun=True)


def test_multirun_refuses_an_unknown_option_in_a_group_sweep() -> None:
    with pytest.raises(ConfigError, match="'optim' has no option 'adamx'") as err:
        validate("train", ["optim=sgd,adamx"], multirun=True)
    assert "Did you mean: adamw?" in _only_problem(err)


# --- --config-dir ---------------------------------------------------------------------------


def _user_option(root: Path, group: str, name: str, body: str) -> Path:
    path = root / group / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))
    return path


def test_config_dir_option_is_selectable(tmp_path: Path) -> None:
    _user_option(tmp_path, "optim", "myopt", "defaults: [base_sgd, _self_]\nlr: 0.2\n")
    cfg = validate("train", ["optim=myopt"], config_dir=str(tmp_path))
    assert type(cfg.optim) is SGDConfig
    assert cfg.optim.lr == 0.2
    assert cfg.optim.momentum == 0.9  # from the schema, not written in the user's file


def test_config_dir_option_needs_the_config_dir(tmp_path: Path) -> None:
    _user_option(tmp_path, "optim", "myopt", "defaults: [base_sgd, _self_]\nlr: 0.2\n")
    with pytest.raises(ConfigError, match="'optim' has no option 'myopt'") as err:
        validate("train", ["optim=myopt"])
    assert "Options: adamw, sgd." in _only_problem(err)


def test_config_dir_options_are_suggested(tmp_path: Path) -> None:
    _user_option(tmp_path, "optim", "myopt", "defaults: [base_sgd, _self_]\nlr: 0.2\n")
    with pytest.raises(ConfigError, match="'optim' has no option 'myop'") as err:
        validate("train", ["optim=myop"], config_dir=str(tmp_path))
    problem = _only_problem(err)
    assert "Options: adamw, myopt, sgd." in problem
    assert "Did you mean: myopt?" in problem


def test_config_dir_option_with_a_bad_value_is_refused(tmp_path: Path) -> None:
    _user_option(tmp_path, "optim", "myopt", "defaults: [base_sgd, _self_]\nlr: -0.2\n")
    with pytest.raises(ConfigError, match=r"optim\.lr=-0\.2 must be > 0") as err:
        validate("train", ["optim=myopt"], config_dir=str(tmp_path))
    # The file is named "conf/optim/myopt.yaml" although it lives in the user's directory.
    assert "optim/myopt.yaml" in _only_problem(err)


def test_config_dir_option_with_a_misspelt_key_is_refused(tmp_path: Path) -> None:
    _user_option(tmp_path, "optim", "badopt", "defaults: [base_sgd, _self_]\nlrr: 0.2\n")
    with pytest.raises(ConfigError, match="optim/badopt"):
        validate("train", ["optim=badopt"], config_dir=str(tmp_path))


def test_config_dir_option_with_a_misspelt_key_names_the_key(tmp_path: Path) -> None:
    _user_option(tmp_path, "optim", "badopt", "defaults: [base_sgd, _self_]\nlrr: 0.2\n")
    with pytest.raises(ConfigError) as err:
        validate("train", ["optim=badopt"], config_dir=str(tmp_path))
    problem = _only_problem(err)
    assert "lrr" in problem
    assert "Did you mean: lr?" in problem
    assert "config file optim/badopt.yaml" in problem


# --- a saved run's config -------------------------------------------------------------------


def _save(run_dir: Path, text: str) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(text)
    return run_dir


@pytest.fixture(scope="module")
def saved_yaml(default_cfg: TrainConfig) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(default_cfg))


def test_saved_config_round_trips(
    tmp_path: Path, default_cfg: TrainConfig, saved_yaml: str
) -> None:
    loaded = load_saved_config(_save(tmp_path, saved_yaml))
    assert type(loaded) is TrainConfig
    assert type(loaded.optim) is AdamWConfig
    assert loaded == default_cfg


def test_saved_config_round_trips_another_option(tmp_path: Path) -> None:
    cfg = validate("train", ["optim=sgd", "export=none", "optim.lr=0.2"])
    loaded = load_saved_config(_save(tmp_path, OmegaConf.to_yaml(OmegaConf.structured(cfg))))
    assert type(loaded.optim) is SGDConfig
    assert loaded == cfg


def test_saved_config_with_another_target_reads_but_eval_allows_only_listed_modules(
    tmp_path: Path, saved_yaml: str
) -> None:
    """A run may override `_target_`: its keys still pick the schema (MLPConfig). Whether
    eval may build it is the allow-list's call, with the eval command's own extra prefixes."""
    from fabricx.config.saved import check_run_target
    from fabricx.config.schema import EvalConfig, MLPConfig

    text = saved_yaml.replace("fabricx.models.mlp.MLP", "mylab.nets.Net")
    assert text != saved_yaml
    run_dir = _save(tmp_path, text)
    loaded = load_saved_config(run_dir)
    assert type(loaded.model) is MLPConfig and loaded.model._target_ == "mylab.nets.Net"
    with pytest.raises(ConfigError, match=r"model\._target_='mylab\.nets\.Net' is outside"):
        check_run_target(EvalConfig(run=str(run_dir)))
    (run_dir / "checkpoints").mkdir()
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"")
    check_run_target(EvalConfig(run=str(run_dir), extra_target_prefixes=["mylab"]))


def test_saved_group_with_a_foreign_key_is_refused(tmp_path: Path, saved_yaml: str) -> None:
    text = saved_yaml.replace("  hidden_sizes:", "  widths:", 1)
    with pytest.raises(ConfigError, match=r"model\.widths: no such key in 'model'"):
        load_saved_config(_save(tmp_path / "known", text))  # MLP's target: MLP's schema
    text = text.replace("fabricx.models.mlp.MLP", "mylab.nets.Net")
    with pytest.raises(ConfigError, match="model: no fabricx schema has the keys"):
        load_saved_config(_save(tmp_path / "foreign", text))


def test_saved_config_with_a_bad_value_is_refused(tmp_path: Path, saved_yaml: str) -> None:
    text = saved_yaml.replace("lr: 0.003", "lr: -1.0", 1)
    assert text != saved_yaml
    with pytest.raises(ConfigError, match=r"optim\.lr=-1\.0 must be > 0") as err:
        load_saved_config(_save(tmp_path, text))
    assert str(tmp_path / "config.yaml") in _only_problem(err)


def test_saved_config_with_a_misspelt_key_is_refused(tmp_path: Path, saved_yaml: str) -> None:
    text = saved_yaml.replace("  lr: 0.003", "  lrr: 0.003", 1)
    assert text != saved_yaml
    with pytest.raises(ConfigError) as err:
        load_saved_config(_save(tmp_path, text))
    problem = _only_problem(err)
    assert problem.startswith("optim.lrr: no such key in 'optim'")
    assert "config.yaml" in problem and "Did you mean: lr?" in problem


def test_directory_without_config_is_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a fabricx run directory") as err:
        load_saved_config(tmp_path)
    problem = _only_problem(err)
    assert f"run={tmp_path}" in problem
    assert "no config.yaml" in problem


# --- the command line, as a user types it ------------------------------------------------------

NO_HEAVY_IMPORTS = """
import json, sys
import fabricx.cli
codes = [fabricx.cli.main(["config"]), fabricx.cli.main(["--help"])]
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "lightning"))
print("RESULT=" + json.dumps({"codes": codes, "heavy": heavy}))
"""

# Each command runs in its own process and its own empty working directory.
CLI_RUNS = {
    "config-errors": ["-m", "fabricx", "config", "optim=adamx", "trainer.max_epochs=x"],
    "config-sgd": ["-m", "fabricx", "config", "optim=sgd"],
    "unknown-verb": ["-m", "fabricx", "trian"],
    "help": ["-m", "fabricx", "--help"],
    "train-refused": ["-m", "fabricx", "train", "optim.lrr=1"],
    "no-heavy-imports": ["-c", NO_HEAVY_IMPORTS],
}


class _Cli:
    """The commands of CLI_RUNS, run one after another on a background thread (so beside the
    in-process tests, on another core); a test waits for its command's result."""

    def __init__(self, root: Path) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._runs: dict[str, tuple[Path, Future[subprocess.CompletedProcess[str]]]] = {}
        for name, args in CLI_RUNS.items():
            cwd = root / name
            cwd.mkdir()
            future = self._pool.submit(
                subprocess.run,
                [sys.executable, *args],
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            self._runs[name] = (cwd, future)

    def __call__(self, name: str) -> tuple[Path, subprocess.CompletedProcess[str]]:
        cwd, future = self._runs[name]
        return cwd, future.result(timeout=600)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module", autouse=True)
def cli(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Start the CLI processes when this module starts, so they run beside the in-process
    tests instead of after them; only when a selected test reads them."""
    if not any(
        "cli" in item.fixturenames and item.module is request.module
        for item in request.session.items
    ):
        yield None
        return
    runs = _Cli(tmp_path_factory.mktemp("cli"))
    yield runs
    runs.close()


def test_cli_config_reports_every_problem_without_traceback(cli: _Cli) -> None:
    _, result = cli("config-errors")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "config errors (2)" in result.stderr
    assert "'optim' has no option 'adamx'" in result.stderr
    assert "Did you mean: adamw?" in result.stderr
    assert "trainer.max_epochs: Value 'x'" in result.stderr
    assert "Expected int" in result.stderr
    assert result.stdout == ""


def test_cli_config_prints_the_valid_config(cli: _Cli) -> None:
    cwd, result = cli("config-sgd")
    assert result.returncode == 0, result.stderr
    assert "torch.optim.SGD" in result.stdout
    printed = OmegaConf.create(result.stdout)
    assert printed.optim._target_ == "torch.optim.SGD"
    assert printed.optim.lr == 0.05
    assert "config is valid" in result.stderr
    assert list(cwd.iterdir()) == []


def test_cli_unknown_verb_suggests_the_closest(cli: _Cli) -> None:
    _, result = cli("unknown-verb")
    assert result.returncode == 2
    assert "'trian' is not a fabricx verb" in result.stderr
    assert "Did you mean: train?" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_help(cli: _Cli) -> None:
    _, result = cli("help")
    assert result.returncode == 0, result.stderr
    assert "usage: fabricx <verb>" in result.stdout
    for verb in ("train", "eval", "config"):
        assert f"  {verb} " in result.stdout


def test_cli_train_refuses_before_creating_a_run_directory(cli: _Cli) -> None:
    cwd, result = cli("train-refused")
    assert result.returncode == 2, result.stderr
    assert "optim.lrr: no such key in 'optim'" in result.stderr
    assert "Did you mean: lr?" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (cwd / "runs").exists()
    assert list(cwd.iterdir()) == []


def test_cli_config_and_help_do_not_import_torch_or_lightning(cli: _Cli) -> None:
    _, result = cli("no-heavy-imports")
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT="))
    outcome = json.loads(line.removeprefix("RESULT="))
    assert outcome == {"codes": [0, 0], "heavy": []}
