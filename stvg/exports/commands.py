"""``stvg export verl`` and ``stvg export trl``: a split as those engines' training data.

::

    stvg export verl --model M --dataset D --split S [--root R] [--fps F] [--max-side N]
        [--limit N] [--image-format png|jpeg] [--set policy.KEY=V env.KEY=V ...] --out train.parquet
    stvg export trl  --model M --dataset D --split S [...] --out DIR   # datasets.save_to_disk

``--model`` is the local Qwen2.5-VL / Qwen3-VL checkpoint the engine will train: only its
processor and config are read (the prompt's chat template, the frame geometry and the
answer contract), never its weights. ``--set policy.*`` sets fields of the VLM policy
config (``answer_format``, ``coords``, ``template``, ``min_pixels``, ...), ``--set env.*``
the env's (``max_frames``, ``max_side``, ...). Errors (a missing checkpoint, an unknown
dataset, bad data) are one line with exit status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from stvg.cli_args import int_up_to, parse_fps, positive_int
from stvg.cli_errors import CommandError
from stvg.config import add_set_argument
from stvg.limits import MAX_VIDEO_SIDE


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``stvg export {verl,trl}``."""
    parser = subparsers.add_parser(
        "export",
        help="write a split as verl parquet or a TRL dataset (prompts, frames, ground truth)",
        description="Export a dataset split for an external RL engine, with the VLM policy's "
        "prompt, the shown frames and the verifier's ground truth.",
    )
    engines = parser.add_subparsers(dest="engine", metavar="ENGINE", required=True)
    for engine, out_help in (
        ("verl", "parquet file to write (verl's data.train_files)"),
        ("trl", "folder to write the datasets.Dataset to (datasets.load_from_disk)"),
    ):
        sub = engines.add_parser(engine, help=f"export for {engine}")
        sub.add_argument("--model", required=True, metavar="M", help="local Qwen VL checkpoint")
        sub.add_argument("--dataset", required=True, metavar="D", help="dataset name")
        sub.add_argument("--split", required=True, metavar="S", help="split name")
        sub.add_argument("--root", metavar="R", help="dataset folder")
        sub.add_argument(
            "--fps", type=parse_fps, default=1.0, metavar="F", help="frames per second (1)"
        )
        sub.add_argument(
            "--max-side",
            type=int_up_to(MAX_VIDEO_SIDE, "pixels"),
            metavar="N",
            help="shown frame side",
        )
        sub.add_argument("--limit", type=positive_int, metavar="N", help="first N samples")
        if engine == "verl":
            sub.add_argument(
                "--image-format",
                choices=("png", "jpeg"),
                default="png",
                help="how frames are stored: png (lossless, default) or jpeg (q95, ~5x smaller)",
            )
        sub.add_argument("--out", required=True, metavar="PATH", help=out_help)
        add_set_argument(sub, "policy.min_pixels=3136 env.max_frames=16")
        sub.set_defaults(handler=_handle)


def _split_overrides(overrides: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    policy: dict[str, Any] = {}
    env: dict[str, Any] = {}
    for key, value in overrides.items():
        section, _, rest = key.partition(".")
        if section == "policy" and rest:
            policy[rest] = value
        elif section == "env" and rest:
            env[rest] = value
        else:
            raise CommandError(f"--set {key}: export keys are policy.<field> or env.<field>")
    return policy, env


def _handle(args: argparse.Namespace) -> int:
    from stvg.data.datasets import dataset_names

    if args.dataset not in dataset_names():
        raise CommandError(f"unknown --dataset {args.dataset!r}; choose one of {dataset_names()}")
    count = _export(args)
    print(f"wrote {count} samples to {args.out}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from stvg.config import from_dict, parse_overrides
    from stvg.envs.config import EnvConfig
    from stvg.exports.samples import build_export_env, export_samples
    from stvg.policies.vlm.config import VLMPolicyConfig
    from stvg.policies.vlm.prompter import VLMPrompter

    policy_options, env_options = _split_overrides(parse_overrides(args.overrides))
    out = Path(args.out)
    if out.exists() and out.is_dir() and args.engine == "verl":
        raise CommandError(f"--out {out} is a folder; give the parquet file to write")
    config = from_dict(
        VLMPolicyConfig, {**policy_options, "model_path": str(args.model)}, path="policy"
    )
    prompter = VLMPrompter(config)
    env_section: dict[str, Any] = {
        "dataset": args.dataset,
        "split": args.split,
        "root": args.root,
        "fps": args.fps,
        **env_options,
    }
    if args.max_side is not None:
        env_section["max_side"] = args.max_side
    env = build_export_env(prompter, from_dict(EnvConfig, env_section, path="env"))
    if args.engine == "verl":  # the parquet file must not be one of the videos it reads
        from stvg.cli_errors import check_not_an_input

        videos = [(f"the video of sample {s.sample_id!r}", s.video_path) for s in env.samples]
        check_not_an_input({"--out": out}, videos)
    samples = export_samples(prompter, env, limit=args.limit)
    if args.engine == "verl":
        from stvg.exports.verl import verl_row, write_parquet

        rows = (
            verl_row(
                s,
                dataset=args.dataset,
                split=args.split,
                family=prompter.family,
                image_format=args.image_format,
            )
            for s in samples
        )
        return write_parquet(rows, out)
    from stvg.exports.trl import trl_dataset

    dataset = trl_dataset(prompter, samples)
    dataset.save_to_disk(str(out))
    return len(dataset)


__all__ = ["register"]
