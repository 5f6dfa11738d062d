"""The typed schema of `fabricx sweep`: the search space, the study and its workers.

`conf/sweep.yaml` is the train config plus a `sweep:` node; the search space of a recipe
lives in `conf/search_space/<recipe>.yaml`, which the sweep config selects by the recipe's
name. Nothing here imports torch, lightning or optuna.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import II, MISSING

from fabricx.config.schema.fields import help_text
from fabricx.config.schema.train import TrainConfig
from fabricx.errors import ConfigError, check_choice

PARAM_TYPES = ("float", "int", "categorical")
SAMPLERS = ("tpe", "random", "cmaes", "grid")
PRUNERS = ("median", "percentile", "hyperband", "none")
DIRECTIONS = ("maximize", "minimize")
SWEEP_LAUNCHERS = ("local", "slurm")


@dataclass
class ParamConfig:
    """One dimension of the search space, keyed by the override it sets (`optim.lr`, `optim`).

    float and int take low/high (step, log); categorical takes choices (group options work:
    `optim: {type: categorical, choices: [adamw, sgd]}`). `when` makes it conditional: the
    parameter is sampled only in trials where the earlier parameters named take those values.
    """

    type: str = field(default=MISSING, metadata=help_text(f"One of {PARAM_TYPES}."))
    low: float | None = None
    high: float | None = None
    step: float | None = field(default=None, metadata=help_text("Spacing of values; none: any."))
    log: bool = field(default=False, metadata=help_text("Sample on a log scale (float, int)."))
    choices: list[Any] | None = None
    when: dict[str, Any] | None = field(
        default=None, metadata=help_text("Sample only when earlier params have these values.")
    )

    def check(self, name: str, earlier: list[str]) -> None:
        key = f"sweep.params.{name}"
        check_choice(f"{key}.type", self.type, PARAM_TYPES)
        if self.type == "categorical":
            if not self.choices:
                raise ConfigError(f"{key}: a categorical parameter needs choices: [a, b, ...].")
        elif self.low is None or self.high is None or self.low >= self.high:
            raise ConfigError(
                f"{key}: a {self.type} parameter needs low < high (got low={self.low}, "
                f"high={self.high})."
            )
        elif self.log and (self.low <= 0 or self.step is not None):
            raise ConfigError(f"{key}: log=true needs low > 0 and no step.")
        elif self.type == "int" and not all(float(v).is_integer() for v in (self.low, self.high)):
            raise ConfigError(f"{key}: an int parameter needs whole low and high.")
        for other in self.when or {}:
            if other not in earlier:
                raise ConfigError(
                    f"{key}.when names '{other}', which is not a parameter listed before "
                    f"{name}; list the parameters it depends on first ({earlier or 'none yet'})."
                )


@dataclass
class ObjectiveConfig:
    """A value the study optimizes: a key of the trial's metrics.json, and its direction."""

    metric: str = field(default=MISSING, metadata=help_text("Key in metrics.json, e.g. val/acc."))
    direction: str = field(default=MISSING, metadata=help_text(f"One of {DIRECTIONS}."))

    def __post_init__(self) -> None:
        check_choice("sweep.objectives[].direction", self.direction, DIRECTIONS)


@dataclass
class SamplerConfig:
    name: str = field(default="tpe", metadata=help_text(f"One of {SAMPLERS}."))
    seed: int | None = II("seed")
    n_startup_trials: int = field(
        default=5, metadata=help_text("tpe, cmaes: random trials before the model takes over.")
    )

    def __post_init__(self) -> None:
        check_choice("sweep.sampler.name", self.name, SAMPLERS)


@dataclass
class PrunerConfig:
    """When a trial stops early: compared, every validation epoch, with the other trials."""

    name: str = field(default="median", metadata=help_text(f"One of {PRUNERS}."))
    n_startup_trials: int = field(
        default=3, metadata=help_text("median, percentile: trials finished before any is pruned.")
    )
    n_warmup_steps: int = field(
        default=1, metadata=help_text("median, percentile: epochs a trial runs before it may stop.")
    )
    percentile: float = field(default=25.0, metadata=help_text("percentile: keep the best N%."))
    min_resource: int = field(default=1, metadata=help_text("hyperband: epochs of the first rung."))
    max_resource: int = field(default=II("trainer.max_epochs"), metadata=help_text("hyperband."))
    reduction_factor: int = field(default=3, metadata=help_text("hyperband: 1/N go on per rung."))

    def __post_init__(self) -> None:
        check_choice("sweep.pruner.name", self.name, PRUNERS)
        if not 0.0 < self.percentile < 100.0:
            raise ConfigError(f"sweep.pruner.percentile={self.percentile} must be in (0, 100).")


