"""Config validation as users meet it: compose, check, explain every problem at once.

Real Hydra composition of the repository's conf/, no mocks. Components are checked against
their targets' signatures, which imports them (torch and lightning included). The same
checks through the `fabricx` command: tests/e2e/test_cli.py.
"""

from __future__ import annotations

import functools
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from fabricx.config.paths import conf_dir
from fabricx.config.schema import GROUP_SCHEMAS, TrainConfig
from fabricx.errors import ConfigError
from fabricx.launch.compose import prepare_overrides, quote_numeric_choices, validate
from fabricx.runs.saved_config import load_saved_config

# --- helpers ------------------------------------------------------------------------------


def _group_options() -> list[tuple[str, str]]:
    """(group, option) for every YAML file in conf/<group>/, Hydra's own folder excepted, and
    recipes: they set values across groups (# @package _global_); tests/unit/verbs/test_recipes.py.
    search_space belongs to the sweep config: tests/unit/sweep/test_study.py composes each."""
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
    assert cfg.data["_target_"] == "fabricx.data.digits.DigitsDataModule"
    assert cfg.model["_target_"] == "fabricx.models.mlp.MLP"
    assert cfg.task["_target_"] == "fabricx.tasks.classification.ClassificationTask"
    assert cfg.optim["_target_"] == "torch.optim.AdamW"
    assert cfg.export.targets == ["onnx"]
    # Interpolations are resolved into plain values by the one conversion at entry, and the
    # arguments the YAML leaves out come from the constructors' signatures.
    assert cfg.model["in_features"] == cfg.data["num_features"] == 64
    assert cfg.model["num_classes"] == cfg.task["num_classes"] == cfg.data["num_classes"] == 10
    assert cfg.model["dropout"] == 0.1  # MLP's own default, written once, in the code
    assert cfg.data["seed"] == cfg.seed == 0
    assert (cfg.metric.name, cfg.metric.mode) == ("acc", "max")  # the task's class says so
    assert cfg.callbacks.checkpoint.monitor == "val/acc"
    assert cfg.scheduler["_target_"] == "fabricx.tasks.schedules.WarmupCosine"
    assert (cfg.precision.name, cfg.strategy.name) == ("32-true", "auto")
    assert set(cfg.logger) == {"wandb", "csv"}


def test_export_none_has_no_targets() -> None:
    cfg = _with_option("export", "none")
    assert cfg.export.targets == []
    assert cfg.export.onnx is None


def test_documented_options_exist() -> None:
    options = set(_group_options())
    for pair in [
        ("optim", "adamw"), ("optim", "sgd"), ("optim", "none"),
        ("scheduler", "cosine"), ("scheduler", "linear"), ("scheduler", "onecycle"),
        ("scheduler", "none"), ("model", "none"),
        ("precision", "32"), ("precision", "64-true"), ("precision", "bf16-mixed"),
        ("precision", "bf16-true"), ("precision", "16-mixed"), ("precision", "16-true"),
        ("strategy", "auto"), ("strategy", "ddp"), ("trainer", "default"), ("trainer", "debug"),
        ("logger", "wandb"), ("logger", "csv"), ("logger", "tensorboard"), ("logger", "mlflow"),
        ("logger", "none"), ("export", "onnx"), ("export", "none"),
    ]:  # fmt: skip
        assert pair in options


# Options that need another option beside them (a task that builds its own model).
PAIRED = {
    ("model", "none"): ("model=none",),
    ("optim", "none"): ("optim=none", "scheduler=none"),
}
OPTION_NEEDS.update(PAIRED)


