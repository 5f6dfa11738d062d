"""`fabricx bench run=<dir>`: latency and throughput of a finished run's model and exports.

Runs the bench stage alone on the run's own config and checkpoint, over whatever the run has
exported (ONNX files, a TensorRT engine). bench.json and bench.png go to the run directory;
its metrics.json keeps everything else and gains the speed-ups.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from omegaconf import DictConfig

from fabricx.config.saved import load_saved_config
from fabricx.config.schema import BenchRunConfig
from fabricx.config.typed import to_typed
from fabricx.finished_run import merge_previous_record, open_run
from fabricx.logs import route_lightning_logs
from fabricx.runner import run_stages


def bench_job(cfg: DictConfig) -> None:
    """Hydra's task function for `fabricx bench`; the CLI has checked the run already."""
    route_lightning_logs()
    bench_cfg: BenchRunConfig = to_typed(cfg)
    run_dir = Path(bench_cfg.run).resolve()
    saved = replace(load_saved_config(run_dir), bench=bench_cfg.bench)
    ctx = open_run(
        run_dir,
        run_dir,
        checkpoint=bench_cfg.checkpoint,
        extra_target_prefixes=bench_cfg.extra_target_prefixes,
        saved=saved,
    )
    merge_previous_record(ctx, replaces=("bench/",))
    run_stages(ctx, ["bench", "summary"])
