"""The `fabricx` command: one verb per job, Hydra's flags on every verb, heavy imports late.

`fabricx --help` and `fabricx config` must answer at once, so this module imports neither
torch nor lightning; a verb imports its runner only when it is about to run a job.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from typing import Any

from fabricx.errors import ConfigError, FabricxError, did_you_mean, exit_status_help, report
from fabricx.launch.arguments import composes, config_dir_flag, parse_flags, runs_a_job
from fabricx.launch.hydra_app import run_hydra
from fabricx.version import __version__

VERBS = {
    "train": "train, test, export and verify one experiment (-m sweeps over overrides)",
    "sweep": "Optuna search: pruned, parallel (local or SLURM), resumable: sweep recipe=NAME",
    "eval": "re-evaluate a finished run with its own saved config: fabricx eval run=<dir>",
    "export": "export a finished run again, no training: fabricx export run=<dir> export=[...]",
    "bench": "latency and throughput by runtime and batch size: fabricx bench run=<dir>",
    "recipes": "list the recipes (fabricx recipes), or show one (fabricx recipes show NAME)",
    "reproduce": "run a recipe for its seeds and check the published number: reproduce NAME",
    "doctor": "versions and devices; builds, runs and checks a tiny TensorRT engine where it can",
    "config": "print the composed config and validate it; runs nothing",
    "init": "write a project of your own to start from: fabricx init DIR",
    "runs": "the runs under runs/ (status, metric, what differs): fabricx runs [DIR]; compare",
    "report": "write a run's (or a sweep's) report.html again: fabricx report run=<dir>",
}

HELP = f"""usage: fabricx <verb> [key=value ...] [hydra flags]

fabricx {__version__}: declarative deep-learning experiments.

verbs:
{chr(10).join(f"  {verb:<8} {text}" for verb, text in VERBS.items())}

examples:
  fabricx train                                  # digits MLP -> ONNX, verified, W&B offline
  fabricx train optim=sgd trainer.max_epochs=5 precision=bf16-mixed
  fabricx train -m optim.lr=0.01,0.001 seed=1,2  # one run directory per job
  fabricx sweep recipe=digits_mlp sweep.n_trials=20 sweep.workers=2
  fabricx train from_sweep=runs/digits_mlp/sweeps/digits_mlp   # the best trial, in full
  fabricx config optim=sgd                       # composed config, validated
  fabricx eval run=runs/default/<timestamp>-<id>
  fabricx export run=runs/default/<timestamp>-<id> export=[onnx,onnx_fp16,onnx_int8]
  fabricx bench run=runs/default/<timestamp>-<id> bench.batch_sizes=[1,8,64]
  fabricx recipes                                # the recipes and their expected numbers
  fabricx reproduce digits_mlp                   # run its seeds, check the number
  fabricx init myproject && cd myproject && fabricx train   # your model, data and task
  fabricx runs --sort -metric --status ok        # the runs under runs/, best first
  fabricx runs compare runs/default/<A> runs/default/<B>    # what differs; curves overlaid

