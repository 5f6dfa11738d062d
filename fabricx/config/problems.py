"""Turn Hydra and OmegaConf failures into one line per problem: key, source, closest names.

Hydra stops at the first bad override and its messages name neither the argument nor a fix.
`diagnose` composes again override by override to blame the argument that broke composition;
`with_source` says where a schema check's key came from.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
    ValidationError,
)

from fabricx.config.paths import group_options
from fabricx.errors import did_you_mean

Compose = Callable[[list[str]], Any]


def with_source(
    problem: str, overrides: list[str], choices: dict[str, str], cfg: DictConfig
) -> str:
    """Add where a schema check's key came from: an override, an interpolation, or a file.

    Args:
        problem: the check's message, which starts with the key it is about.
        overrides: the command line's overrides.
        choices: group -> chosen option (Hydra's runtime.choices).
        cfg: the composed config, to see whether the key's value is an interpolation.
    """
    if "(from " in problem:
        return problem
    keys = getattr(problem, "keys", ())
    key = keys[0] if keys else problem.split("=", 1)[0].split(":", 1)[0].split(" ", 1)[0]
    group = key.split(".", 1)[0]
    source = "the primary config"
    if choices.get(group):
        source = f"{group}/{choices[group]}.yaml or its schema"
    interpolation = _interpolation_of(cfg, key)
    if interpolation:
        source = f"{interpolation}: set the key it points to"
    # A check may name several keys ("a=1 and b=2 must ..."): any override it names is the source.
    named = [
        line
        for line in overrides
        if _key_of(line) in keys or re.search(_names_key(_key_of(line)), problem)
    ]
    if named:
        source = " and ".join(f"command-line override '{as_typed(line)}'" for line in named)
    # "x must be > 0." -> "x must be > 0 (from ...)."; a closing "?" stays where it is.
    if problem.endswith("."):
        return f"{problem[:-1]} (from {source})."
    return f"{problem} (from {source})"


def _names_key(key: str) -> str:
    """A pattern for a problem that names `key`: the key itself, and for a key override
    (`model.widths`, not a group choice like `optim`) the items and keys inside it."""
    inside = r".\[" if "." in key else ""
    return rf"(^|\W){re.escape(key)}[=: {inside}]"


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
        child = node._get_node(leaf) if isinstance(node, DictConfig) else None
    except Exception:  # a key that does not resolve has no interpolation to report
        return None
    return str(child._value()) if child is not None and child._is_interpolation() else None


def diagnose(
    compose: Compose, overrides: list[str], config_dir: str | None, err: Exception
) -> tuple[list[str], list[str] | None]:
    """Find which overrides broke composition, by composing with each one alone.

    Returns:
        (the problems, the overrides that compose together), so the rest of the config can
        still be checked; None instead of a list when even the config files do not compose.

    Args:
        compose: composes the config with a list of overrides (raises what Hydra raises).
        overrides: the command line's overrides.
        config_dir: the user's --config-dir, whose options count as valid.
        err: the error of the composition with every override.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    problems: list[str] = []
    good_groups: list[str] = []
    values: list[Any] = []
    for o in parsed:
        key = o.get_key_element()
        options = group_options(o.key_or_group, config_dir) if "." not in o.key_or_group else None
        if options is None:
            values.append(o)
            continue
        chosen = o.value()
        chosen = list(chosen) if isinstance(chosen, list) else [chosen]
        bad = [str(c) for c in chosen if str(c) not in options]
        if bad:
            problems += [
                f"{key}={b}: '{o.key_or_group}' has no option '{b}' (command-line override "
                f"'{as_typed(o.input_line)}'). Options: {', '.join(options)}."
                f"{did_you_mean(b, options)}"
                for b in bad
            ]
        else:
            good_groups.append(o.input_line)
    try:
        compose(good_groups)
    except Exception as base_err:  # the config files themselves are broken
        return [*problems, _hydra_problem(base_err, "the composed config files")], None
    usable = list(good_groups)
    for o in values:
        try:
            compose([*good_groups, o.input_line])
        except Exception as one_err:  # this override alone breaks composition
            source = f"command-line override '{as_typed(o.input_line)}'"
            problems.append(_hydra_problem(one_err, source))
        else:
            usable.append(o.input_line)
    if not problems:  # together they fail, one by one they do not
        return [_hydra_problem(err, "the command line")], None
    return problems, usable


def _hydra_problem(err: Exception, source: str) -> str:
    """One line for a Hydra/OmegaConf composition error: key, source, closest names."""
    cause: BaseException | None = err
    # Hydra re-raises some OmegaConf errors inside `except` without `from`: follow both links.
    while cause is not None and not isinstance(cause, OmegaConfBaseException):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, OmegaConfBaseException):
        first = str(err).splitlines()[0]
        if first.startswith("In '"):  # "In 'optim/badopt': ..." names the YAML file
            source = f"config file {first[4:].split(chr(39), 1)[0]}.yaml"
        return omegaconf_problem(cause, source)
    first = str(err).splitlines()[0]
    if "Could not find" in first:  # a defaults-list entry names a missing option
        return f"{first.split(': ', 1)[-1]} (from {source}). Check the option name."
    return f"{first} (from {source})"


def omegaconf_problem(err: OmegaConfBaseException, source: str) -> str:
    key = getattr(err, "full_key", None) or "?"
    message = str(getattr(err, "msg", None) or err).splitlines()[0]
    if isinstance(err, (ConfigKeyError, ConfigAttributeError)):
        parent_type = getattr(err, "object_type", None)
        names = [f.name for f in dataclasses.fields(parent_type)] if _is_dc(parent_type) else []
        leaf = key.rsplit(".", 1)[-1]
        where = f"'{key.rsplit('.', 1)[0]}'" if "." in key else "the top level"
        hint = did_you_mean(leaf, names) or (f" Valid keys: {', '.join(names)}." if names else "")
        return f"{key}: no such key in {where} (from {source}).{hint}"
    if isinstance(err, MissingMandatoryValue):
        return f"{key} is required but has no value (from {source}); set {key}=<value>."
    if isinstance(err, ValidationError):
        expected = _expected_type(err)
        return f"{key}: {message} (from {source}).{expected}"
    return f"{key}: {message} (from {source})"


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
