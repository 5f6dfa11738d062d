"""fabricx's performance harness: `python -m benchmarks` (see benchmarks/__main__.py)."""
