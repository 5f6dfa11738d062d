"""`_target_` allow-listing and building: a config read from disk may name any callable, so
only the allowed modules are ever imported or called, and nested nodes are built only where
a parameter asks for an object. Also the suggestion helpers of fabricx.errors.

Real objects, no mocks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fabricx.config.instantiate import build, check_targets, resolve_target, target_allowed
from fabricx.config.schema import DEFAULT_TARGET_PREFIXES
from fabricx.config.trust import TrustedModules
from fabricx.errors import ConfigError, check_choice, did_you_mean

# --- target_allowed ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "prefixes", "allowed"),
    [
        ("torch.optim.SGD", ["torch"], True),
        ("torch", ["torch"], True),
        ("torchevil.x", ["torch"], False),
        ("torchevil", ["torch"], False),
        ("torch.optim.SGD", ["torch."], True),  # a trailing dot means the same package
        ("torch.optim.SGD", ["torch.optim"], True),
        ("torch.nn.Linear", ["torch.optim"], False),
        ("os.system", ["fabricx", "torch"], False),
        ("mylab.nets.Net", ["fabricx", "mylab"], True),
        ("fabricx.models.mlp.MLP", [], False),
        ("", ["torch"], False),
    ],
)
def test_target_allowed(target: str, prefixes: list[str], allowed: bool) -> None:
    assert target_allowed(target, prefixes) is allowed


def test_default_prefixes_allow_the_shipped_targets_only() -> None:
    for target in ("fabricx.models.mlp.MLP", "torch.optim.AdamW", "lightning.pytorch.Trainer"):
        assert target_allowed(target, DEFAULT_TARGET_PREFIXES)
    for target in ("os.system", "subprocess.run", "builtins.eval", "torchevil.x"):
        assert not target_allowed(target, DEFAULT_TARGET_PREFIXES)


# --- check_targets ----------------------------------------------------------------------------


def test_check_targets_passes_allowed_nested_targets() -> None:
    node = {
        "_target_": "fabricx.tasks.X",
        "inner": {"_target_": "torch.nn.Linear"},
        "layers": [{"_target_": "torch.nn.ReLU"}, 3, "text"],
    }
    check_targets(node, ["fabricx", "torch"], "task")


def test_check_targets_reports_every_refused_target_with_the_hint() -> None:
    node = {
        "_target_": "fabricx.tasks.X",
        "a": {"_target_": "os.system", "command": "echo hi"},
        "b": [
            {"_target_": "torch.nn.Linear"},
            {"x": {"_target_": "evil.mod.f"}},
            ({"_target_": "subprocess.run"},),
        ],
    }
    with pytest.raises(ConfigError, match=r"model\.a\._target_='os\.system'") as err:
        check_targets(node, ["fabricx", "torch"], "model")
    problems = err.value.problems
    assert len(problems) == 3, problems
    assert problems[0].startswith("model.a._target_='os.system' is outside the allowed modules")
    assert problems[1].startswith("model.b[1].x._target_='evil.mod.f'")
    assert problems[2].startswith("model.b[2][0]._target_='subprocess.run'")
    assert "extra_target_prefixes=[os]" in problems[0]
    assert "extra_target_prefixes=[evil]" in problems[1]
    assert "extra_target_prefixes=[subprocess]" in problems[2]
    for problem in problems:
        assert "['fabricx', 'torch']" in problem


def test_check_targets_checks_the_root() -> None:
    node = {"_target_": "builtins.eval", "child": {"_target_": "torch.nn.ReLU"}}
    with pytest.raises(ConfigError, match=r"builtins\.eval") as err:
        check_targets(node, ["torch"], "model")
    (problem,) = err.value.problems
    assert problem.startswith(
        "model._target_='builtins.eval' is outside the allowed modules ['torch']. If you trust "
        "it, add its package: extra_target_prefixes=[builtins]"
    )
    check_targets(node, ["torch", "builtins"], "model")


def test_a_target_must_be_defined_in_an_allowed_module_not_only_named_there() -> None:
    """`fabricx.builders.compile.os.system` is named inside fabricx but is os's;
    `fabricx.export.onnx.Path` is pathlib's: both refused before anything is built."""
    with pytest.raises(ConfigError, match=r"fabricx\.builders\.compile\.os is the module os"):
        resolve_target("fabricx.builders.compile.os.system", ["fabricx"], "model")
    with pytest.raises(ConfigError, match=r"Path from the module pathlib, outside"):
        resolve_target("fabricx.export.onnx.Path", ["fabricx"], "model")
    with pytest.raises(ConfigError, match=r"fabricx\.builders\.compile\.os is the module os"):
        build(
            {"_target_": "fabricx.builders.compile.os.system", "command": "true"}, ["fabricx"], "x"
        )
    export_onnx = resolve_target("fabricx.export.onnx.export_onnx", ["fabricx"], "x")
    assert export_onnx.__name__ == "export_onnx"


