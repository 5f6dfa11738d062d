"""Every `_target_` component of a config, checked against its own signature before any work.

The groups a user brings their own code to (model, data, task, optim, scheduler, extra
callbacks, loggers) hold a `_target_` and that callable's arguments; the trainer group holds
`lightning.pytorch.Trainer`'s. Each is checked here: the target must be allowed (before it
is imported: importing runs its code), importable, and build what its group needs; every key
must be a parameter; every value must fit the parameter's type hint; every required
parameter must be set, except the few fabricx itself passes (fabricx.config.groups: the
task's model and optimizer, the optimizer's parameters, a logger's directory and run id).

Checking imports the targets' modules, so it needs torch for fabricx's own components; the
CLI's `--help` never gets here.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Iterable, Iterator
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (
    InterpolationToMissingValueError,
    MissingMandatoryValue,
    OmegaConfBaseException,
)

from fabricx.config.defaults import as_data
from fabricx.config.groups import (
    DATA,
    LOGGER_NEEDS,
    MODEL,
    OPTIM,
    RESERVED,
    SCHEDULER,
    TASK,
    TASK_SUPPLIED,
    TRAINER_OWNED,
    TRAINER_TARGET,
    UNSUPPORTED,
    Group,
    completed_later,
    logger_supplied,
)
from fabricx.config.instantiate import contains_node, is_node, resolve_target
from fabricx.config.signatures import (
    EMPTY,
    Signature,
    TargetError,
    builds_instance_of,
    builds_items,
    check_value,
    import_target,
    is_data_type,
    is_finite_data,
    item_types,
    object_classes,
    signature_of,
    type_name,
)
from fabricx.config.trust import opt_ins, unsafe_problems
from fabricx.errors import ConfigError, Problem, did_you_mean


@dataclasses.dataclass
class TaskFacts:
    """What the task's class says about "the metric", read once its class is imported."""

    target: str | None = None
    metric: str | None = None
    metric_mode: str | None = None
    logged_metrics: tuple[str, ...] | None = None


