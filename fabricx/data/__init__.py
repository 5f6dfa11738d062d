"""Datamodules: each reads one dataset and serves train/val/test loaders."""
