"""The ``stvg synth-cot`` command: chain-of-thought SFT data with ground-truth replacement.

::

    stvg synth-cot stvg/experiments/configs/synth_scene.yaml
    stvg synth-cot CONFIG --teacher openai --split train --out runs/synthesis/qwen72b

Writes ``records.jsonl``, ``targets.jsonl`` (what ``train-sft`` reads as ``data.targets``)
and ``manifest.json`` under ``out`` (see :mod:`stvg.synthesis.run`); a rerun resumes and
asks the teacher again for the samples that failed (``--no-retry-failed`` keeps them). The
counts, the first failure's reason and the teacher's metrics are printed. A config error, a
missing dataset, a contract mismatch or a run that kept no target is one line on stderr
and exit status 2.
"""

from __future__ import annotations

import argparse

from stvg.cli_args import add_config_argument
from stvg.config import add_set_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``synth-cot`` subcommand to the ``stvg`` parser."""
    parser = subparsers.add_parser(
        "synth-cot",
        help="synthesise chain-of-thought SFT targets with a teacher (GT replacement)",
        description=(
            "A teacher (scene, openai, local) writes reasoning and an answer for each "
            "sample's prompt; every time and box it wrote is replaced by the ground truth in "
            "the answer contract's coordinates. Writes records.jsonl, targets.jsonl and "
            "manifest.json under the output folder; a rerun skips ids already written."
        ),
    )
    add_config_argument(parser, "the synthesis YAML config")
    parser.add_argument(
        "--teacher", choices=("scene", "openai", "local"), help="override teacher.name"
    )
    parser.add_argument("--dataset", metavar="D", help="override env.dataset")
    parser.add_argument("--split", metavar="S", help="override env.split")
    parser.add_argument("--root", metavar="R", help="override env.root")
    parser.add_argument("--out", metavar="DIR", help="override out")
    parser.add_argument("--limit", type=int, metavar="N", help="override limit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--retry-failed",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="ask the teacher again for samples that failed in an earlier run (default: on; "
        "sets retry_failed)",
    )
    add_set_argument(parser, "teacher.batch_size=4 limit=10 keep=consistent")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from stvg.cli_errors import check_writable_dir
    from stvg.config import parse_overrides
    from stvg.synthesis.config import load_synthesis_config
    from stvg.synthesis.run import synthesize

    flags = {
        "teacher.name": args.teacher,
        "env.dataset": args.dataset,
        "env.split": args.split,
        "env.root": args.root,
        "out": args.out,
        "limit": args.limit,
        "progress": False if args.no_progress else None,
        "retry_failed": args.retry_failed,
    }
    # a flag given wins over --set; a flag not given leaves --set's value alone
    overrides = {
        **parse_overrides(args.overrides),
        **{k: v for k, v in flags.items() if v is not None},
    }
    config = load_synthesis_config(args.config, overrides)
    check_writable_dir(config.out, "--out" if args.out else "out")  # before the teacher
    result = synthesize(config)
    for line in result.summary():
        print(line)
    print(f"output folder: {result.out_dir}")
    result.check_kept()  # nothing kept: one line on stderr, exit status 2
    return 0


__all__ = ["register"]