class Checker:
    """Collects the problems of one config's components; `prefixes` are the trusted modules."""

    def __init__(self, prefixes: Iterable[str]) -> None:
        self.prefixes = prefixes if isinstance(prefixes, list) else list(prefixes)
        self.problems: list[str] = []
        self._imported: dict[str, Any] = {}

    # -- one node ---------------------------------------------------------------------------

    def target(self, node: dict[str, Any], key: str) -> Any | None:
        """The object a node's `_target_` names, or None (with the problem recorded)."""
        target = node.get("_target_")
        if not isinstance(target, str) or not target:
            self.problems.append(
                Problem(
                    f"{key}._target_ must name a class or function, e.g. mypackage.module.Class "
                    f"(got {target!r}).",
                    key=f"{key}._target_",
                    value=target,
                )
            )
            return None
        if (key, target) not in self._imported:
            unsafe = unsafe_problems(node, None, key, opt_ins(self.prefixes))
            if unsafe:  # by the name typed, before its module is imported
                self.problems += unsafe
                self._imported[key, target] = None
                return None
            try:
                self._imported[key, target] = resolve_target(target, self.prefixes, key)
            except ConfigError as err:
                self.problems += err.problems
                self._imported[key, target] = None
        return self._imported[key, target]

    def node(
        self,
        node: dict[str, Any],
        key: str,
        group: Group | None = None,
        expected: Any = EMPTY,
        supplied: dict[str, str] | None = None,
    ) -> Signature | None:
        """Check one `_target_` node (and the nodes nested in it); return its signature.

        Args:
            node: the node as plain containers, interpolations resolved.
            key: its place in the config, for messages.
            group: fabricx's needs of the group it fills, for a top-level component.
            expected: the type hint of the parameter a nested node is passed to.
            supplied: arguments fabricx passes itself, beyond the group's.
        """
        before = len(self.problems)
        obj = self.target(node, key)
        if obj is None:
            return None
        unsafe = unsafe_problems(node, obj, key, opt_ins(self.prefixes))
        if unsafe:
            self.problems += unsafe
            return None
        target = node["_target_"]
        try:
            sig = signature_of(target, obj)
        except TargetError as err:
            self.problems.append(
                Problem(f"{key}._target_={target}: {err}.", key=f"{key}._target_", value=target)
            )
            return None
        if group is not None:
            self._check_builds(sig, key, group.builds, f"the {group.key} group")
        elif expected is not EMPTY:
            self._check_fits(sig, node, key, expected)
        supplied = {**(group.supplied if group else {}), **(supplied or {})}
        for name in UNSUPPORTED:
            if name in node:
                self.problems.append(
                    Problem(
                        f"{key}.{name}: fabricx builds a nested _target_ node only where the "
                        "parameter's type hint asks for an object, and passes data as plain "
                        f"lists and dicts; remove {name}.",
                        key=f"{key}.{name}",
                        value=node[name],
                    )
                )
        partial = bool(node.get("_partial_", False))
        later = completed_later(sig.params, group)
        positional = [p for p in sig.params.values() if p.kind.name != "KEYWORD_ONLY"]
        args = node.get("_args_") or []
        if not isinstance(args, list):
            self.problems.append(
                Problem(
                    f"{key}._args_ must be a list of positional arguments.",
                    key=f"{key}._args_",
                    value=args,
                )
            )
            args = []
        for i, value in enumerate(args):  # positional arguments: checked like keywords
            param = positional[i] if i < len(positional) else None
            if param is not None:
                later.add(param.name)  # given positionally
            annotation = param.annotation if param is not None else EMPTY
            self.value(value, f"{key}._args_[{i}]", annotation, sig, param.name if param else "")
        given = [k for k in node if k not in RESERVED and k not in UNSUPPORTED]
        for name in given:
            full = f"{key}.{name}"
            if name in supplied:
                self.problems.append(
                    Problem(
                        f"{full} is set by fabricx from {supplied[name]}; remove it.",
                        key=full,
                        value=node[name],
                    )
                )
                continue
            param = sig.params.get(name)
            if param is None:
                if sig.var_keyword:
                    self._nested(node[name], full, EMPTY)  # goes to **kwargs: not typed
                    continue
                settable = [n for n in sig.params if n not in supplied and n not in later]
                hint = did_you_mean(name, settable) or (
                    f" It takes: {', '.join(settable)}." if settable else " It takes none."
                )
                self.problems.append(
                    Problem(
                        f"{full}: {target} has no parameter {name!r}.",
                        key=full,
                        value=node[name],
                        fix=hint,
                    )
                )
                continue
            if not param.by_keyword:
                self.problems.append(
                    Problem(
                        f"{full}: {target} takes {name!r} positionally only.",
                        key=full,
                        value=node[name],
                        fix=f"Give it in {key}._args_.",
                    )
                )
                continue
            if not param.required and _same(node[name], param.default):
                continue  # the code's own default: accepted as the code wrote it
            self.value(node[name], full, param.annotation, sig, name)
        if not partial:
            for name, param in sig.params.items():
                if param.required and name not in node and name not in supplied:
                    if name in later:
                        continue
                    self.problems.append(
                        Problem(
                            f"{key}.{name} is required: {target}({sig.describe(name)}) has no "
                            "default.",
                            key=f"{key}.{name}",
                            fix=f"Set {key}.{name}=<value>.",
                        )
                    )
        if len(self.problems) == before:
            self._check_arguments_hook(obj, sig, node, key)
        return sig

    def _check_arguments_hook(
        self, obj: Any, sig: Signature, node: dict[str, Any], key: str
    ) -> None:
        """A component's own cross-argument rules: its optional `check_arguments(**args)`,
        called with every argument (the given ones over the signature's defaults)."""
        hook = getattr(obj, "check_arguments", None)
        if not callable(hook):
            return
        arguments = {n: p.default for n, p in sig.params.items() if not p.required}
        arguments.update({k: v for k, v in node.items() if k not in RESERVED})
        try:
            hook(**arguments)
        except (ValueError, TypeError) as err:
            # The hook's message is the component's own text: the arguments it names are the
            # keys (the only place a problem's keys come from its text: a user's exception).
            names = [n for n in arguments if n in str(err)]
            self.problems.append(
                Problem(f"{key}: {err} ({node['_target_']})", [f"{key}.{n}" for n in names])
            )

    def value(
        self, value: Any, key: str, annotation: Any, sig: Signature | None = None, name: str = ""
    ) -> None:
        """Check one argument: a nested node against the parameter's class, data against its
        type hint (with the nested nodes inside lists and mappings checked in turn)."""
        if is_node(value):
            if annotation is not EMPTY and is_data_type(annotation):
                self.problems.append(
                    Problem(
                        f"{key}: a _target_ node here would not be built: "
                        f"{sig.target if sig else 'the parameter'} takes {name}: "
                        f"{type_name(annotation)} (data).",
                        key=key,
                        fix="Remove _target_, or give the parameter the type of the object it "
                        "takes.",
                    )
                )
                return
            self.node(value, key, expected=annotation)
            return
        if contains_node(value):
            self._nested(value, key, annotation)
            return
        if not is_finite_data(value):
            self.problems.append(
                Problem(
                    f"{key}={value!r}: NaN and infinite numbers are not accepted.",
                    key=key,
                    value=value,
                    fix="Give a finite number.",
                )
            )
            return
        _, problem = check_value(value, annotation)
        if problem:
            where = f"{sig.target}({sig.describe(name)})" if sig else type_name(annotation)
            self.problems.append(
                Problem(f"{key}={value!r}: {problem}. Parameter: {where}.", key=key, value=value)
            )

    def _nested(self, value: Any, key: str, annotation: Any) -> None:
        """Nested nodes inside lists or mappings: each checked against the item's type."""
        items = item_types(annotation)
        item = items[1] if isinstance(value, dict) else items[0]
        if not is_node(value) and not builds_items(annotation, item):
            self.problems.append(
                Problem(
                    f"{key}: holds a _target_ node that would not be built: the parameter takes "
                    f"{type_name(annotation)} (data).",
                    key=key,
                    fix="Remove _target_, or type the parameter with the class it holds (e.g. "
                    "dict[str, MyClass]).",
                )
            )
            return
        if isinstance(value, dict) and not is_node(value):
            for k, v in value.items():
                self.value(v, f"{key}.{k}", items[1])
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                self.value(v, f"{key}[{i}]", items[0])
        elif is_node(value):
            self.node(value, key, expected=annotation)

    def _check_builds(self, sig: Signature, key: str, bases: tuple[str, ...], what: str) -> None:
        classes = [c for c in (self._base(b) for b in bases) if c is not None]
        if not classes:
            return
        built = builds_instance_of(sig, classes)
        if built is False:
            names = " or ".join(b.rsplit(".", 1)[-1] for b in bases)
            self.problems.append(
                Problem(
                    f"{key}._target_={sig.target} builds a {type_name(sig.returns)}, but {what} "
                    f"needs a {names} ({' or '.join(bases)}).",
                    key=f"{key}._target_",
                    value=sig.target,
                )
            )

    def _check_fits(self, sig: Signature, node: dict[str, Any], key: str, expected: Any) -> None:
        if node.get("_partial_"):
            return  # a partial is a callable, whatever its target builds
        classes = object_classes(expected)
        if classes is None or not classes:
            return
        if builds_instance_of(sig, classes) is False:
            self.problems.append(
                Problem(
                    f"{key}._target_={sig.target} builds a {type_name(sig.returns)}, but the "
                    f"parameter takes {type_name(expected)}.",
                    key=f"{key}._target_",
                    value=sig.target,
                )
            )

    @staticmethod
    def _base(dotted: str) -> type | None:
        try:
            obj = import_target(dotted)
        except TargetError:
            return None
        return obj if isinstance(obj, type) else None


