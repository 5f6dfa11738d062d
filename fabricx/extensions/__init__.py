"""fabricx's own Lightning extensions: callbacks, two logger subclasses, a CheckpointIO plugin."""
