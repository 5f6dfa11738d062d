"""Console logging for a job: one line per message, under Hydra's logging config.

`import lightning` attaches its own console handler to the "lightning" logger even when the
root logger (configured by Hydra) already prints, so every Lightning message would show
twice. Called once a job has imported lightning.
"""

from __future__ import annotations

import logging
import warnings


class _DropTips(logging.Filter):
    """Lightning's start-up advertisement ("💡 Tip: ... try installing litlogger")."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Tip:" not in str(record.msg)


def route_lightning_logs() -> None:
    lightning = logging.getLogger("lightning")
    if logging.getLogger().handlers:
        for handler in list(lightning.handlers):
            if type(handler) is logging.StreamHandler:
                lightning.removeHandler(handler)
        lightning.propagate = True
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropTips) for f in logger.filters):
            logger.addFilter(_DropTips())
    # metrics.csv lives in the run directory itself, so the CSV logger always finds the
    # directory non-empty; its warning that "previous log files will be deleted" is about
    # metrics.csv alone, which a new run has not written yet.
    warnings.filterwarnings("ignore", message=r".*exists and is not empty.*")
    # Lightning's own use of a deprecated torch pytree API, printed on every export.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    # In-memory tensors load fastest in the main process; the worker hint does not apply.
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    # fabricx says what a mid-epoch resume with a loader that cannot restore its position
    # does instead (fabricx.extensions.resume_state.LoaderPosition): one warning, not two.
    warnings.filterwarnings(
        "ignore", message=r".*ended before the epoch ended and your dataloader.*"
    )
    # On a machine with SLURM's client tools, Lightning suggests `srun` to every local run;
    # fabricx submits to SLURM with hydra/launcher=slurm, where SLURM starts the ranks.
    warnings.filterwarnings("ignore", message=r".*The `srun` command is available.*")
