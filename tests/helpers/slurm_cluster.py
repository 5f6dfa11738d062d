"""A real single-node SLURM cluster for the tests: munged, slurmctld and slurmd, started once.

The session-scoped `slurm_cluster` fixture (registered in tests/conftest.py) starts its own MUNGE
daemon (its own key and socket) and its own slurmctld and slurmd on free ports, with every file
under pytest's temporary directory. Nothing reads or writes /etc/slurm, /etc/munge or the
default MUNGE socket: each client command gets `SLURM_CONF` from `cluster.env`, and a batch job
inherits it (sbatch exports the submitting environment), so `srun` inside a job finds the same
cluster. It needs root (slurmd runs jobs as their owner; munged and slurmd run as root here) and
the Debian packages `slurmctld slurmd slurm-client munge`; without them its tests skip.

    def test_hello(slurm_cluster, tmp_path):
        job = slurm_cluster.sbatch("", "--wrap", "echo hi", "-o", str(tmp_path / "out"))
        assert slurm_cluster.wait(job) == "COMPLETED"

The configuration is the smallest that gives real scheduling, `srun` steps, requeue and
preemption: proctrack/linuxproc and task/none (no cgroups, which containers and CI runners often
lack; no cgroup.conf is read), select/cons_tres with CR_CPU (CPUs are consumed, memory is not, so
a job that names no --mem does not take the whole node), no accounting daemon (slurmdbd). Read a
job's state with `scontrol show job`, which `job()` and `wait()` do; `cluster.env` puts a stand-in
`sacct` first on PATH that answers from the same records (see `sacct_main`), which is what
submitit polls: without it, submitit sees a failed job as UNKNOWN and waits forever.

Two partitions share the node: `debug` (the default) and `urgent`, whose jobs preempt debug's
by requeueing them (PreemptMode=REQUEUE). A preempted job gets its `--signal` (e.g.
`--signal=B:USR1@600`) at once; it may requeue itself then (`scontrol requeue $SLURM_JOB_ID`, as
Lightning's SLURM plugin does), or it is killed after debug's GraceTime=10 s, which slurmctld
enforces in a periodic check, so tens of seconds later in fact.

A requeued job (by `scontrol requeue`, preemption, or node failure) waits 120 s (cred_expire)
before it may start again; `release()` starts it now, safely.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "srun", "scontrol", "squeue", "sinfo")
PARTITION = "debug"
URGENT_PARTITION = "urgent"  # higher PriorityTier: its jobs preempt (requeue) debug's
STARTUP_TIMEOUT = 30.0

# Job states after which a job does not run again unless someone requeues it.
FINAL_STATES = frozenset(
    {
        "BOOT_FAIL",
        "CANCELLED",
        "COMPLETED",
        "DEADLINE",
        "FAILED",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "TIMEOUT",
    }
)


def which(name: str) -> str | None:
    """The program's path; daemons live in /usr/sbin, which a non-login PATH may lack."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return shutil.which(name, path=path)


def missing_requirements() -> str | None:
    """Why this machine cannot run the cluster, or None when it can."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "a SLURM test cluster needs root (slurmd runs jobs as their owner)"
    missing = [name for name in BINARIES if which(name) is None]
    if missing:
        return (
            f"SLURM/MUNGE binaries not found: {', '.join(missing)} "
            "(apt-get install slurmctld slurmd slurm-client munge)"
        )
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_record(line: str) -> dict[str, str]:
    """One `scontrol show -o` record (`Key=value Key=value ...`) as a dict.

    A value may hold spaces (Command=, WorkDir=, Reason=), so a token without `=` belongs to the
    value before it.
    """
    record: dict[str, str] = {}
    key = None
    for token in line.split(" "):
        name, sep, value = token.partition("=")
        if sep and name and (name[0].isupper() or name[0].isdigit()) and " " not in name:
            key = name
            record[key] = value
        elif key is not None:
            record[key] += " " + token
    return record


SACCT_FIELDS = {  # sacct field -> `scontrol show job` key
    "JobName": "JobName",
    "Partition": "Partition",
    "State": "JobState",
    "ExitCode": "ExitCode",
    "NodeList": "NodeList",
    "Elapsed": "RunTime",
    "Submit": "SubmitTime",
    "Start": "StartTime",
    "End": "EndTime",
    "AllocCPUS": "NumCPUs",
    "WorkDir": "WorkDir",
}


def sacct_rows(records: list[dict[str, str]], fields: Sequence[str]) -> list[list[str]]:
    """sacct's rows (one per job or array task, no steps) for `scontrol show job` records."""
    rows, seen = [], set()
    for record in records:
        job_id = record.get("JobId", "")
        if record.get("ArrayJobId"):
            task = record.get("ArrayTaskId", "").split("%")[0]  # pending tasks: "1-3%2"
            task = task if task.isdigit() else f"[{task}]"
            job_id = f"{record['ArrayJobId']}_{task}"
        if job_id in seen:
            continue
        seen.add(job_id)
        row = []
        for name in fields:
            key = "JobId" if name.lower() == "jobid" else SACCT_FIELDS.get(name, name)
            row.append(job_id if key == "JobId" else record.get(key, ""))
        rows.append(row)
    return rows


