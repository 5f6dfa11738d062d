"""fabricx from Python: for notebooks and for tests of your own.

    import fabricx

    cfg = fabricx.compose(["model=mlp", "optim.lr=1e-3"])   # checked like the CLI checks it
    cfg.trainer["max_epochs"] = 5                            # change it in Python, if you like
    result = fabricx.train(cfg)                              # checked again, then run
    result.metrics["test/acc"], result.run_dir

The same config groups, the same checks and the same run directory as `fabricx train`; a
config error raises `fabricx.ConfigError` (the CLI's exit status 2) listing every problem.
One process: DDP over several devices and multiruns are the CLI's (`fabricx train -m`).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fabricx.errors import ConfigError, TargetsSkipped


@dataclass
class RunResult:
    """What a run left: its directory and its record (metrics.json).

    Attributes:
        run_dir: the run directory.
        status: ok, failed, pruned, ...
        metrics: every final metric (test/<metric>, test/<metric>_onnx, verify/..., fit/...).
        metric: "the metric": {"name": ..., "value": ...}.
        record: the whole of metrics.json.
    """

    run_dir: Path
    status: str
    metrics: dict[str, float]
    metric: dict[str, Any]
    record: dict[str, Any] = field(repr=False)


def compose(overrides: list[str] | None = None, config_dir: str | None = None) -> Any:
    """The checked, typed train config for `overrides`, as `fabricx config` composes it.

    Args:
        overrides: command-line overrides, e.g. ["model=mlp", "optim.lr=1e-3"].
        config_dir: a folder of your own config options (--config-dir); the project's
            (`[tool.fabricx]` in pyproject.toml) is found from the working directory.

    Raises:
        ConfigError: every problem of the overrides, each with its source.
    """
    from fabricx.config.project import active_project
    from fabricx.launch.compose import validate

    active_project()
    return validate("train", list(overrides or []), config_dir=config_dir)


def train(cfg: Any = None, config_dir: str | None = None) -> RunResult:
    """Run one experiment in this process: fit, test, export, verify, bench, as configured.

    Args:
        cfg: a config from `compose` (changed or not), or a list of overrides; None: the
            default experiment.
        config_dir: for a list of overrides, as in `compose`.

    Returns:
        The run's result, also when a requested target was skipped here (its reason is in
        `result.record["skipped"]`).

    Raises:
        ConfigError: the config does not check, or asks for what one process cannot do.
        FabricxError: a stage failed; the run directory keeps what it wrote.
    """
    from fabricx.builders.hardware import check_hardware
    from fabricx.config.schema import TrainConfig
    from fabricx.config.typed import plain
    from fabricx.launch.compose import register
    from fabricx.runs.job import Job
    from fabricx.runs.saved_config import as_train_config
    from fabricx.verbs import train as train_verb

    if cfg is None or isinstance(cfg, (list, tuple)):
        cfg = compose(list(cfg or []), config_dir)
    if not isinstance(cfg, TrainConfig):
        raise ConfigError(
            f"fabricx.train takes a config from fabricx.compose or a list of overrides, not a "
            f"{type(cfg).__name__}."
        )
    register()
    # The config may have been changed in Python: check it again, as composed data.
    node = as_train_config(plain(cfg))
    _refuse_several_processes(plain(cfg))
    check_hardware(cfg)
    run_dir = _new_run_dir(cfg)
    with contextlib.suppress(TargetsSkipped):  # the record says what was skipped and why
        train_verb.run(node, Job(run_dir, command=["python", "-c", "fabricx.train(...)"]))
    record = json.loads((run_dir / "metrics.json").read_text())
    return RunResult(
        run_dir=run_dir,
        status=record.get("status", "?"),
        metrics=record.get("metrics", {}),
        metric=record.get("metric", {}),
        record=record,
    )


def _refuse_several_processes(cfg: dict[str, Any]) -> None:
    processes = _processes(cfg["trainer"])
    if processes > 1:
        raise ConfigError(
            f"fabricx.train runs in this process, and trainer.devices="
            f"{cfg['trainer'].get('devices', 'auto')} means {processes} devices, one process"
            " each (DDP): set trainer.devices=1 here, or run it from the command line, "
            "`fabricx train trainer.devices=2 ...`."
        )
    if cfg.get("resume") is not None:
        raise ConfigError(
            "fabricx.train starts new runs; resume one from the command line: "
            f"`fabricx train resume={cfg['resume']} ...` (init_from= works here)."
        )


def _processes(trainer: dict[str, Any]) -> int:
    """How many processes Lightning would start for `trainer.devices` (one per device)."""
    import torch

    devices, accelerator = trainer.get("devices", "auto"), trainer.get("accelerator", "auto")
    if isinstance(devices, list):
        return len(devices)
    if isinstance(devices, str) and "," in devices:
        return len([d for d in devices.split(",") if d.strip()])
    on_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    if devices in ("auto", -1, "-1"):
        return torch.cuda.device_count() if on_gpu else 1
    return int(devices) if str(devices).isdigit() else 1


def _new_run_dir(cfg: Any) -> Path:
    """runs/<experiment>/<timestamp>-<id>, as `fabricx train` names it."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = Path(cfg.paths.runs_dir) / cfg.experiment / f"{stamp}-{secrets.token_hex(3)}"
    run_dir.mkdir(parents=True)
    return run_dir.resolve()
