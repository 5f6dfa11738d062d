"""`resume=`: which run directory a train command continues, whether it may, and the record.

    fabricx train resume=auto                 # this experiment's newest run, if unfinished
    fabricx train resume=runs/default/<run>   # that run
    fabricx train -m seed=0,1 resume=auto     # the newest sweep: each job continues its own

The launcher resolves the directory before Hydra starts (fabricx.launch.resume_dir) and
hands it to Hydra as `hydra.run.dir` (a sweep: `hydra.sweep.dir`), so the job writes into
the run it continues. The job then resumes from `checkpoints/last.ckpt` when its directory
has one. A resumed run keeps its config.yaml, overrides.yaml and command.txt; each resume
is appended to resumes.json.

A resume must not change what the checkpoint's tensors or the loader's position mean. So
changed model or data keys, the task's classes, the optimizer class or the seed are refused
(exit 2). Any other change is allowed with a warning, since the run is then no longer an
exact continuation. Example: more epochs, another logger.

Imports neither torch nor lightning at module level: the CLI calls it before Hydra runs.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from pathlib import Path
from typing import Any

import yaml

from fabricx.errors import ConfigError
from fabricx.runs.signals import requeued

log = logging.getLogger(__name__)

LAST_CHECKPOINT = Path("checkpoints") / "last.ckpt"
RESUMES_FILE = "resumes.json"

# Keys whose change makes the checkpoint mean something else: tensor shapes, what the
# outputs are, the optimizer state's layout, the split and the order of the batches.
_REFUSED = ("model", "data", "task._target_", "task.num_classes", "task.labels",
            "optim._target_", "seed")  # fmt: skip
# Data keys that say where the data is or how it is read, not what it is.
_DATA_KEYS_FREE = ("data.path", "data.download", "data.num_workers", "data.eval_batch_size")
_IGNORED = ("resume",)


def finished(run_dir: Path) -> bool:
    """Whether the run ended with every stage done (metrics.json says status ok)."""
    try:
        return json.loads((run_dir / "metrics.json").read_text()).get("status") == "ok"
    except (OSError, ValueError):
        return False


def checkpoint_to_resume(cfg: Any, run_dir: Path) -> Path | None:
    """The checkpoint a job in `run_dir` continues from; None for a new run.

    A job SLURM restarted (after a preemption) resumes without being asked: it is the same
    job, in the same run directory, and its last.ckpt is where the preemption left it.
    """
    last = run_dir / LAST_CHECKPOINT
    return last if (cfg.resume is not None or requeued()) and last.is_file() else None


def check_compatible(saved: dict[str, Any], new: dict[str, Any], run_dir: Path) -> dict:
    """Refuse a resume that changes the model or the data; return the other changes.

    Returns:
        {key: [saved value, new value]} for every allowed change (warn about them).

    Raises:
        ConfigError: one problem per refused key, with both values and the fix.
    """
    old_flat, new_flat = _flatten(saved), _flatten(new)
    changed = {
        key: [old_flat.get(key), new_flat.get(key)]
        for key in sorted(set(old_flat) | set(new_flat))
        if old_flat.get(key) != new_flat.get(key) and not key.startswith(_IGNORED)
    }
    refused = {k: v for k, v in changed.items() if _is_refused(k)}
    if refused:
        command = run_dir / "command.txt"
        raise ConfigError(
            f"resume: {key}={new_value!r} but {run_dir} was trained with {old!r}; a resumed run "
            f"must keep the model and the data. Resume with the run's own overrides ({command})"
            ", or drop resume= to start a new run."
            for key, (old, new_value) in refused.items()
        )
    return changed


def record_resume(
    run_dir: Path, checkpoint: Path, command: list[str], changed: dict, seed: int
) -> None:
    """Append this resume to `run_dir/resumes.json`: when, by which command, from where."""
    import torch

    from fabricx.runs import directory as runs

    state = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
    path = run_dir / RESUMES_FILE
    history = json.loads(path.read_text()) if path.is_file() else []
    history.append(
        {
            "time": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": command,
            "checkpoint": {
                "file": str(checkpoint.relative_to(run_dir)),
                "epoch": state.get("epoch"),
                "global_step": state.get("global_step"),
            },
            "changed": changed,
            "provenance": runs.provenance(seed),
        }
    )
    runs.write_json(path, history)
    log.info(
        "Resuming %s from %s (epoch %s, step %s).",
        run_dir, checkpoint.relative_to(run_dir), state.get("epoch"), state.get("global_step"),
    )  # fmt: skip
    if changed:
        log.warning(
            "The config differs from the one this run started with, so the continuation is not "
            "exactly the uninterrupted run: %s",
            ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items()),
        )
    _trim_metrics_csv(run_dir / "metrics.csv", state.get("global_step"))


def run_to_resume(cfg: Any) -> Path | None:
    """The single run to continue; None (and one line saying why) to start a new one."""
    if cfg.resume == "auto":
        root = Path(cfg.paths.runs_dir) / cfg.experiment
        found = sorted(p for p in root.glob("*/config.yaml")) if root.is_dir() else []
        if not found:
            return _start_new(f"no run of experiment '{cfg.experiment}' in {root}")
        newest = found[-1].parent  # run directories start with their start time
        if finished(newest):
            return _start_new(f"the newest run of '{cfg.experiment}', {newest}, finished")
        if not (newest / LAST_CHECKPOINT).is_file():
            return _start_new(f"the newest run, {newest}, stopped before its first checkpoint")
        return newest.resolve()
    run_dir = Path(cfg.resume).expanduser()
    _check_is_run(cfg.resume, run_dir)
    if not (run_dir / LAST_CHECKPOINT).is_file():
        raise ConfigError(
            f"resume={cfg.resume}: {run_dir / LAST_CHECKPOINT} does not exist, so there is "
            "nothing to resume from (the run stopped before its first checkpoint); start a new "
            "run without resume=."
        )
    if finished(run_dir) and not trains_longer(run_dir, plain_config(cfg)):
        import torch

        state = torch.load(run_dir / LAST_CHECKPOINT, weights_only=True, mmap=True)
        raise ConfigError(
            f"resume={cfg.resume}: that run finished (metrics.json: status ok) after "
            f"{int(state.get('epoch', 0)) + 1} epochs ({state.get('global_step')} steps), and "
            f"trainer.max_epochs={cfg.trainer.get('max_epochs')} trains no further, so there"
            " is nothing to resume. To train it for longer in the same run directory, raise "
            f"trainer.max_epochs (or trainer.max_steps); to re-score it, fabricx eval "
            f"run={run_dir}; to fine-tune from it in a new run, init_from={run_dir}."
        )
    return run_dir.resolve()


def trains_longer(run_dir: Path, new: dict[str, Any]) -> bool:
    """Whether the config `new` trains the finished run in `run_dir` past where it stopped:
    more epochs than its last.ckpt has done, or (max_epochs=-1) more steps."""
    import torch

    last = run_dir / LAST_CHECKPOINT
    if not last.is_file():
        return False
    state = torch.load(last, map_location="cpu", weights_only=True, mmap=True)
    epochs_done, steps_done = int(state.get("epoch", 0)) + 1, int(state.get("global_step", 0))
    trainer = new.get("trainer") or {}
    max_epochs, max_steps = trainer.get("max_epochs"), trainer.get("max_steps", -1)
    steps_left = not (isinstance(max_steps, int) and 0 < max_steps <= steps_done)
    if isinstance(max_epochs, int) and max_epochs >= 1:
        return max_epochs > epochs_done and steps_left
    return max_epochs == -1 and isinstance(max_steps, int) and max_steps > steps_done


def _check_is_run(value: str, run_dir: Path) -> None:
    if not run_dir.is_dir():
        raise ConfigError(
            f"resume={value}: no such directory; give a run directory such as "
            "resume=runs/<experiment>/<timestamp>-<id>, or resume=auto."
        )
    if (run_dir / "multirun.yaml").is_file():
        raise ConfigError(
            f"resume={value} is a multirun directory: resume it with -m and the sweep's "
            f"overrides, or resume one of its jobs, e.g. resume={run_dir / '0'}."
        )
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(
            f"resume={value}: no config.yaml there, so it is not a fabricx run directory; give "
            "one such as runs/<experiment>/<timestamp>-<id>, or resume=auto."
        )


def sweep_to_resume(cfg: Any, overrides: list[str], job_count: int) -> Path | None:
    """The sweep directory to continue (each job resumes its own directory), or None.

    Args:
        job_count: how many jobs the command's sweep has (the launcher counts them).
    """
    swept = sorted(_sweep_overrides(overrides))
    if cfg.resume == "auto":
        root = Path(cfg.paths.runs_dir) / cfg.experiment
        found = sorted(p for p in root.glob("*-multirun/multirun.yaml")) if root.is_dir() else []
        if not found:
            return _start_new(f"no sweep of experiment '{cfg.experiment}' in {root}", "sweep")
        sweep_dir = found[-1].parent
        jobs = [p.parent for p in sweep_dir.glob("*/config.yaml")]
        if len(jobs) >= job_count and all(finished(j) for j in jobs):
            return _start_new(f"every job of the newest sweep, {sweep_dir}, finished", "sweep")
    else:
        sweep_dir = Path(cfg.resume).expanduser()
        if not (sweep_dir / "multirun.yaml").is_file():
            raise ConfigError(
                f"resume={cfg.resume} with -m: no multirun.yaml there, so it is not a sweep "
                "directory; give one such as runs/<experiment>/<timestamp>-<id>-multirun, or "
                "drop -m to resume a single run."
            )
    saved = yaml.safe_load((sweep_dir / "multirun.yaml").read_text())
    saved_swept = sorted(_sweep_overrides(saved["hydra"]["overrides"]["task"]))
    if saved_swept != swept:
        raise ConfigError(
            f"resume: {sweep_dir} swept {' '.join(saved_swept) or 'nothing'}, this command "
            f"sweeps {' '.join(swept) or 'nothing'}; resume a sweep with its own command, or "
            "drop resume= to start a new sweep."
        )
    return sweep_dir.resolve()


def _sweep_overrides(overrides: list[str]) -> list[str]:
    """The overrides that choose the jobs (resume= aside: it is not part of the sweep)."""
    return [o for o in overrides if not o.startswith(("resume=", "hydra."))]


def _start_new(reason: str, what: str = "run") -> None:
    print(f"fabricx: resume=auto: {reason}; starting a new {what}.", file=sys.stderr)
    return None


def saved_config(run_dir: Path) -> dict[str, Any]:
    """The resolved config a run started with (its config.yaml), as plain containers."""
    return yaml.safe_load((run_dir / "config.yaml").read_text())


def plain_config(cfg: Any) -> dict[str, Any]:
    from fabricx.config.typed import plain

    return plain(cfg)


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        flat: dict[str, Any] = {}
        for key, value in node.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): node}


def _is_refused(key: str) -> bool:
    if key in _DATA_KEYS_FREE:
        return False
    return any(key == r or key.startswith(f"{r}.") for r in _REFUSED)


def _trim_metrics_csv(path: Path, step: int | None) -> None:
    """Drop the rows the killed run logged after its checkpoint: the resumed run logs those
    steps again. The remaining rows are kept, and the resumed run appends to them."""
    if step is None or not path.is_file():
        return
    import csv
    import io

    from fabricx.runs import directory as runs

    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames or [], list(reader)
    kept = [r for r in rows if not r.get("step") or int(float(r["step"])) < step]
    if len(kept) == len(rows):
        return
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    writer.writerows(kept)
    runs.write_text(path, text.getvalue())
