"""Turn Hydra and OmegaConf failures into one line per problem: key, source, closest names.

`with_source` says where a schema check's key came from; fabricx.launch.diagnose blames the
command-line argument that broke Hydra's composition.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
    ValidationError,
)

from fabricx.errors import Problem, did_you_mean


def with_source(
    problem: str, overrides: list[str], choices: dict[str, str], cfg: DictConfig
) -> Problem:
    """The problem with where its key's value came from: an override, an interpolation, or
    a file. Read from the problem's `keys`, never from its text.

    Args:
        problem: a check's Problem; a plain string is taken as about the key it starts with
            (the convention every check's message follows).
        overrides: the command line's overrides.
        choices: group -> chosen option (Hydra's runtime.choices).
        cfg: the composed config, to see whether the key's value is an interpolation.
    """
    if not isinstance(problem, Problem):
        problem = Problem(problem)
    if problem.source is not None or (problem.key is None and "(from " in problem):
        return problem  # the check said where it came from itself
    keys = problem.keys or (_leading_key(problem),)
    key = keys[0]
    group = key.split(".", 1)[0]
    source = "the primary config"
    if choices.get(group):
        source = f"{group}/{choices[group]}.yaml or its schema"
    interpolation = _interpolation_of(cfg, key)
    if interpolation:
        source = f"{interpolation}: set the key it points to"
    # A rule may be about several keys (a=1 and b=2 must ...): every override of one is named.
    named = [line for line in overrides if any(_sets(_key_of(line), k) for k in keys)]
    if named:
        source = " and ".join(f"command-line override '{as_typed(line)}'" for line in named)
    return problem.replace(source=source)


def problem_key(problem: str) -> str:
    """The key `problem` is about: its `key` field; for a plain string (no structure) the
    key it starts with."""
    key = getattr(problem, "key", None)
    return key if key is not None else _leading_key(problem)


def _leading_key(text: str) -> str:
    """The key a plain-string problem starts with: `optim.lr=-1 must ...` -> `optim.lr`."""
    return text.split("=", 1)[0].split(":", 1)[0].split(" ", 1)[0]


def _sets(overridden: str, key: str) -> bool:
    """Whether an override of `overridden` sets `key`: the key itself, and for a key override
    (`model.widths`, not a group choice like `optim`) the items and keys inside it."""
    if overridden == key:
        return True
    return "." in overridden and key.startswith((f"{overridden}.", f"{overridden}["))


def as_typed(override: str) -> str:
    """The override as the user typed it, without what prepare_overrides added (quotes
    around numeric choices, `++` before a component's key)."""
    return re.sub(r"'([0-9][0-9.]*)'", r"\1", override.removeprefix("++"))


def _key_of(override: str) -> str:
    return override.lstrip("+~").split("=", 1)[0]


def _interpolation_of(cfg: DictConfig, key: str) -> str | None:
    """The raw `${...}` text of `key` when its value comes from another key, else None."""
    parent, _, leaf = key.rpartition(".")
    try:
        node = OmegaConf.select(cfg, parent) if parent else cfg
        if not isinstance(node, DictConfig) or not OmegaConf.is_interpolation(node, leaf):
            return None
    except Exception:  # a key that does not resolve has no interpolation to report
        return None
    return str(OmegaConf.to_container(node, resolve=False)[leaf])


def omegaconf_problem(err: OmegaConfBaseException, source: str | None = None) -> Problem:
    """One Problem for an OmegaConf error: its key, value, message, fix and (when known) the
    source of the value; None leaves the source to `with_source`."""
    key = getattr(err, "full_key", None) or "?"
    value = getattr(err, "value", None)
    message = str(getattr(err, "msg", None) or err).splitlines()[0]
    if isinstance(err, (ConfigKeyError, ConfigAttributeError)):
        parent_type = getattr(err, "object_type", None)
        names = [f.name for f in dataclasses.fields(parent_type)] if _is_dc(parent_type) else []
        leaf = key.rsplit(".", 1)[-1]
        where = f"'{key.rsplit('.', 1)[0]}'" if "." in key else "the top level"
        hint = did_you_mean(leaf, names) or (f" Valid keys: {', '.join(names)}." if names else "")
        return Problem(f"{key}: no such key in {where}.", key=key, fix=hint, source=source)
    if isinstance(err, MissingMandatoryValue):
        return Problem(
            f"{key} is required but has no value.",
            key=key,
            fix=f"Set {key}=<value>.",
            source=source,
        )
    if isinstance(err, ValidationError):
        fix = _expected_type(err)
        return Problem(f"{key}: {message}", key=key, value=value, fix=fix, source=source)
    return Problem(f"{key}: {message}", key=key, value=value, source=source)


def _expected_type(err: ValidationError) -> str:
    parent_type = getattr(err, "object_type", None)
    leaf = (getattr(err, "full_key", "") or "").rsplit(".", 1)[-1]
    if _is_dc(parent_type):
        for f in dataclasses.fields(parent_type):
            if f.name == leaf:
                return f" Expected {_type_name(f.type)}."
    return ""


def _type_name(annotation: Any) -> str:
    return (
        annotation
        if isinstance(annotation, str)
        else getattr(annotation, "__name__", str(annotation))
    )


def _is_dc(obj: Any) -> bool:
    return isinstance(obj, type) and dataclasses.is_dataclass(obj)
