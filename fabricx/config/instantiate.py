"""Build objects from `_target_` nodes: only from allowed modules, nested nodes only where the
receiving parameter's type asks for an object, arguments as their type hints say.

A config read back from a run directory or a checkpoint is data someone else may have
written; `hydra.utils.instantiate` would import and call anything it names, at any depth.
fabricx builds a node itself. Every target, nested ones included, must be named inside an
allowed module before its module is imported, and the object it names must be defined in
one (`resolve_target`). A nested node is built only for a parameter annotated with a class
(or not annotated at all); a parameter typed as data (a mapping, a list of numbers) gets the
node as a plain mapping. Values are passed as the type hint reads them: a list for a `tuple`
parameter arrives as a tuple, a string for an `Enum` parameter as its member. The full check
of a config (fabricx.config.components) runs before any of this, at entry.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import Any

from fabricx.errors import ConfigError, Problem


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


def refusal(key: str, target: str, prefixes: list[str]) -> Problem:
    """The problem for a `_target_` outside the allowed modules, with the way to allow it."""
    root = target.split(".")[0]
    return Problem(
        f"{key}._target_={target!r} is outside the allowed modules {prefixes}.",
        key=f"{key}._target_",
        value=target,
        fix=f"If you trust it, add its package: extra_target_prefixes=[{root}], or list it "
        "under [tool.fabricx] target-prefixes in your project's pyproject.toml.",
    )


def check_targets(node: Any, prefixes: list[str], path: str = "") -> None:
    """Raise ConfigError naming every `_target_` outside `prefixes`, nested ones included."""
    refused = [(k, t) for k, t in _targets(node, path) if not target_allowed(t, prefixes)]
    if refused:
        raise ConfigError(refusal(key, target, prefixes) for key, target in refused)


def resolve_target(target: str, prefixes: list[str], key: str) -> Any:
    """The object `target` names, imported only if allowed, and refused unless it is
    defined in an allowed module too (`fabricx.runs.directory.Path` is pathlib's, whatever the path
    says).

    Raises:
        ConfigError: outside the allowed modules, or not importable (named, with why).
    """
    from fabricx.config.signatures import TargetError, import_target

    if not isinstance(target, str) or not target_allowed(target, prefixes):
        raise ConfigError(refusal(key, str(target), prefixes))
    try:
        obj = import_target(target)
    except TargetError as err:
        raise ConfigError(
            Problem(f"{key}._target_={target}: {err}.", key=f"{key}._target_", value=target)
        ) from None
    home = getattr(obj, "__module__", None)
    if not isinstance(home, str) or not target_allowed(home, prefixes):
        raise ConfigError(
            f"{key}._target_={target!r} is {getattr(obj, '__qualname__', type(obj).__name__)}"
            f" from the module {home}, outside the allowed modules {prefixes}; name it by "
            f"its own module ({home}.<name>), and allow that module if you trust it."
        )
    return obj


def build(node: dict[str, Any], prefixes: list[str], path: str, **supplied: Any) -> Any:
    """Build the object a `_target_` node describes.

    Args:
        node: the node as plain containers (`_target_`, its arguments, optionally
            `_partial_` and `_args_`).
        prefixes: modules a `_target_` may lie in, nested ones included.
        path: the node's key in the config (e.g. "model"), for messages.
        supplied: arguments fabricx passes itself (a task's model and optimizer); objects,
            never scanned for `_target_`s.

    Returns:
        The built object, or a `functools.partial` when the node says `_partial_: true`.

    Raises:
        ConfigError: a target outside `prefixes`, or one that cannot be imported.
    """
    from fabricx.config.signatures import TargetError, signature_of
    from fabricx.config.trust import opt_ins, unsafe_problems

    check_targets(node, prefixes, path)
    target = node["_target_"]
    unsafe = unsafe_problems(node, None, path, opt_ins(prefixes))  # checked at entry too;
    if unsafe:  # a builder given a config directly stops here, before any import
        raise ConfigError(unsafe)
    obj = resolve_target(target, prefixes, path)
    unsafe = unsafe_problems(node, obj, path, opt_ins(prefixes))  # by where it is defined
    if unsafe:
        raise ConfigError(unsafe)
    try:
        sig = signature_of(target, obj)
    except TargetError as err:
        raise ConfigError(f"{path}._target_={target}: {err}.") from None
    values = {k: v for k, v in node.items() if k not in ("_target_", "_partial_", "_args_")}
    kwargs = arguments(sig, values, prefixes, path)
    args = [_argument(v, None, prefixes, f"{path}._args_[{i}]") for i, v in enumerate(
        node.get("_args_") or []
    )]  # fmt: skip
    kwargs.update(supplied)
    if node.get("_partial_"):
        return functools.partial(obj, *args, **kwargs)
    return obj(*args, **kwargs)


def arguments(sig: Any, values: dict[str, Any], prefixes: list[str], path: str) -> dict[str, Any]:
    """Keyword arguments for the callable of `sig` (fabricx.config.signatures.Signature):
    nested nodes built where the parameter asks for an object, data as its type hint reads.
    """
    kwargs = {}
    for name, value in values.items():
        param = sig.params.get(name)
        annotation = param.annotation if param is not None else None
        kwargs[name] = _argument(value, annotation, prefixes, f"{path}.{name}")
    return kwargs


def _argument(value: Any, annotation: Any, prefixes: list[str], path: str) -> Any:
    """One argument as the callable should receive it (nested nodes built where asked)."""
    from fabricx.config.signatures import EMPTY, builds_items, check_value, is_data_type

    annotation = EMPTY if annotation is None else annotation
    if is_node(value):
        if annotation is not EMPTY and is_data_type(annotation):
            return value  # data-typed parameter: the mapping as it is, never built
        return build(value, prefixes, path)
    if (
        isinstance(value, (dict, list))
        and contains_node(value)
        and not builds_items(annotation, _item_type(annotation, mapping=isinstance(value, dict)))
    ):
        return value  # a container typed as data: what it holds is data, never built
    if isinstance(value, dict) and contains_node(value):
        item = _item_type(annotation, mapping=True)
        return {k: _argument(v, item, prefixes, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list) and contains_node(value):
        item = _item_type(annotation, mapping=False)
        return [_argument(v, item, prefixes, f"{path}[{i}]") for i, v in enumerate(value)]
    checked, problem = check_value(value, annotation)
    return value if problem else checked


def is_node(value: Any) -> bool:
    """Whether a value is a `_target_` node (a mapping naming a callable)."""
    return isinstance(value, dict) and "_target_" in value


def contains_node(value: Any) -> bool:
    """Whether a value is, or holds in its lists and mappings, a `_target_` node."""
    if is_node(value):
        return True
    if isinstance(value, dict):
        return any(contains_node(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_node(v) for v in value)
    return False


def _item_type(annotation: Any, mapping: bool) -> Any:
    from fabricx.config.signatures import item_types

    items = item_types(annotation)
    return items[1] if mapping else items[0]
