"""Plain nn.Modules; the task (LightningModule) wraps them, so they export cleanly."""
