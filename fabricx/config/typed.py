"""Check a composed config against its schema and convert it, once, to dataclasses."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError, OmegaConfBaseException

from fabricx.config.problems import omegaconf_problem
from fabricx.errors import ConfigError, Problem, did_you_mean


def to_typed(cfg: DictConfig) -> Any:
    """Check a composed config completely and convert it once to its dataclasses.

    Reports unknown keys (added with `+`), missing required values, unresolvable
    interpolations and every group's `__post_init__` problems together.
    """
    problems = list(_unknown_keys(cfg))
    problems += [
        Problem(f"{key} is required but has no value.", key=key, fix=f"Set it, e.g. {key}=<value>.")
        for key in _missing_keys(cfg)
    ]
    if not problems:
        for key in cfg:
            node = cfg[key] if not OmegaConf.is_missing(cfg, key) else None
            if isinstance(node, DictConfig) and OmegaConf.get_type(node) not in (dict, None):
                problems += _convert_problems(node, str(key))
    if problems:
        raise ConfigError(problems)
    try:
        return OmegaConf.to_object(cfg)
    except ConfigError:
        raise
    except OmegaConfBaseException as err:
        raise ConfigError(omegaconf_problem(err)) from None


def _convert_problems(node: DictConfig, key: str) -> list[str]:
    try:
        OmegaConf.to_object(node)
    except ConfigError as err:
        return err.problems
    except InterpolationResolutionError as err:
        return [Problem(f"{key}: {str(err).splitlines()[0]}", key=key)]
    except OmegaConfBaseException as err:
        return [omegaconf_problem(err)]
    return []


def _missing_keys(cfg: DictConfig | ListConfig, prefix: str = "") -> Iterable[str]:
    """Keys whose value is literally `???`, found without resolving interpolations.

    OmegaConf.missing_keys resolves `${data.x}` on the way and then blames the key that
    points at the missing one; the user has to set the key that is actually missing.
    """
    keys = cfg.keys() if isinstance(cfg, DictConfig) else range(len(cfg))
    for key in keys:
        full = f"{prefix}{key}" if isinstance(cfg, DictConfig) else f"{prefix.rstrip('.')}[{key}]"
        if OmegaConf.is_missing(cfg, key):
            yield full
        elif not OmegaConf.is_interpolation(cfg, key):
            node = cfg[key]  # no interpolation: nothing is resolved; None when null
            if isinstance(node, (DictConfig, ListConfig)):
                yield from _missing_keys(node, f"{full}.")


def _unknown_keys(cfg: DictConfig, prefix: str = "") -> Iterable[str]:
    """Keys a `+key=value` added that the group's schema does not have."""
    schema = OmegaConf.get_type(cfg)
    if dataclasses.is_dataclass(schema):
        fields = {f.name for f in dataclasses.fields(schema)}
        for key in cfg:
            if key not in fields:
                full = f"{prefix}{key}"
                hint = did_you_mean(str(key), fields) or f" Its keys: {', '.join(sorted(fields))}."
                yield Problem(
                    f"{full} is not a key of {schema.__name__}.",
                    key=full,
                    value=_given(cfg, key),
                    fix=f"{hint} Remove it.",
                )
    for key in cfg:
        if OmegaConf.is_missing(cfg, key) or OmegaConf.is_interpolation(cfg, key):
            continue
        child = cfg[key]  # neither missing nor an interpolation; None when null
        if isinstance(child, DictConfig):
            yield from _unknown_keys(child, f"{prefix}{key}.")


def _given(cfg: DictConfig, key: Any) -> Any:
    """The value set at `key` as data, for a Problem; None for a node, ??? or ${...}."""
    if OmegaConf.is_missing(cfg, key) or OmegaConf.is_interpolation(cfg, key):
        return None
    value = cfg[key]
    return None if OmegaConf.is_config(value) else value


def plain(cfg: DictConfig | ListConfig | Any) -> Any:
    """A resolved config as plain dicts and lists: safe to pickle and to load weights_only."""
    if dataclasses.is_dataclass(cfg):
        cfg = OmegaConf.structured(cfg)
    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
