"""fabricx: declarative deep-learning experiments.

Importing the package is cheap on purpose: torch and lightning load only inside the verbs
that need them, so `fabricx --help` answers at once. From Python:

    import fabricx
    result = fabricx.train(fabricx.compose(["optim.lr=1e-3"]))
"""

from typing import Any

from fabricx.clock import IMPORTED_AT  # noqa: F401  (first: when the command started)
from fabricx.version import __version__  # noqa: F401

# fabricx.compose, fabricx.train and fabricx.RunResult (fabricx.api), imported on first use.
_API = ("compose", "train", "RunResult")


def __getattr__(name: str) -> Any:
    if name in _API:
        from fabricx import api

        return getattr(api, name)
    if name in ("ConfigError", "FabricxError"):
        from fabricx import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'fabricx' has no attribute {name!r}")