@pytest.mark.parametrize(("group", "option"), [_option_param(*p) for p in _group_options()])
def test_every_group_option_composes(group: str, option: str) -> None:
    """Every option checks, and every value its YAML file writes reaches the typed config."""
    if (group, option) in PAIRED:
        with pytest.raises(ConfigError, match=f"{group}=none|{group}: .* takes no"):
            _validated(*PAIRED[group, option])  # fabricx's tasks take a model and optimizer
        return
    cfg = _with_option(group, option)
    node = getattr(cfg, group)
    path = conf_dir() / group / f"{option}.yaml"
    if path.read_text().startswith("# @package _global_"):  # model=none, scheduler=none
        assert node is None
        return
    if group in GROUP_SCHEMAS:
        assert isinstance(node, next(iter(GROUP_SCHEMAS[group].values())))
    written = OmegaConf.to_container(OmegaConf.load(conf_dir() / group / f"{option}.yaml"))
    written = written or {}
    written.pop("defaults", None)
    for needed in OPTION_NEEDS.get((group, option), ()):  # values the option asks you to set
        key = needed.split("=", 1)[0]
        if key.startswith(f"{group}."):
            written.pop(key.split(".", 1)[1], None)
    typed = OmegaConf.to_container(OmegaConf.structured(cfg)[group], resolve=True)
    _assert_contains(_without_interpolations(written), typed, group)


def _without_interpolations(node: Any) -> Any:
    """A YAML file's values, without the `${...}` ones (the typed config holds them resolved)."""
    if isinstance(node, dict):
        return {k: _without_interpolations(v) for k, v in node.items() if "${" not in str(v)}
    return node


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


def test_component_keys_can_be_set_without_plus() -> None:
    """A constructor argument the YAML leaves out is set like any key (`++` underneath)."""
    assert prepare_overrides(["model.dropout=0.2", "model=mlp", "seed=1", "+x.y=1"]) == [
        "++model.dropout=0.2", "model=mlp", "seed=1", "+x.y=1",
    ]  # fmt: skip
    cfg = validate("train", ["trainer.val_check_interval=0.5", "optim.amsgrad=true"])
    assert cfg.trainer["val_check_interval"] == 0.5 and cfg.optim["amsgrad"] is True


OPTION_EFFECTS = {
    "optim=sgd": lambda c: c.optim["_target_"] == "torch.optim.SGD" and c.optim["nesterov"],
    "scheduler=none": lambda c: c.scheduler is None,
    "scheduler=onecycle": lambda c: c.scheduler["max_lr"] == c.optim["lr"],
    "precision=bf16-mixed": lambda c: c.precision.name == "bf16-mixed",
    "precision=16-mixed": lambda c: c.precision.name == "16-mixed",
    "precision=64-true": lambda c: c.precision.name == "64-true",
    "strategy=ddp": lambda c: c.strategy.name == "ddp",
    "trainer=debug": lambda c: c.trainer["fast_dev_run"] == 2 and c.trainer["max_epochs"] == 1,
    "logger=csv": lambda c: list(c.logger) == ["csv"],
    "logger=none": lambda c: c.logger == {},
    "logger=[wandb,tensorboard]": lambda c: list(c.logger) == ["wandb", "tensorboard"],
}


@pytest.mark.parametrize("override", list(OPTION_EFFECTS))
def test_option_takes_effect(override: str) -> None:
    assert OPTION_EFFECTS[override](_validated(override))


def test_every_trainer_argument_is_accepted_and_checked() -> None:
    cfg = validate(
        "train",
        [
            "trainer.val_check_interval=0.5", "trainer.profiler=simple",
            "trainer.overfit_batches=1", "trainer.benchmark=true", "trainer.sync_batchnorm=true",
            "trainer.detect_anomaly=true", "trainer.enable_model_summary=true",
            "trainer.limit_val_batches=0.25", "trainer.reload_dataloaders_every_n_epochs=2",
        ],
    )  # fmt: skip
    assert cfg.trainer["profiler"] == "simple" and cfg.trainer["overfit_batches"] == 1
    owned = ["precision", "strategy", "callbacks", "logger", "default_root_dir", "plugins"]
    with pytest.raises(ConfigError) as err:
        validate("train", [f"trainer.{name}=x" for name in owned])
    problems = err.value.problems
    assert len(problems) == len(owned), problems
    for name, problem in zip(owned, problems, strict=True):
        assert problem.startswith(f"trainer.{name} is set by fabricx from ")
    assert "the precision group" in problems[0] and "the logger group" in problems[3]


# --- one problem of each kind -------------------------------------------------------------

