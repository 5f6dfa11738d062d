"""What a `_target_` takes: its import, its signature and type hints, and values checked
against them.

The constructor is the schema: a component's arguments are checked against the parameters
and annotations of the callable its `_target_` names, as LightningCLI does through
jsonargparse. Values are checked with pydantic's `TypeAdapter` in strict JSON mode, which is
what a config holds: YAML data. So `[1, 2]` is a fine `tuple[int, int]`, `"fast"` a fine
`Mode` enum and `3` a fine `float`, but the string `"48"` is not an `int` and `1` is not a
`bool`. Annotations pydantic cannot build a validator for (a class such as `nn.Module`) ask
for an object, which only a nested `_target_` node can give.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import importlib
import inspect
import json
import math
import sys
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, Union

from fabricx.errors import did_you_mean

if sys.version_info >= (3, 13):
    from typing import is_protocol
else:
    from typing_extensions import is_protocol

EMPTY = inspect.Parameter.empty
ParameterKind = type(inspect.Parameter.POSITIONAL_ONLY)  # inspect's enum of parameter kinds


class TargetError(Exception):
    """A `_target_` that cannot be imported: its message names the module and the cause."""


@dataclasses.dataclass(frozen=True)
class Param:
    """One parameter of a target's signature."""

    name: str
    kind: ParameterKind
    default: Any
    annotation: Any  # a type, or EMPTY when unannotated or not resolvable here

    @property
    def required(self) -> bool:
        return self.default is EMPTY

    @property
    def by_keyword(self) -> bool:
        return self.kind in (
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.KEYWORD_ONLY,
        )


@dataclasses.dataclass(frozen=True)
class Signature:
    """The parameters a config may set for a target, and whether it takes **kwargs."""

    target: str
    params: dict[str, Param]
    var_keyword: bool
    returns: Any  # the return annotation of a function target; the class itself for a class

    def describe(self, name: str) -> str:
        """`name: int = 3`, as a reader of the code would write it."""
        param = self.params[name]
        text = name if param.annotation is EMPTY else f"{name}: {type_name(param.annotation)}"
        return text if param.required else f"{text} = {param.default!r}"


def import_target(path: str) -> Any:
    """The object `path` names (`package.module.Class` or `package.module.function`).

    Imports the longest importable module prefix, then walks attributes. Importing runs the
    module's code: call this only for targets the trust boundary allows.

    Raises:
        TargetError: naming the module that failed and why, or the missing attribute.
    """
    if not isinstance(path, str) or not path or path.startswith(".") or ".." in path:
        raise TargetError(f"{path!r} is not a dotted path such as mypackage.module.Class")
    parts = path.split(".")
    module, imported = None, 0
    for end in range(1, len(parts) + 1):  # the package, then each submodule below it
        name = ".".join(parts[:end])
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:
                break  # no such module: the rest of the path are attributes
            # The module exists but imports something that does not.
            raise TargetError(f"importing {name} failed: {type(err).__name__}: {err}") from err
        except Exception as err:  # the module's own code raised: show what it raised
            raise TargetError(f"importing {name} failed: {type(err).__name__}: {err}") from err
        imported = end
    if module is None:
        raise TargetError(
            f"no module named {parts[0]!r}: install the package (pip install -e <project>), "
            "run from the project that holds it ([tool.fabricx] in its pyproject.toml), or "
            "put it on PYTHONPATH"
        )
    obj: Any = module
    for i in range(imported, len(parts)):
        owner = ".".join(parts[:i])
        if not hasattr(obj, parts[i]):
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise TargetError(
                f"{owner} has no attribute {parts[i]!r}.{did_you_mean(parts[i], names)}"
            )
        obj = getattr(obj, parts[i])
        if isinstance(obj, types.ModuleType):  # `pkg.mod.os`: a module `mod` merely imports
            raise TargetError(
                f"{owner}.{parts[i]} is the module {obj.__name__}, which {owner} imports; name"
                f" a target by the module that defines it ({obj.__name__}.<name>)"
            )
    return obj


def signature_of(target: str, obj: Any) -> Signature:
    """The parameters of `obj` (a class: its constructor), with resolved type hints.

    Hints that cannot be resolved here (names imported only under TYPE_CHECKING) count as
    unannotated: those parameters are not type-checked, rather than refused.
    """
    if not callable(obj):
        raise TargetError(f"{target} is a {type(obj).__name__}, not a class or function")
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):  # a builtin without one: every keyword goes unchecked
        return Signature(target, {}, True, obj if isinstance(obj, type) else EMPTY)
    hints = _hints(obj)
    params = {}
    var_keyword = False
    for p in sig.parameters.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            var_keyword = True
            continue
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            continue
        params[p.name] = Param(p.name, p.kind, p.default, hints.get(p.name, EMPTY))
    returns = obj if isinstance(obj, type) else hints.get("return", EMPTY)
    return Signature(target, params, var_keyword, returns)


