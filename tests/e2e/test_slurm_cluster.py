"""The `slurm_cluster` fixture is a working SLURM: batch jobs, srun steps, requeue, signals,
preemption.

These are the behaviours the launcher, DDP and preemption tests build on; if one fails here, the
cluster (not fabricx) is at fault, and the message carries the daemons' logs.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def wait_for_text(path: Path, text: str, cluster, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    content = ""
    while time.monotonic() < deadline:
        content = path.read_text() if path.exists() else ""
        if text in content:
            return content
        time.sleep(0.1)
    raise TimeoutError(
        f"{text!r} not in {path} after {timeout:.0f}s: {content!r}\n{cluster.logs()}"
    )


def test_batch_job_writes_its_output(slurm_cluster, tmp_path):
    out = tmp_path / "hi.out"
    job = slurm_cluster.sbatch("", "--wrap", "echo hi", "-o", str(out))
    assert slurm_cluster.wait(job) == "COMPLETED", slurm_cluster.logs()
    assert out.read_text() == "hi\n"
    # Every command went to this cluster, not to a system-wide one.
    assert slurm_cluster.env["SLURM_CONF"] == str(slurm_cluster.conf)
    config = slurm_cluster.run("scontrol", "show", "config").stdout
    assert "fabricx-test" in config
    # The sacct stand-in answers submitit's query.
    sacct = slurm_cluster.run("sacct", "-o", "JobID,State,NodeList", "--parsable2", "-j", job)
    expected = ["JobID|State|NodeList", f"{job}|COMPLETED|{slurm_cluster.node}"]
    assert sacct.stdout.splitlines() == expected


def test_srun_runs_two_tasks_in_a_batch_job(slurm_cluster, tmp_path):
    out = tmp_path / "srun.out"
    script = (
        "#!/bin/bash\n"
        "srun bash -c 'echo task=$SLURM_PROCID ntasks=$SLURM_NTASKS local=$SLURM_LOCALID'\n"
    )
    job = slurm_cluster.sbatch(script, "-n", "2", "-o", str(out))
    assert slurm_cluster.wait(job) == "COMPLETED", out.read_text() if out.exists() else ""
    lines = sorted(out.read_text().splitlines())
    assert lines == ["task=0 ntasks=2 local=0", "task=1 ntasks=2 local=1"]


def test_requeued_job_waits_then_runs_again_with_restart_count(slurm_cluster, tmp_path):
    out = tmp_path / "requeue.out"
    script = (
        "#!/bin/bash\n"
        'echo "start restart=${SLURM_RESTART_COUNT:-0}"\n'
        'if [ "${SLURM_RESTART_COUNT:-0}" = 0 ]; then sleep 300; fi\n'
        'echo "end restart=${SLURM_RESTART_COUNT:-0}"\n'
    )
    # Append: a requeued job reopens its output file, and the first run's lines must survive.
    job = slurm_cluster.sbatch(script, "--requeue", "--open-mode=append", "-o", str(out))
    slurm_cluster.wait_for(job, "RUNNING")
    wait_for_text(out, "start restart=0", slurm_cluster)

    slurm_cluster.run("scontrol", "requeue", job)
    pending = slurm_cluster.wait_for(job, "PENDING", timeout=30)
    # A requeued job is held back by a begin time (the old credential's lifetime, 120 s).
    assert pending["Restarts"] == "1"
    assert pending["Reason"] == "BeginTime", pending
    assert datetime.fromisoformat(pending["StartTime"]) > datetime.now()

    slurm_cluster.release(job)  # scontrol update jobid=N StartTime=now, once that is safe
    assert slurm_cluster.wait(job) == "COMPLETED", out.read_text()
    text = out.read_text()
    assert "DUE TO JOB REQUEUE" in text  # slurmstepd's line in the job's output
    assert [line for line in text.splitlines() if "restart=" in line] == [
        "start restart=0",
        "start restart=1",
        "end restart=1",
    ]


def test_scancel_signal_reaches_the_batch_script(slurm_cluster, tmp_path):
    out = tmp_path / "signal.out"
    marker = tmp_path / "got_usr1"
    # bash runs a trap only between commands, so the script waits on a background sleep.
    script = (
        "#!/bin/bash\n"
        f"trap 'echo USR1 > {marker}; kill $child; exit 0' USR1\n"
        "sleep 300 &\n"
        "child=$!\n"
        "echo ready\n"
        "wait\n"
    )
    job = slurm_cluster.sbatch(script, "-o", str(out))
    wait_for_text(out, "ready", slurm_cluster)

    slurm_cluster.run("scancel", "--signal=USR1", "--batch", job)
    assert slurm_cluster.wait(job, timeout=30) == "COMPLETED", out.read_text()
    assert marker.read_text() == "USR1\n"


def test_urgent_job_preempts_a_debug_job_which_requeues_itself(slurm_cluster, tmp_path):
    out = tmp_path / "victim.out"
    # Every CPU, so the urgent job can only start by preempting this one. Preemption sends its
    # --signal at once and SIGTERM after the grace time; on the signal it requeues itself, as
    # Lightning's SLURM plugin does.
    script = (
        "#!/bin/bash\n"
        "trap 'echo got USR1; scontrol requeue $SLURM_JOB_ID; exit 0' USR1\n"
        'echo "start restart=${SLURM_RESTART_COUNT:-0}"\n'
        'if [ "${SLURM_RESTART_COUNT:-0}" = 0 ]; then sleep 300 & wait; fi\n'
        'echo "end restart=${SLURM_RESTART_COUNT:-0}"\n'
    )
    args = ("-n", str(slurm_cluster.cpus), "--signal=B:USR1@600", "--open-mode=append")
    victim = slurm_cluster.sbatch(script, *args, "-o", str(out))
    wait_for_text(out, "start restart=0", slurm_cluster)

    urgent = slurm_cluster.sbatch("", "-p", "urgent", "--wrap", "true", "-o", "/dev/null")
    assert slurm_cluster.wait(urgent, timeout=30) == "COMPLETED", slurm_cluster.logs()
    pending = slurm_cluster.wait_for(victim, "PENDING", timeout=30)
    assert (pending["Restarts"], pending["Reason"]) == ("1", "BeginTime"), pending
    assert "got USR1" in out.read_text()

    slurm_cluster.release(victim)
    assert slurm_cluster.wait(victim) == "COMPLETED", out.read_text()
    assert [line for line in out.read_text().splitlines() if "restart=" in line] == [
        "start restart=0",
        "start restart=1",
        "end restart=1",
    ]
