"""expected: a recipe's published (or measured) result, which `fabricx reproduce` checks."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from fabricx.config.schema.fields import help_text
from fabricx.errors import ConfigError


@dataclass
class ExpectedConfig:
    """A recipe's published (or measured) result, which `fabricx reproduce` checks."""

    metric: str = field(default=MISSING, metadata=help_text("Logged key, e.g. test/acc."))
    value: float = field(default=MISSING, metadata=help_text("The expected mean over seeds."))
    tolerance: float = field(default=MISSING, metadata=help_text("Allowed |mean - value|."))
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    source: str = field(default=MISSING, metadata=help_text("Citation of the number."))
    hardware: str = field(default="", metadata=help_text("Where the number was obtained."))
    time_budget_min: float = field(default=0.0, metadata=help_text("Minutes one seed should take."))

    def __post_init__(self) -> None:
        if self.tolerance < 0 or not self.seeds:
            raise ConfigError(
                f"expected.tolerance={self.tolerance} must be >= 0 and expected.seeds="
                f"{self.seeds} non-empty."
            )
