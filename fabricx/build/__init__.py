"""Turn a typed config into objects: datamodule, model, task, trainer (callbacks, loggers)."""
