"""Build objects from `_target_` configs, but only from modules the config allows.

A config read back from a run directory or a checkpoint is data someone else may have written;
`hydra.utils.instantiate` would import and call anything it names (`os.system` included).
Every `_target_` in the node, nested ones too, is checked against the allowed prefixes first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

from fabricx.errors import ConfigError


def target_allowed(target: str, prefixes: Iterable[str]) -> bool:
    """True when `target` is a prefix module or lies inside one ("torch" allows "torch.optim.SGD",
    not "torchevil.x")."""
    return any(target == p or target.startswith(p.rstrip(".") + ".") for p in prefixes)


def _targets(node: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        if "_target_" in node:
            yield path or "<root>", str(node["_target_"])
        for key, value in node.items():
            yield from _targets(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _targets(value, f"{path}[{i}]")


def check_targets(node: Any, prefixes: list[str], path: str = "") -> None:
    """Raise ConfigError naming every `_target_` outside `prefixes`."""
    node = dataclasses.asdict(node) if dataclasses.is_dataclass(node) else node
    refused = [
        (key, target)
        for key, target in _targets(node, path)
        if not target_allowed(target, prefixes)
    ]
    if refused:
        raise ConfigError(
            f"{key}._target_={target!r} is outside the allowed modules {prefixes}. If you trust "
            f"it, add its package: extra_target_prefixes=[{target.split('.')[0]}]."
            for key, target in refused
        )


def safe_instantiate(node: Any, prefixes: list[str], path: str, **kwargs: Any) -> Any:
    """`hydra.utils.instantiate` after `check_targets`; `node` is a dataclass or a dict.

    Args:
        node: the config node with a `_target_`.
        prefixes: allowed module prefixes.
        path: the node's key in the config, for error messages (e.g. "model").
        kwargs: extra constructor arguments not in the config (e.g. the model for a task).
    """
    from hydra.utils import instantiate

    as_dict = dataclasses.asdict(node) if dataclasses.is_dataclass(node) else dict(node)
    check_targets(as_dict, prefixes, path)
    if not kwargs:
        return instantiate(as_dict, _convert_="all")
    # Objects given here (a model, a run's config dict) are passed at call time, not merged
    # into the config: Hydra would recurse into them and build any `_target_` they contain.
    return instantiate({**as_dict, "_partial_": True}, _convert_="all")(**kwargs)