def sacct_main(argv: Sequence[str]) -> int:
    """A `sacct` for this accounting-less cluster (installed as <root>/bin/sacct on its PATH).

    It answers from `scontrol show job`, i.e. for jobs slurmctld still holds (MinJobAge), and
    understands what submitit asks (`-o JobID,State,NodeList --parsable2 -j ID ...`): -j/--jobs,
    -o/--format, -P/--parsable2, -p/--parsable, -n/--noheader; other options are ignored.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="sacct")
    parser.add_argument("-j", "--jobs", action="append", default=[])
    parser.add_argument("-o", "--format", default="JobID,JobName,Partition,State,ExitCode")
    parser.add_argument("-P", "--parsable2", action="store_true")
    parser.add_argument("-p", "--parsable", action="store_true")
    parser.add_argument("-n", "--noheader", action="store_true")
    args, _ = parser.parse_known_args(list(argv))
    fields = [f.split("%")[0] for f in args.format.split(",") if f]
    ids = [j for spec in args.jobs for j in spec.split(",") if j] or [""]
    records = []
    for job_id in ids:
        cmd = ["scontrol", "show", "job", "-o", *([job_id] if job_id else [])]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        records += [parse_record(line) for line in proc.stdout.splitlines() if line.strip()]
    rows = sacct_rows(records, fields)
    if not args.noheader:
        rows.insert(0, fields)
    for row in rows:
        if args.parsable2 or args.parsable:
            print("|".join(row) + ("|" if args.parsable else ""))
        else:
            print(" ".join(f"{cell:<12}" for cell in row).rstrip())
    return 0


@dataclass
class SlurmCluster:
    """A running cluster; `env` is the environment for every SLURM command and job."""

    root: Path
    conf_dir: Path
    env: dict[str, str]
    node: str
    cpus: int
    partition: str = PARTITION

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def conf(self) -> Path:
        return self.conf_dir / "slurm.conf"

    def run(
        self, *args: str, check: bool = True, timeout: float = 30.0, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a SLURM client command against this cluster."""
        proc = subprocess.run(
            list(args),
            env=self.env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args)} exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}\n{self.logs()}"
            )
        return proc

    def sbatch(self, script: str, *args: str, cwd: Path | None = None) -> str:
        """Submit a batch script (its text, `#!` line first) and return the job id.

        `args` are sbatch options, e.g. `"-o", str(path)`, `"-n", "2"`, `"--wrap", "cmd"` (then
        pass `script=""`).
        """
        cmd = ["sbatch", "--parsable", f"--partition={self.partition}", *args]
        proc = subprocess.run(
            cmd,
            input=script if script else None,
            env=self.env,
            cwd=cwd or self.root,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"sbatch failed ({proc.returncode}): {proc.stderr.strip()}\n{self.logs()}"
            )
        return proc.stdout.strip().split(";")[0]

    def job(self, job_id: str) -> dict[str, str]:
        """The job's record from `scontrol show job` (JobState, Reason, StartTime, ...)."""
        proc = self.run("scontrol", "show", "job", "-o", str(job_id), check=False)
        if proc.returncode != 0 or not proc.stdout.strip():
            return {}
        return parse_record(proc.stdout.strip().splitlines()[0])

    def state(self, job_id: str) -> str:
        return self.job(job_id).get("JobState", "UNKNOWN")

    def wait_for(
        self, job_id: str, states: str | Sequence[str], timeout: float = 60.0
    ) -> dict[str, str]:
        """Poll until the job is in one of `states`; return its record. Raises on timeout."""
        wanted = {states} if isinstance(states, str) else set(states)
        deadline = time.monotonic() + timeout
        record: dict[str, str] = {}
        while time.monotonic() < deadline:
            record = self.job(job_id)
            if record.get("JobState") in wanted:
                return record
            time.sleep(0.2)
        raise TimeoutError(
            f"job {job_id} not in {sorted(wanted)} after {timeout:.0f}s; last record:\n"
            f"{record}\n{self.logs()}"
        )

    def wait(self, job_id: str, timeout: float = 60.0) -> str:
        """Wait until the job is finished and return its final state (e.g. COMPLETED)."""
        return self.wait_for(job_id, FINAL_STATES, timeout)["JobState"]

    def release(self, job_id: str) -> None:
        """Let a requeued job (PENDING, Reason=BeginTime) start again now.

        SLURM holds a requeued job back for the old credential's lifetime (cred_expire, 120 s)
        because slurmd revoked that credential and rejects any credential of the same job
        created in or before the revocation's second (`ctime <= revoked`, whole seconds): a
        relaunch in the same second fails the job (FAILED, not requeued). So this waits until
        the job is PENDING (it has left the node) and the clock has passed into a new second
        before `scontrol update jobid=N StartTime=now`.
        """
        self.wait_for(job_id, "PENDING", timeout=30)  # COMPLETING/REQUEUED until it has left
        time.sleep(1.05 - time.time() % 1)
        self.run("scontrol", "update", f"jobid={job_id}", "StartTime=now")

    def cancel_all(self, timeout: float = 20.0) -> None:
        """Cancel every job and wait until the queue is empty (so tests do not leak jobs)."""
        ids = self.run("squeue", "-h", "-o", "%i", check=False).stdout.split()
        if not ids:
            return
        self.run("scancel", *ids, check=False)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.run("squeue", "-h", "-o", "%i %T", check=False).stdout
            if not out.strip():
                return
            time.sleep(0.2)

    def logs(self, tail: int = 40) -> str:
        """The last lines of each daemon's log, for failure messages."""
        parts = []
        for name in ("munged", "slurmctld", "slurmd"):
            # A daemon writes its own .log once it has read slurm.conf; .out is its stdout/stderr
            # (all of munged's, which logs to stderr in the foreground; a crash before the .log).
            for path in (self.log_dir / f"{name}.log", self.log_dir / f"{name}.out"):
                if path.exists():
                    lines = path.read_text(errors="replace").splitlines()[-tail:]
                    parts.append(f"--- {path} ---\n" + "\n".join(lines))
                    break
        return "\n".join(parts)


