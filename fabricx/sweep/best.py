"""`fabricx train from_sweep=<sweep dir> [sweep_trial=N] [overrides]`: train a trial in full.

The trial's own overrides (its run directory's overrides.yaml) replace `from_sweep=`, without
what only the sweep needed (fit-only stages, the W&B group and tags); the user's other
overrides follow and win. No Optuna import: it reads files the sweep wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from fabricx.errors import ConfigError

# Overrides a trial got from the sweep, not from the user's config: a full run drops them.
SWEEP_ADDED_KEYS = ("stages",)
# Keys that say what may run: only the user's own command line and config files set them.
TRUST_KEYS = ("allowed_target_prefixes", "extra_target_prefixes", "allow_unsafe_targets")


def expand_from_sweep(rest: list[str]) -> list[str]:
    """Replace `from_sweep=DIR` (and `sweep_trial=N`) by that trial's train arguments."""
    given = {a.split("=", 1)[0]: a.split("=", 1)[1] for a in rest if "=" in a}
    if "from_sweep" not in given:
        raise ConfigError("sweep_trial=N picks a trial of a sweep: add from_sweep=<sweep dir>.")
    sweep_dir = Path(given["from_sweep"]).expanduser()
    best_file = sweep_dir / "best.json"
    if not best_file.is_file():
        raise ConfigError(
            f"from_sweep={sweep_dir}: no best.json there. Give a sweep directory (runs/<experiment>"
            "/sweeps/<study>), or write its report: fabricx sweep ... sweep.report_only=true."
        )
    best = json.loads(best_file.read_text())
    number = _trial_number(best, given.get("sweep_trial"), sweep_dir)
    trial_dir = sweep_dir / "trials" / f"{number:04d}"
    overrides_file = trial_dir / "overrides.yaml"
    if not overrides_file.is_file():
        raise ConfigError(f"from_sweep={sweep_dir}: trial {number} has no {overrides_file}.")
    plan = json.loads((sweep_dir / "sweep.json").read_text())
    flags = _config_dir_flags(plan, rest, sweep_dir)
    trial = [
        o
        for o in yaml.safe_load(overrides_file.read_text())
        if not _added_by_the_sweep(o.split("=", 1)[0].lstrip("+~"))
    ]
    _refuse_trust_keys(trial, overrides_file)
    user = _without_config_dir(
        [a for a in rest if not a.startswith(("from_sweep=", "sweep_trial="))], flags
    )
    print(f"fabricx: from_sweep: trial {number} of {sweep_dir}: {' '.join(trial)}", flush=True)
    return [*flags, *trial, *user]


def _without_config_dir(args: list[str], flags: list[str]) -> list[str]:
    """`args` without the `--config-dir` that `flags` already carries."""
    if not flags:
        return args
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in ("--config-dir", "-cd"):
            skip = True
        elif not a.startswith("--config-dir="):
            out.append(a)
    return out


def _config_dir_flags(plan: dict, rest: list[str], sweep_dir: Path) -> list[str]:
    """The sweep's `--config-dir`, only when the user's own command line names it too: a
    config folder names what may run, and a sweep directory is data."""
    stored = plan.get("train_args", [])[:2]
    if stored[:1] != ["--config-dir"] or len(stored) < 2:
        return []
    typed = [rest[i + 1] for i, a in enumerate(rest[:-1]) if a in ("--config-dir", "-cd")]
    typed += [a.split("=", 1)[1] for a in rest if a.startswith("--config-dir=")]
    if any(Path(t).expanduser().resolve() == Path(stored[1]).resolve() for t in typed):
        return stored  # the user named it too; Hydra reads flags before the overrides
    raise ConfigError(
        f"from_sweep={sweep_dir} ran with --config-dir {stored[1]}; fabricx reads config "
        f"folders only from your command line: add --config-dir {stored[1]} if you trust it."
    )


def _refuse_trust_keys(trial: list[str], overrides_file: Path) -> None:
    """A sweep directory is data, perhaps copied from elsewhere: its stored overrides may set
    values, never what may run (the allowed modules, the opt-ins to unsafe callables)."""
    keys = {o.split("=", 1)[0].lstrip("+~"): o for o in trial}
    widening = [
        o for k, o in keys.items() if k.split(".", 1)[0].split("[", 1)[0] in (*TRUST_KEYS, "hydra")
    ]
    if widening:
        raise ConfigError(
            f"from_sweep: {overrides_file} sets {o!r}; a sweep's stored overrides cannot "
            "widen what may run (allowed modules, opt-ins, Hydra's callbacks and environment)."
            " If you trust it, type it on your own command line."
            for o in widening
        )


def _trial_number(best: dict, chosen: str | None, sweep_dir: Path) -> int:
    if chosen is not None:
        if not chosen.isdigit():
            raise ConfigError(f"sweep_trial={chosen}: give a trial number, e.g. sweep_trial=3.")
        return int(chosen)
    if best.get("best"):
        return int(best["best"]["trial"])
    front = best.get("pareto_front")
    if front:
        listed = "; ".join(
            f"{row['trial']}: " + ", ".join(f"{k}={v:.4g}" for k, v in row["values"].items())
            for row in front
        )
        raise ConfigError(
            f"from_sweep={sweep_dir} is multi-objective, with {len(front)} Pareto-optimal "
            f"trials ({listed}): pick one with sweep_trial=N."
        )
    raise ConfigError(f"from_sweep={sweep_dir}: no trial of this sweep has completed yet.")


def _added_by_the_sweep(key: str) -> bool:
    """The stages and the W&B grouping (logger.<name>.group/tags) the worker added."""
    parts = key.split(".")
    grouping = len(parts) == 3 and parts[0] == "logger" and parts[2] in ("group", "tags")
    return key in SWEEP_ADDED_KEYS or grouping
