"""The ``stvg train-sft`` command: supervised fine-tuning of the native policy.

::

    stvg train-sft --config stvg/experiments/configs/sft_native.yaml [--out-dir DIR] [--epochs N]

A config error (unknown key, wrong type, impossible value) is reported with its key path
and exit status 2.
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train-sft`` subcommand to the ``stvg`` parser."""
    parser = subparsers.add_parser(
        "train-sft",
        help="supervised fine-tuning of the native policy from a YAML config",
        description=(
            "Train the native policy on ground-truth answers (SFT). Writes a run folder with "
            "the resolved config, metrics.jsonl, policy.pt (the RL trainer's starting "
            "point) and eval.json."
        ),
    )
    parser.add_argument("--config", required=True, metavar="CONFIG", help="SFT YAML config")
    parser.add_argument("--out-dir", metavar="DIR", help="override the config's out_dir")
    parser.add_argument("--epochs", type=int, metavar="N", help="override the config's epochs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from stvg.config import ConfigError, InvalidField
    from stvg.data import DataError
    from stvg.training.sft import load_sft_config, train_sft

    try:
        config = load_sft_config(args.config)
        if args.out_dir is not None:
            config = replace(config, out_dir=args.out_dir)
        if args.epochs is not None:
            config = replace(config, epochs=args.epochs)
    except (ConfigError, InvalidField) as exc:
        where = f"config key {exc.field}: " if isinstance(exc, InvalidField) else ""
        print(f"stvg train-sft: error: {where}{exc}", file=sys.stderr)
        return 2
    try:
        result = train_sft(config, progress=not args.no_progress)
    except DataError as exc:
        print(f"stvg train-sft: error: {exc}", file=sys.stderr)
        return 2
    if result.eval_metrics:
        m = result.eval_metrics
        print(
            f"final eval: m_tIoU {m['m_tIoU']:.4f} m_vIoU {m['m_vIoU']:.4f} "
            f"vIoU@0.3 {m['vIoU@0.3']:.4f} vIoU@0.5 {m['vIoU@0.5']:.4f}"
        )
    print(f"run folder: {result.run_dir} ({result.seconds:.1f}s)")
    return 0


__all__ = ["register"]