def _hints(obj: Any) -> dict[str, Any]:
    functions = []
    if isinstance(obj, type):
        for cls in obj.__mro__:  # the constructor whose parameters inspect.signature read
            if "__init__" in vars(cls) and cls is not object:
                functions.append(cls.__init__)
                break
        if "__new__" in vars(obj):
            functions.append(obj.__new__)
    else:
        functions.append(obj)
    hints: dict[str, Any] = {}
    for fn in functions:
        fn = inspect.unwrap(fn)
        try:
            found = typing.get_type_hints(fn, include_extras=True)
        except Exception:  # a name only imported for type checkers: resolve one at a time
            found = {}
            namespace = getattr(fn, "__globals__", {})
            for name, text in getattr(fn, "__annotations__", {}).items():
                try:
                    found[name] = eval(text, dict(namespace)) if isinstance(text, str) else text
                except Exception:
                    continue  # unresolvable here: the parameter goes unchecked
        for name, hint in found.items():
            hints.setdefault(name, hint)
    return hints


# --- values ---------------------------------------------------------------------------------


def type_name(annotation: Any) -> str:
    """A readable name for an annotation: int, list[int], Literal['a', 'b'], float | None."""
    if annotation is EMPTY or annotation is Any:
        return "Any"
    if annotation is type(None):
        return "None"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is Literal:
        return f"Literal[{', '.join(repr(a) for a in args)}]"
    if origin is not None:
        base = getattr(origin, "__name__", str(origin))
        return f"{base}[{', '.join('...' if a is Ellipsis else type_name(a) for a in args)}]"
    if isinstance(annotation, type):
        module = annotation.__module__
        if module in ("builtins", "pathlib", "typing"):
            return annotation.__qualname__
        return f"{module}.{annotation.__qualname__}"
    return str(annotation).replace("typing.", "")