Every verb takes Hydra's flags (--cfg job, --info, -m, --config-dir DIR, --help).
{exit_status_help()}
"""


def command() -> int:
    """The `fabricx` command (and `python -m fabricx`): `main`, then a quick exit.

    At exit Python tears down every module and garbage-collects what torch, Lightning and
    W&B loaded: 1.1-1.8 s measured after a run. Frozen objects are skipped by that last
    collection; atexit handlers (W&B's teardown, logging's flush) still run, and the
    operating system frees the memory. Only here, where the process ends: a caller of
    `main` in a longer-lived process keeps a collector that sees everything.
    """
    code = main()
    gc.freeze()
    return code


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(HELP, end="")
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        print(f"fabricx {__version__}")
        return 0
    verb, rest = argv[0], argv[1:]
    if verb in VERBS and verb not in ("doctor", "recipes", "init", "runs", "report"):
        from fabricx.launch.compose import prepare_overrides

        rest = prepare_overrides(rest, config_dir_flag(rest))
    handlers: dict[str, Callable[[list[str]], int]] = {
        "train": _train,
        "sweep": _sweep,
        "eval": _eval,
        "export": _export,
        "bench": _bench,
        "recipes": _recipes,
        "reproduce": _reproduce,
        "doctor": _doctor,
        "config": _config,
        "init": _init,
        "runs": _runs,
        "report": _report,
    }
    try:
        if verb in VERBS and verb != "init":
            from fabricx.config.project import active_project

            active_project()  # a [tool.fabricx] project: its configs, its package on sys.path
        if verb not in handlers:
            raise ConfigError(
                f"'{verb}' is not a fabricx verb.{did_you_mean(verb, handlers)} "
                f"Verbs: {', '.join(handlers)} (fabricx --help)."
            )
        return handlers[verb](rest)
    except FabricxError as err:
        report(err)
        return err.exit_code
    except KeyboardInterrupt:
        print("fabricx: interrupted", file=sys.stderr)
        return 130


def _train(rest: list[str]) -> int:
    from fabricx.launch.compose import validate

    if any(a.startswith(("from_sweep=", "sweep_trial=")) for a in rest):
        from fabricx.sweep.best import expand_from_sweep  # the best trial's own overrides

        rest = expand_from_sweep(rest)
    args = parse_flags(rest)
    if composes(args):
        typed = validate(
            args.config_name or "train",
            args.overrides,
            config_dir=args.config_dir,
            multirun=args.multirun,
        )
        if runs_a_job(args):
            _check_where_it_writes(typed, args.overrides, args.multirun)
            # Before Hydra creates a run directory; build_trainer checks again for API users.
            from fabricx.builders.hardware import check_hardware

            check_hardware(typed)
            if not args.multirun:  # bad data files (exit 6), before a run directory exists
                from fabricx.data.preflight import check_data

                check_data(typed)
            if typed.init_from:  # the weights to start from exist, before any work
                from fabricx.runs.init_from import init_checkpoint

                init_checkpoint(typed.init_from)
            # resume=: the run (or sweep) directory to continue, handed to Hydra as its own.
            from fabricx.launch.resume_dir import hydra_overrides

            rest = [*rest, *hydra_overrides(typed, args.overrides, args.multirun)]
    return run_hydra("train", rest, "fabricx.verbs.train:run")


def _check_where_it_writes(typed: Any, overrides: list[str], multirun: bool) -> None:
    """The run (or sweep) directory can be created, and a new run takes no other's place."""
    from fabricx.runs.output_dir import check_output_dir, is_child_rank, restarted

    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    given = next(
        (o.split("=", 1)[1] for o in overrides if o.lstrip("+").startswith(key + "=")), None
    )
    new_run = typed.resume is None and not is_child_rank() and not restarted()
    if given is not None:
        check_output_dir(key, given.strip("'\""), new_run=new_run, sweep=multirun)
    else:  # the default: a new, timestamped directory under runs_dir/experiment
        check_output_dir(
            "paths.runs_dir", f"{typed.paths.runs_dir}/{typed.experiment}", new_run=False
        )


def _sweep(rest: list[str]) -> int:
    from fabricx.launch.compose import validate

    args = parse_flags(rest)
    if args.multirun:
        raise ConfigError(
            "fabricx sweep runs its trials itself: drop -m. The search space is sweep.params "
            "(search_space=NAME), the budget sweep.n_trials."
        )
    rest = _with_recipe_search_space(rest, args)
    args = parse_flags(rest)
    if composes(args):
        typed = validate("sweep", args.overrides, config_dir=args.config_dir)
        if runs_a_job(args):
            try:
                import optuna  # noqa: F401
            except ImportError:
                raise ConfigError(
                    "fabricx sweep needs Optuna: pip install 'fabricx[cluster]'."
                ) from None
            from fabricx.builders.hardware import check_hardware
            from fabricx.launch.sweep_space import check_space

            check_space(typed, args.overrides, args.config_dir)  # every value, before trial 0
            check_hardware(typed)
    return run_hydra("sweep", rest, "fabricx.verbs.sweep:run")


