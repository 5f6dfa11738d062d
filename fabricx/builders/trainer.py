"""The Lightning Trainer: its group's arguments, plus precision, strategy, callbacks, loggers,
atomic checkpoints."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

from fabricx.builders.callbacks import build_callbacks
from fabricx.builders.hardware import check_hardware
from fabricx.builders.loggers import build_loggers
from fabricx.config.groups import TRAINER_TARGET
from fabricx.config.instantiate import arguments as build_arguments
from fabricx.config.instantiate import build
from fabricx.config.schema import (
    DDPStrategyConfig,
    FSDPStrategyConfig,
    StrategyConfig,
    TrainConfig,
)
from fabricx.config.signatures import signature_of
from fabricx.config.typed import plain
from fabricx.errors import ConfigError, did_you_mean
from fabricx.extensions.checkpoint_contents import CheckpointContents
from fabricx.extensions.checkpoint_io import AtomicCheckpointIO
from fabricx.extensions.pruning import pruning_callbacks
from fabricx.runs.job import Job


def build_strategy(cfg: StrategyConfig, model: nn.Module | None = None) -> Any:
    """Lightning's strategy for `strategy=`: "auto", a DDPStrategy or an FSDPStrategy.

    Args:
        cfg: the strategy group; its schema (DDP or FSDP fields) follows `cfg.name`.
        model: the module that will be trained (the task). FSDP resolves the class names of
            `auto_wrap` and `activation_checkpointing` against its submodules.

    Raises:
        ConfigError: an FSDP class name that matches no module of `model`.
    """
    if isinstance(cfg, FSDPStrategyConfig):
        return _fsdp_strategy(cfg, model)
    if not isinstance(cfg, DDPStrategyConfig):
        return "auto"
    from lightning.pytorch.strategies import DDPStrategy

    return DDPStrategy(
        find_unused_parameters=cfg.find_unused_parameters,
        static_graph=cfg.static_graph,
        gradient_as_bucket_view=cfg.gradient_as_bucket_view,
        process_group_backend=cfg.process_group_backend,
        timeout=timedelta(seconds=cfg.timeout_s),
    )


def _fsdp_strategy(cfg: FSDPStrategyConfig, model: nn.Module | None) -> Any:
    from functools import partial

    from lightning.pytorch.strategies import FSDPStrategy
    from torch.distributed.fsdp.wrap import size_based_auto_wrap_policy

    lists = {
        "strategy.auto_wrap": cfg.auto_wrap,
        "strategy.activation_checkpointing": cfg.activation_checkpointing,
    }
    classes = resolve_module_classes(model, {k: v for k, v in lists.items() if v})
    wrap_policy: Any = classes.get("strategy.auto_wrap")  # a set: Lightning's ModuleWrapPolicy
    if cfg.min_num_params is not None:
        wrap_policy = partial(size_based_auto_wrap_policy, min_num_params=cfg.min_num_params)
    # No mixed_precision argument: Lightning's FSDPPrecision derives it from `precision=`.
    return FSDPStrategy(
        sharding_strategy=cfg.sharding_strategy,
        auto_wrap_policy=wrap_policy,
        activation_checkpointing_policy=classes.get("strategy.activation_checkpointing"),
        cpu_offload=cfg.cpu_offload,
        state_dict_type=cfg.state_dict_type,
        process_group_backend=cfg.process_group_backend,
        timeout=timedelta(seconds=cfg.timeout_s),
        limit_all_gathers=cfg.limit_all_gathers,  # passed through to FullyShardedDataParallel
        use_orig_params=cfg.use_orig_params,
    )


def resolve_module_classes(
    model: nn.Module | None, named: dict[str, list[str]]
) -> dict[str, set[type[nn.Module]]]:
    """For each config key, the classes of `model`'s submodules its class names name.

    A name is a class's `__name__` (`BertLayer`) or its dotted path
    (`transformers.models.bert.modeling_bert.BertLayer`). Only classes that occur in `model`
    count, so a name that would wrap nothing is an error rather than a silent no-op.

    Args:
        model: the module to be trained (for fabricx, the task around the model).
        named: config key -> class names, e.g. {"strategy.auto_wrap": ["BertLayer"]}.

    Raises:
        ConfigError: `model` is missing, or names match none of its classes (one problem per
            name, listing the classes the model has and the closest).

    Example::

        resolve_module_classes(task, {"strategy.auto_wrap": ["BertLayer"]})
        # {"strategy.auto_wrap": {transformers.models.bert.modeling_bert.BertLayer}}
    """
    if not named:
        return {}
    if model is None:
        raise ConfigError(
            f"{', '.join(f'{k}={v}' for k, v in named.items())} name module classes, which"
            " resolve against the model: pass it to build_trainer(..., model=task) or"
            " build_strategy(cfg, model)."
        )
    by_name: dict[str, set[type[nn.Module]]] = {}
    for module in model.modules():
        cls = type(module)
        by_name.setdefault(cls.__name__, set()).add(cls)
        by_name.setdefault(f"{cls.__module__}.{cls.__qualname__}", set()).add(cls)
    short = sorted({type(m).__name__ for m in model.modules()})
    resolved: dict[str, set[type[nn.Module]]] = {}
    problems = []
    for key, names in named.items():
        resolved[key] = set()
        for name in names:
            if name in by_name:
                resolved[key] |= by_name[name]
                continue
            problems.append(
                f"{key}: {name!r} matches no module class of the model"
                f" ({type(model).__name__}).{did_you_mean(name, short)}"
                f" Its classes: {', '.join(short)}."
            )
    if problems:
        raise ConfigError(problems)
    return resolved


def build_trainer(
    cfg: TrainConfig,
    run_dir: Path,
    prefixes: list[str] | None = None,
    job: Job | None = None,
    model: nn.Module | None = None,
) -> pl.Trainer:
    """The Trainer for `cfg`: the trainer group's arguments, plus what fabricx sets from its
    own groups (precision, strategy, callbacks, loggers, the run directory, plugins).

    Args:
        prefixes: the modules `_target_`s may name (loggers, extra callbacks, profilers);
            None: the config's own lists (fabricx.builders.components.build_datamodule).
        job: what the launcher knows of this job: its multirun (the W&B group), the sweep
            trial it runs (a pruning callback), the cluster's preemption signal.
        model: the task to be trained; strategy=fsdp resolves its class names against it.
    """
    check_hardware(cfg)
    prefixes = cfg.target_prefixes if prefixes is None else prefixes
    torch.set_float32_matmul_precision(cfg.precision.float32_matmul_precision)
    job = job or Job(run_dir)
    loggers = build_loggers(cfg, run_dir, prefixes, job.group)
    callbacks = [
        *build_callbacks(
            cfg.callbacks, run_dir, bool(loggers), preemption_signal=job.preemption_signal
        ),
        *build_extra_callbacks(cfg.callbacks.extra, prefixes),
        CheckpointContents(plain(cfg)),
        *pruning_callbacks(job.trial),  # only in a sweep trial whose study prunes
    ]
    trainer_sig = signature_of(TRAINER_TARGET, pl.Trainer)
    arguments = build_arguments(trainer_sig, dict(cfg.trainer), prefixes, "trainer")
    return pl.Trainer(
        **arguments,
        strategy=build_strategy(cfg.strategy, model),
        precision=cfg.precision.name,
        callbacks=callbacks,
        logger=loggers or False,
        enable_checkpointing=cfg.callbacks.checkpoint.enabled,
        enable_progress_bar=cfg.callbacks.progress_bar != "none",
        plugins=[AtomicCheckpointIO(), *_cluster_environment()],
        default_root_dir=str(run_dir),
    )


def build_extra_callbacks(extra: dict[str, Any], prefixes: list[str]) -> list[Callback]:
    """Your callbacks, in the order `callbacks.extra` names them."""
    return [
        build(node, prefixes, f"callbacks.extra.{name}")
        for name, node in extra.items()
        if node is not None
    ]


def _cluster_environment() -> list[Any]:
    """Under SLURM, Lightning's SLURM environment without its own requeue: Lightning's saves
    the checkpoint inside the signal handler; fabricx's (SignalCheckpoint) waits for the
    step to end."""
    from lightning.fabric.plugins.environments import SLURMEnvironment

    return [SLURMEnvironment(auto_requeue=False)] if SLURMEnvironment.detect() else []
