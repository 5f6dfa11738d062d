"""The checker's parts on their own: values against type hints, a target's signature, the
defaults written into a config, the project file, when a finished run trains longer, and
how many processes the Python API would start."""

from __future__ import annotations

import enum
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
import torch
from annotated_types import Ge, Interval
from omegaconf import OmegaConf

from fabricx.config.defaults import fill_defaults
from fabricx.config.project import find_project
from fabricx.config.signatures import EMPTY, check_value, returns_class, signature_of
from fabricx.errors import ConfigError


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


# --- values against hints ---------------------------------------------------------------------

ACCEPTED = [
    (int, 3, 3),
    (float, 3, 3.0),  # an int is a fine float
    (tuple[int, int], [1, 2], (1, 2)),  # YAML has lists; the callable gets its tuple
    (Color, "red", Color.RED),  # by value
    (Color, "BLUE", Color.BLUE),  # by name, as OmegaConf accepts it
    (Literal["a", "b"], "b", "b"),
    (int | None, None, None),
    (list[int] | str, "auto", "auto"),
    (Annotated[int, Ge(1)], 1, 1),
    (Sequence[Annotated[int, Ge(1)]], [2, 3], [2, 3]),
    (Path, "/tmp/x", Path("/tmp/x")),
    (dict[str, Any], {"a": [1]}, {"a": [1]}),
    (EMPTY, object(), None),  # unannotated: anything goes, as given
]


@pytest.mark.parametrize(("hint", "value", "expected"), ACCEPTED)
def test_data_that_fits_its_hint_is_accepted_as_the_callable_reads_it(
    hint: Any, value: Any, expected: Any
) -> None:
    checked, problem = check_value(value, hint)
    assert problem is None
    if expected is not None:
        assert checked == expected and type(checked) is type(expected)


REFUSED = [
    (int, "48", "should be a valid integer"),  # a string is no int, whatever it spells
    (bool, 1, "should be a valid boolean"),  # and 1 is no bool
    (float, "fast", "should be a valid number"),
    (list[int], [1, "x"], "at [1]"),
    (Literal["relu", "gelu"], "swish", "Literal['relu', 'gelu']"),
    (Color, "green", "one of RED, BLUE"),
    (Annotated[float, Interval(ge=0.0, lt=1.0)], 1.5, "less than 1"),
    (torch.nn.Module, 3, "expected torch.nn.modules.module.Module"),  # an object, not data
]


@pytest.mark.parametrize(("hint", "value", "fragment"), REFUSED)
def test_data_that_does_not_fit_is_refused_saying_what_was_expected(
    hint: Any, value: Any, fragment: str
) -> None:
    _, problem = check_value(value, hint)
    assert problem is not None and fragment in problem, problem


# --- signatures -----------------------------------------------------------------------------


def unannotated_factory(width):
    return width


def annotated_factory(width: int) -> torch.nn.Linear:
    return torch.nn.Linear(width, width)


def test_a_function_target_builds_what_its_return_hint_says_or_nothing_known() -> None:
    assert returns_class(signature_of("t.unannotated", unannotated_factory)) is None
    assert returns_class(signature_of("t.annotated", annotated_factory)) is torch.nn.Linear
    assert returns_class(signature_of("t.Linear", torch.nn.Linear)) is torch.nn.Linear


def test_a_signature_lists_its_parameters_with_resolved_hints() -> None:
    sig = signature_of("torch.optim.SGD", torch.optim.SGD)
    assert list(sig.params)[:2] == ["params", "lr"]
    assert sig.params["nesterov"].annotation is bool and not sig.params["lr"].required
    assert sig.describe("nesterov") == "nesterov: bool = False"
    assert not sig.var_keyword


# --- defaults written into a config ----------------------------------------------------------