def _with_recipe_search_space(rest: list[str], args: Any) -> list[str]:
    """`recipe=NAME` brings conf/search_space/NAME.yaml along unless search_space= is given."""
    from fabricx.config.paths import group_options

    keys = {o.split("=", 1)[0].lstrip("+~") for o in args.overrides}
    recipe = next((o.split("=", 1)[1] for o in args.overrides if o.startswith("recipe=")), None)
    spaces = group_options("search_space", args.config_dir) or []
    if recipe in spaces and "search_space" not in keys:  # beside recipe=: argparse wants
        at = rest.index(f"recipe={recipe}")  # the overrides together, flags elsewhere
        return [*rest[: at + 1], f"search_space={recipe}", *rest[at + 1 :]]
    return rest


def _eval(rest: list[str]) -> int:
    return _finished_run_verb("eval", rest, "fabricx.verbs.eval:run")


def _export(rest: list[str]) -> int:
    return _finished_run_verb("export", rest, "fabricx.verbs.export:run")


def _bench(rest: list[str]) -> int:
    return _finished_run_verb("bench", rest, "fabricx.verbs.bench:run")


def _finished_run_verb(config_name: str, rest: list[str], job: str) -> int:
    """A verb on a finished run: validate, check the run directory, then let Hydra run it."""
    from fabricx.launch.compose import validate
    from fabricx.runs.saved_config import check_run_target

    args = parse_flags(rest)
    if composes(args):
        cfg = validate(config_name, args.overrides, multirun=args.multirun)
        if runs_a_job(args):
            from fabricx.verbs.finished_run import finished_run_prefixes

            prefixes = finished_run_prefixes(cfg.extra_target_prefixes, cfg.allow_unsafe_targets)
            check_run_target(cfg, prefixes)
            if getattr(cfg, "accelerator", None):  # eval scores where the user says
                from fabricx.builders.hardware import check_accelerator

                check_accelerator(cfg.accelerator, "accelerator")
    return run_hydra(config_name, rest, job)


def _recipes(rest: list[str]) -> int:
    from fabricx.verbs import recipes

    return recipes.run(rest)


def _reproduce(rest: list[str]) -> int:
    if not rest or rest[0].startswith("-") or "=" in rest[0]:
        raise ConfigError("usage: fabricx reproduce NAME [overrides]; fabricx recipes lists NAMEs.")
    from fabricx.launch.compose import validate
    from fabricx.verbs import reproduce

    name, overrides = rest[0], rest[1:]
    cfg = validate("train", [f"recipe={name}", *overrides])

    def train_seeds(arguments: list[str]) -> int:
        return run_hydra("train", arguments, "fabricx.verbs.train:run")

    return reproduce.run(cfg, name, overrides, train_seeds)


def _init(rest: list[str]) -> int:
    if len(rest) != 1 or rest[0].startswith("-") or "=" in rest[0]:
        raise ConfigError("usage: fabricx init DIR (a new or empty directory).")
    from fabricx.verbs import init

    return init.run(rest[0])


def _runs(rest: list[str]) -> int:
    from fabricx.verbs import runs

    return runs.run(rest)


def _report(rest: list[str]) -> int:
    from fabricx.verbs import report

    return report.run(rest)


def _doctor(rest: list[str]) -> int:
    from fabricx.verbs import doctor

    return doctor.run(rest)


def _config(rest: list[str]) -> int:
    """Compose, validate and print the train config; never imports torch or lightning."""
    from omegaconf import OmegaConf

    from fabricx.launch.compose import validate

    args = parse_flags(rest)
    if not runs_a_job(args):  # --help, --cfg, --info: Hydra answers them, nothing runs
        if composes(args):
            validate(args.config_name or "train", args.overrides, config_dir=args.config_dir)
        return run_hydra(args.config_name or "train", rest, "fabricx.verbs.train:run")
    typed = validate(
        args.config_name or "train",
        args.overrides,
        config_dir=args.config_dir,
        multirun=args.multirun,
    )
    print(OmegaConf.to_yaml(OmegaConf.structured(typed)), end="")
    print("fabricx: config is valid", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
