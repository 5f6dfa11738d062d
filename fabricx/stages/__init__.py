"""Stages of a run, one module each: fit -> test -> export -> verify -> summary.

Each module has one entry, `run(ctx)`. The runner only sequences them; `stages=[...]` picks a
subset. Stages read what they need from the run directory (checkpoints, exports), so a later
verb can run one of them alone on an old run.
"""
