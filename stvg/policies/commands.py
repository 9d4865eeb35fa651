"""The ``stvg models`` commands: model checkpoints for the policies.

::

    stvg models tiny --family qwen2.5-vl|qwen3-vl|internvl|... --out DIR [--seed N]
    stvg models small --family qwen2.5-vl|qwen3-vl|internvl|... --out DIR [--seed N] [--text-hidden H]
        [--text-layers L] [--vision-hidden H] [--vision-depth D] [--temporal-patch-size 1|2]

``models tiny`` writes a tiny (about 0.1M parameters) and ``models small`` a small (about
3M parameters by default) randomly initialised VLM checkpoint of any registered family
(:mod:`stvg.policies.vlm.families`; config, weights,
tokenizer, chat template and the family's transformers processor) that
``AutoProcessor``/``AutoModelForImageTextToText`` and the ``vlm`` policy load from ``DIR``;
see :mod:`stvg.policies.vlm.tiny`. Bad input is reported in one line with exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stvg.cli_args import non_negative_int, positive_int
from stvg.policies.vlm.families import family_names

#: Families ``stvg models tiny`` builds: the registered family adapters (importing them
#: needs no torch, so ``--help`` stays fast).
FAMILIES: tuple[str, ...] = tuple(family_names())


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``models`` command group (``models tiny``, ``models small``) to the ``stvg``
    parser."""
    parser = subparsers.add_parser(
        "models",
        help="model checkpoints for the policies (tiny and small local VLMs)",
        description="Model checkpoints for the policies.",
    )
    actions = parser.add_subparsers(dest="models_command", metavar="ACTION")
    parser.set_defaults(handler=lambda args: _missing_action(parser))
    tiny = actions.add_parser(
        "tiny",
        help=f"write a tiny random VLM checkpoint ({', '.join(FAMILIES)})",
        description=(
            "Write a tiny, randomly initialised VLM checkpoint (about 0.1M parameters) of "
            f"one of the families {', '.join(FAMILIES)} "
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
    small = actions.add_parser(
        "small",
        help=f"write a small random VLM checkpoint ({', '.join(FAMILIES)}; about 3M parameters)",
        description=(
            "Write a small, randomly initialised VLM checkpoint of the real transformers "
            "classes (the language model and vision tower sizes below; about 3M parameters "
            "by default) with its tokenizer, chat template and the family's processor: "
            "large enough to learn the synthetic benchmark on a CPU (see the README's VLM "
            "section for the recipe and what it reaches)."
        ),
    )
    small.add_argument("--family", required=True, help=f"one of {', '.join(FAMILIES)}")
    small.add_argument("--out", required=True, metavar="DIR", help="directory to write")
    small.add_argument(
        "--seed", type=non_negative_int, default=0, metavar="N", help="weight seed (>= 0; 0)"
    )
    for flag, default, what in (
        ("--text-hidden", 128, "hidden size of the language model (heads of 32)"),
        ("--text-layers", 4, "decoder layers of the language model"),
        ("--vision-hidden", 128, "hidden size of the vision tower (heads of 32)"),
        ("--vision-depth", 4, "blocks of the vision tower"),
    ):
        small.add_argument(
            flag, type=positive_int, default=default, metavar="N", help=f"{what} ({default})"
        )
    small.add_argument(
        "--temporal-patch-size",
        type=int,
        choices=(1, 2),
        default=2,
        metavar="T",
        help=(
            "frames per temporal patch: 2 as in the released models (each visual token covers "
            "two frames), 1 gives every frame its own tokens and timestamp (2)"
        ),
    )
    small.set_defaults(handler=_handle_small)


def _missing_action(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _handle_tiny(args: argparse.Namespace) -> int:
    from stvg.policies.vlm.tiny import TINY

    return _build("tiny", args, TINY)


def _handle_small(args: argparse.Namespace) -> int:
    from stvg.policies.vlm.tiny import SMALL, ModelSize

    def size_of(hidden: int, flag: str) -> int:
        if hidden % 32:
            raise ValueError(f"{flag} must be a multiple of 32 (heads of 32), got {hidden}")
        return hidden // 32

    try:
        size = ModelSize(
            text_hidden=args.text_hidden,
            text_layers=args.text_layers,
            text_heads=size_of(args.text_hidden, "--text-hidden"),
            text_intermediate=4 * args.text_hidden,
            vision_hidden=args.vision_hidden,
            vision_depth=args.vision_depth,
            vision_heads=size_of(args.vision_hidden, "--vision-hidden"),
            vision_intermediate=4 * args.vision_hidden,
            vision_positions=SMALL.vision_positions,
            deepstack=tuple(i for i in SMALL.deepstack if i < args.vision_depth) or (0,),
            vision_position_init=SMALL.vision_position_init,
            temporal_patch_size=args.temporal_patch_size,
        )
    except ValueError as exc:
        print(f"stvg models small: error: {exc}", file=sys.stderr)
        return 2
    return _build("small", args, size)


def _build(kind: str, args: argparse.Namespace, size: object) -> int:
    if args.family not in FAMILIES:
        print(
            f"stvg models {kind}: error: unknown --family {args.family!r}; choose one of "
            f"{', '.join(FAMILIES)}",
            file=sys.stderr,
        )
        return 2
    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        print(
            f"stvg models {kind}: error: --out {str(out)!r} exists and is not a directory; "
            "pass a new or existing directory",
            file=sys.stderr,
        )
        return 2
    from stvg.policies.vlm.tiny import build_checkpoint, count_parameters

    try:
        path = build_checkpoint(args.family, out, size, seed=args.seed)  # type: ignore[arg-type]
    except OSError as exc:
        print(f"stvg models {kind}: error: cannot write {str(out)!r}: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote a {kind} {args.family} checkpoint ({count_parameters(path):,} parameters) to {path}"
    )
    return 0


__all__ = ["FAMILIES", "register"]