def _same(value: Any, default: Any) -> bool:
    """Whether a value is the parameter's own default (`0` is not `False`)."""
    ok, data = as_data(default)
    if not ok or type(value) is not type(data):
        return False
    try:
        return bool(value == data)
    except Exception:  # an object whose == does not return a bool
        return False


# --- the whole config -----------------------------------------------------------------------


def check_components(cfg: DictConfig, prefixes: Iterable[str]) -> tuple[list[str], TaskFacts]:
    """Check every component node of a composed train config.

    Returns:
        (problems, facts about the task's class); problems is empty when all is well.
    """
    checker = Checker(prefixes)
    facts = TaskFacts()
    nodes = dict(_component_nodes(cfg, checker))
    for key, group in (("data", DATA), ("model", MODEL), ("optim", OPTIM)):
        if nodes.get(key) is not None:
            checker.node(nodes[key], key, group)
    if nodes.get("scheduler") is not None:
        checker.node(nodes["scheduler"], "scheduler", SCHEDULER)
    if nodes.get("task") is not None:
        _check_task(checker, nodes, facts)
    for name, node in (nodes.get("logger") or {}).items():
        if node is None:
            continue
        _check_logger(checker, node, f"logger.{name}")
    for name, node in (nodes.get("callbacks.extra") or {}).items():
        if node is None:
            continue
        if not is_node(node):
            checker.problems.append(
                f"callbacks.extra.{name} must be a _target_ node naming a Lightning Callback, "
                f"e.g. {{_target_: mypackage.callbacks.MyCallback}}."
            )
            continue
        checker.node(node, f"callbacks.extra.{name}", Group(f"callbacks.extra.{name}", _CALLBACK))
    if nodes.get("trainer") is not None:
        _check_trainer(checker, nodes["trainer"])
    return checker.problems, facts


_CALLBACK = ("lightning.pytorch.Callback",)


