"""Compose a config with Hydra and validate it against the schema, before any work starts.

Hydra stops at the first bad override and prints a traceback-shaped message. Users need every
problem of one command line at once, each naming the key, where it came from and the closest
valid names. So `validate` composes once, and only when that fails composes again override by
override to attribute each problem to the argument that caused it.

Nothing here imports torch or lightning.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from fabricx.config.check import check_config, trusted_prefixes
from fabricx.config.paths import conf_dir, group_options, searchpath_override
from fabricx.config.problems import as_typed, with_source
from fabricx.config.typed import to_typed
from fabricx.errors import ConfigError, Problem
from fabricx.launch.diagnose import diagnose

_registered = False


def register() -> None:
    """Register the schemas and the resolvers once per process (explicit, not on import)."""
    global _registered
    if _registered:
        return
    from hydra.core.config_store import ConfigStore

    from fabricx.config.schema import GROUP_SCHEMAS, PRIMARY_SCHEMAS
    from fabricx.launch.recipes_source import register_recipes

    register_recipes()  # recipe=NAME: recipes/NAME/recipe.yaml
    store = ConfigStore.instance()  # the schemas behind base_train, base_sweep, ...
    for name, node in PRIMARY_SCHEMAS.items():
        store.store(name=name, node=node)
    for group, schemas in GROUP_SCHEMAS.items():
        for name, node in schemas.items():
            store.store(group=group, name=name, node=node)
    # A short random id makes run directories unique even when two start in the same second;
    # cached, so every read of hydra.run.dir in one job sees the same id.
    if not OmegaConf.has_resolver("fabricx_run_id"):
        OmegaConf.register_new_resolver(
            "fabricx_run_id", lambda: secrets.token_hex(3), use_cache=True
        )
    if not OmegaConf.has_resolver("fabricx_tasks_per_node"):
        OmegaConf.register_new_resolver("fabricx_tasks_per_node", tasks_per_node)
    _registered = True


def tasks_per_node(devices: Any) -> int:
    """SLURM tasks per node for `trainer.devices`: one per device; "auto" runs one task."""
    if isinstance(devices, int) and devices > 0:
        return devices
    if str(devices).isdigit() and int(devices) > 0:
        return int(devices)
    if devices in ("auto", 1, "1"):
        return 1
    raise ValueError(
        f"trainer.devices={devices!r}: with hydra/launcher=slurm give the number of devices per"
        " node (SLURM starts one task per device), e.g. trainer.devices=2."
    )


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
    extra = searchpath_override(config_dir)
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return hydra_compose(
            config_name, overrides=[*overrides, *extra], return_hydra_config=with_choices
        )


# Nodes that hold a callable's arguments: any of its parameters may be set from the command
# line, whether or not the option's YAML file lists it.
COMPONENT_NODES = ("data", "model", "task", "optim", "scheduler", "trainer", "logger",
                   "callbacks.extra")  # fmt: skip


def prepare_overrides(args: list[str], config_dir: str | None = None) -> list[str]:
    """The command line as Hydra should read it: numeric group choices quoted, and keys
    inside component nodes force-added (`model.width=48` -> `++model.width=48`).

    A component's YAML lists only what differs from its constructor's defaults, and Hydra
    refuses to override a key the composed config lacks. `++` adds it or overrides it; the
    signature check then refuses any key the constructor does not take.
    """
    prepared = []
    for arg in quote_numeric_choices(args, config_dir):
        key, sep, _ = arg.partition("=")
        plain_key = sep and not arg.startswith(("-", "+", "~"))
        if plain_key and any(key.startswith(f"{node}.") for node in COMPONENT_NODES):
            arg = f"++{arg}"
        prepared.append(arg)
    return prepared


def quote_numeric_choices(args: list[str], config_dir: str | None = None) -> list[str]:
    """Quote group choices that look like numbers: `precision=32` -> `precision='32'`.

    Hydra parses the 32 of `precision=32` as an int and refuses it as a group choice, yet
    `32` is the option's name (conf/precision/32.yaml). Flags and key overrides pass as is.
    """
    quoted = []
    for arg in args:
        key, sep, value = arg.partition("=")
        group = key.lstrip("+")
        if sep and not arg.startswith("-") and "." not in group and value:
            # A sweep lists its choices with commas: -m precision=32,bf16-mixed.
            choices = value.split(",")
            numeric = [re.fullmatch(r"[0-9][0-9.]*", c) is not None for c in choices]
            if any(numeric) and group_options(group, config_dir) is not None:
                pairs = zip(choices, numeric, strict=True)
                value = ",".join(f"'{c}'" if is_number else c for c, is_number in pairs)
                arg = f"{key}={value}"
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
    if config_dir is not None and not Path(config_dir).is_dir():
        raise ConfigError(
            f"--config-dir {config_dir}: no such directory; give the folder that holds your"
            " group folders (e.g. optim/myopt.yaml)."
        )
    overrides = prepare_overrides(overrides, config_dir)
    parsed, problems = _parse(overrides)
    if problems:
        raise ConfigError(problems)
    sweeps = [o for o in parsed if o.is_sweep_override()]
    if sweeps and not multirun:
        raise ConfigError(
            Problem(
                f"'{as_typed(o.input_line)}' sweeps over several values: add -m (--multirun) to "
                "run one job per value, or write key=[a,b] for a list value.",
                key=o.key_or_group,
                value=as_typed(o.input_line).split("=", 1)[-1],
            )
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
                f"malformed override '{as_typed(line)}' ({reason}). Overrides look like "
                "key=value, group=option, +new_key=value or ~key; quote values with spaces or "
                "commas."
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
            values = list(o.sweep_string_iterator())
        columns.append([f"{key}={v}" for v in values])
    width = max(len(c) for c in columns)
    return [[c[i % len(c)] for c in columns] for i in range(width)]


def _opt_ins_from_the_command_line(cfg: DictConfig, overrides: list[str]) -> None:
    """Refuse `allow_unsafe_targets` set anywhere but the command line (a config file, a
    recipe, a group option): an opt-in to code that loads pickles must be typed each time."""
    from fabricx.config.trust import OPT_IN_KEY

    if not cfg.get(OPT_IN_KEY):
        return
    typed = any(o.split("=", 1)[0].lstrip("+~") == OPT_IN_KEY for o in overrides)
    if not typed:
        raise ConfigError(
            Problem(
                f"{OPT_IN_KEY}={list(cfg[OPT_IN_KEY])} comes from a config file; fabricx takes "
                "this opt-in only from the command line.",
                key=OPT_IN_KEY,
                value=list(cfg[OPT_IN_KEY]),
                fix=f"Remove it from the file and type {OPT_IN_KEY}=[...] when you mean it.",
            )
        )


def _validate_job(config_name: str, overrides: list[str], config_dir: str | None) -> Any:
    try:
        cfg = compose(config_name, overrides, config_dir, with_choices=True)
    except Exception as err:  # Hydra and OmegaConf raise many types; diagnose sorts them
        problems, usable = diagnose(
            lambda ov: compose(config_name, ov, config_dir), overrides, config_dir, err
        )
        if usable is not None:  # check the rest too: every problem of the command at once
            try:
                _validate_job(config_name, usable, config_dir)
            except ConfigError as rest:
                problems += [p for p in rest.problems if p not in problems]
        raise ConfigError(problems) from None
    choices = dict(cfg.hydra.runtime.choices)
    with open_dict(cfg):
        del cfg["hydra"]
    _opt_ins_from_the_command_line(cfg, overrides)
    try:
        if "task" in cfg:  # an experiment (train, sweep): components and fabricx's settings
            return check_config(cfg, trusted_prefixes(cfg))
        return to_typed(cfg)  # a verb on a finished run: its own settings only
    except ConfigError as err:
        raise ConfigError(with_source(p, overrides, choices, cfg) for p in err.problems) from None