def _slurm_conf(root: Path, node: str, node_hw: str, ports: tuple[int, int]) -> str:
    ctld_port, slurmd_port = ports
    partition = f"Nodes={node} MaxTime=INFINITE State=UP"
    return textwrap.dedent(
        f"""\
        # Written by tests/helpers/slurm_cluster.py; every path is under this directory.
        ClusterName=fabricx-test
        # The host names must be what slurmctld/slurmd see as their own (hostname -s); the
        # addresses are loopback, so no DNS is needed.
        SlurmctldHost={node}(127.0.0.1)
        SlurmctldPort={ctld_port}
        SlurmdPort={slurmd_port}
        SlurmUser=root
        SlurmdUser=root
        AuthType=auth/munge
        CredType=cred/munge
        # Our munged's socket, for auth/munge and cred/munge alike (clients read it here too).
        AuthInfo=socket={root}/munge/munge.socket
        StateSaveLocation={root}/state
        SlurmdSpoolDir={root}/spool
        SlurmctldPidFile={root}/run/slurmctld.pid
        SlurmdPidFile={root}/run/slurmd.pid
        SlurmctldLogFile={root}/log/slurmctld.log
        SlurmdLogFile={root}/log/slurmd.log
        SlurmctldDebug=info
        SlurmdDebug=info
        PlugStackConfig={root}/etc/plugstack.conf
        # No cgroups: processes are tracked through /proc, tasks are not bound.
        ProctrackType=proctrack/linuxproc
        TaskPlugin=task/none
        JobAcctGatherType=jobacct_gather/none
        SelectType=select/cons_tres
        SelectTypeParameters=CR_CPU
        # FIFO, started on the next ~1 s scheduler pass after submission.
        SchedulerType=sched/builtin
        SchedulerParameters=batch_sched_delay=0
        MpiDefault=none
        SwitchType=switch/none
        JobCompType=jobcomp/none
        AccountingStorageType=accounting_storage/none
        # The node comes up idle as soon as slurmd registers (no `scontrol update state=resume`).
        ReturnToService=2
        # A job in a partition of higher PriorityTier requeues the jobs in its way. They get
        # their --signal (e.g. USR1, as Lightning's SLURM plugin asks for) at once, and SIGTERM
        # only after the partition's GraceTime (with GraceTime=0 both race, and the --signal may
        # come after SIGTERM has ended the script).
        PreemptType=preempt/partition_prio
        PreemptMode=REQUEUE
        SlurmctldParameters=preempt_send_user_signal
        JobRequeue=1
        # SIGTERM to SIGKILL; default 30 s.
        KillWait=5
        # A finished job stays in `scontrol show job` (and the sacct stand-in) this long.
        MinJobAge=3600
        MailProg=/bin/true
        # slurmd -C's own figures: a node that reports less than this is drained.
        NodeName={node} NodeAddr=127.0.0.1 {node_hw} State=UNKNOWN
        PartitionName={PARTITION} {partition} Default=YES PriorityTier=1 GraceTime=10
        PartitionName={URGENT_PARTITION} {partition} PriorityTier=2 PreemptMode=OFF
        """
    )


