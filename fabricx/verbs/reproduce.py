"""`fabricx reproduce NAME`: run a recipe for each of its seeds and check its number.

The seeds run as one Hydra multirun (a run directory each) under
runs/<experiment>/<timestamp>-<id>-reproduce/. The mean of the recipe's metric over the seeds is
compared with `expected.value` +- `expected.tolerance`; reproduce.json and reproduce.md go
beside the runs. Exit status 0 when reproduced, 4 when not, 1 when a seed's run failed.
"""

from __future__ import annotations

import json
import secrets
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from fabricx.config.schema import TrainConfig
from fabricx.errors import ConfigError
from fabricx.runs import directory as runs

NOT_REPRODUCED = 4


def run(
    cfg: TrainConfig,
    name: str,
    overrides: list[str],
    train_seeds: Callable[[list[str]], int],
    console: Console | None = None,
) -> int:
    """Run recipe `name` (with `overrides`) for its seeds; compare the mean with expected.

    Args:
        cfg: the recipe's config with `overrides`, composed and checked.
        train_seeds: runs `fabricx train` with these arguments (a multirun), returns its
            exit status; the launcher passes it down (verbs do not start Hydra).
    """
    console = console or Console()
    if cfg.expected is None:
        raise ConfigError(f"recipe {name!r} has no expected: block, so there is nothing to check.")
    expected = cfg.expected
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
    sweep_dir = (Path(cfg.paths.runs_dir) / cfg.experiment / f"{stamp}-reproduce").resolve()
    seeds = ",".join(str(s) for s in expected.seeds)
    start = time.perf_counter()
    code = train_seeds(
        ["-m", f"recipe={name}", f"seed={seeds}", f"hydra.sweep.dir={sweep_dir}", *overrides]
    )
    seconds = time.perf_counter() - start
    results = _results(sweep_dir, expected.metric)
    report = _report(name, cfg, results, seconds)
    runs.write_json(sweep_dir / "reproduce.json", report)
    runs.write_text(sweep_dir / "reproduce.md", _markdown(report))
    console.print(_markdown(report), markup=False, highlight=False)
    console.print(f"reproduce directory: {sweep_dir}", soft_wrap=True, highlight=False)
    if code != 0 or report["failed_seeds"]:
        return 1
    return 0 if report["reproduced"] else NOT_REPRODUCED


def _results(sweep_dir: Path, metric: str) -> list[dict[str, Any]]:
    """Per job directory (one per seed): its seed, status and the metric's value."""
    results = []
    # A job directory per seed; hidden ones are the launcher's own (submitit's .submitit/).
    jobs = (p for p in sweep_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    for job in sorted(jobs, key=lambda p: p.name):
        record = (
            json.loads((job / "metrics.json").read_text())
            if (job / "metrics.json").is_file()
            else {}
        )
        seed = runs_seed(job)
        results.append({
            "seed": seed, "run_dir": str(job), "status": record.get("status", "failed"),
            "value": record.get("metrics", {}).get(metric),
            # the seed's own wall time, setup to the end of its last stage
            "seconds": record.get("metrics", {}).get("time/total_s"),
            "epochs": record.get("metrics", {}).get("fit/epochs"),
        })  # fmt: skip
    return results


def runs_seed(job: Path) -> int | None:
    import yaml

    config = job / "config.yaml"
    return yaml.safe_load(config.read_text()).get("seed") if config.is_file() else None


def _report(name: str, cfg: Any, results: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    expected = cfg.expected
    values = [r["value"] for r in results if r["status"] == "ok" and r["value"] is not None]
    mean = statistics.fmean(values) if values else None
    return {
        "recipe": name,
        "metric": expected.metric,
        "expected": expected.value,
        "tolerance": expected.tolerance,
        "source": expected.source,
        "hardware": expected.hardware,
        "seeds": list(expected.seeds),
        "results": results,
        "failed_seeds": [r["seed"] for r in results if r["status"] != "ok" or r["value"] is None],
        "mean": mean,
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "difference": None if mean is None else mean - expected.value,
        "reproduced": mean is not None
        and abs(mean - expected.value) <= expected.tolerance
        and len(values) == len(expected.seeds),
        "wall_seconds": round(seconds, 1),
        "time_budget_min_per_seed": expected.time_budget_min,
    }


def _markdown(r: dict[str, Any]) -> str:
    verdict = "REPRODUCED" if r["reproduced"] else "NOT REPRODUCED"
    lines = [
        f"# {r['recipe']}: {verdict}",
        "",
        f"{r['metric']}: mean {_num(r['mean'])} ± {_num(r['std'])} over seeds {r['seeds']}; "
        f"expected {r['expected']} ± {r['tolerance']} ({r['source']}).",
        f"Difference {_num(r['difference'])}; wall time {r['wall_seconds']} s "
        f"(budget {r['time_budget_min_per_seed']} min per seed on {r['hardware'] or '?'}).",
        "",
        "| seed | status | value | minutes | run |",
        "|---:|---|---:|---:|---|",
        *[
            f"| {x['seed']} | {x['status']} | {_num(x['value'])} | {_minutes(x.get('seconds'))} "
            f"| {x['run_dir']} |"
            for x in r["results"]
        ],
    ]
    if r["failed_seeds"]:
        lines += ["", f"Seeds without a result: {r['failed_seeds']}."]
    return "\n".join(lines) + "\n"


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
