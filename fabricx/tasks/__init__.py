"""LightningModules: loss, metrics and optimizers around a plain model."""