def _node_hardware() -> tuple[str, int]:
    """`slurmd -C`'s CPUs/Boards/Sockets/Cores/Threads/RealMemory, and the CPU count."""
    env = dict(os.environ, SLURM_CONF="/nonexistent/slurm.conf")
    cmd = [which("slurmd") or "slurmd", "-C"]
    out = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=30, check=True
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("NodeName="))
    fields = dict(tok.split("=", 1) for tok in line.split() if "=" in tok)
    keys = ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory")
    return " ".join(f"{k}={fields[k]}" for k in keys if k in fields), int(fields["CPUs"])


def _processes_with_env(marker: str) -> list[int]:
    """Pids whose environment holds `marker` (our SLURM_CONF): daemons, slurmstepd, job tasks."""
    needle = marker.encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
    return pids


def _stepd_zombies() -> list[int]:
    """Exited slurmstepd processes not yet reaped.

    slurmd double-forks slurmstepd, so it is an orphan of init; it exits as its job ends, often
    during teardown. Nothing here reaps it or could kill it (it is dead); teardown only waits a
    moment for init to do so, so that a `pgrep slurm` right after the tests comes back empty.
    """
    zombies = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                comm, _, rest = stat.partition(" (")[2].rpartition(") ")
                if comm == "slurmstepd" and rest.startswith("Z"):
                    zombies.append(int(entry.name))
    return zombies


