"""fabricx.errors: problems carry their key, value, fix and source as fields; every error type
has an exit status of its own, documented where users look (`fabricx --help`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from fabricx import errors
from fabricx.config.problems import with_source
from fabricx.config.trust import unsafe_problems
from fabricx.errors import (
    EXIT_STATUSES,
    ArtifactError,
    ConfigError,
    DataError,
    FabricxError,
    Problem,
    StageError,
    TargetsSkipped,
    TrialPruned,
)
from fabricx.launch.compose import validate


def _only_problem(overrides: list[str]) -> Problem:
    with pytest.raises(ConfigError) as info:
        validate("train", overrides)
    (problem,) = info.value.problems
    assert isinstance(problem, Problem)
    return problem


# --- the fields, filled where problems are made -------------------------------------------


def test_unknown_argument_has_key_value_fix_and_source() -> None:
    problem = _only_problem(["optim.lrr=0.1"])
    assert problem.key == "optim.lrr" and problem.keys == ("optim.lrr",)
    assert problem.value == 0.1
    assert problem.message == "optim.lrr: torch.optim.AdamW has no parameter 'lrr'."
    assert problem.fix == "Did you mean: lr?"
    assert problem.source == "command-line override 'optim.lrr=0.1'"
    # The text puts the source in the message's sentence and the fix after it.
    assert problem == (
        "optim.lrr: torch.optim.AdamW has no parameter 'lrr' (from command-line override "
        "'optim.lrr=0.1'). Did you mean: lr?"
    )


def test_key_added_outside_the_schema_has_its_fields() -> None:
    problem = _only_problem(["+foo=1"])
    assert (problem.key, problem.value) == ("foo", 1)
    assert problem.message == "foo is not a key of TrainConfig."
    assert problem.fix.startswith("Its keys: ") and problem.fix.endswith("Remove it.")
    assert problem.source == "command-line override '+foo=1'"


def test_wrong_type_has_key_value_and_source() -> None:
    problem = _only_problem(["trainer.max_epochs=abc"])
    assert (problem.key, problem.value) == ("trainer.max_epochs", "abc")
    assert "expected int | None" in problem.message
    assert problem.source == "command-line override 'trainer.max_epochs=abc'"


def test_bad_group_option_has_key_value_fix_and_source() -> None:
    problem = _only_problem(["optim=adamx"])
    assert (problem.key, problem.value) == ("optim", "adamx")
    assert problem.message == "optim=adamx: 'optim' has no option 'adamx'."
    assert problem.fix == "Options: adamw, none, sgd. Did you mean: adamw?"
    assert problem.source == "command-line override 'optim=adamx'"


def test_unsafe_target_has_key_value_and_the_opt_in_as_fix() -> None:
    (problem,) = unsafe_problems({"_target_": "os.system"}, None, "model", ())
    assert (problem.key, problem.value) == ("model._target_", "os.system")
    assert (
        problem.message
        == "model._target_=os.system is refused: it runs commands and changes files."
    )
    assert "allow_unsafe_targets=[os]" in problem.fix
    # Through the whole check, the command line is named as the source.
    problem = _only_problem(["model._target_=os.system"])
    assert (problem.key, problem.value) == ("model._target_", "os.system")
    assert problem.source == "command-line override 'model._target_=os.system'"


def test_a_rule_about_two_keys_names_both_overrides() -> None:
    with pytest.raises(ConfigError) as info:
        validate("train", ["trainer.max_epochs=-1", "trainer.max_steps=0"])
    (problem,) = [p for p in info.value.problems if p.key == "trainer.max_epochs"]
    assert problem.keys == ("trainer.max_epochs", "trainer.max_steps")
    assert problem.source == (
        "command-line override 'trainer.max_epochs=-1' and "
        "command-line override 'trainer.max_steps=0'"
    )


def test_a_plain_string_problem_still_works() -> None:
    err = ConfigError(["x must be > 0.", Problem("y is wrong.", key="y")])
    assert err.problems == ["x must be > 0.", "y is wrong."]
    assert all(isinstance(p, Problem) for p in err.problems)
    assert err.problems[0].key is None and err.problems[0].keys == ()
    assert err.problems[1].key == "y"
    assert str(err) == "x must be > 0.\ny is wrong."


# --- with_source reads the key field, not the text ----------------------------------------

CFG = OmegaConf.create({"optim": {"lr": -1}, "trainer": {"max_epochs": 3}})
CHOICES = {"optim": "adamw", "trainer": "default"}


def test_with_source_is_not_confused_by_another_key_in_the_message() -> None:
    problem = Problem("optim.lr=-1 must be > 0, like trainer.max_epochs=3.", key="optim.lr")
    named = with_source(problem, ["trainer.max_epochs=3"], CHOICES, CFG)
    assert named.source == "optim/adamw.yaml or its schema"  # not the override it mentions
    named = with_source(problem, ["trainer.max_epochs=3", "optim.lr=-1"], CHOICES, CFG)
    assert named.source == "command-line override 'optim.lr=-1'"


def test_with_source_uses_the_key_even_when_the_text_starts_with_another() -> None:
    problem = Problem("trainer.max_epochs=3 leaves optim.lr=-1 too small.", key="optim.lr")
    named = with_source(problem, ["trainer.max_epochs=3"], CHOICES, CFG)
    assert named.source == "optim/adamw.yaml or its schema"
    assert named.endswith("too small (from optim/adamw.yaml or its schema).")


def test_with_source_keeps_the_fields_and_a_known_source() -> None:
    problem = Problem("optim.lr=-1 must be > 0.", key="optim.lr", value=-1, fix="Try 1e-3.")
    named = with_source(problem, ["optim.lr=-1"], CHOICES, CFG)
    assert (named.key, named.value, named.fix) == ("optim.lr", -1, "Try 1e-3.")
    assert named == "optim.lr=-1 must be > 0 (from command-line override 'optim.lr=-1'). Try 1e-3."
    assert with_source(named, [], CHOICES, CFG) is named  # said once
    # A plain string is about the key it starts with; its body is never searched.
    text = "optim.lr=-1 must be > 0, unlike trainer.max_epochs=3."
    plain = with_source(text, ["trainer.max_epochs=3"], CHOICES, CFG)
    assert plain.source == "optim/adamw.yaml or its schema" and plain.key is None


def test_with_source_names_an_override_of_the_node_a_key_is_inside() -> None:
    problem = Problem("model.hidden_sizes[1]='a': expected int.", key="model.hidden_sizes[1]")
    named = with_source(problem, ["++model.hidden_sizes=[64,a]"], {}, OmegaConf.create({}))
    assert named.source == "command-line override 'model.hidden_sizes=[64,a]'"
    problem = Problem("optim.lr=-1 bad.", key="optim.lr")
    group_choice = with_source(problem, ["optim=sgd"], {"optim": "sgd"}, CFG)
    assert group_choice.source == "optim/sgd.yaml or its schema"  # a choice, not the key


# --- exit statuses ------------------------------------------------------------------------

ERROR_TYPES = [StageError, ConfigError, TargetsSkipped, TrialPruned, DataError, ArtifactError]


def test_every_error_type_has_a_distinct_exit_status() -> None:
    codes = [t.exit_code for t in ERROR_TYPES]
    assert len(set(codes)) == len(codes), {t.__name__: t.exit_code for t in ERROR_TYPES}
    assert all(issubclass(t, FabricxError) for t in ERROR_TYPES)
    assert ArtifactError.exit_code == 7 and ConfigError.exit_code == 2
    assert DataError.exit_code == 6 and StageError.exit_code == FabricxError.exit_code == 1
    assert 0 not in codes and not {130, 143} & set(codes)  # done; the signals' own


def test_every_exit_status_is_documented_in_the_cli_help() -> None:
    from fabricx.cli import HELP
    from fabricx.verbs.reproduce import NOT_REPRODUCED

    paragraph = HELP[HELP.index("Exit status:") :]
    flat = " ".join(paragraph.split())
    for code in [0, *(t.exit_code for t in ERROR_TYPES), NOT_REPRODUCED, 130, 143]:
        assert code in EXIT_STATUSES, code
        assert f"{code} {' '.join(EXIT_STATUSES[code].split())}" in flat, code
    documented = [int(n) for n in re.findall(r"(?:^|; )(\d+) ", flat.removeprefix("Exit status: "))]
    assert sorted(documented) == sorted(EXIT_STATUSES)  # nothing listed twice or undeclared
    for code in EXIT_STATUSES:  # and each explained in the module that defines them
        assert f"- {code}" in errors.__doc__ or f", {code}:" in errors.__doc__, code


def test_cli_maps_an_artifact_error_to_its_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from fabricx import cli

    def broken(rest: list[str]) -> int:
        raise ArtifactError("run/export/model.onnx: ONNX Runtime cannot load it")

    monkeypatch.setattr(cli, "_eval", broken)
    assert cli.main(["eval", "run=run"]) == 7
    err = capsys.readouterr().err
    assert err == "fabricx: artifact error: run/export/model.onnx: ONNX Runtime cannot load it\n"


def test_a_corrupt_onnx_file_read_back_is_an_artifact_error(tmp_path: Path) -> None:
    from fabricx.export.runtimes import OrtRunner

    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x08\x07 not a protobuf at all")
    with pytest.raises(ArtifactError, match=r"ONNX Runtime cannot load .*model\.onnx") as info:
        OrtRunner(path)
    assert info.value.exit_code == 7 and not isinstance(info.value, ConfigError)


def test_a_corrupt_checkpoint_read_back_is_an_artifact_error(tmp_path: Path) -> None:
    import torch

    from fabricx.runs.checkpoints import load_weights

    path = tmp_path / "last.ckpt"
    path.write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(ArtifactError, match="could not load checkpoint") as info:
        load_weights(torch.nn.Linear(2, 2), path)
    assert info.value.exit_code == 7
