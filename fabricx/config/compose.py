"""Compose a config with Hydra and validate it against the schema, before any work starts.

Hydra stops at the first bad override and prints a traceback-shaped message. Users need every
problem of one command line at once, each naming the key, where it came from and the closest
valid names. So `validate` composes once, and only when that fails composes again override by
override to attribute each problem to the argument that caused it.

Nothing here imports torch or lightning.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    InterpolationResolutionError,
    MissingMandatoryValue,
    OmegaConfBaseException,
    ValidationError,
)

from fabricx.config.instantiate import check_targets
from fabricx.errors import ConfigError, FabricxError, did_you_mean

_registered = False


def conf_dir() -> Path:
    """The packaged `conf/` (inside the wheel) or the repository's (editable install)."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "conf", package.parent / "conf"):
        if (candidate / "train.yaml").is_file():
            return candidate
    raise FabricxError(
        f"fabricx's conf/ directory was not found beside {package}; reinstall fabricx."
    )


def register() -> None:
    """Register the schemas and the resolvers once per process (explicit, not on import)."""
    global _registered
    if _registered:
        return
    from fabricx.config.schema import register_configs

    register_configs()
    # A short random id makes run directories unique even when two start in the same second;
    # cached, so every read of hydra.run.dir in one job sees the same id.
    if not OmegaConf.has_resolver("fabricx_run_id"):
        OmegaConf.register_new_resolver(
            "fabricx_run_id", lambda: secrets.token_hex(3), use_cache=True
        )
    _registered = True