def test_fill_defaults_writes_data_defaults_and_leaves_the_rest() -> None:
    cfg = OmegaConf.create(
        {
            "model": {"_target_": "fabricx.models.mlp.MLP", "in_features": 4, "num_classes": 2},
            "optim": {"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.1},
            "task": {"_target_": "fabricx.tasks.classification.ClassificationTask"},
            "data": {"_target_": "evil.module.Data"},  # not allowed: never imported
        }
    )
    fill_defaults(cfg, ["fabricx", "torch"])
    assert cfg.model.hidden_sizes == [128, 64] and cfg.model.dropout == 0.1
    assert cfg.optim.momentum == 0 and "params" not in cfg.optim  # completed later
    assert "model" not in cfg.task and "optimizer" not in cfg.task  # fabricx passes them
    assert cfg.task.num_classes == 10
    assert list(cfg.data) == ["_target_"]


# --- the project file ------------------------------------------------------------------------


def _pyproject(root: Path, table: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(textwrap.dedent(table))
    return root


def test_a_project_is_found_from_a_folder_inside_it(tmp_path: Path) -> None:
    root = _pyproject(tmp_path / "lab", '[tool.fabricx]\ntarget-prefixes = ["lab"]\n')
    (root / "conf").mkdir()
    (root / "notebooks" / "deep").mkdir(parents=True)
    project = find_project(root / "notebooks" / "deep")
    assert project is not None and project.root == root
    assert project.config_dir == root / "conf" and project.target_prefixes == ("lab",)
    assert project.python_path == (root,)
    assert find_project(tmp_path) is None  # above it: no project


def test_a_project_file_with_wrong_keys_is_a_config_error(tmp_path: Path) -> None:
    root = _pyproject(
        tmp_path / "lab",
        """
        [tool.fabricx]
        config_dir = "conf"
        target-prefixes = "lab"
        """,
    )
    with pytest.raises(ConfigError) as err:
        find_project(root)
    problems = "\n".join(err.value.problems)
    assert "unknown key 'config_dir'" in problems and "config-dir" in problems
    assert "target-prefixes must be a list" in problems
    _pyproject(tmp_path / "other", '[tool.fabricx]\nconfig-dir = "nowhere"\n')
    with pytest.raises(ConfigError, match=r"config-dir .*nowhere is not a directory"):
        find_project(tmp_path / "other")


# --- a finished run, trained longer ----------------------------------------------------------


def test_trains_longer_compares_with_what_the_last_checkpoint_has_done(tmp_path: Path) -> None:
    from fabricx.runs.resume import trains_longer

    (tmp_path / "checkpoints").mkdir()
    torch.save({"epoch": 3, "global_step": 80}, tmp_path / "checkpoints" / "last.ckpt")

    def longer(**trainer: Any) -> bool:
        return trains_longer(tmp_path, {"trainer": trainer})

    assert longer(max_epochs=5) and not longer(max_epochs=4) and not longer(max_epochs=3)
    assert not longer(max_epochs=6, max_steps=80)  # the steps limit is reached already
    assert longer(max_epochs=-1, max_steps=100) and not longer(max_epochs=-1, max_steps=80)
    assert not trains_longer(tmp_path / "nothing", {"trainer": {"max_epochs": 9}})


# --- the Python API: one process -------------------------------------------------------------


@pytest.mark.parametrize(
    ("trainer", "processes"),
    [
        ({"devices": 1}, 1),
        ({"devices": "auto", "accelerator": "cpu"}, 1),
        ({"devices": 2}, 2),
        ({"devices": [0, 1]}, 2),
        ({"devices": "0,1"}, 2),
        ({"devices": "3"}, 3),
    ],
)
def test_the_api_counts_the_processes_lightning_would_start(trainer: dict, processes: int):
    from fabricx.api import _processes

    assert _processes(trainer) == processes


def test_the_api_refuses_several_processes_and_resume() -> None:
    from fabricx.api import _refuse_several_processes

    with pytest.raises(ConfigError, match=r"trainer\.devices=2 means 2 devices"):
        _refuse_several_processes({"trainer": {"devices": 2}})
    with pytest.raises(ConfigError, match="fabricx train resume=auto"):
        _refuse_several_processes({"trainer": {"devices": 1}, "resume": "auto"})
    _refuse_several_processes({"trainer": {"devices": 1}, "resume": None})  # one process: fine
