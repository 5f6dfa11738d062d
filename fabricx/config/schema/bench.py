"""bench.*: the bench stage's batch sizes and timing budget."""

from __future__ import annotations

from dataclasses import dataclass, field

from fabricx.config.schema.fields import help_text
from fabricx.errors import ConfigError


@dataclass
class BenchConfig:
    """The bench stage: latency and throughput per runtime and batch size."""

    batch_sizes: list[int] = field(default_factory=lambda: [1, 8, 64])
    warmup_iters: int = 5
    min_iters: int = field(default=20, metadata=help_text("Timed calls at least, per case."))
    max_iters: int = field(default=1000, metadata=help_text("Timed calls at most, per case."))
    seconds_per_case: float = field(
        default=0.3, metadata=help_text("Time budget per (runtime, batch size) after min_iters.")
    )

    def __post_init__(self) -> None:
        if not self.batch_sizes or min(self.batch_sizes) < 1:
            raise ConfigError(f"bench.batch_sizes={self.batch_sizes} needs sizes >= 1.")
        if not 1 <= self.min_iters <= self.max_iters:
            raise ConfigError(
                f"bench.min_iters={self.min_iters} and bench.max_iters={self.max_iters}: "
                "need 1 <= min_iters <= max_iters."
            )
        if self.warmup_iters < 0 or self.seconds_per_case < 0:
            raise ConfigError("bench.warmup_iters and bench.seconds_per_case must be >= 0.")