def compose(
    config_name: str,
    overrides: list[str],
    config_dir: str | None = None,
    with_choices: bool = False,
) -> DictConfig:
    """Compose `config_name` from conf/ (plus `config_dir`) with `overrides`.

    Args:
        with_choices: keep the `hydra` node, whose runtime.choices name each group's option.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    register()
    extra = [f"hydra.searchpath=[file://{Path(config_dir).resolve()}]"] if config_dir else []
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return hydra_compose(
            config_name, overrides=[*overrides, *extra], return_hydra_config=with_choices
        )


def group_options(group: str, config_dir: str | None = None) -> list[str] | None:
    """User-facing options of a config group, or None when `group` is no group.

    Read from the config directories (conf/ and the user's --config-dir) rather than from
    an initialised Hydra: it is only needed to explain a failed composition.
    """
    dirs = [conf_dir() / group] + ([Path(config_dir) / group] if config_dir else [])
    if not any(d.is_dir() for d in dirs):
        return None
    names = {p.stem for d in dirs if d.is_dir() for p in d.glob("*.yaml")}
    return sorted(names)


def quote_numeric_choices(args: list[str], config_dir: str | None = None) -> list[str]:
    """Quote group choices that look like numbers: `precision=32` -> `precision='32'`.

    Hydra parses the 32 of `precision=32` as an int and refuses it as a group choice, yet
    `32` is the option's name (conf/precision/32.yaml). Flags and key overrides pass as is.
    """
    quoted = []
    for arg in args:
        key, sep, value = arg.partition("=")
        group = key.lstrip("+")
        if (
            sep
            and not arg.startswith("-")
            and "." not in group
            and re.fullmatch(r"[0-9][0-9.]*", value)
            and group_options(group, config_dir) is not None
        ):
            arg = f"{key}='{value}'"
        quoted.append(arg)
    return quoted


def validate(
    config_name: str,
    overrides: list[str],
    *,
    config_dir: str | None = None,
    multirun: bool = False,
) -> Any:
    """Compose and check a config; return the typed object of the (first) job.

    Raises:
        ConfigError: every problem found, one line each (exit status 2 at the CLI).
    """
    overrides = quote_numeric_choices(overrides, config_dir)
    parsed, problems = _parse(overrides)
    if problems:
        raise ConfigError(problems)
    sweeps = [o for o in parsed if o.is_sweep_override()]
    if sweeps and not multirun:
        raise ConfigError(
            f"'{o.input_line}' sweeps over several values: add -m (--multirun) to run one job "
            "per value, or write key=[a,b] for a list value."
            for o in sweeps
        )
    jobs = _jobs_covering_every_value(parsed) if sweeps else [list(overrides)]
    first = None
    for job in jobs:
        obj = _validate_job(config_name, job, config_dir)
        first = obj if first is None else first
    return first


def _parse(overrides: list[str]) -> tuple[list[Any], list[str]]:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    parsed, problems = [], []
    for line in overrides:
        try:
            parsed.extend(parser.parse_overrides([line]))
        except OverrideParseException as err:
            reason = str(err).splitlines()[0]
            problems.append(
                f"malformed override '{line}' ({reason}). Overrides look like key=value, "
                "group=option, +new_key=value or ~key; quote values with spaces or commas."
            )
    return parsed, problems


def _jobs_covering_every_value(parsed: list[Any]) -> list[list[str]]:
    """A few jobs in which each value of each sweep appears at least once.

    Validating the full cross product would compose hundreds of configs for a big sweep;
    every value is checked here, each in at least one job.
    """
    columns = []
    for o in parsed:
        key = o.get_key_element()
        values = [o.get_value_element_as_str()] if not o.is_sweep_override() else None
        if values is None:
            values = [_element_as_str(v) for v in o.sweep_iterator()]
        columns.append([f"{key}={v}" for v in values])
    width = max(len(c) for c in columns)
    return [[c[i % len(c)] for c in columns] for i in range(width)]


def _element_as_str(value: Any) -> str:
    from hydra.core.override_parser.types import Override

    return Override._get_value_element_as_str(value)


def _validate_job(config_name: str, overrides: list[str], config_dir: str | None) -> Any:
    try:
        cfg = compose(config_name, overrides, config_dir, with_choices=True)
    except Exception as err:  # Hydra and OmegaConf raise many types; _diagnose sorts them
        raise ConfigError(_diagnose(config_name, overrides, config_dir, err)) from None
    choices = dict(cfg.hydra.runtime.choices)
    with open_dict(cfg):
        del cfg["hydra"]
    try:
        typed = to_typed(cfg)
        prefixes = getattr(typed, "target_prefixes", None)
        if prefixes is not None:
            check_targets(typed, prefixes)
        return typed
    except ConfigError as err:
        raise ConfigError(_with_source(p, overrides, choices) for p in err.problems) from None


def _with_source(problem: str, overrides: list[str], choices: dict[str, str]) -> str:
    """Add where the offending key came from: an override, or a group's YAML file."""
    if "(from " in problem:
        return problem
    key = problem.split("=", 1)[0].split(":", 1)[0].split(" ", 1)[0]
    source = "the primary config"
    group = key.split(".", 1)[0]
    if group in choices and choices[group] is not None:
        source = f"{group}/{choices[group]}.yaml or its schema"
    for line in overrides:
        if line.lstrip("+~").split("=", 1)[0] == key:
            source = f"command-line override '{line}'"
    # "x must be > 0." -> "x must be > 0 (from ...)."; a closing "?" stays where it is.
    if problem.endswith("."):
        return f"{problem[:-1]} (from {source})."
    return f"{problem} (from {source})"


def to_typed(cfg: DictConfig) -> Any:
    """Check a composed config completely and convert it once to its dataclasses.

    Reports unknown keys (added with `+`), missing required values, unresolvable
    interpolations and every group's `__post_init__` problems together.
    """
    problems = list(_unknown_keys(cfg))
    problems += [
        f"{key} is required but has no value; set it, e.g. {key}=<value>."
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
        raise ConfigError(omegaconf_problem(err, "config")) from None


def _convert_problems(node: DictConfig, key: str) -> list[str]:
    try:
        OmegaConf.to_object(node)
    except ConfigError as err:
        return err.problems
    except InterpolationResolutionError as err:
        return [f"{key}: {str(err).splitlines()[0]}"]
    except OmegaConfBaseException as err:
        return [omegaconf_problem(err, "config")]
    return []


def _missing_keys(cfg: DictConfig | ListConfig, prefix: str = "") -> Iterable[str]:
    """Keys whose value is literally `???`, found without resolving interpolations.

    OmegaConf.missing_keys resolves `${data.x}` on the way and then blames the key that
    points at the missing one; the user has to set the key that is actually missing.
    """
    keys = cfg.keys() if isinstance(cfg, DictConfig) else range(len(cfg))
    for key in keys:
        node = cfg._get_node(key)
        full = f"{prefix}{key}" if isinstance(cfg, DictConfig) else f"{prefix.rstrip('.')}[{key}]"
        if node._is_missing():
            yield full
        elif (
            isinstance(node, (DictConfig, ListConfig))
            and not node._is_none()
            and not node._is_interpolation()
        ):
            yield from _missing_keys(node, f"{full}.")


def _unknown_keys(cfg: DictConfig, prefix: str = "") -> Iterable[str]:
    """Keys a `+key=value` added that the group's schema does not have."""
    schema = OmegaConf.get_type(cfg)
    if dataclasses.is_dataclass(schema):
        fields = {f.name for f in dataclasses.fields(schema)}
        for key in cfg:
            if key not in fields:
                full = f"{prefix}{key}"
                yield (
                    f"{full} is not a key of {schema.__name__}.{did_you_mean(str(key), fields)}"
                    f" Remove it, or add it to the schema in fabricx/config/schema.py."
                )
    for key in cfg:
        if OmegaConf.is_missing(cfg, key) or OmegaConf.is_interpolation(cfg, key):
            continue
        child = cfg._get_node(key)
        if isinstance(child, DictConfig) and not child._is_none():
            yield from _unknown_keys(child, f"{prefix}{key}.")


def _diagnose(
    config_name: str, overrides: list[str], config_dir: str | None, err: Exception
) -> list[str]:
    """Find which overrides broke composition, by composing with each one alone."""
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
                f"'{o.input_line}'). Options: {', '.join(options)}.{did_you_mean(b, options)}"
                for b in bad
            ]
        else:
            good_groups.append(o.input_line)
    try:
        compose(config_name, good_groups, config_dir)
    except Exception as base_err:  # the config files themselves are broken
        return [*problems, _hydra_problem(base_err, "the composed config files")]
    for o in values:
        try:
            compose(config_name, [*good_groups, o.input_line], config_dir)
        except Exception as one_err:  # this override alone breaks composition
            problems.append(_hydra_problem(one_err, f"command-line override '{o.input_line}'"))
    return problems or [_hydra_problem(err, "the command line")]


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


def plain(cfg: DictConfig | ListConfig | Any) -> Any:
    """A resolved config as plain dicts and lists: safe to pickle and to load weights_only."""
    if dataclasses.is_dataclass(cfg):
        cfg = OmegaConf.structured(cfg)
    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
