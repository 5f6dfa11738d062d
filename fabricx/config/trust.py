"""The trust boundary: which modules a config may name, and which callables never run
unless the user opts in on the command line.

What the user types and their own `--config-dir` (or `[tool.fabricx]` project) are trusted
to name components, inside the allowed modules. Anything fabricx reads back (a run
directory's config.yaml, a sweep's stored overrides, a checkpoint) is data: it can never
widen the allowed modules or opt in to an unsafe callable.

Allowed modules are coarse: `torch` holds `torch.load`, which unpickles arbitrary code, and
`transformers` holds `from_pretrained(trust_remote_code=True)`, which imports code from a
folder. So some callables and arguments are refused wherever they appear, even inside the
allowed modules, unless the command line says `allow_unsafe_targets=[<name>]`. And since no
list can know every function of those libraries that runs code, a target inside fabricx's
default modules (fabricx, torch, lightning, torchmetrics, transformers) must be a class;
functions there need the same opt-in. Your own modules may name functions: they are yours.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fabricx.errors import Problem

# The modules whose classes a config may name without extra_target_prefixes.
DEFAULT_TARGET_PREFIXES = ["fabricx", "torch", "lightning", "torchmetrics", "transformers"]

OPT_IN_KEY = "allow_unsafe_targets"

# Callables (a module, or a module's callable) that load code or pickles, run commands, or
# write files anywhere; each with why. Matched on the name typed and on where the object is
# defined (torch.load is torch.serialization.load).
UNSAFE_TARGETS: dict[str, str] = {
    "builtins": "runs arbitrary Python (eval, exec, open, __import__)",
    "pickle": "unpickles arbitrary code",
    "_pickle": "unpickles arbitrary code",
    "cloudpickle": "unpickles arbitrary code",
    "dill": "unpickles arbitrary code",
    "joblib": "unpickles arbitrary code",
    "marshal": "loads arbitrary code objects",
    "shelve": "unpickles arbitrary code",
    "os": "runs commands and changes files",
    "posix": "runs commands and changes files",
    "subprocess": "runs commands",
    "pty": "runs commands",
    "shutil": "changes files",
    "ctypes": "calls native code",
    "sys": "changes the interpreter",
    "importlib": "imports arbitrary code",
    "runpy": "runs arbitrary code",
    "code": "runs arbitrary code",
    "codeop": "compiles arbitrary code",
    "operator": "calls arbitrary attributes",
    "torch.serialization": "unpickles arbitrary code (torch.load) or writes files (torch.save)",
    "torch.save": "writes files anywhere",
    "torch.hub": "downloads and runs a repository's hubconf.py",
    "torch.package": "imports code from a package file",
    "torch.jit.load": "loads a serialized program",
    "torch.jit._serialization": "loads a serialized program",
    "torch.utils.cpp_extension": "compiles and loads native code",
    "torch.ops.load_library": "loads a native library",
    "torch._ops": "loads native libraries",
    "torch.multiprocessing": "starts processes",
    "torch.distributed.run": "starts processes",
    "torch.distributed.launch": "starts processes",
    "torch.distributed.elastic": "starts processes",
    "lightning.fabric.utilities.cloud_io": "unpickles arbitrary code",
    "lightning.pytorch.core.saving": "unpickles arbitrary code",
    "lightning.pytorch.cli": "builds and runs anything its arguments name",
    "transformers.dynamic_module_utils": "imports code from a model folder",
    "hydra": "builds anything a config names, unchecked",
    "fabricx.config": "builds anything a config names",
    "fabricx.cli": "runs fabricx commands",
    "fabricx.api": "runs fabricx commands",
    "fabricx.launch": "runs fabricx jobs",
    "fabricx.verbs": "runs fabricx jobs and writes files",
    "fabricx.stages": "runs fabricx stages and writes files",
    "fabricx.sweep": "runs fabricx jobs",
    "fabricx.runs": "writes files",
    "fabricx.internals": "reaches into libraries' private APIs",
    "fabricx.atomic": "writes files",
    "fabricx.data.download": "writes files anywhere",
}

# Callables that are safe only with `weights_only=True` (tensors and plain containers).
WEIGHTS_ONLY_TARGETS = ("torch.load", "torch.serialization.load")
WEIGHTS_ONLY_METHODS = ("load_from_checkpoint",)

# Arguments that make an otherwise safe callable load code or pickles, with the unsafe value.
UNSAFE_ARGUMENTS: dict[str, tuple[Any, str]] = {
    "trust_remote_code": (True, "imports and runs Python files from the model's folder"),
    "trust_repo": (True, "runs a repository's hubconf.py"),
    "allow_pickle": (True, "unpickles arbitrary code"),
    "weights_only": (False, "unpickles arbitrary code"),
}


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _opted_in(names: Iterable[str], opt_ins: Iterable[str]) -> bool:
    return any(_within(name, o) for name in names for o in opt_ins)


def unsafe_target_reason(names: Iterable[str], node: dict[str, Any]) -> tuple[str, str] | None:
    """(the matching name, why) when a `_target_` node calls something unsafe, else None.

    Args:
        names: the target as typed and as defined (module.qualname).
        node: the node's arguments, for the callables that are safe with weights_only=True.
    """
    names = [n for n in names if n]
    weights_only = node.get("weights_only") is True
    for name in names:
        if (
            any(_within(name, t) for t in WEIGHTS_ONLY_TARGETS)
            or name.rsplit(".", 1)[-1] in WEIGHTS_ONLY_METHODS
        ):
            if weights_only:
                return None
            return name, "loads a pickle, which can run arbitrary code, unless weights_only=true"
    for name in names:
        for pattern, why in UNSAFE_TARGETS.items():
            if _within(name, pattern):
                return pattern, why
    return None


def unsafe_problems(
    node: dict[str, Any], obj: Any, key: str, opt_ins: Iterable[str]
) -> list[Problem]:
    """Why the `_target_` node at `key` (whose callable is `obj`) may not run, if it may not.

    Its own arguments are checked too (trust_remote_code=true, weights_only=false, ...);
    the nodes nested in it are checked where they are visited.
    """
    opt_ins = list(opt_ins)
    target = str(node.get("_target_"))
    home = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    names = [target, f"{home}.{qualname}" if home and qualname else ""]
    problems = []
    found = unsafe_target_reason(names, node)
    if found is not None and not _opted_in([n for n in names if n], opt_ins):
        name, why = found
        problems.append(refusal(f"{key}._target_={target}", why, name, f"{key}._target_", target))
    elif _library_function(target, obj, node) and not _opted_in([target], opt_ins):
        problems.append(
            Problem(
                f"{key}._target_={target} is a function, not a class: from fabricx, torch, "
                "lightning, torchmetrics and transformers fabricx builds classes only, since "
                "their functions can run commands or load pickles (torch.utils.collect_env.run "
                "does).",
                key=f"{key}._target_",
                value=target,
                fix="Name a class (torch.nn.ReLU, not torch.nn.functional.relu), wrap the "
                f"function in your own module, or opt in on the command line: "
                f"{OPT_IN_KEY}=[{target}].",
            )
        )
    for argument, (unsafe_value, why) in UNSAFE_ARGUMENTS.items():
        if argument in node and node[argument] == unsafe_value and argument not in opt_ins:
            if argument == "weights_only" and found is not None:
                continue  # said once, with the target
            what = f"{key}.{argument}={str(unsafe_value).lower()}"
            problems.append(refusal(what, why, argument, f"{key}.{argument}", unsafe_value))
    return problems


def _library_function(target: str, obj: Any, node: dict[str, Any]) -> bool:
    """Whether `obj` is a callable other than a class inside the libraries fabricx allows by
    default (a denylist cannot know every function there that runs code)."""
    import inspect

    if obj is None or inspect.isclass(obj):
        return False
    if any(_within(target, t) for t in WEIGHTS_ONLY_TARGETS) and node.get("weights_only") is True:
        return False  # tensors and plain containers only
    return any(_within(target, prefix) for prefix in DEFAULT_TARGET_PREFIXES)


def refusal(what: str, why: str, name: str, key: str | None = None, value: Any = None) -> Problem:
    """The problem for an unsafe callable or argument, with the explicit way to allow it.

    Args:
        what: `key=value` as the message shows it.
        name: what to list in the opt-in.
        key, value: the refused key and its value, as the Problem's fields.
    """
    return Problem(
        f"{what} is refused: it {why}.",
        key=key,
        value=value,
        fix=f"fabricx never runs it from a config unless you opt in on the command line: "
        f"{OPT_IN_KEY}=[{name}] (only if you trust every file this command reads).",
    )


class TrustedModules(list):
    """The modules a config may name, carrying the command line's opt-ins to unsafe callables.

    A list, so every function that takes "the allowed modules" takes it unchanged; the
    opt-ins travel with it to the checker and the builder without a second argument.
    """

    def __init__(self, modules: Iterable[str] = (), unsafe_ok: Iterable[str] = ()) -> None:
        super().__init__(dict.fromkeys(modules))
        self.unsafe_ok: tuple[str, ...] = tuple(unsafe_ok)


def opt_ins(prefixes: Iterable[str]) -> tuple[str, ...]:
    """The unsafe callables and arguments the user allowed on the command line."""
    return tuple(getattr(prefixes, "unsafe_ok", ()))
