"""The ``stvg evaluate`` command, both modes.

Predictions-file mode (implemented in :mod:`stvg.verifiers.commands`)::

    stvg evaluate --annotations A --format F --predictions P [--protocol official|span|tubedetr|tubedetr-grid|cgstvg|all]
        [--pred-format stvg|tubedetr|cgstvg] [--fill none|linear|hold|track] [--video-dir V] [--on-invalid error|zero] [--out M.json]

Policy mode (:mod:`stvg.evaluation`)::

    stvg evaluate --policy CONFIG --dataset D --split S [--root R] [--fps F] [--out DIR]
        [--on-bad-video error|skip] [--control shuffled-video|blank-video]

runs the policy of ``CONFIG`` over the split through ``GroundingEnv`` and prints the metrics
table and the cost per sample; ``--fps all`` samples every frame. A config or
data error is reported with exit status 2. A video that cannot be decoded stops the
evaluation (``--on-bad-video error``, the default) after writing the samples scored so
far to ``--out``, or is left out and listed (``skip``). ``--control`` scores the policy
again under a visual-reliance control (:mod:`stvg.envs.controls`) and prints the paired drop
in m_vIoU and m_tIoU with a 95% confidence interval (``controls.json`` in ``--out``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from stvg.cli_args import non_negative_int, parse_fps, positive_int
from stvg.config import add_set_argument
from stvg.verifiers.commands import add_predictions_arguments, run_predictions_mode

#: The files that policy mode writes in ``--out`` (``stvg.evaluation``).
POLICY_MODE_FILES: tuple[str, ...] = (
    "predictions.json",
    "metrics.json",
    "per_sample.jsonl",
    "config.yaml",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` subcommand (predictions-file and policy modes)."""
    parser = subparsers.add_parser(
        "evaluate",
        help="score STVG predictions, or run a policy on a split: m_tIoU, m_vIoU, cost",
        description=(
            "Score spatio-temporal grounding predictions with the official HC-STVG protocol "
            "(or TubeDETR's or CG-STVG's arithmetic), or run a policy over a dataset split through "
            "GroundingEnv and report its metrics and cost."
        ),
    )
    add_predictions_arguments(parser)
    online = parser.add_argument_group(
        "policy mode", "run a policy over a dataset split and score its answers"
    )
    online.add_argument(
        "--policy", metavar="CONFIG", help="policy evaluation YAML (policy: {name, config}, env)"
    )
    online.add_argument(
        "--dataset", metavar="D", help="dataset name (hcstvg, vidstg, synthetic...)"
    )
    online.add_argument("--split", metavar="S", help="split name (test, val, train...)")
    online.add_argument("--root", metavar="R", help="dataset folder")
    online.add_argument(
        "--fps",
        type=parse_fps,
        default=...,
        metavar="F",
        help="frames sampled per second ('all' = every frame; default: the config's)",
    )
    online.add_argument(
        "--limit", type=positive_int, metavar="N", help="evaluate the first N samples (N >= 1)"
    )
    online.add_argument(
        "--on-bad-video",
        choices=("error", "skip"),
        help="a video that cannot be decoded: stop with partial results (error, the "
        "config's default) or leave the sample out and list it (skip)",
    )
    online.add_argument(
        "--control",
        action="append",
        choices=("shuffled-video", "blank-video"),
        default=[],
        help="also score the policy under a visual-reliance control (repeatable): each "
        "query is shown another sample's frames (shuffled-video) or black frames "
        "(blank-video); prints the drop in m_vIoU and m_tIoU with a 95%% CI",
    )
    online.add_argument(
        "--control-seed",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="seed of the shuffled-video donor permutation (default 0)",
    )
    online.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_set_argument(online, "env.fps=2 limit=10 batch_size=4")
    parser.set_defaults(handler=_handler(parser))