# (overrides, `match` for the error, fragments the single problem must all contain)
PROBLEMS = [
    pytest.param(
        ["optim.lrr=0.1"],
        r"optim\.lrr: torch\.optim\.AdamW has no parameter 'lrr'",
        ["command-line override 'optim.lrr=0.1'", "Did you mean: lr?"],
        id="misspelt-key",
    ),
    pytest.param(
        ["trainer.max_epochs=abc"],
        r"trainer\.max_epochs='abc': expected int \| None",
        ["command-line override 'trainer.max_epochs=abc'", "Trainer(max_epochs: int | None"],
        id="wrong-type",
    ),
    pytest.param(
        ["model.hidden_sizes=[64,a]"],
        r"model\.hidden_sizes=\[64, 'a'\]: expected Sequence\[int\]",
        ["at [1]", "MLP(hidden_sizes"],
        id="wrong-item-type",
    ),
    pytest.param(
        ["model.dropout=1.5"],
        r"model\.dropout=1\.5: expected float",
        ["less than 1", "command-line override 'model.dropout=1.5'"],
        id="out-of-range-from-annotation",
    ),
    pytest.param(
        ["optim=adamx"],
        r"'optim' has no option 'adamx'",
        ["optim=adamx", "Options: adamw, none, sgd.", "Did you mean: adamw?"],
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
        [
            "command-line override '+foo=1'",
            "Remove it",
            "Its keys: allow_unsafe_targets, allowed_target_prefixes",
        ],
        id="added-key-not-in-schema",
    ),
    pytest.param(
        ["data.val_fraction=0.6", "data.test_fraction=0.5"],
        r"data: val_fraction \+ test_fraction = 1\.1 leaves no training data",
        ["override 'data.val_fraction=0.6'", "override 'data.test_fraction=0.5'"],
        id="cross-argument-rule",
    ),
    pytest.param(
        ["precision.name=fp8"],
        r"precision\.name='fp8' is not one of",
        ["'64-true', '32-true'", "override 'precision.name=fp8'"],
        id="post-init-choice",
    ),
    pytest.param(
        ["precision.name=bf16-mixd"],
        r"precision\.name='bf16-mixd' is not one of",
        ["Did you mean: bf16-mixed", "override 'precision.name=bf16-mixd'"],
        id="post-init-choice-did-you-mean",
    ),
    pytest.param(
        ["optim.lr=0.1,0.2"],
        r"'optim\.lr=0\.1,0\.2' sweeps over several values",
        ["-m (--multirun)", "key=[a,b]"],
        id="sweep-without-multirun",
    ),
    pytest.param(
        ["trainer.accelerator=tpux"],
        r"trainer\.accelerator='tpux' is not an accelerator Lightning knows",
        ["Did you mean: tpu?"],
        id="unknown-accelerator",
    ),
    pytest.param(
        ["trainer.devices=0"],
        r"trainer\.devices=0 is not a device spec",
        ["a count such as 2"],
        id="zero-devices",
    ),
    pytest.param(
        ["optim.lr=nan"],
        r"optim\.lr=nan: NaN and infinite numbers are not accepted",
        [],
        id="nan",
    ),
    pytest.param(
        ["callbacks.checkpoint.monitor=val/accuracy"],
        r"callbacks\.checkpoint\.monitor='val/accuracy' is not logged by",
        ["Did you mean: val/acc"],
        id="monitor-not-logged",
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
    overrides = ["optim=adamx", "trainer.max_epochs=x", "model.widht=3", "model.dropout=abc"]
    with pytest.raises(ConfigError, match="adamx") as err:
        validate("train", overrides)
    problems = err.value.problems
    assert len(problems) == 4, problems
    assert "'optim' has no option 'adamx'" in problems[0]
    joined = "\n".join(problems)
    assert "trainer.max_epochs='x': expected int | None" in joined
    assert "model.widht: fabricx.models.mlp.MLP has no parameter 'widht'" in joined
    assert "model.dropout='abc': expected float" in joined
    # The message of the error carries every problem, one per line.
    assert str(err.value).splitlines() == problems


def test_component_and_settings_checks_are_reported_at_once() -> None:
    overrides = ["optim.lr=-1", "trainer.max_epochs=0", "data.batch_size=0", "bench.min_iters=0"]
    with pytest.raises(ConfigError) as err:
        validate("train", overrides)
    problems = err.value.problems
    joined = "\n".join(problems)
    assert len(problems) == 4, problems
    assert "optim.lr=-1 must be > 0 (from command-line override 'optim.lr=-1')." in joined
    assert "data.batch_size=0: expected int" in joined and "greater than or equal to 1" in joined
    assert "trainer.max_epochs=0 trains nothing" in joined
    assert "bench.min_iters=0" in joined


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
    joined = "\n".join(problems)
    assert "foo is not a key of TrainConfig" in joined and "'+foo=1'" in joined
    assert "optim.betas2: torch.optim.AdamW has no parameter 'betas2'" in joined
    assert "Did you mean: betas?" in joined


# --- multirun -------------------------------------------------------------------------------


def test_multirun_sweep_validates_and_returns_the_first_job() -> None:
    cfg = validate("train", ["optim.lr=0.1,0.01", "seed=1,2,3"], multirun=True)
    assert type(cfg) is TrainConfig
    assert (cfg.optim["lr"], cfg.seed) == (0.1, 1)


def test_multirun_refuses_a_sweep_with_one_bad_value() -> None:
    with pytest.raises(ConfigError, match=r"trainer\.max_epochs='abc': expected int") as err:
        validate("train", ["trainer.max_epochs=1,abc"], multirun=True)
    assert "command-line override 'trainer.max_epochs=abc'" in _only_problem(err)  # the job's


def test_multirun_refuses_a_value_that_fails_a_group_check() -> None:
    with pytest.raises(ConfigError, match=r"optim\.lr=-1 must be > 0"):
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


MY_SGD = "_target_: torch.optim.SGD\n_partial_: true\nlr: 0.2\n"


def test_config_dir_option_is_selectable(tmp_path: Path) -> None:
    _user_option(tmp_path, "optim", "myopt", MY_SGD)
    cfg = validate("train", ["optim=myopt"], config_dir=str(tmp_path))
    assert cfg.optim["_target_"] == "torch.optim.SGD"
    assert cfg.optim["lr"] == 0.2
    assert cfg.optim["momentum"] == 0  # SGD's own default, from its signature


def test_config_dir_option_needs_the_config_dir(tmp_path: Path) -> None:
    _user_option(tmp_path, "optim", "myopt", MY_SGD)
    with pytest.raises(ConfigError, match="'optim' has no option 'myopt'") as err:
        validate("train", ["optim=myopt"])
    assert "Options: adamw, none, sgd." in _only_problem(err)


def test_config_dir_options_are_suggested(tmp_path: Path) -> None:
    _user_option(tmp_path, "optim", "myopt", MY_SGD)
    with pytest.raises(ConfigError, match="'optim' has no option 'myop'") as err:
        validate("train", ["optim=myop"], config_dir=str(tmp_path))
    problem = _only_problem(err)
    assert "Options: adamw, myopt, none, sgd." in problem
    assert "Did you mean: myopt?" in problem


def test_config_dir_option_with_a_bad_value_is_refused(tmp_path: Path) -> None:
    _user_option(tmp_path, "optim", "myopt", MY_SGD.replace("0.2", "-0.2"))
    with pytest.raises(ConfigError, match=r"optim\.lr=-0\.2 must be > 0") as err:
        validate("train", ["optim=myopt"], config_dir=str(tmp_path))
    # The file is named "optim/myopt.yaml" although it lives in the user's directory.
    assert "optim/myopt.yaml" in _only_problem(err)


def test_config_dir_option_with_a_misspelt_key_names_the_key(tmp_path: Path) -> None:
    _user_option(tmp_path, "optim", "badopt", MY_SGD.replace("lr:", "lrr:"))
    with pytest.raises(ConfigError) as err:
        validate("train", ["optim=badopt"], config_dir=str(tmp_path))
    problem = _only_problem(err)
    assert problem.startswith("optim.lrr: torch.optim.SGD has no parameter 'lrr'")
    assert "Did you mean: lr?" in problem
    assert "optim/badopt.yaml" in problem


def test_config_dir_component_of_the_users_own(tmp_path: Path) -> None:
    """A target of the user's own, with arguments: allowed, imported, checked."""
    package = tmp_path / "lab"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "nets.py").write_text(
        "from typing import Literal\nfrom torch import nn\n\n"
        "class Tiny(nn.Module):\n"
        "    def __init__(self, in_features: int, num_classes: int, widths: list[int],\n"
        "                 act: Literal['relu', 'gelu'] = 'relu', scale: float = 1.0):\n"
        "        super().__init__()\n"
    )
    conf = tmp_path / "conf"
    _user_option(
        conf, "model", "tiny",
        "_target_: lab.nets.Tiny\nin_features: 64\nnum_classes: 10\nwidths: [48]\n",
    )  # fmt: skip
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(ConfigError, match=r"outside the allowed modules") as err:
            validate("train", ["model=tiny"], config_dir=str(conf))
        assert "extra_target_prefixes=[lab]" in _only_problem(err)
        cfg = validate("train", ["model=tiny", "extra_target_prefixes=[lab]"], config_dir=str(conf))
        assert cfg.model == {
            "_target_": "lab.nets.Tiny", "in_features": 64, "num_classes": 10, "widths": [48],
            "act": "relu", "scale": 1.0,
        }  # fmt: skip
        with pytest.raises(ConfigError) as err:
            validate(
                "train",
                ["model=tiny", "extra_target_prefixes=[lab]", "model.act=tanh", "~model.widths"],
                config_dir=str(conf),
            )
        joined = "\n".join(err.value.problems)
        assert "model.act='tanh': expected Literal['relu', 'gelu']" in joined
        assert "model.widths is required: lab.nets.Tiny(widths: list[int])" in joined
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "lab" or m.startswith("lab.")]:
            del sys.modules[name]


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
    assert loaded == default_cfg


