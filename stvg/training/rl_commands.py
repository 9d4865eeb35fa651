"""The ``stvg train`` command: one RL run from a YAML config.

::

    stvg train CONFIG                      # a new run under the config's out_dir
    stvg train CONFIG --resume RUN_DIR     # continue RUN_DIR with CONFIG (e.g. more iterations)
    stvg train --resume RUN_DIR            # continue RUN_DIR with its saved config

A config error (unknown key, wrong type, settings that do not fit together, an unknown
env, policy or dataset, a missing dataset folder) is reported with its key path and exit
status 2, before the run directory is made. Ray failing under the run (a dead node or
actor) is one line naming the run directory to ``--resume``, exit status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from stvg.cli_args import add_config_argument
from stvg.config import add_set_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand to the ``stvg`` parser."""
    parser = subparsers.add_parser(
        "train",
        help="train a policy with RL (grpo, rloo, ppo, rllib_ppo) from a YAML config",
        description=(
            "Train a policy with GRPO, RLOO, PPO or RLlib's PPO. Writes a run directory with "
            "the resolved config, metrics.jsonl, TensorBoard scalars and checkpoints."
        ),
    )
    add_config_argument(parser, "the run's YAML config", required=False)
    parser.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue this run from its last checkpoint (with CONFIG, or its saved config)",
    )
    parser.add_argument(
        "--iterations", type=int, metavar="N", help="override the config's iterations"
    )
    parser.add_argument("--out-dir", metavar="DIR", help="override the config's out_dir")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_set_argument(parser, "learning_rate=1e-5 iterations=20 env.fps=2 seed=3")
    parser.set_defaults(handler=_handler(parser))


def load_train_config(
    path: str | None, overrides: dict[str, Any], saved_run: str | None = None
) -> Any:
    """The :class:`~stvg.training.config.TrainConfig` of ``path`` (or of the run
    ``saved_run`` when ``path`` is ``None``) with dotted ``overrides`` applied."""
    from stvg.config import ConfigError, apply_overrides, from_dict, load_yaml
    from stvg.training.run_dir import RunDir

    if path is not None:
        data, source = load_yaml(path), path
        sections = sorted({"data", "rl", "sft", "synthesis"} & set(data))
        if "rl" in sections:  # a pipeline config: say which command reads it
            raise ConfigError(
                f"{path} is a `stvg run` config (its sections {', '.join(sections)} are the "
                f"pipeline's): run it with `stvg run {path}`, or give `stvg train` an RL "
                "config such as stvg/experiments/configs/grpo_native.yaml"
            )
    elif saved_run is not None:
        data, source = RunDir(saved_run, tensorboard=False).read_config(), saved_run
    else:
        return None
    if not overrides:
        if path is None:
            return None  # resume with the saved config as it is
        return from_dict(_config_class(), data, source=source)
    return from_dict(_config_class(), apply_overrides(data, overrides), source=source)


def _config_class() -> Any:
    from stvg.training.config import TrainConfig

    return TrainConfig


def _handler(parser: argparse.ArgumentParser):
    def handle(args: argparse.Namespace) -> int:
        if args.config is None and args.resume is None:
            parser.error("give a CONFIG, or --resume RUN_DIR")
        return _train(args)

    return handle


def _train(args: argparse.Namespace) -> int:
    from stvg.cli_errors import (
        CommandError,
        check_writable_dir,
        is_ray_failure,
        ray_failure_message,
    )
    from stvg.config import parse_overrides
    from stvg.training.preflight import check_train_names
    from stvg.training.run_dir import RunDir
    from stvg.training.trainers import trainer_class

    overrides: dict[str, Any] = parse_overrides(args.overrides)
    if args.iterations is not None:
        overrides["iterations"] = args.iterations
    if args.out_dir is not None:
        # checked first, created again only when the run starts (a bad config leaves nothing)
        check_writable_dir(args.out_dir, "--out-dir", keep=False)
        overrides["out_dir"] = args.out_dir
    if args.resume is not None and not Path(args.resume).is_dir():
        raise CommandError(
            f"--resume {args.resume}: no such run folder; give the run directory that stvg "
            "train printed (out_dir/<run name>)"
        )
    if args.no_progress:
        overrides["progress_bar"] = False
    config = load_train_config(args.config, overrides, args.resume)
    if config is not None:  # unknown names, a missing root: before any run folder exists
        check_train_names(config, args.config or args.resume)
    if args.resume is not None:
        algorithm = (config.algorithm if config is not None else None) or RunDir(
            args.resume, tensorboard=False
        ).read_config().get("algorithm", "grpo")
        trainer = trainer_class(algorithm).resume(args.resume, config)
    else:
        trainer = trainer_class(config.algorithm).create(config)
    print(f"run directory: {trainer.run_dir.path}", flush=True)
    ray_failed = False
    try:
        result = trainer.train()
    except Exception as exc:  # Ray dying under the run: say where to resume from
        if not is_ray_failure(exc):
            raise
        ray_failed = True
        run = trainer.run_dir.path
        raise CommandError(ray_failure_message(exc, run, f"stvg train --resume {run}")) from exc
    finally:
        try:
            trainer.close()
        except Exception as exc:  # closing dead Ray workers may fail too
            if not (ray_failed and is_ray_failure(exc)):
                raise
    shown = (
        "charts/episodic_return",
        "rewards/sampled/t_iou",
        "rewards/sampled/v_iou",
        "charts/SPS",
    )
    summary = ", ".join(f"{k} {result.metrics[k]:.4f}" for k in shown if k in result.metrics)
    print(f"done: {result.iterations} iterations; {summary}")
    print(f"last checkpoint: {result.checkpoint}")
    return 0


__all__ = ["load_train_config", "register"]
