"""The run directory and what lives in it: records, checkpoints, resume, trackers, signals."""
