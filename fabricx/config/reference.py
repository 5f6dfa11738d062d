"""The config reference: every option of every group in `conf/`, and every field of
fabricx's own schemas, as one markdown page.

It is read from the code each time, never written by hand, so it cannot go stale: a
component's arguments come from its `_target_`'s signature (the same reader the checker
uses, fabricx.config.signatures), fabricx's own settings from their dataclasses. The docs
site builds it (docs/hooks/reference.py); `python -m fabricx.config.reference` prints it.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import textwrap
import tokenize
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from fabricx.config import groups
from fabricx.config.paths import conf_dir, recipe_files
from fabricx.config.signatures import EMPTY, TargetError, import_target, signature_of, type_name

_SKIPPED_GROUPS = ("hydra",)  # Hydra's own settings (launchers, logging): Hydra documents them
# Groups whose component fabricx checks against a class's signature; arguments it passes itself
# (an optimizer's parameters, a task's model) are marked as such rather than as settable.
_GROUPS = {
    "data": groups.DATA,
    "model": groups.MODEL,
    "task": groups.TASK,
    "optim": groups.OPTIM,
    "scheduler": groups.SCHEDULER,
}


def config_reference(conf: Path | None = None) -> str:
    """The reference page: primary configs, groups and their options, then the schemas.

    Args:
        conf: the config tree to describe; default: fabricx's own (`conf_dir()`).
    """
    from fabricx.config.schema import GROUP_SCHEMAS, PRIMARY_SCHEMAS

    own = conf is None
    conf = conf or conf_dir()
    schemas = {**PRIMARY_SCHEMAS, **{n: c for s in GROUP_SCHEMAS.values() for n, c in s.items()}}
    lines = [
        "# Config reference",
        "",
        "Generated from the code when the docs are built: each option's arguments are read from",
        "its `_target_`'s signature, fabricx's own settings from their dataclasses. "
        "`group=option` picks an option, `group.key=value` sets a key, and `fabricx config` "
        "prints the composed config with every default filled in.",
        "",
        "## Primary configs",
        "",
        "One per verb; each names its schema (`base_*`) first in its defaults list.",
        "",
    ]
    for path in sorted(conf.glob("*.yaml")):
        lines += _option_lines(f"`{path.name}`", path, None, schemas)
    lines += ["## Groups", ""]
    for group, options in _group_options(conf, own).items():
        lines += [f"### `{group}`", ""]
        for name, path in options.items():
            lines += _option_lines(f"`{group}={name}`", path, group, schemas)
    lines += [
        "## Schemas",
        "",
        "fabricx's own settings (not constructors) are dataclasses in "
        "`fabricx/config/schema/`, registered in Hydra's ConfigStore as `base_*`. "
        "*required* marks a field without a default (`???`).",
        "",
    ]
    for cls in _dataclasses_under(list(schemas.values())):
        lines += _schema_lines(cls)
    return "\n".join(lines)


# --- options ---------------------------------------------------------------------------------


def _group_options(conf: Path, own: bool) -> dict[str, dict[str, Path]]:
    """Group -> option name -> its YAML file: the folders of `conf`, and for fabricx's own
    tree the recipes, which live in the top-level recipes/ folder (recipes/NAME/recipe.yaml)."""
    options = {
        d.name: {p.stem: p for p in d.glob("*.yaml")}
        for d in conf.iterdir()
        if d.is_dir() and d.name not in _SKIPPED_GROUPS
    }
    if own:
        options.setdefault("recipe", {}).update(recipe_files())
    return {g: dict(sorted(o.items())) for g, o in sorted(options.items())}


def _option_lines(title: str, path: Path, group: str | None, schemas: dict[str, type]) -> list[str]:
    """One option: its header comment, its defaults list, then each component's arguments,
    or, without a `_target_`, the keys it sets."""
    text = path.read_text(encoding="utf-8")
    node = yaml.safe_load(text) or {}
    shown = "/".join(path.parts[-3 if group else -2 :])  # conf/model/mlp.yaml
    lines = [f"#### {title}", "", f"`{shown}`", "", *_header_lines(text)]
    defaults = node.pop("defaults", []) if isinstance(node, dict) else []
    names = [d if isinstance(d, str) else _inline(d)[1:-1] for d in defaults]  # {k: v} -> k: v
    if names:
        linked = [f"[`{n}`](#{_anchor(schemas[n])})" if n in schemas else f"`{n}`" for n in names]
        lines += [f"Defaults list: {', '.join(linked)}.", ""]
    if group == "trainer":  # its keys are Trainer's arguments, checked against its signature
        node = {"_target_": groups.TRAINER_TARGET, **node}
    targets = list(_target_nodes(node, ""))
    for key, target_node in targets:
        lines += _target_lines(
            ".".join(filter(None, (group, key))) or "the config", target_node, group
        )
    covered = {key.split(".")[0] for key, _ in targets} | set(_SKIPPED_GROUPS)
    rest = {} if "" in covered else {k: v for k, v in node.items() if k not in covered}
    if rest:
        lines += ["| key | value |", "|---|---|"]
        lines += [f"| {_code(k)} | {_value(v)} |" for k, v in _flatten(rest)]
        lines.append("")
    return lines


def _header_lines(text: str) -> list[str]:
    """The file's opening comment: prose as paragraphs, the example commands as a block."""
    prose: list[list[str]] = [[]]
    commands: list[str] = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        body = line[1:].removeprefix(" ")
        if body.startswith("@package"):
            prose[-1].append(f"(`{body}`)")
        elif body.startswith("  "):  # an indented example: `#   fabricx train ...`
            commands.append(
                body.strip() if body.lstrip().startswith("fabricx") else "  " + body.strip()
            )
        elif body.strip():
            prose[-1].append(_escape_html(body.strip()))
        elif prose[-1]:
            prose.append([])
    lines = [line for para in prose if para for line in (" ".join(para), "")]
    if commands:
        lines += ["```bash", *commands, "```", ""]
    return lines


