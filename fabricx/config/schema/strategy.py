"""strategy=: auto, DDP or FSDP, and their options (Lightning's strategies)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fabricx.config.schema.fields import help_text
from fabricx.errors import ConfigError, check_choice

STRATEGIES = ("auto", "ddp", "fsdp")
SHARDING_STRATEGIES = ("FULL_SHARD", "SHARD_GRAD_OP", "NO_SHARD", "HYBRID_SHARD")
STATE_DICT_TYPES = ("full", "sharded")
PROCESS_GROUP_BACKENDS = ("nccl", "gloo", "mpi", "ucc")


@dataclass
class StrategyConfig:
    """strategy=auto: Lightning picks. The base of every strategy option's schema."""

    name: str = field(default="auto", metadata=help_text(f"One of {STRATEGIES}."))

    def __post_init__(self) -> None:
        check_choice("strategy.name", self.name, STRATEGIES)


@dataclass
class DDPStrategyConfig(StrategyConfig):
    """strategy=ddp: Lightning's DDPStrategy, one process per device."""

    name: str = "ddp"
    find_unused_parameters: bool = False  # True costs a graph walk every step
    static_graph: bool = False
    gradient_as_bucket_view: bool = True  # True saves one copy of the gradients
    process_group_backend: str | None = field(
        default=None, metadata=help_text("None picks nccl on GPU, gloo on CPU.")
    )
    timeout_s: int = field(default=1800, metadata=help_text("Collective timeout, seconds."))

    def __post_init__(self) -> None:
        check_choice("strategy.name", self.name, ("ddp",))
        _check_process_group(self.process_group_backend, self.timeout_s)


@dataclass
class FSDPStrategyConfig(StrategyConfig):
    """strategy=fsdp: Lightning's FSDPStrategy (torch FullyShardedDataParallel), CUDA only.

    Mixed precision has no field here: Lightning derives FSDP's MixedPrecision from
    `precision=` (bf16-mixed: bf16 params, gradients and buffers; 16-mixed: fp16 plus a
    sharded grad scaler; 32: fp32), so the two can never disagree.
    """

    name: str = "fsdp"
    sharding_strategy: str = field(
        default="FULL_SHARD", metadata=help_text(f"One of {SHARDING_STRATEGIES}.")
    )
    auto_wrap: list[str] = field(
        default_factory=list,
        metadata=help_text("Module class names wrapped as FSDP units, e.g. [BertLayer]."),
    )
    min_num_params: int | None = field(
        default=None,
        metadata=help_text("Size-based wrapping instead: wrap submodules of at least this size."),
    )
    activation_checkpointing: list[str] = field(
        default_factory=list,
        metadata=help_text("Module class names whose activations are recomputed in backward."),
    )
    cpu_offload: bool = field(default=False, metadata=help_text("Keep parameters on the CPU."))
    state_dict_type: str = field(default="full", metadata=help_text(f"One of {STATE_DICT_TYPES}."))
    limit_all_gathers: bool = True  # True caps memory by throttling all-gathers ahead
    use_orig_params: bool = True  # True: the optimizer sees the model's own parameters
    process_group_backend: str | None = field(
        default=None, metadata=help_text("None picks nccl (FSDP runs on CUDA GPUs only).")
    )
    timeout_s: int = field(default=1800, metadata=help_text("Collective timeout, seconds."))

    def __post_init__(self) -> None:
        check_choice("strategy.name", self.name, ("fsdp",))
        check_choice("strategy.sharding_strategy", self.sharding_strategy, SHARDING_STRATEGIES)
        check_choice("strategy.state_dict_type", self.state_dict_type, STATE_DICT_TYPES)
        _check_process_group(self.process_group_backend, self.timeout_s)
        if self.auto_wrap and self.min_num_params is not None:
            raise ConfigError(
                f"strategy.auto_wrap={self.auto_wrap} and strategy.min_num_params="
                f"{self.min_num_params} are two wrapping policies; set one, the other to"
                " [] / null."
            )
        if self.min_num_params is not None and self.min_num_params < 1:
            raise ConfigError(f"strategy.min_num_params={self.min_num_params} must be >= 1.")
        if self.sharding_strategy == "HYBRID_SHARD" and not (
            self.auto_wrap or self.min_num_params is not None
        ):
            raise ConfigError(
                "strategy.sharding_strategy=HYBRID_SHARD needs a wrapping policy: set"
                " strategy.auto_wrap=[<block class>] or strategy.min_num_params=<size>."
            )


def _check_process_group(backend: str | None, timeout_s: int) -> None:
    if backend is not None:
        check_choice("strategy.process_group_backend", backend, PROCESS_GROUP_BACKENDS)
    if timeout_s < 1:
        raise ConfigError(f"strategy.timeout_s={timeout_s} must be >= 1.")