def test_saved_config_round_trips_another_option(tmp_path: Path) -> None:
    cfg = validate("train", ["optim=sgd", "export=none", "optim.lr=0.2"])
    loaded = load_saved_config(_save(tmp_path, OmegaConf.to_yaml(OmegaConf.structured(cfg))))
    assert loaded.optim["_target_"] == "torch.optim.SGD"
    assert loaded == cfg


def test_saved_config_with_another_target_is_checked_with_the_commands_modules(
    tmp_path: Path, saved_yaml: str
) -> None:
    """A run directory's config cannot widen what runs: its targets must lie in the modules
    the command allows (fabricx's and the command's extra_target_prefixes)."""
    from fabricx.config.schema import DEFAULT_TARGET_PREFIXES, EvalConfig
    from fabricx.runs.saved_config import check_run_target

    text = saved_yaml.replace("fabricx.models.mlp.MLP", "mylab.nets.Net")
    assert "extra_target_prefixes: []" in text
    text = text.replace("extra_target_prefixes: []", "extra_target_prefixes: [mylab]")
    assert "mylab.nets.Net" in text and "extra_target_prefixes: [mylab]" in text
    run_dir = _save(tmp_path, text)
    with pytest.raises(ConfigError, match=r"model\._target_='mylab\.nets\.Net' is outside"):
        check_run_target(EvalConfig(run=str(run_dir)), list(DEFAULT_TARGET_PREFIXES))
    with pytest.raises(ConfigError, match=r"no module named 'mylab'"):
        check_run_target(EvalConfig(run=str(run_dir)), [*DEFAULT_TARGET_PREFIXES, "mylab"])


def test_saved_group_with_a_foreign_key_is_refused(tmp_path: Path, saved_yaml: str) -> None:
    text = saved_yaml.replace("  hidden_sizes:", "  widths:", 1)
    with pytest.raises(ConfigError, match=r"model\.widths: fabricx\.models\.mlp\.MLP has no"):
        load_saved_config(_save(tmp_path / "known", text))


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
    assert problem.startswith("optim.lrr: torch.optim.AdamW has no parameter 'lrr'")
    assert "config.yaml" in problem and "Did you mean: lr?" in problem


def test_directory_without_config_is_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a fabricx run directory") as err:
        load_saved_config(tmp_path)
    problem = _only_problem(err)
    assert f"run={tmp_path}" in problem
    assert "no config.yaml" in problem
