"""The ``stvg synth-cot`` command: chain-of-thought SFT data with ground-truth replacement.

::

    stvg synth-cot --config stvg/experiments/configs/synth_scene.yaml
    stvg synth-cot --config FILE --teacher openai --split train --out runs/synthesis/qwen72b

Writes ``records.jsonl``, ``targets.jsonl`` (what ``train-sft`` reads as ``data.targets``)
and ``manifest.json`` under ``out`` (see :mod:`stvg.synthesis.run`); a rerun resumes. A
config error, a missing dataset or a contract mismatch is one line on stderr and exit
status 2.
"""

from __future__ import annotations

import argparse

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
    parser.add_argument("--config", required=True, metavar="FILE", help="synthesis YAML config")
    parser.add_argument(
        "--teacher", choices=("scene", "openai", "local"), help="override teacher.name"
    )
    parser.add_argument("--dataset", metavar="D", help="override env.dataset")
    parser.add_argument("--split", metavar="S", help="override env.split")
    parser.add_argument("--root", metavar="R", help="override env.root")
    parser.add_argument("--out", metavar="DIR", help="override out")
    parser.add_argument("--limit", type=int, metavar="N", help="override limit")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_set_argument(parser)
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from stvg.cli_errors import check_writable_dir
    from stvg.config import parse_overrides
    from stvg.synthesis.config import load_synthesis_config
    from stvg.synthesis.run import synthesize

    flags = {  # an option given wins over --set; one not given leaves --set's value alone
        "teacher.name": args.teacher,
        "env.dataset": args.dataset,
        "env.split": args.split,
        "env.root": args.root,
        "out": args.out,
        "limit": args.limit,
        "progress": False if args.no_progress else None,
    }
    given = {key: value for key, value in flags.items() if value is not None}
    overrides = {**parse_overrides(args.overrides), **given}
    config = load_synthesis_config(args.config, overrides)
    check_writable_dir(config.out, "--out" if args.out else "out")  # before the teacher
    result = synthesize(config)
    counts, metrics = result.manifest["counts"], result.manifest["teacher_metrics"]
    parsed = metrics["over_parsed"]
    print(
        f"wrote {result.new_records} new records ({counts['written']} in all): kept "
        f"{counts['kept']}, dropped {counts['dropped']}, failed {counts['failed']}"
    )
    if parsed["n"]:
        print(
            f"teacher before replacement (over {parsed['n']} parsed): m_tIoU "
            f"{parsed['m_tIoU']:.4f} m_vIoU {parsed['m_vIoU']:.4f}"
        )
    print(f"output folder: {result.out_dir}")
    return 0


__all__ = ["register"]
