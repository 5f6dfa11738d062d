"""Objects from a checked config: datamodule, model, task, trainer, loggers, callbacks."""