# --- build --------------------------------------------------------------------------------


def test_build_refuses_os_system() -> None:
    node = {"_target_": "os.system", "command": "echo hi"}
    with pytest.raises(ConfigError, match=r"model\._target_='os\.system' is outside") as err:
        build(node, DEFAULT_TARGET_PREFIXES, "model")
    assert len(err.value.problems) == 1
    assert "extra_target_prefixes=[os]" in err.value.problems[0]


def test_build_refuses_before_anything_runs(tmp_path: Path) -> None:
    marker = tmp_path / "created-by-target"
    node = {"_target_": "os.makedirs", "name": str(marker)}
    with pytest.raises(ConfigError, match=r"os\.makedirs"):
        build(node, ["fabricx"], "model")
    assert not marker.exists()
    # A nested refused target stops the allowed outer one from being built too.
    outer = {"_target_": "fabricx.errors.ConfigError", "problems": [node]}
    with pytest.raises(ConfigError, match=r"model\.problems\[0\]\._target_='os\.makedirs'"):
        build(outer, ["fabricx"], "model")
    assert not marker.exists()
    # Allowing os is not enough: os.makedirs changes files, so it needs the explicit opt-in.
    with pytest.raises(ConfigError, match=r"allow_unsafe_targets=\[os\]"):
        build(node, ["fabricx", "os"], "model")
    assert not marker.exists()
    # Control: the same node, allowed and opted in, does run.
    build(node, TrustedModules(["fabricx", "os"], unsafe_ok=["os.makedirs"]), "model")
    assert marker.is_dir()


def test_build_refuses_a_module_it_never_imports() -> None:
    node = {"_target_": "no_such_package_fabricx_test.run"}
    with pytest.raises(ConfigError, match="no_such_package_fabricx_test"):
        build(node, ["fabricx"], "callbacks")


def test_build_builds_an_allowed_dict_node() -> None:
    built = build({"_target_": "fabricx.errors.ConfigError", "problems": "x"}, ["fabricx"], "error")
    assert type(built) is ConfigError
    assert built.problems == ["x"]


def test_build_gives_each_argument_as_its_type_hint_reads() -> None:
    """Data comes as YAML has it (lists, strings); the callable gets a tuple where it asks for
    a tuple, an enum member where it asks for an enum; a nested node is built only where the
    parameter asks for an object, and passed on as a mapping where it asks for data."""
    built = build(
        {
            "_target_": "tests.helpers.targets.Recorder",
            "pair": [1, 2],
            "mode": "SLOW",
            "layer": {"_target_": "torch.nn.Linear", "in_features": 2, "out_features": 3},
            "options": {"_target_": "torch.nn.Linear", "in_features": 2},
        },
        ["tests", "torch"],
        "model",
    )
    import torch

    from tests.helpers.targets import Mode

    assert built.pair == (1, 2) and built.mode is Mode.SLOW
    assert isinstance(built.layer, torch.nn.Linear)
    assert built.options == {"_target_": "torch.nn.Linear", "in_features": 2}


def test_build_passes_kwargs_unchanged_without_recursing() -> None:
    payload = {"_target_": "os.system", "command": "echo hi", "nested": [{"_target_": "x.y"}]}
    built = build({"_target_": "collections.OrderedDict", "a": 1}, ["collections"], "d", b=payload)
    assert type(built["b"]) is dict and dict(built) == {"a": 1, "b": payload}
    assert built["b"] is payload  # passed at call time: neither copied, converted nor built


def test_build_kwargs_reach_the_constructor() -> None:
    built = build(
        {"_target_": "fabricx.errors.ConfigError"},
        ["fabricx"],
        "error",
        problems={"_target_": "os.system"},
    )
    # ConfigError lists an iterable of problems: the kwarg arrived as the plain dict.
    assert built.problems == ["_target_"]


def test_build_extra_prefix_allows_a_user_target() -> None:
    node = {"_target_": "collections.OrderedDict", "a": 1}
    with pytest.raises(ConfigError, match="extra_target_prefixes=\\[collections\\]"):
        build(node, DEFAULT_TARGET_PREFIXES, "model")
    built = build(node, [*DEFAULT_TARGET_PREFIXES, "collections"], "model")
    assert dict(built) == {"a": 1}


# --- did_you_mean and check_choice ------------------------------------------------------------


