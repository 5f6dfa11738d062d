"""What fabricx needs of each group's component: the classes it must build, the arguments
fabricx passes itself, the Trainer arguments fabricx owns. Read by the checker
(fabricx.config.components), the defaults (fabricx.config.defaults) and the builders
(fabricx.build), so what the checker reserves is what the builders pass."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

# Hydra's instantiate keys that fabricx's builder honours; the others are refused, since
# fabricx decides from each parameter's type whether a nested node is built.
RESERVED = ("_target_", "_partial_", "_args_")
UNSUPPORTED = ("_recursive_", "_convert_")


@dataclasses.dataclass(frozen=True)
class Group:
    """What fabricx needs of one group's component.

    Attributes:
        key: where the node sits in the config (`model`, `logger.wandb`).
        builds: dotted names of the classes the component must be an instance of.
        supplied: arguments fabricx passes itself, with the group that provides them; a
            config may not set them, and they never count as missing.
        completed_later: the component is built as a partial that fabricx (or the task)
            completes with its first `completed_later` positional arguments; names in
            `later_names` are also completed later.
    """

    key: str
    builds: tuple[str, ...]
    supplied: dict[str, str] = dataclasses.field(default_factory=dict)
    completed_later: int = 0
    later_names: tuple[str, ...] = ()


DATA = Group("data", ("lightning.pytorch.LightningDataModule",))
MODEL = Group("model", ("torch.nn.Module",))
TASK = Group("task", ("lightning.pytorch.LightningModule",))
OPTIM = Group("optim", ("torch.optim.Optimizer",), completed_later=1)
SCHEDULER = Group(
    "scheduler",
    ("torch.optim.lr_scheduler.LRScheduler", "torch.optim.lr_scheduler.ReduceLROnPlateau"),
    completed_later=1,
    later_names=("total_steps",),
)
# The task's arguments fabricx fills from groups, when the task's signature has them.
TASK_SUPPLIED = {"model": "model", "optimizer": "optim", "scheduler": "scheduler"}

# Trainer arguments fabricx sets from its own groups: where to set them instead.
TRAINER_TARGET = "lightning.pytorch.Trainer"
TRAINER_OWNED = {
    "precision": "the precision group: precision=bf16-mixed (or precision.name=...)",
    "strategy": "the strategy group: strategy=ddp or strategy=fsdp",
    "callbacks": "the callbacks group: callbacks.<setting>=..., or your own callback in "
    "callbacks.extra (see callbacks=[default,<your option>])",
    "logger": "the logger group: logger=wandb, logger=[wandb,tensorboard], logger=none",
    "default_root_dir": "the run directory: paths.runs_dir and experiment",
    "plugins": "fabricx (atomic checkpoint writes, the SLURM environment)",
    "enable_checkpointing": "callbacks.checkpoint.enabled",
    "enable_progress_bar": "callbacks.progress_bar (rich, tqdm or none)",
}

# Logger arguments fabricx sets for the loggers it knows (fabricx.builders.loggers fills them
# from the run directory), so every run has one tracker run of its own that a resume
# continues. Keyed by the base class's dotted name; any other logger gets `save_dir`.
LOGGER_SUPPLIED = {
    "lightning.pytorch.loggers.CSVLogger": ("save_dir", "name", "version"),
    "lightning.pytorch.loggers.TensorBoardLogger": ("save_dir", "name", "version"),
    "lightning.pytorch.loggers.MLFlowLogger": ("run_name", "run_id"),
    "lightning.pytorch.loggers.WandbLogger": (
        "name", "save_dir", "id", "version", "resume", "config", "job_type",
    ),
}  # fmt: skip


def logger_supplied(cls: Any, params: Iterable[str]) -> tuple[str, ...]:
    """The arguments fabricx passes a logger of class `cls` whose constructor takes `params`."""
    from fabricx.config.signatures import TargetError, import_target

    for base, names in LOGGER_SUPPLIED.items():
        try:
            base_class = import_target(base)
        except TargetError:
            continue
        if isinstance(cls, type) and issubclass(cls, base_class):
            return names
    return ("save_dir",) if "save_dir" in params else ()


def completed_later(sig_params: dict[str, Any], group: Group | None) -> set[str]:
    """Arguments a partial of `group` gets after the config: an optimizer's parameters, a
    scheduler's optimizer and length (`sig_params`: the target's parameters, in order)."""
    if group is None:
        return set()
    positional = [n for n, p in sig_params.items() if p.kind.name != "KEYWORD_ONLY"]
    return {*positional[: group.completed_later], *group.later_names}


# Loggers whose constructor needs a package fabricx does not install by default: the
# modules that satisfy it, and fabricx's extra that installs one.
LOGGER_NEEDS = {
    "lightning.pytorch.loggers.TensorBoardLogger": (("tensorboard", "tensorboardX"), "tensorboard"),
    "lightning.pytorch.loggers.MLFlowLogger": (("mlflow",), "mlflow"),
}
