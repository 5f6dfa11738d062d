"""Check a composed config completely, then convert it once to its typed form.

One function for every place a config enters: the CLI before Hydra creates a run directory,
the job Hydra runs, the Python API (fabricx.api), and a finished run's config read back.
It reports every problem at once:
- each component against its target's signature (fabricx.config.components);
- fabricx's own settings against their dataclasses and `__post_init__` checks;
- the rules that join the two: the run's metric (from the task's class unless set), the
  monitors fabricx's callbacks watch, the Trainer values Lightning would refuse late.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from fabricx.config.components import TaskFacts, check_components
from fabricx.config.defaults import fill_defaults
from fabricx.config.interpolations import set_aside_unresolvable
from fabricx.config.problems import problem_key
from fabricx.config.typed import to_typed
from fabricx.errors import ConfigError, Problem, did_you_mean

# Trainer accelerators Lightning knows by name besides its registry's ("cpu", "cuda", ...).
_ACCELERATOR_ALIASES = ("auto", "gpu")


def trusted_prefixes(cfg: DictConfig) -> list[str]:
    """The modules a config typed or chosen by the user may name: the config's own lists
    (the command line and the user's config files set them), and the project's
    `[tool.fabricx] target-prefixes`."""
    from fabricx.config.project import active_project
    from fabricx.config.trust import TrustedModules

    prefixes = [*cfg.get("allowed_target_prefixes", []), *cfg.get("extra_target_prefixes", [])]
    project = active_project()
    if project is not None:
        prefixes += project.target_prefixes
    return TrustedModules(prefixes, cfg.get("allow_unsafe_targets") or ())


def check_config(cfg: DictConfig, prefixes: Iterable[str]) -> Any:
    """Check `cfg` (a composed train or sweep config) and return its typed object.

    Args:
        cfg: the composed config, without Hydra's own node; the run's metric is filled into
            it when it comes from the task's class.
        prefixes: the modules a `_target_` may name (trusted by the caller: the command
            line, the user's project; never read back from a run directory), with the
            command line's opt-ins to unsafe callables (fabricx.config.trust).

    Raises:
        ConfigError: every problem found, one line each.
    """
    unfilled = fill_defaults(cfg, prefixes)
    problems: list[str]
    problems, echoes = set_aside_unresolvable(cfg, unfilled)
    found, facts = check_components(cfg, prefixes)
    problems += found
    problems += _fill_metric(cfg, facts)
    typed = None
    try:
        typed = to_typed(cfg)
    except ConfigError as err:
        problems += err.problems
    problems += _rules(cfg, facts)
    problems = [p for p in problems if problem_key(p) not in echoes]
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)))
    return typed


def _fill_metric(cfg: DictConfig, facts: TaskFacts) -> list[str]:
    """Set `metric.name` and `metric.mode` from the task's class where the config left them
    null: the task's `metric` and `metric_mode` attributes, else the loss (lower is better)."""
    if "metric" not in cfg:
        return []
    metric = cfg.metric
    if facts.target is None:  # the task did not check (reported): no second error from it
        with open_dict(cfg):
            cfg.metric.name = metric.get("name") or "loss"
            cfg.metric.mode = metric.get("mode") or "min"
        return []
    name = metric.get("name") or facts.metric or "loss"
    mode = metric.get("mode")
    if mode is None and name == facts.metric:
        mode = facts.metric_mode  # the task's own metric, in the task's own direction
    if mode is None and name == "loss":
        mode = "min"
    if mode is None:
        return [
            Problem(
                f"metric.mode: say whether higher or lower is better for metric.name={name!r}"
                f" ({facts.target}).",
                key="metric.mode",
                fix="Set metric.mode=max or metric.mode=min (or give the task `metric` and "
                "`metric_mode` attributes).",
            )
        ]
    with open_dict(cfg):
        cfg.metric.name = name
        cfg.metric.mode = mode
    return []


def _rules(cfg: DictConfig, facts: TaskFacts) -> list[str]:
    """The rules that join components and fabricx's settings, read from the composed config
    (so they report even when another part of it fails to convert)."""
    problems = _trainer_rules(_data(cfg, "trainer") or {}) + _optim_rules(_data(cfg, "optim"))
    problems += _compile_rules(_data(cfg, "compile"))
    if facts.logged_metrics is not None:
        problems += _monitor_rules(cfg, facts)
    return problems


def _data(cfg: DictConfig, key: str) -> Any:
    """The node at `key` as plain data, or None where it does not resolve (reported apart)."""
    try:
        node = OmegaConf.select(cfg, key, throw_on_missing=True)
        return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
    except OmegaConfBaseException:
        return None


def _monitor_rules(cfg: DictConfig, facts: TaskFacts) -> list[str]:
    """Monitors must be keys the task logs every epoch, when the task's class lists them."""
    logged = [f"{split}/{name}" for split in ("val", "train") for name in facts.logged_metrics]
    problems = []
    name = _data(cfg, "metric.name")
    if name is not None and name not in facts.logged_metrics:
        problems.append(
            Problem(
                f"metric.name={name!r}: {facts.target} logs "
                f"{', '.join(facts.logged_metrics)} per split.",
                key="metric.name",
                value=name,
                fix=did_you_mean(name, facts.logged_metrics),
            )
        )
    for key in ("callbacks.checkpoint", "callbacks.early_stopping"):
        callback = _data(cfg, key) or {}
        monitor = callback.get("monitor")
        if callback.get("enabled") and isinstance(monitor, str) and monitor not in logged:
            problems.append(
                Problem(
                    f"{key}.monitor={monitor!r} is not logged by {facts.target}; it logs "
                    f"{', '.join(logged)}.",
                    key=f"{key}.monitor",
                    value=monitor,
                    fix=did_you_mean(monitor, logged),
                )
            )
    sweep = _data(cfg, "sweep") if "sweep" in cfg else None
    objectives = (sweep or {}).get("objectives") or []
    pruner = ((sweep or {}).get("pruner") or {}).get("name", "none")
    objective = objectives[0].get("metric") if objectives else (f"val/{name}" if name else None)
    if sweep is not None and pruner != "none" and objective and objective not in logged:
        problems.append(
            Problem(
                f"sweep.pruner.name={pruner} prunes on the objective {objective}, which is not "
                f"logged every validation epoch ({', '.join(logged)}); prune on one of those, "
                "or set sweep.pruner.name=none.",
                ["sweep.pruner.name", "sweep.objectives"],
                value=pruner,
            )
        )
    return problems


def _optim_rules(optim: dict[str, Any] | None) -> list[str]:
    """What every torch optimizer refuses in its constructor, found before any work."""
    if not optim:
        return []
    problems = []
    lr, decay = optim.get("lr"), optim.get("weight_decay")
    number = isinstance(lr, (int, float)) and not isinstance(lr, bool) and math.isfinite(lr)
    if number and not lr > 0:
        problems.append(Problem(f"optim.lr={lr} must be > 0.", key="optim.lr", value=lr))
    if isinstance(decay, (int, float)) and not isinstance(decay, bool) and decay < 0:
        problems.append(
            Problem(
                f"optim.weight_decay={decay} must be >= 0.", key="optim.weight_decay", value=decay
            )
        )
    return problems


def _compile_rules(compile_cfg: dict[str, Any] | None) -> list[str]:
    """A torch.compile backend torch knows; inductor, the default, is not looked up (the
    lookup imports TorchDynamo, seconds of a `fabricx config`)."""
    backend = (compile_cfg or {}).get("backend", "inductor")
    if not isinstance(backend, str) or backend == "inductor" or not backend.strip():
        return []  # the schema refuses an empty or non-string one
    import torch

    known = torch.compiler.list_backends(exclude_tags=())
    if backend in known:
        return []
    return [
        Problem(
            f"compile.backend={backend!r} is not a torch.compile backend here "
            f"({', '.join(known)}).",
            key="compile.backend",
            value=backend,
            fix=did_you_mean(backend, known),
        )
    ]


def _trainer_rules(trainer: dict[str, Any]) -> list[str]:
    """Values lightning.pytorch.Trainer accepts by type but refuses (or misreads) later."""
    problems: list[str] = []
    max_epochs = trainer.get("max_epochs")
    max_steps = trainer.get("max_steps", -1)
    if isinstance(max_epochs, int) and (max_epochs == 0 or max_epochs < -1):
        problems.append(
            Problem(
                f"trainer.max_epochs={max_epochs} trains nothing.",
                key="trainer.max_epochs",
                value=max_epochs,
                fix="Give a number >= 1, or -1 to stop at trainer.max_steps.",
            )
        )
    if max_epochs == -1 and not (isinstance(max_steps, int) and max_steps >= 1):
        problems.append(
            Problem(
                f"trainer.max_epochs=-1 needs trainer.max_steps >= 1 (got {max_steps}), or the"
                " run never ends.",
                ["trainer.max_epochs", "trainer.max_steps"],
                value=max_epochs,
            )
        )
    fast_dev_run = trainer.get("fast_dev_run", False)
    if not isinstance(fast_dev_run, bool) and isinstance(fast_dev_run, int) and fast_dev_run < 0:
        problems.append(
            Problem(
                f"trainer.fast_dev_run={fast_dev_run} must be >= 0 (or true/false).",
                key="trainer.fast_dev_run",
                value=fast_dev_run,
            )
        )
    if "devices" in trainer:
        problems += _devices_problems(trainer["devices"])
    interval = trainer.get("val_check_interval")
    if isinstance(interval, float) and not 0 < interval <= 1:
        problems.append(
            Problem(
                f"trainer.val_check_interval={interval}: a float is a fraction of an epoch, in "
                "(0, 1]; give an int for a number of batches (e.g. 50).",
                key="trainer.val_check_interval",
                value=interval,
            )
        )
    accelerator = trainer.get("accelerator", "auto")
    if isinstance(accelerator, str):
        known = _accelerators()
        if accelerator not in known:
            problems.append(
                Problem(
                    f"trainer.accelerator={accelerator!r} is not an accelerator Lightning knows "
                    f"({', '.join(known)}).",
                    key="trainer.accelerator",
                    value=accelerator,
                    fix=did_you_mean(accelerator, known),
                )
            )
    return problems


def _accelerators() -> list[str]:
    from lightning.pytorch.accelerators import AcceleratorRegistry

    return [*_ACCELERATOR_ALIASES, *sorted(AcceleratorRegistry.available_accelerators())]


def _devices_problems(devices: Any) -> list[str]:
    """Lightning's `devices`: "auto", a count >= 1 (-1 = all), a list of indices or "0,1"."""
    count = isinstance(devices, int) and not isinstance(devices, bool)
    if devices == "auto" or (count and (devices >= 1 or devices == -1)):
        return []
    if (
        isinstance(devices, list)
        and devices
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in devices)
    ):
        return []
    if isinstance(devices, str):
        parts = [p.strip() for p in devices.split(",")]
        if parts and all(p.isdigit() for p in parts) and (len(parts) > 1 or int(parts[0]) >= 1):
            return []
        if devices.strip() == "-1":
            return []
    return [
        Problem(
            f"trainer.devices={devices!r} is not a device spec.",
            key="trainer.devices",
            value=devices,
            fix="Use auto, a count such as 2 (-1 for all), a list of indices such as [0,1], or a"
            " string such as '0,1'.",
        )
    ]
