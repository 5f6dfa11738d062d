"""`fabricx train`: the run-level keys, and the groups every experiment composes.

The component groups (data, model, task, optim, scheduler, logger, callbacks.extra) hold a
`_target_` and its arguments: their schema is the target's own signature, checked by
fabricx.config.components. The trainer group holds lightning.pytorch.Trainer's arguments,
checked against its signature the same way. The dataclasses here cover what is fabricx's
own: run-level keys, precision, strategy, compile, fabricx's callbacks, export, bench.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from fabricx.config.schema.bench import BenchConfig
from fabricx.config.schema.callbacks import MODES, CallbacksConfig
from fabricx.config.schema.compile import CompileConfig
from fabricx.config.schema.export import ExportConfig
from fabricx.config.schema.fields import help_text
from fabricx.config.schema.precision import PrecisionConfig
from fabricx.config.schema.recipe import ExpectedConfig
from fabricx.config.schema.strategy import StrategyConfig
from fabricx.config.trust import DEFAULT_TARGET_PREFIXES, TrustedModules
from fabricx.errors import ConfigError, check_choice

STAGES = ("fit", "test", "export", "verify", "bench", "summary")
# Characters a file name may not hold; and the longest experiment name (a directory name).
_MAX_NAME = 200
_MAX_SEED = 2**32 - 1


@dataclass
class MetricConfig:
    """ "The metric" of a run: what picks the best checkpoint, what test reports as the
    headline, what verify recomputes through each runtime, what a sweep optimizes.

    The task logs it as `val/<name>` and `test/<name>`. Null values come from the task's
    class (its `metric` and `metric_mode` attributes), else the loss, lower being better.
    """

    name: str | None = field(default=None, metadata=help_text("Null: the task's `metric`."))
    mode: str | None = field(
        default=None, metadata=help_text("max or min; null: the task's `metric_mode`.")
    )

    def __post_init__(self) -> None:
        if self.mode is not None:
            check_choice("metric.mode", self.mode, MODES)


@dataclass
class PathsConfig:
    runs_dir: str = field(default="runs", metadata=help_text("Root of every run directory."))


@dataclass
class TrainConfig:
    """`fabricx train`: the whole experiment."""

    data: Any = field(default=MISSING, metadata=help_text("A LightningDataModule: _target_."))
    model: Any = field(
        default=None,
        metadata=help_text("An nn.Module the task takes as `model`; null: the task builds one."),
    )
    task: Any = field(default=MISSING, metadata=help_text("A LightningModule: _target_."))
    optim: Any = field(
        default=None, metadata=help_text("A torch optimizer the task gets as `optimizer`.")
    )
    scheduler: Any = field(
        default=None, metadata=help_text("A learning-rate scheduler the task gets, or null.")
    )
    precision: PrecisionConfig = field(default_factory=PrecisionConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    compile: CompileConfig = field(default_factory=CompileConfig)
    channels_last: bool = field(
        default=False,
        metadata=help_text(
            "Convolution weights (and so the convolutions) in channels-last memory format."
        ),
    )
    trainer: dict[str, Any] = field(
        default_factory=dict, metadata=help_text("lightning.pytorch.Trainer's arguments.")
    )
    logger: dict[str, Any] = field(
        default_factory=dict,
        metadata=help_text("Loggers by name, each a _target_ node: logger=[wandb,csv]."),
    )
    callbacks: CallbacksConfig = field(default_factory=CallbacksConfig)
    metric: MetricConfig = field(default_factory=MetricConfig)
    export: ExportConfig = field(default_factory=ExportConfig)  # export=[] is none
    bench: BenchConfig = field(default_factory=BenchConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    expected: ExpectedConfig | None = field(
        default=None, metadata=help_text("Set by a recipe: what `fabricx reproduce` checks.")
    )
    experiment: str = field(default="default", metadata=help_text("Runs go to runs/<experiment>/."))
    seed: int = 0
    stages: list[str] = field(default_factory=lambda: list(STAGES))
    allowed_target_prefixes: list[str] = field(
        default_factory=lambda: list(DEFAULT_TARGET_PREFIXES),
        metadata=help_text("Modules that `_target_` may name; anything else is refused."),
    )
    extra_target_prefixes: list[str] = field(
        default_factory=list, metadata=help_text("Your own modules to allow, e.g. [mylab].")
    )
    allow_unsafe_targets: list[str] = field(
        default_factory=list,
        metadata=help_text(
            "Callables that load code or pickles (torch.load, torch.hub, trust_remote_code, "
            "...) to allow anyway; only from the command line, never from a file."
        ),
    )
    resume: str | None = field(
        default=None,
        metadata=help_text(
            "null: a new run; auto: continue this experiment's newest unfinished run, or start"
            " a new one; a run directory: continue that run, or train a finished one for"
            " longer (raise trainer.max_epochs)."
        ),
    )
    init_from: str | None = field(
        default=None,
        metadata=help_text(
            "A run directory (its best checkpoint) or a .ckpt file: a new run starts from "
            "those weights (fine-tuning)."
        ),
    )
    init_strict: bool = field(
        default=True,
        metadata=help_text(
            "init_from: every weight must match; false skips missing, unexpected and "
            "differently shaped ones, and reports them."
        ),
    )

    def __post_init__(self) -> None:
        for stage in self.stages:
            check_choice("stages", stage, STAGES)
        if not 0 <= self.seed <= _MAX_SEED:
            raise ConfigError(
                f"seed={self.seed}: seeds run from 0 to {_MAX_SEED} (numpy's range; Lightning "
                "would pick a random one instead): give one in that range."
            )
        if self.resume is not None and not self.resume.strip():
            raise ConfigError(
                "resume='' names nothing: give resume=auto, a run directory such as "
                "resume=runs/<experiment>/<timestamp>-<id>, or resume=null for a new run."
            )
        if self.compile.enabled and self.strategy.name == "fsdp":
            raise ConfigError(
                "compile.enabled=true with strategy=fsdp: fabricx does not compile FSDP-wrapped "
                "models (untested); use strategy=ddp, or compile.enabled=false."
            )
        checkpoint = self.callbacks.checkpoint
        if self.resume is not None and not (checkpoint.enabled and checkpoint.save_last):
            raise ConfigError(
                f"resume={self.resume} continues from checkpoints/last.ckpt, but this config "
                "writes none (callbacks.checkpoint.enabled=false or callbacks.checkpoint."
                "save_last=false); set both to true."
            )
        if self.resume is not None and self.init_from is not None:
            raise ConfigError(
                f"resume={self.resume} and init_from={self.init_from}: resume continues a run "
                "with its own weights, init_from starts a new run from other weights; drop one."
            )
        if self.init_from is not None and not self.init_from.strip():
            raise ConfigError("init_from='' names nothing: give a run directory or a .ckpt file.")
        if not self.experiment or "/" in self.experiment or self.experiment in (".", ".."):
            raise ConfigError(
                f"experiment={self.experiment!r} must be a non-empty name without '/'."
            )
        if len(self.experiment.encode()) > _MAX_NAME:
            raise ConfigError(
                f"experiment is {len(self.experiment.encode())} bytes long; a directory name "
                f"holds at most {_MAX_NAME} here: shorten it."
            )

    @property
    def target_prefixes(self) -> list[str]:
        modules = [*self.allowed_target_prefixes, *self.extra_target_prefixes]
        return TrustedModules(modules, self.allow_unsafe_targets)
