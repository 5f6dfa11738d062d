"""Run stages in order and, whatever happens, write the run's record and close its trackers.

Every verb that runs stages (train, eval, export, bench) goes through `run_stages`, so a
failed, pruned, preempted or interrupted run still leaves metrics.json saying which.
"""

from __future__ import annotations

import time

from fabricx import clock
from fabricx.errors import TargetsSkipped, TrialPruned
from fabricx.runs import directory
from fabricx.runs.signals import Preempted, as_interrupted
from fabricx.stages import bench, export, fit, report, summary, test, trackers, verify
from fabricx.stages.context import RunContext

STAGE_RUNNERS = {
    "fit": fit.run,
    "test": test.run,
    "export": export.run,
    "verify": verify.run,
    "bench": bench.run,
}
# Stages that write files and need no collective: under DDP, rank 0 runs them alone.
RANK_ZERO_STAGES = ("export", "verify", "bench")


def raise_if_skipped(ctx: RunContext) -> None:
    """Exit status 3 when a requested target was skipped (the reasons were already shown)."""
    if ctx.skipped:
        raise TargetsSkipped(f"{', '.join(ctx.skipped)} (see above); every other stage passed.")


def run_stages(ctx: RunContext, stages: list[str]) -> None:
    """Run `stages` in order; whatever happens, write the record and close the trackers."""
    status = "failed"
    rank_zero = ctx.trainer is None or ctx.trainer.is_global_zero
    current = None
    # time/setup_s: from the job's start (for the first job, importing fabricx) to its first
    # stage: imports, config checks, building the data, model and trainer.
    ctx.metrics["time/setup_s"] = time.time() - clock.job_started_at()
    try:
        for name in stages:
            if name in RANK_ZERO_STAGES and not rank_zero:
                continue
            if name in STAGE_RUNNERS:
                current = name
                ctx.stages[name] = "failed"  # until it returns
                with _timed(ctx, name):
                    STAGE_RUNNERS[name](ctx)
                ctx.stages[name] = "ok"
        status = "ok"
    except Preempted:
        status = "preempted"  # the checkpoint is saved; the job is requeued and resumes
        raise
    except TrialPruned:
        status = "pruned"  # a sweep's pruner stopped it: the study records it as pruned
        raise
    except BaseException as err:
        stop = as_interrupted(err)
        if stop is None:
            ctx.error = f"{type(err).__name__}: {err}"  # metrics.json says why, not only where
            raise
        # SIGTERM or SIGINT: "terminated" or "interrupted", where, and the checkpoint saved.
        status = stop.status
        ctx.interrupted = stop.record(current)
        if current is not None:
            ctx.stages[current] = "interrupted"
        if stop is err:
            raise
        raise stop from err  # the signal's exception, turned into another on its way
    finally:
        if rank_zero:
            _write_record(ctx, status)
            if "summary" in stages:
                summary.run(ctx)
        with _timed(ctx, "close_trackers"):
            trackers.close_tracker(ctx, status)
        if rank_zero and "report" in stages:  # report.html: never fails the run
            ctx.metrics["time/total_s"] = time.time() - clock.job_started_at()  # as of now
            with _timed(ctx, "report"):
                report.run(ctx, status)
        if rank_zero:  # the record again, with what closing the trackers (W&B uploads) took
            ctx.metrics["time/total_s"] = time.time() - clock.job_started_at()
            _write_record(ctx, status)


class _timed:
    """`time/<stage>_s` in the run's metrics: the stage's wall time, also when it fails."""

    def __init__(self, ctx: RunContext, stage: str) -> None:
        self.ctx, self.stage = ctx, stage

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.ctx.metrics[f"time/{self.stage}_s"] = time.perf_counter() - self.start


def _write_record(ctx: RunContext, status: str) -> None:
    if (ctx.out_dir / "metrics.csv").is_file():
        ctx.artifacts["metrics_csv"] = ctx.out_dir / "metrics.csv"
    ctx.artifacts["metrics_json"] = directory.write_json(
        ctx.out_dir / "metrics.json", ctx.record(status)
    )
