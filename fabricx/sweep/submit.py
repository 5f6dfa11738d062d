"""Start the sweep's workers: local processes, or one SLURM job array through submitit.

Every worker runs fabricx.sweep.worker.work on the same sweep directory; they share nothing
but the study's storage and that directory.
"""

from __future__ import annotations

import os
import subprocess
import sys

from fabricx.sweep.plan import SweepPlan
from fabricx.sweep.worker import work


def run_local(plan: SweepPlan, workers: int) -> list[str]:
    """Start `workers` processes and wait for all; return a line per worker that failed.

    The machine's cores are shared out: each trial's torch gets cores/workers threads unless
    OMP_NUM_THREADS says otherwise, so parallel trials do not oversubscribe the CPU.
    """
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "fabricx.sweep.worker", plan.sweep_dir, str(i)], env=env
        )
        for i in range(workers)
    ]
    problems = []
    for i, process in enumerate(processes):
        code = process.wait()
        if code != 0:
            how = f"was killed by signal {-code}" if code < 0 else f"ended with status {code}"
            problems.append(f"worker {i} {how}")
    return problems


def run_slurm(plan: SweepPlan, workers: int, slurm: dict, wait: bool) -> list[str]:
    """Submit the workers as one SLURM job array; wait for it unless `wait` is false."""
    import submitit

    executor = submitit.AutoExecutor(folder=plan.dir / "slurm" / "%j", cluster="slurm")
    parameters = {
        "name": f"fabricx-sweep-{plan.study_name}",
        "timeout_min": slurm["timeout_min"],
        "nodes": 1,
        "tasks_per_node": 1,  # a worker; its trials start their own DDP ranks
        "cpus_per_task": slurm["cpus_per_task"],
        "gpus_per_node": slurm["gpus_per_node"],
        "mem_gb": slurm["mem_gb"],
        "slurm_partition": slurm["partition"],
        "slurm_account": slurm["account"],
        "slurm_qos": slurm["qos"],
        "slurm_setup": list(slurm["setup"]),
        "slurm_additional_parameters": dict(slurm["additional_parameters"]),
        "slurm_array_parallelism": workers,
    }
    executor.update_parameters(**{k: v for k, v in parameters.items() if v is not None})
    jobs = executor.map_array(work, [plan.sweep_dir] * workers, list(range(workers)))
    print(
        f"fabricx sweep: submitted job array {jobs[0].job_id.split('_')[0]} "
        f"({workers} workers); logs in {plan.dir / 'slurm'}",
        flush=True,
    )
    if not wait:
        return []
    problems = []
    for i, job in enumerate(jobs):
        try:
            job.result()
        except Exception as err:  # submitit raises the worker's error or the job's end
            problems.append(f"array task {i} ({job.job_id}) failed: {str(err).splitlines()[0]}")
    return problems