@dataclass
class SweepSlurmConfig:
    """sweep.launcher=slurm: the workers run as one SLURM job array, through submitit."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    timeout_min: int = 240
    cpus_per_task: int | None = None
    gpus_per_node: int | None = field(default=None, metadata=help_text("GPUs of each worker."))
    mem_gb: float | None = None
    setup: list[str] = field(default_factory=list, metadata=help_text("Shell lines run first."))
    additional_parameters: dict[str, Any] = field(default_factory=dict)


@dataclass
class SweepConfig:
    """`fabricx sweep`: an Optuna study whose trials are ordinary `fabricx train` runs."""

    study_name: str = field(default=II("experiment"), metadata=help_text("Same name: resumes."))
    dir: str = field(
        default="${paths.runs_dir}/${experiment}/sweeps/${sweep.study_name}",
        metadata=help_text("The sweep directory: storage, trials/, report."),
    )
    n_trials: int = field(default=20, metadata=help_text("The study's budget of trials, in all."))
    workers: int = field(
        default=1, metadata=help_text("Processes (or array tasks) pulling trials.")
    )
    launcher: str = field(default="local", metadata=help_text(f"One of {SWEEP_LAUNCHERS}."))
    storage: str | None = field(
        default=None,
        metadata=help_text(
            "null: a journal file in the sweep directory; or an RDB URL (sqlite:///f.db, "
            "postgresql://user@host/db) or a journal file path (*.log, *.journal)."
        ),
    )
    objectives: list[ObjectiveConfig] = field(
        default_factory=list,
        metadata=help_text("[]: the run's metric on validation (val/<metric.name>, metric.mode)."),
    )
    params: dict[str, ParamConfig] = field(default_factory=dict)
    enqueue: list[dict[str, Any]] = field(
        default_factory=list,
        metadata=help_text("Trials to run first, e.g. [{optim.lr: 3e-3}]; the rest is sampled."),
    )
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    pruner: PrunerConfig = field(default_factory=PrunerConfig)
    heartbeat_s: int = field(
        default=10, metadata=help_text("Running trials record a heartbeat this often.")
    )
    grace_s: int = field(
        default=60, metadata=help_text("A trial silent this long lost its worker: failed, retried.")
    )
    max_retries: int = field(
        default=1, metadata=help_text("Retries of a trial that lost its worker.")
    )
    report_only: bool = field(default=False, metadata=help_text("Write the report; run no trial."))
    wait: bool = field(default=True, metadata=help_text("slurm: wait for the array, then report."))
    slurm: SweepSlurmConfig = field(default_factory=SweepSlurmConfig)

    def __post_init__(self) -> None:
        check_choice("sweep.launcher", self.launcher, SWEEP_LAUNCHERS)
        if self.n_trials < 1 or self.workers < 1:
            raise ConfigError(
                f"sweep.n_trials={self.n_trials} and sweep.workers={self.workers} must be >= 1."
            )
        if self.heartbeat_s < 1 or self.grace_s <= self.heartbeat_s:
            raise ConfigError(
                f"sweep.heartbeat_s={self.heartbeat_s} and sweep.grace_s={self.grace_s}: need "
                "1 <= heartbeat_s < grace_s (a trial is lost after grace_s without a beat)."
            )
        if self.max_retries < 0:
            raise ConfigError(f"sweep.max_retries={self.max_retries} must be >= 0.")
        names = list(self.params)
        for i, name in enumerate(names):
            self.params[name].check(name, names[:i])
        for i, values in enumerate(self.enqueue):
            unknown = [k for k in values if k not in self.params]
            if unknown:
                raise ConfigError(
                    f"sweep.enqueue[{i}] sets {unknown}, which sweep.params does not search "
                    f"({names}); Optuna would ignore them."
                )
        if self.sampler.name == "grid":
            for name, param in self.params.items():
                if param.type == "float" and param.step is None:
                    raise ConfigError(
                        f"sweep.params.{name}: the grid sampler needs discrete values; give "
                        "a step, or make it categorical with choices."
                    )
        if len(self.objectives) > 1 and self.pruner.name != "none":
            raise ConfigError(
                f"sweep.objectives has {len(self.objectives)} objectives, and Optuna prunes "
                "single-objective studies only: set sweep.pruner.name=none."
            )


@dataclass
class SweepRunConfig(TrainConfig):
    """`fabricx sweep`: the train config every trial starts from, plus the study."""

    sweep: SweepConfig = field(default_factory=SweepConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.sweep.params:
            raise ConfigError(
                "sweep.params is empty: nothing to search. Pick a search space, e.g. "
                "search_space=digits_mlp (conf/search_space/), or write your own there."
            )
        if not self.sweep.objectives and self.metric.name is not None:
            # The run's metric as validation reports it (fabricx.config.check fills it in from
            # the task before this runs; the pruner check against what the task logs is there).
            direction = "maximize" if self.metric.mode == "max" else "minimize"
            self.sweep.objectives = [ObjectiveConfig(f"val/{self.metric.name}", direction)]