def test_build_refuses_a_pickle_loader_inside_the_allowed_modules(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    node = {"_target_": "torch.load", "f": str(tmp_path / "x.pkl"), "weights_only": False}
    with pytest.raises(ConfigError, match=r"allow_unsafe_targets=\[torch.load\]"):
        build(node, TrustedModules(DEFAULT_TARGET_PREFIXES), "model")
    assert not marker.exists()


def test_build_allows_a_weights_only_load(tmp_path: Path) -> None:
    import torch

    torch.save({"w": torch.ones(2)}, tmp_path / "w.pt")
    node = {"_target_": "torch.load", "f": str(tmp_path / "w.pt"), "weights_only": True}
    assert build(node, TrustedModules(DEFAULT_TARGET_PREFIXES), "x")["w"].sum() == 2


def test_build_with_the_command_lines_opt_in(tmp_path: Path) -> None:
    import torch

    torch.save({"w": 1}, tmp_path / "w.pt")
    node = {"_target_": "torch.load", "f": str(tmp_path / "w.pt"), "weights_only": False}
    allowed = TrustedModules(DEFAULT_TARGET_PREFIXES, unsafe_ok=["torch.load"])
    assert build(node, allowed, "x") == {"w": 1}


def test_build_refuses_an_unsafe_argument_on_a_safe_callable() -> None:
    node = {"_target_": "torch.nn.Identity", "trust_remote_code": True}
    with pytest.raises(ConfigError, match="trust_remote_code"):
        build(node, TrustedModules(DEFAULT_TARGET_PREFIXES), "model")


def test_build_keeps_nodes_inside_a_data_mapping_as_data() -> None:
    """A parameter typed dict[str, Any] gets what it holds as data, nodes included; one
    typed nn.Module gets a built object."""
    inner = {"_target_": "torch.nn.Identity"}
    node = {
        "_target_": "tests.helpers.targets.Recorder",
        "options": {"inner": inner},
        "layer": inner,
    }
    built = build(node, ["tests", "torch"], "x")
    assert built.options == {"inner": inner}
    assert type(built.layer).__name__ == "Identity"


@pytest.mark.parametrize(
    ("word", "candidates", "expected"),
    [
        ("adamx", ["adamw", "sgd"], " Did you mean: adamw?"),
        ("lrr", ["lr", "weight_decay"], " Did you mean: lr?"),
        ("trian", ["train", "eval", "config"], " Did you mean: train?"),
        ("bf16", ["32-true", "bf16-mixed", "16-mixed", "bf16-true"], None),
        ("zzz", ["adamw", "sgd"], ""),
        ("adamw", [], ""),
    ],
)
def test_did_you_mean(word: str, candidates: list[str], expected: str | None) -> None:
    hint = did_you_mean(word, candidates)
    if expected is not None:
        assert hint == expected
    else:  # prefix matches count even when difflib finds them too far
        assert hint.startswith(" Did you mean: ")
        assert set(hint.removeprefix(" Did you mean: ").rstrip("?").split(", ")) == {
            "bf16-mixed",
            "bf16-true",
        }


def test_did_you_mean_gives_at_most_n() -> None:
    hint = did_you_mean("a", ["a1", "a2", "a3", "a4"], n=2)
    assert hint.count(",") == 1


def test_check_choice_accepts_a_choice() -> None:
    check_choice("task.mode", "max", ("min", "max"))


def test_check_choice_refuses_listing_choices_and_the_closest() -> None:
    with pytest.raises(ConfigError, match=r"task\.mode='mx' is not one of \['min', 'max'\]") as err:
        check_choice("task.mode", "mx", ("min", "max"))
    assert err.value.problems == ["task.mode='mx' is not one of ['min', 'max']. Did you mean: max?"]


def test_check_choice_refuses_without_a_suggestion_when_none_is_close() -> None:
    with pytest.raises(ConfigError) as err:
        check_choice("precision.name", "fp8", ("32-true", "bf16-mixed"))
    assert err.value.problems == ["precision.name='fp8' is not one of ['32-true', 'bf16-mixed']."]


def test_check_choice_skips_an_unresolved_interpolation() -> None:
    check_choice("callbacks.checkpoint.mode", "${task.mode}", ("min", "max"))
    with pytest.raises(ConfigError):
        check_choice("callbacks.checkpoint.mode", "$task.mode", ("min", "max"))


def test_nodes_in_a_tuple_of_classes_are_built() -> None:
    """tuple[Encoder, Decoder] names classes: its members are objects, built."""
    from typing import Any

    from torch import nn

    from fabricx.config.signatures import EMPTY, builds_items

    assert builds_items(tuple[nn.Module, nn.Module], EMPTY) is True
    assert builds_items(tuple[nn.Module, nn.Module] | None, EMPTY) is True
    assert builds_items(dict[str, Any], Any) is False
    assert builds_items(tuple[int, int], EMPTY) is False
