"""The ``stvg models`` commands: model checkpoints for the policies.

::

    stvg models tiny --family qwen2.5-vl|qwen3-vl --out DIR [--seed N]

``models tiny`` writes a tiny, randomly initialised Qwen VL checkpoint (config, weights,
tokenizer, chat template and the family's transformers processor) that
``AutoProcessor``/``AutoModelForImageTextToText`` and the ``vlm`` policy load from ``DIR``;
see :mod:`stvg.policies.vlm.tiny`. Bad input is reported in one line with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stvg.cli_args import non_negative_int

#: Families ``stvg models tiny`` builds (kept here so that ``--help`` needs no torch).
FAMILIES: tuple[str, ...] = ("qwen2.5-vl", "qwen3-vl")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``models`` command group (``models tiny``) to the ``stvg`` parser."""
    parser = subparsers.add_parser(
        "models",
        help="model checkpoints for the policies (tiny local VLMs)",
        description="Model checkpoints for the policies.",
    )
    actions = parser.add_subparsers(dest="models_command", metavar="ACTION")
    parser.set_defaults(handler=lambda args: _missing_action(parser))
    tiny = actions.add_parser(
        "tiny",
        help="write a tiny random Qwen2.5-VL / Qwen3-VL checkpoint",
        description=(
            "Write a tiny, randomly initialised Qwen VL checkpoint (about 0.1M parameters) "
            "with its tokenizer, chat template and the family's real transformers processor. "
            "It loads with AutoProcessor / AutoModelForImageTextToText and as "
            "`policy: vlm` with `model_path: DIR`, for smoke tests and the VLM quickstart."
        ),
    )
    tiny.add_argument("--family", required=True, help=f"one of {', '.join(FAMILIES)}")
    tiny.add_argument("--out", required=True, metavar="DIR", help="directory to write")
    tiny.add_argument(
        "--seed", type=non_negative_int, default=0, metavar="N", help="weight seed (>= 0; 0)"
    )
    tiny.set_defaults(handler=_handle_tiny)


def _missing_action(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _handle_tiny(args: argparse.Namespace) -> int:
    if args.family not in FAMILIES:
        print(
            f"stvg models tiny: error: unknown --family {args.family!r}; choose one of "
            f"{', '.join(FAMILIES)}",
            file=sys.stderr,
        )
        return 2
    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        print(
            f"stvg models tiny: error: --out {str(out)!r} exists and is not a directory; "
            "pass a new or existing directory",
            file=sys.stderr,
        )
        return 2
    from stvg.policies.vlm.tiny import build_tiny_checkpoint

    try:
        path = build_tiny_checkpoint(args.family, out, seed=args.seed)
    except OSError as exc:
        print(f"stvg models tiny: error: cannot write {str(out)!r}: {exc}", file=sys.stderr)
        return 2
    print(f"wrote a tiny {args.family} checkpoint to {path}")
    return 0


__all__ = ["FAMILIES", "register"]
