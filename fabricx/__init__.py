"""fabricx: declarative deep-learning experiments.

Importing the package is cheap on purpose: torch and lightning load only inside the verbs
that need them, so `fabricx --help` answers at once. From Python:

    import fabricx
    result = fabricx.train(fabricx.compose(["optim.lr=1e-3"]))
"""

import time
from typing import Any

__version__ = "0.1.0"

# When this process imported fabricx (about when the command started): the fit stage reports
# how long after this the first optimizer step ended (fit/first_step_s in metrics.json).
IMPORTED_AT = time.time()


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