def is_data_type(annotation: Any) -> bool:
    """Whether an annotation asks for plain data (numbers, strings, lists, mappings), so a
    nested `_target_` node there would not be built but passed on as a mapping."""
    origin = typing.get_origin(annotation) or annotation
    if origin is typing.Annotated:
        return is_data_type(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return bool(members) and all(is_data_type(a) for a in members)
    if origin is Literal:
        return True
    data = (int, float, str, bool, bytes, list, tuple, dict, set, frozenset)
    if isinstance(origin, type) and issubclass(origin, (*data, enum.Enum)):
        return True
    return origin in (Mapping, Sequence) or _is_path(origin)


def _is_path(annotation: Any) -> bool:
    import pathlib

    return isinstance(annotation, type) and issubclass(annotation, pathlib.PurePath)


def object_classes(annotation: Any) -> list[type] | None:
    """The classes an annotation accepts as objects; None when it accepts anything
    (unannotated, Any, object, a Callable or Protocol that a class check cannot decide)."""
    if annotation is EMPTY or annotation is Any or annotation is object:
        return None
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return object_classes(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        classes: list[type] = []
        for member in typing.get_args(annotation):
            if member is type(None) or is_data_type(member):
                continue
            found = object_classes(member)
            if found is None:
                return None
            classes += found
        return classes
    if origin is not None:  # Callable[...], Iterable[...], type[...]: not a class check
        return None
    if isinstance(annotation, type):
        if is_protocol(annotation):
            return None
        return [annotation]
    return None


_ADAPTERS: dict[Any, Any] = {}


def _adapter(annotation: Any) -> Any:
    from pydantic import ConfigDict, TypeAdapter

    try:
        return _ADAPTERS[annotation]
    except (KeyError, TypeError):
        pass
    config = ConfigDict(arbitrary_types_allowed=True)
    adapter = TypeAdapter(annotation, config=config)
    with contextlib.suppress(TypeError):  # an unhashable annotation is not cached
        _ADAPTERS[annotation] = adapter
    return adapter


def check_value(value: Any, annotation: Any) -> tuple[Any, str | None]:
    """Check plain config data against an annotation; return (the value as the callable
    should receive it, None) or (value, what is wrong).

    Strict JSON-mode validation: lists become tuples where a tuple is asked for, strings
    become enum members (by value or by name) and paths; nothing else is converted.
    """
    if annotation is EMPTY or annotation is Any or annotation is object:
        return value, None
    value = _enum_names_to_values(value, annotation)
    try:
        adapter = _adapter(annotation)
        text = json.dumps(value, allow_nan=True)
    except Exception:  # pydantic cannot validate this type from data: leave it unchecked
        return value, None
    from pydantic import ValidationError

    try:
        return adapter.validate_json(text, strict=True), None
    except ValidationError as err:
        return value, _describe(err, value, annotation)


def _enum_names_to_values(value: Any, annotation: Any) -> Any:
    """OmegaConf accepts an enum member's name (`mode: FAST`); pydantic only its value."""
    if not isinstance(value, str):
        return value
    for member_type in _union_members(annotation):
        is_enum = isinstance(member_type, type) and issubclass(member_type, enum.Enum)
        if is_enum and value in member_type.__members__:
            return member_type.__members__[value].value
    return value


def _union_members(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _union_members(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _union_members(a)]
    return [annotation]


def _describe(err: Any, value: Any, annotation: Any) -> str:
    """One line from a pydantic ValidationError: where inside the value, and what it wants."""
    errors = err.errors(include_url=False)
    expected = type_name(annotation)
    members = _union_members(annotation)
    enums = [m for m in members if isinstance(m, type) and issubclass(m, enum.Enum)]
    if enums:
        names = [n for e in enums for n in e.__members__]
        hint = did_you_mean(str(value), names)
        return f"expected {expected} (one of {', '.join(names)}), got {value!r}.{hint}"
    if len(errors) == 1 or len(members) == 1:
        first = errors[0]
        loc = "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in first["loc"])
        inner = f" at {loc}" if loc and not _is_union_loc(first["loc"], members) else ""
        message = first["msg"].replace("Input should be", "should be")
        return f"expected {expected}, got {value!r}{inner}: {message}"
    return f"expected {expected}, got {value!r}"


def _is_union_loc(loc: tuple, members: list[Any]) -> bool:
    names = {type_name(m) for m in members} | {getattr(m, "__name__", "") for m in members}
    return bool(loc) and str(loc[0]) in names


def item_types(annotation: Any) -> tuple[Any, Any]:
    """(list item type, mapping value type) of a container annotation; EMPTY when unknown."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return item_types(args[0])
    if origin in (Union, types.UnionType):
        for member in args:
            if member is not type(None) and typing.get_origin(member) is not None:
                return item_types(member)
        return EMPTY, EMPTY
    if origin is None or not args:
        return EMPTY, EMPTY
    if isinstance(origin, type) and issubclass(origin, Mapping):
        return EMPTY, args[-1]
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return args[0], EMPTY
    if origin is tuple:
        return EMPTY, EMPTY
    return args[0], EMPTY


def builds_items(annotation: Any, item: Any) -> bool:
    """Whether `_target_` nodes inside a list or mapping passed to `annotation` are built.

    Only where the item type names a class (`list[Callback]`, `dict[str, nn.Module]`); a
    container typed as data (`dict`, `dict[str, Any]`, `list[int]`) keeps what it holds as
    data; an unannotated parameter builds, as it does at the top.
    """
    if annotation is EMPTY:
        return True
    if item is EMPTY and _names_a_class(annotation):
        return True  # tuple[Encoder, Decoder]: its members are objects
    if item is EMPTY or item is Any or item is object:
        return not is_data_type(annotation)
    return not is_data_type(item)


def _names_a_class(annotation: Any) -> bool:
    """Whether any type argument of `annotation`, at any depth, names a class of objects."""
    for arg in typing.get_args(annotation):
        if arg in (Any, object, Ellipsis, type(None)) or isinstance(arg, (str, int)):
            continue
        if typing.get_args(arg):
            if _names_a_class(arg):
                return True
        elif not is_data_type(arg):
            return True
    return False


def is_finite_data(value: Any) -> bool:
    """False when a number anywhere in the value is NaN or infinite."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, Mapping):
        return all(is_finite_data(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(is_finite_data(v) for v in value)
    return True


def returns_class(sig: Signature) -> type | None:
    """The class a target builds: the class itself, or a function's annotated return class."""
    returned = sig.returns
    return returned if isinstance(returned, type) and returned is not EMPTY else None


def builds_instance_of(sig: Signature, classes: Iterable[type]) -> bool | None:
    """Whether what `sig`'s target builds is an instance of one of `classes`; None when the
    target does not say (a function without a return annotation)."""
    built = returns_class(sig)
    if built is None:
        return None
    try:
        return any(issubclass(built, cls) for cls in classes)
    except TypeError:
        return None
