"""The ``stvg train-sft`` command: supervised fine-tuning of the native or the VLM policy.

::

    stvg train-sft stvg/experiments/configs/sft_native.yaml [--out-dir DIR] [--epochs N]
    stvg train-sft stvg/experiments/configs/sft_vlm_tiny.yaml
    stvg train-sft stvg/experiments/configs/sft_vlm_tiny.yaml --write-targets T.jsonl

A config with a ``policy: {name: vlm, ...}`` section fine-tunes the VLM policy
(:mod:`stvg.training.sft.vlm`); any other trains the native policy
(:mod:`stvg.training.sft.native`); the choice is :mod:`stvg.training.sft.kinds`'s.
``--write-targets`` (VLM configs) writes the ground-truth targets JSONL of the config's train
split and exits. A config error (unknown key, wrong type, impossible value) is reported with
its key path and exit status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stvg.cli_args import add_config_argument
from stvg.cli_errors import CommandError
from stvg.config import add_set_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train-sft`` subcommand to the ``stvg`` parser."""
    parser = subparsers.add_parser(
        "train-sft",
        help="supervised fine-tuning of the native or the VLM policy from a YAML config",
        description=(
            "Train a policy on ground-truth answers or target texts (SFT). The native "
            "policy's run folder holds the resolved config, metrics.jsonl, policy.pt (the RL "
            "trainer's starting point) and eval.json; a VLM run (a config with a 'policy: "
            "{name: vlm}' section) writes hf/ (a Hugging Face model folder) instead of "
            "policy.pt."
        ),
    )
    add_config_argument(parser, "the SFT YAML config")
    parser.add_argument("--out-dir", metavar="DIR", help="override the config's out_dir")
    parser.add_argument("--epochs", type=int, metavar="N", help="override the config's epochs")
    parser.add_argument(
        "--write-targets",
        metavar="JSONL",
        help="VLM configs: write the ground-truth targets of the train split to JSONL and exit",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_set_argument(parser, "epochs=5 lr=0.001 seed=3")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from stvg.cli_errors import check_not_an_input, check_writable_dir
    from stvg.config import parse_overrides
    from stvg.training.sft import load_sft_config, train_sft

    config = load_sft_config(args.config, parse_overrides(args.overrides))
    if args.out_dir is not None:
        check_writable_dir(args.out_dir, "--out-dir")  # before any frame is decoded
        config = replace(config, out_dir=args.out_dir)
    if args.epochs is not None:
        config = replace(config, epochs=args.epochs)
    # the run folder's config.yaml (written first) must not be the config being read
    written = {"--write-targets": args.write_targets}
    written[f"{config.out_dir}/config.yaml"] = Path(config.out_dir, "config.yaml")
    check_not_an_input(written, {"CONFIG": args.config})
    if args.write_targets is not None:
        return _write_targets(config, args.write_targets)
    result = train_sft(config, progress=not args.no_progress)
    if result.eval_metrics:
        m = result.eval_metrics
        print(
            f"final eval: m_tIoU {m['m_tIoU']:.4f} m_vIoU {m['m_vIoU']:.4f} "
            f"vIoU@0.3 {m['vIoU@0.3']:.4f} vIoU@0.5 {m['vIoU@0.5']:.4f}"
        )
    print(f"run folder: {result.run_dir} ({result.seconds:.1f}s)")
    return 0


def _write_targets(config: object, path: str) -> int:
    from stvg.training.sft.vlm import VLMSFTConfig, write_config_targets

    if not isinstance(config, VLMSFTConfig):
        raise CommandError(
            "--write-targets needs a VLM config (policy: {name: vlm}); the native policy "
            "trains on ground-truth actions, not texts"
        )
    count = write_config_targets(config, path)
    print(f"wrote {count} ground-truth targets of split {config.data.train_split} to {path}")
    return 0


__all__ = ["register"]