def _component_nodes(cfg: DictConfig, checker: Checker) -> Iterator[tuple[str, Any]]:
    """Each component node as plain containers with interpolations resolved."""
    for key in ("data", "model", "task", "optim", "scheduler", "logger", "trainer"):
        yield key, _resolved(cfg, key, checker)
    if "callbacks" in cfg and isinstance(cfg.callbacks, DictConfig) and "extra" in cfg.callbacks:
        yield "callbacks.extra", _resolved(cfg, "callbacks.extra", checker)


def _resolved(cfg: DictConfig, key: str, checker: Checker) -> Any:
    try:
        node = OmegaConf.select(cfg, key, throw_on_missing=True)
    except OmegaConfBaseException as err:
        checker.problems.append(Problem(f"{key}: {str(err).splitlines()[0]}", key=key))
        return None
    if node is None:
        return None  # model=none, scheduler=none; a required group is reported by its check
    if not isinstance(node, DictConfig):
        shown = OmegaConf.to_container(node) if OmegaConf.is_config(node) else node
        checker.problems.append(
            f"{key} must be a mapping (a _target_ and its arguments), got {shown!r}; choose "
            f"an option with {key.split('.')[0]}=<option>."
        )
        return None
    try:
        return OmegaConf.to_container(node, resolve=True, throw_on_missing=True)
    except (MissingMandatoryValue, InterpolationToMissingValueError):
        return None  # fabricx.config.typed names the key that has no value, once
    except OmegaConfBaseException as err:
        full = getattr(err, "full_key", None) or key
        checker.problems.append(Problem(f"{full}: {str(err).splitlines()[0]}", key=full))
        return None


def _check_task(checker: Checker, nodes: dict[str, Any], facts: TaskFacts) -> None:
    node = nodes["task"]
    obj = checker.target(node, "task")
    if obj is None:
        return
    try:
        sig = signature_of(node["_target_"], obj)
    except TargetError:
        sig = None
    supplied = {}
    if sig is not None:
        for name, group in TASK_SUPPLIED.items():
            if name in sig.params:
                supplied[name] = f"the {group} group ({group}=...)"
                if nodes.get(group) is None and sig.params[name].required:
                    checker.problems.append(
                        Problem(
                            f"{group}=none but task._target_={node['_target_']} requires "
                            f"{sig.describe(name)}: choose a {group} option (e.g. {group}="
                            f"{_EXAMPLE[group]}).",
                            [group, "task._target_"],
                        )
                    )
            elif nodes.get(group) is not None:
                checker.problems.append(
                    Problem(
                        f"{group}: task._target_={node['_target_']} takes no {name!r} argument, "
                        f"so the {group} group would go unused; set {group}=none (the task "
                        f"builds its own), or give the task a {name!r} parameter.",
                        [group, "task._target_"],
                    )
                )
    checker.node(node, "task", Group("task", TASK.builds, supplied))
    facts.target = node["_target_"]
    facts.metric = (
        getattr(obj, "metric", None) if isinstance(getattr(obj, "metric", None), str) else None
    )
    mode = getattr(obj, "metric_mode", None)
    facts.metric_mode = mode if isinstance(mode, str) else None
    logged = getattr(obj, "logged_metrics", None)
    facts.logged_metrics = tuple(logged) if isinstance(logged, (tuple, list)) else None


_EXAMPLE = {"model": "mlp", "optim": "adamw", "scheduler": "cosine"}


def _check_logger(checker: Checker, node: Any, key: str) -> None:
    if not is_node(node):
        checker.problems.append(
            f"{key} must be a _target_ node naming a Lightning logger, e.g. "
            "{_target_: lightning.pytorch.loggers.TensorBoardLogger}."
        )
        return
    obj = checker.target(node, key)
    if obj is None:
        return
    for base, (modules, extra) in LOGGER_NEEDS.items():
        cls = checker._base(base)
        needed = isinstance(obj, type) and cls is not None and issubclass(obj, cls)
        if needed and not any(importlib.util.find_spec(m) for m in modules):
            checker.problems.append(
                f"{key}: {node['_target_']} needs the {modules[0]} package, which is not "
                f"installed here: pip install 'fabricx[{extra}]' (or {modules[0]})."
            )
            return
    try:
        params = signature_of(node["_target_"], obj).params
    except TargetError:
        params = {}
    why = "the run directory (one tracker run per run, kept on resume)"
    supplied = {name: why for name in logger_supplied(obj, params)}
    checker.node(node, key, Group(key, ("lightning.pytorch.loggers.Logger",), supplied))


def _check_trainer(checker: Checker, trainer: dict[str, Any]) -> None:
    """The trainer group against `lightning.pytorch.Trainer`'s signature; the arguments
    fabricx sets from its own groups are refused, naming the group."""
    node = {"_target_": TRAINER_TARGET, **trainer}
    checker.node(node, "trainer", Group("trainer", (), dict(TRAINER_OWNED)))