def _handler(parser: argparse.ArgumentParser):
    def handle(args: argparse.Namespace) -> int:
        if args.policy is not None:
            if args.predictions is not None:
                parser.error("give either --policy (policy mode) or --predictions, not both")
            missing = [
                f for f, v in (("--dataset", args.dataset), ("--split", args.split)) if v is None
            ]
            if missing:
                parser.error(f"--policy needs {' and '.join(missing)}")
            if args.protocol == "all":
                parser.error(
                    "--protocol all scores a predictions file: run policy mode with --out DIR, "
                    "then stvg evaluate --predictions DIR/predictions.json --protocol all"
                )
            from stvg.data.datasets import dataset_names

            if args.dataset not in dataset_names():
                parser.error(f"unknown --dataset {args.dataset!r}; choose one of {dataset_names()}")
            return _run_policy(args)
        if args.predictions is not None:
            return run_predictions_mode(parser, args)
        parser.error(
            "nothing to evaluate: give --predictions P --annotations A --format F, "
            "or --policy CONFIG --dataset D --split S"
        )
        return 2  # parser.error exits; kept for type checkers

    return handle


def _run_policy(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from stvg.cli_errors import check_not_an_input, check_writable_dir
    from stvg.config import parse_overrides
    from stvg.evaluation import (
        compare_control,
        evaluate_policy,
        format_control,
        load_policy_eval_config,
        with_cli_overrides,
    )
    from stvg.evaluation.answers import answers_line
    from stvg.training.threads import torch_threads
    from stvg.verifiers.evaluation import format_table

    if args.out is not None:
        check_writable_dir(args.out)  # before the policy is built or a video decoded
        written = {f"--out {args.out}/{name}": Path(args.out, name) for name in POLICY_MODE_FILES}
        check_not_an_input(written, {"--policy": args.policy})
    config = load_policy_eval_config(args.policy, parse_overrides(args.overrides))
    overrides: dict[str, Any] = {"dataset": args.dataset, "split": args.split, "fps": args.fps}
    if args.root is not None:
        overrides["root"] = args.root
    config = with_cli_overrides(config, **overrides)
    if args.limit is not None:
        config = replace(config, limit=args.limit)
    if args.no_progress:
        config = replace(config, progress=False)
    if args.on_bad_video is not None:
        config = replace(config, on_bad_video=args.on_bad_video)
    with torch_threads():  # chosen from the free cores (stvg.training.threads)
        result = evaluate_policy(config, out_dir=args.out, protocol=args.protocol)
    print(format_table(result.report))
    answers = result.summary()["answers"]
    if result.action_format == "text" or answers["parsed"] < answers["n"]:
        print(answers_line(answers))
        if answers["first_failure"] is not None:
            first = answers["first_failure"]
            print(
                f"first failure: sample {first['sample_id']}: {first['parse_error']}; "
                f"answer: {first['answer_text'] or '(no text)'}"
            )
    cost = ", ".join(f"{k} {v:.4g}" for k, v in sorted(result.cost.items()))
    print(f"cost per sample: {cost}; {result.seconds:.1f}s in all")
    if result.bad_videos:
        print(f"left out {len(result.bad_videos)} sample(s) whose video is unreadable:")
        for bad in result.bad_videos:
            print(f"  {bad['sample_id']}: {bad['reason']}")
    comparisons = []
    for control in dict.fromkeys(args.control):
        control_out = None if args.out is None else Path(args.out) / f"control-{control}"
        with torch_threads():
            controlled = evaluate_policy(
                replace(config, control=control, control_seed=args.control_seed),
                out_dir=control_out,
                protocol=args.protocol,
            )
        comparisons.append(compare_control(result, controlled))
        print(format_control(comparisons[-1]))
    if args.out:
        if comparisons:
            (Path(args.out) / "controls.json").write_text(
                json.dumps(comparisons, indent=2) + "\n", encoding="utf-8"
            )
        print(f"predictions and metrics written to {args.out}")
    return 0


__all__ = ["parse_fps", "positive_int", "register"]
