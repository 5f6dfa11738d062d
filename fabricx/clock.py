"""When this process imported fabricx (about when the command started), and when the
current job started: a multirun runs its jobs one after another in one process.

The fit stage reports how long after the job's start the first optimizer step ended
(`fit/first_step_s`), and the stages how long the job took before them (`time/setup_s`).
fabricx/__init__.py imports this module first.
"""

import time

IMPORTED_AT = time.time()
_job_started_at = IMPORTED_AT
_jobs_started = 0


def start_job() -> None:
    """Mark a job's start: the first job of a process started when fabricx was imported."""
    global _job_started_at, _jobs_started
    if _jobs_started:
        _job_started_at = time.time()
    _jobs_started += 1


def job_started_at() -> float:
    """The current job's start (time.time())."""
    return _job_started_at
