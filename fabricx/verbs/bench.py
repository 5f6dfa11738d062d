"""`fabricx bench run=<dir>`: time whatever a finished run exported, without training.

Results go into the run directory (bench.json, bench.png) and under "verbs" in its
metrics.json; the run's own status stays what training made it (fabricx.verbs.export).
"""

from __future__ import annotations

from omegaconf import DictConfig

from fabricx.config.schema import BenchRunConfig
from fabricx.config.typed import to_typed
from fabricx.runs.job import Job
from fabricx.runs.logs import route_lightning_logs
from fabricx.stages.sequence import run_stages
from fabricx.verbs.finished_run import open_for_verb, saved_for_verb


def run(cfg: DictConfig, job: Job) -> None:
    """Time the runtimes and batch sizes `cfg.bench` names on the run `cfg.run` names."""
    route_lightning_logs()
    bench_cfg: BenchRunConfig = to_typed(cfg)
    run_dir, _, saved = saved_for_verb(bench_cfg, bench=bench_cfg.bench)
    ctx = open_for_verb(bench_cfg, run_dir, saved, "bench", replaces=("bench/",))
    run_stages(ctx, ["bench", "summary", "report"])
