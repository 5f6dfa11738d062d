"""The search space: sampled per trial through Optuna's define-by-run API, and checked up front.

A parameter's name is the override it sets (`optim.lr`, or a group such as `optim`), so a
trial is `fabricx train <base overrides> <name>=<value> ...`, an ordinary command.
"""

from __future__ import annotations

from typing import Any

_ABSENT = object()


def active(when: dict[str, Any] | None, chosen: dict[str, Any]) -> bool:
    """Whether a conditional parameter applies, given the values chosen before it."""
    for name, wanted in (when or {}).items():
        value = chosen.get(name, _ABSENT)
        if value is _ABSENT or value not in (wanted if isinstance(wanted, list) else [wanted]):
            return False
    return True


def suggest(trial: Any, params: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Sample this trial's values (a retried or enqueued trial gets its fixed ones back)."""
    chosen: dict[str, Any] = {}
    for name, p in params.items():
        if not active(p.get("when"), chosen):
            continue
        if p["type"] == "float":
            chosen[name] = trial.suggest_float(
                name, p["low"], p["high"], step=p["step"], log=p["log"]
            )
        elif p["type"] == "int":
            chosen[name] = trial.suggest_int(
                name, int(p["low"]), int(p["high"]), step=int(p["step"] or 1), log=p["log"]
            )
        else:
            chosen[name] = trial.suggest_categorical(name, list(p["choices"]))
    return chosen


def as_overrides(values: dict[str, Any]) -> list[str]:
    """`key=value` overrides as Hydra parses them back to the same values."""
    return [f"{name}={_format(value)}" for name, value in values.items()]


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    if text[:1] in "[{" or text.replace("_", "").replace("-", "").replace(".", "").isalnum():
        return text
    return "'" + text.replace("'", "\\'") + "'"


def corner_cases(params: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """A few assignments in which every choice and both ends of every range appear once.

    Composing each with the train config checks every key and value of the space before
    the first trial runs (a misspelt key fails the sweep at once, not every trial).
    """
    columns = {
        name: list(p["choices"]) if p["type"] == "categorical" else [p["low"], p["high"]]
        for name, p in params.items()
    }
    width = max(len(c) for c in columns.values())
    cases = []
    for i in range(width):
        chosen: dict[str, Any] = {}
        for name, p in params.items():
            if active(p.get("when"), chosen):
                value = columns[name][i % len(columns[name])]
                chosen[name] = int(value) if p["type"] == "int" else value
        cases.append(chosen)
    return cases