def _target_nodes(node: Any, key: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every mapping with a `_target_`, with its dotted key (`logger.wandb`), outermost first."""
    if isinstance(node, dict):
        if "_target_" in node:
            yield key, node
            return
        for k, v in node.items():
            yield from _target_nodes(v, f"{key}.{k}" if key else str(k))


def _target_lines(key: str, node: dict[str, Any], group: str | None) -> list[str]:
    """The table of a target's parameters: type, default, and what this option sets."""
    target = str(node["_target_"])
    lines = [f"`{key}` builds `{target}`" + (" (a partial)" if node.get("_partial_") else "") + "."]
    settings = {k: v for k, v in node.items() if k not in groups.RESERVED}
    try:
        obj = import_target(target)
        sig = signature_of(target, obj)
    except (TargetError, ImportError) as err:  # say so, and show what the YAML sets
        lines += [
            "",
            f"Its signature could not be read here ({err}); the keys this option sets:",
            "",
        ]
        lines += ["| key | value |", "|---|---|"]
        lines += [f"| {_code(k)} | {_value(v)} |" for k, v in _flatten(settings)]
        return [*lines, ""]
    supplied = _supplied(group, obj, sig.params)
    lines += ["", "| parameter | type | default | this option sets |", "|---|---|---|---|"]
    for name, param in sig.params.items():
        if not param.by_keyword:
            continue
        kind = "" if param.annotation is EMPTY else _code(type_name(param.annotation))
        default = "*required*" if param.required else _code(_repr(param.default))
        if name in settings:
            value = _value(settings[name])
        else:
            value = f"*fabricx: {supplied[name]}*" if name in supplied else ""
        lines.append(f"| {_code(name)} | {kind} | {default} | {value} |")
    for name, value in settings.items():  # only a target taking **kwargs accepts these
        if name not in sig.params:
            lines.append(f"| {_code(name)} | (`**kwargs`) | | {_value(value)} |")
    return [*lines, ""]


def _supplied(group: str | None, obj: Any, params: Mapping[str, Any]) -> dict[str, str]:
    """Arguments fabricx passes itself, and where from (fabricx.config.groups says which)."""
    if group == "trainer":
        return dict(groups.TRAINER_OWNED)
    if group == "logger":
        return {n: "the run directory" for n in groups.logger_supplied(obj, params)}
    spec = _GROUPS.get(group or "")
    found = {n: "completes the partial" for n in groups.completed_later(dict(params), spec)}
    if group == "task":
        found |= {n: f"the {g} group" for n, g in groups.TASK_SUPPLIED.items() if n in params}
    return found


# --- schemas ---------------------------------------------------------------------------------


def _dataclasses_under(roots: list[type]) -> list[type]:
    """The roots and every dataclass their fields name, in the order first met (depth first)."""
    seen: list[type] = []

    def visit(cls: type) -> None:
        if cls in seen:
            return
        seen.append(cls)
        for hint in typing.get_type_hints(cls).values():
            for inner in _classes_in(hint):
                visit(inner)

    for root in roots:
        visit(root)
    return seen


def _classes_in(hint: Any) -> Iterator[type]:
    """Dataclasses inside an annotation: `X`, `X | None`, `list[X]`, `dict[str, X]`."""
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        yield hint
    for arg in typing.get_args(hint):
        yield from _classes_in(arg)


def _schema_lines(cls: type) -> list[str]:
    """A dataclass's fields: type, default, and the help text (or source comment) of each."""
    lines = [
        f"### `{cls.__name__}` {{ #{_anchor(cls)} }}",
        "",
        f"`{cls.__module__}.{cls.__name__}`",
    ]
    doc = cls.__doc__ or ""
    if doc and not doc.startswith(f"{cls.__name__}("):  # not the one dataclass generates
        lines += ["", _escape_html(" ".join(inspect.cleandoc(doc).split()))]
    lines += ["", "| field | type | default | what |", "|---|---|---|---|"]
    hints = typing.get_type_hints(cls)
    comments = _field_comments(cls)
    for f in dataclasses.fields(cls):
        help_text = f.metadata.get("help") or comments.get(f.name, "")
        lines.append(
            f"| {_code(f.name)} | {_type_cell(hints.get(f.name, Any))} | {_default_cell(f)} "
            f"| {_escape_html(help_text).replace('|', '&#124;')} |"
        )
    return [*lines, ""]


def _type_cell(hint: Any) -> str:
    """The type, with a link where it is one of the schemas on this page."""
    classes = list(_classes_in(hint))
    if classes == [hint]:
        return f"[`{hint.__name__}`](#{_anchor(hint)})"
    text = type_name(hint)
    for cls in classes:
        text = text.replace(f"{cls.__module__}.{cls.__qualname__}", cls.__name__)
    links = ", ".join(f"[`{c.__name__}`](#{_anchor(c)})" for c in classes)
    return _code(text) + (f" ({links})" if links else "")


def _default_cell(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "*required*"
    if value == "???":  # omegaconf.MISSING: the config must give it
        return "*required*"
    if dataclasses.is_dataclass(value):
        return _code(f"{type(value).__name__}()")
    return _value(value)


def _field_comments(cls: type) -> dict[str, str]:
    """Comments on a field's own lines in the class body (`x: int = 1  # why`), for fields
    whose metadata has no help text; searched through the bases, where inherited fields live."""
    found: dict[str, str] = {}
    for base in reversed(cls.__mro__[:-1]):
        try:
            source = textwrap.dedent(inspect.getsource(base))
            tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
            body = ast.parse(source).body[0]
        except (OSError, TypeError, SyntaxError, tokenize.TokenError):
            continue  # no source here (a class built at run time): its metadata help only
        comments = {
            t.start[0]: t.string.lstrip("#").strip() for t in tokens if t.type == tokenize.COMMENT
        }
        for stmt in getattr(body, "body", []):
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                end = stmt.end_lineno or stmt.lineno
                said = [comments[n] for n in range(stmt.lineno, end + 1) if n in comments]
                if said:
                    found[stmt.target.id] = " ".join(said)
    return found


# --- markdown --------------------------------------------------------------------------------


def _anchor(cls: type) -> str:
    return f"schema-{cls.__name__.lower()}"


def _code(text: str) -> str:
    """A code span; a `|` inside one does not split a table cell (Python-Markdown's tables)."""
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}" if text else ""


def _escape_html(text: str) -> str:
    """`<` and `>` outside code spans, so `runs/<name>` is not read as an HTML tag."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def _value(value: Any) -> str:
    """A table cell for a YAML value; `???` is Hydra's mark for a value the user must give."""
    return "`???` (give it)" if value == "???" else _code(_inline(value))


def _inline(value: Any) -> str:
    """A YAML value on one line, as it is written in a config file."""
    if isinstance(value, str):
        return value.replace("\n", "\\n")
    try:
        text = yaml.safe_dump(value, default_flow_style=True, width=1_000_000).strip()
    except yaml.YAMLError:  # not YAML data (an enum member in a default): as code shows it
        return _repr(value)
    return text.removesuffix("...").strip()


def _repr(value: Any) -> str:
    """A signature default as code shows it, cut short where it is long."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _flatten(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) for every leaf; a mapping whose keys hold dots (a search space's
    `optim.lr`) is a leaf level, so its keys stay whole."""
    if not isinstance(node, dict) or not node:
        yield prefix, node
        return
    for k, v in node.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if any("." in str(name) for name in node):
            yield key, v
        else:
            yield from _flatten(v, key)


if __name__ == "__main__":
    print(config_reference())
