"""Find every `${...}` that does not resolve, say why in the user's terms, and set it aside.

OmegaConf resolves interpolations lazily, so one unset environment variable surfaces as an
exception wherever the key is first read, and hides every other problem of the node it
sits in (a whole `optim` that "is missing"). `set_aside_unresolvable` reads every
interpolation once, up front; each that fails becomes one problem, named by its key, with
its fix; and the key falls back to its default so the rest of the config is still checked.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict
from omegaconf.errors import (
    InterpolationKeyError,
    InterpolationResolutionError,
    InterpolationToMissingValueError,
    UnsupportedInterpolationType,
    ValidationError,
)

from fabricx import internals
from fabricx.errors import Problem, did_you_mean


def set_aside_unresolvable(
    cfg: DictConfig, unfilled: Iterable[str] = ()
) -> tuple[list[Problem], list[str]]:
    """One problem per interpolation in `cfg` that does not resolve; each such key is reset
    to its default (removed from a component node, whose signature has the default).

    Args:
        unfilled: components whose defaults could not be filled (a target that is refused or
            does not import); a reference to one of their keys fails because of that, which
            the checker reports once, so it is set aside without a problem of its own.

    Returns:
        (the problems, the keys set aside silently: later problems about them are echoes).
    """
    failures: list[tuple[Any, Any, str, str, Exception]] = []
    _walk(cfg, "", failures)
    problems, silent = [], []
    for parent, leaf, key, raw, err in failures:
        if _points_into(err, list(unfilled)):
            silent.append(key)
        else:
            problems.append(Problem(_explain(key, raw, err), key=key, value=raw))
        _reset(parent, leaf)
    return problems, silent


def _walk(node: Any, path: str, failures: list) -> None:
    keys = node.keys() if isinstance(node, DictConfig) else range(len(node))
    for k in list(keys):
        if not path:
            key = str(k)
        else:
            key = f"{path}.{k}" if isinstance(node, DictConfig) else f"{path}[{k}]"
        if OmegaConf.is_interpolation(node, k):
            try:
                node[k]
            except (InterpolationToMissingValueError, ValidationError):
                pass  # a value filled later (the task's metric) or a type problem: not ours
            except InterpolationResolutionError as err:
                raw = OmegaConf.to_container(node, resolve=False)[k]  # type: ignore[index]
                failures.append((node, k, key, str(raw), err))
        elif not OmegaConf.is_missing(node, k):
            child = node[k]  # no interpolation: nothing is resolved; None when null
            if isinstance(child, (DictConfig, ListConfig)):
                _walk(child, key, failures)


def _points_into(err: Exception, components: list[str]) -> bool:
    if not isinstance(err, InterpolationKeyError):
        return False
    match = re.search(r"key '([^']+)'", str(err))
    return bool(match) and any(match.group(1).startswith(f"{c}.") for c in components)


def _explain(key: str, raw: str, err: Exception) -> str:
    text = str(err).splitlines()[0]
    env = re.search(r"Environment variable '([^']+)' not found", text)
    if env:
        name = env.group(1)
        return (
            f"{key}={raw}: the environment variable {name} is not set; export {name}=<value>, "
            f"or give a default: ${{oc.env:{name},<default>}}."
        )
    if isinstance(err, UnsupportedInterpolationType):
        match = re.search(r"type (\S+)", text)
        name = match.group(1) if match else "?"
        known = sorted(internals.resolver_names())
        return (
            f"{key}={raw}: there is no resolver named '{name}'. Resolvers: {', '.join(known)}."
            f"{did_you_mean(name, known)}"
        )
    if "Recursive interpolation" in text:
        return f"{key}={raw} refers to itself; give it a value, or point it at another key."
    if isinstance(err, InterpolationKeyError):
        match = re.search(r"key '([^']+)'", text)
        target = match.group(1) if match else raw
        return (
            f"{key}={raw}: {target} is no key of the config; point it at a key that exists "
            "(fabricx config prints them all)."
        )
    return f"{key}={raw}: {text}."


def _reset(parent: Any, leaf: Any) -> None:
    """Put a default in place of an unresolvable value, so the other checks still run."""
    if isinstance(parent, ListConfig):
        parent[leaf] = None
        return
    schema = OmegaConf.get_type(parent)
    with open_dict(parent):
        if schema is None or schema is dict or not dataclasses.is_dataclass(schema):
            del parent[leaf]  # a component's argument: its signature's default applies
            return
        field = {f.name: f for f in dataclasses.fields(schema)}.get(leaf)
        if field is None:
            del parent[leaf]
        elif field.default is not dataclasses.MISSING:
            parent[leaf] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            parent[leaf] = field.default_factory()
        else:
            parent[leaf] = "???"
