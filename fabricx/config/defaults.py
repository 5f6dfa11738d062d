"""Each component's signature defaults, written into its node before the check.

The composed config then shows every argument the code will use (`fabricx config`, the run's
config.yaml, W&B), and an interpolation such as `${data.num_classes}` finds the datamodule's
own default. A default is still written once, in the code.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from fabricx.config.groups import (
    OPTIM,
    SCHEDULER,
    TASK_SUPPLIED,
    TRAINER_OWNED,
    TRAINER_TARGET,
    completed_later,
    logger_supplied,
)
from fabricx.config.instantiate import target_allowed
from fabricx.config.signatures import TargetError, import_target, signature_of


def fill_defaults(cfg: DictConfig, prefixes: Iterable[str]) -> list[str]:
    """Write each component's signature defaults into its node, for the arguments the config
    leaves out: the composed config then shows every argument the code will use (`fabricx
    config`, the run's config.yaml, W&B), and `${data.num_classes}` finds the datamodule's
    default. Only data defaults are written (numbers, strings, lists); a target that is not
    allowed, is unsafe or does not import is left for the checker to report.

    Returns:
        the keys of the components left unfilled that way (interpolations into them are
        not reported on their own: fabricx.config.interpolations).
    """
    from fabricx.config.trust import unsafe_target_reason

    prefixes = list(prefixes)
    unfilled = []
    for key, node, skip in _fillable(cfg):
        target = _raw_target(node)
        if target is None or not target_allowed(target, prefixes):
            unfilled.append(key)
            continue
        if unsafe_target_reason([target], {}) is not None:
            unfilled.append(key)  # not even imported: the checker says why
            continue
        try:
            sig = signature_of(target, import_target(target))
        except TargetError:
            unfilled.append(key)
            continue
        group = {"optim": OPTIM, "scheduler": SCHEDULER}.get(key)
        skip = skip | completed_later(sig.params, group)
        if key.startswith("logger."):
            skip |= set(logger_supplied(sig.returns, sig.params))
        given = set(node.keys())  # `in` would miss a key whose value is ??? (missing)
        with open_dict(node):
            for name, param in sig.params.items():
                if name in given or name in skip or param.required or not param.by_keyword:
                    continue
                ok, value = as_data(param.default)
                if ok:
                    node[name] = value
    return unfilled


def _fillable(cfg: DictConfig) -> Iterator[tuple[str, DictConfig, set[str]]]:
    for key in ("data", "model", "task", "optim", "scheduler"):
        node = cfg.get(key) if key in cfg else None
        if isinstance(node, DictConfig):
            yield key, node, set(TASK_SUPPLIED) if key == "task" else set()
    for parent in ("logger", "callbacks.extra"):
        try:
            mapping = OmegaConf.select(cfg, parent)
        except OmegaConfBaseException:
            continue
        if isinstance(mapping, DictConfig):
            for name in mapping:
                node = mapping.get(name)
                if isinstance(node, DictConfig):
                    yield f"{parent}.{name}", node, set()
    trainer = cfg.get("trainer") if "trainer" in cfg else None
    if isinstance(trainer, DictConfig):
        with open_dict(trainer):
            trainer["_target_"] = TRAINER_TARGET  # read by _raw_target, removed below
        try:
            yield "trainer", trainer, set(TRAINER_OWNED)
        finally:
            with open_dict(trainer):
                del trainer["_target_"]


def _raw_target(node: DictConfig) -> str | None:
    try:
        target = node.get("_target_")
    except OmegaConfBaseException:
        return None
    return target if isinstance(target, str) else None


def as_data(value: Any) -> tuple[bool, Any]:
    """(True, the value as YAML data) for a default that is plain data; (False, None) else."""
    if value is None or isinstance(value, (bool, int, str)):
        return True, value
    if isinstance(value, float):
        return (True, value) if math.isfinite(value) else (False, None)
    if isinstance(value, (list, tuple)):
        items = [as_data(v) for v in value]
        return (True, [v for _, v in items]) if all(ok for ok, _ in items) else (False, None)
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        items = {k: as_data(v) for k, v in value.items()}
        if all(ok for ok, _ in items.values()):
            return True, {k: v for k, (_, v) in items.items()}
    return False, None