def _stop(procs: list[subprocess.Popen], timeout: float = 10.0) -> None:
    """SIGTERM each process, then SIGKILL whatever is still there after `timeout`."""
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@contextlib.contextmanager
def start_cluster(root: Path) -> Iterator[SlurmCluster]:
    """Start munged, slurmctld and slurmd under `root`; stop them all on exit."""
    for sub in ("munge", "etc", "state", "spool", "run", "log"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "munge").chmod(0o700)  # munged refuses a key directory that others can write
    socket_path = root / "munge" / "munge.socket"
    if len(str(socket_path)) > 100:  # sun_path holds 108 bytes
        raise RuntimeError(f"MUNGE socket path too long for a unix socket: {socket_path}")

    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    os.chown(key, 0, 0)

    node = socket.gethostname().split(".")[0]
    node_hw, cpus = _node_hardware()
    conf_dir = root / "etc"
    conf = conf_dir / "slurm.conf"
    conf.write_text(_slurm_conf(root, node, node_hw, (free_port(), free_port())))
    (conf_dir / "plugstack.conf").write_text("")  # no system SPANK plugins

    bin_dir = root / "bin"  # sacct: see sacct_main
    bin_dir.mkdir(exist_ok=True)
    sacct = bin_dir / "sacct"
    sacct.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from slurm_cluster import sacct_main\n"
        "sys.exit(sacct_main(sys.argv[1:]))\n"
    )
    sacct.chmod(0o755)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_", "SRUN_"))}
    env["SLURM_CONF"] = str(conf)
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    log_dir = root / "log"
    cluster = SlurmCluster(
        root=root,
        conf_dir=conf_dir,
        env=env,
        node=node,
        cpus=cpus,
    )

    procs: dict[str, subprocess.Popen] = {}  # by name, in start order

    def spawn(name: str, args: list[str]) -> None:
        with open(log_dir / f"{name}.out", "wb") as out:
            procs[name] = subprocess.Popen(
                [which(name) or name, *args],
                env=env,
                cwd=root,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in pytest does not reach the daemons
            )

    try:
        spawn(
            "munged",
            [
                "--foreground",
                # --force: pytest's 0700 tmp dir fails munged's "execute permissions for all"
                # check on the socket's directory; the socket is ours alone anyway.
                "--force",
                f"--key-file={key}",
                f"--socket={socket_path}",
                f"--pid-file={root / 'run' / 'munged.pid'}",
                f"--log-file={log_dir / 'munged.log'}",
                f"--seed-file={root / 'munge' / 'munged.seed'}",
            ],
        )
        _wait_until(lambda: socket_path.exists(), "munged socket", cluster, procs)
        spawn("slurmctld", ["-D", "-f", str(conf)])
        spawn("slurmd", ["-D", "-f", str(conf), "-N", node])

        def node_idle() -> bool:
            out = cluster.run("sinfo", "-h", "-N", "-o", "%N %T", check=False).stdout
            return any(line.split()[1:2] == ["idle"] for line in out.splitlines())

        _wait_until(node_idle, f"node {node} idle in sinfo", cluster, procs)
        yield cluster
    finally:
        _teardown(cluster, procs)


def _wait_until(
    ready, what: str, cluster: SlurmCluster, procs: dict[str, subprocess.Popen]
) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if ready():
            return
        dead = [name for name, p in procs.items() if p.poll() is not None]
        if dead:
            raise RuntimeError(
                f"{', '.join(dead)} exited while waiting for {what}\n{cluster.logs()}"
            )
        time.sleep(0.2)
    raise RuntimeError(
        f"timed out after {STARTUP_TIMEOUT:.0f}s waiting for {what}\n{cluster.logs()}"
    )


def _teardown(cluster: SlurmCluster, procs: dict[str, subprocess.Popen]) -> None:
    munged = procs.pop("munged", None)
    slurm_procs = list(procs.values())
    if len(slurm_procs) == 2 and all(p.poll() is None for p in slurm_procs):
        with contextlib.suppress(Exception):
            cluster.cancel_all()
    _stop(list(reversed(slurm_procs)))
    # Anything else of ours (an orphaned slurmstepd or job task) carries our SLURM_CONF.
    marker = f"SLURM_CONF={cluster.conf}"
    keep = {munged.pid} if munged else set()  # slurmd may need it to the end; stopped last
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = [pid for pid in _processes_with_env(marker) if pid not in keep]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 5
        while pids and time.monotonic() < deadline:
            time.sleep(0.1)
            pids = [pid for pid in _processes_with_env(marker) if pid not in keep]
        if not pids:
            break
    if munged:
        _stop([munged])
    deadline = time.monotonic() + 5
    while _stepd_zombies() and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    """A running single-node SLURM cluster (partition `debug`), shared by the session."""
    reason = missing_requirements()
    if reason:
        pytest.skip(reason)
    with start_cluster(tmp_path_factory.mktemp("slurm")) as cluster:
        yield cluster
