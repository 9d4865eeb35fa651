"""The ``stvg run`` command: data -> SFT -> RL -> evaluation -> report, from one YAML file.

::

    stvg run stvg/experiments/configs/quickstart.yaml     # what `make demo` runs

See :mod:`stvg.experiments.run` for the stages and the config.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from stvg.cli_args import add_config_argument
from stvg.cli_errors import check_writable_dir
from stvg.config import add_set_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``run`` subcommand to the ``stvg`` parser."""
    parser = subparsers.add_parser(
        "run",
        help="run a whole experiment: data, SFT, RL, evaluation and a report",
        description=(
            "Generate the synthetic splits, warm-start the config's policy (native, VLM, or "
            "none for the tracking policy) with SFT, optionally after CoT synthesis, train it "
            "with RL (Ray rollout workers), evaluate before and after RL on the test split "
            "and write report.md with a learning curve, histograms and contact sheets."
        ),
    )
    add_config_argument(parser, "the experiment's YAML config")
    parser.add_argument("--out-dir", metavar="DIR", help="override the config's out_dir")
    parser.add_argument("--name", help="override the config's name (the run folder)")
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress display (by default each long stage shows a bar on a terminal, a "
        "line every 30 s elsewhere)",
    )
    add_set_argument(parser, "rl.learning_rate=1e-5 env.fps=2 seed=3")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from stvg.config import parse_overrides
    from stvg.experiments.run import load_run_config, run_experiment

    overrides = parse_overrides(args.overrides)
    # --out-dir and --name are validated as the config's keys (a name is no path)
    for key, value in (("out_dir", args.out_dir), ("name", args.name)):
        if value is not None:
            overrides[key] = value
    if args.no_progress:
        overrides["progress"] = False
    config = load_run_config(args.config, overrides)  # every stage's config validated
    check_writable_dir(config.out_dir, "--out-dir" if args.out_dir else "out_dir")  # first
    command = (
        "stvg run " + " ".join(shlex.quote(a) for a in sys.argv[2:])
        if sys.argv[1:2] == ["run"]
        else ""
    )
    result = run_experiment(config, command=command or f"stvg run {shlex.quote(args.config)}")
    before = result.summary["before_rl"]["metrics"]
    after = result.summary["after_rl"]["metrics"]
    print(
        f"test m_vIoU {before['m_vIoU']:.4f} -> {after['m_vIoU']:.4f}, "
        f"m_tIoU {before['m_tIoU']:.4f} -> {after['m_tIoU']:.4f}; report: {result.report}"
    )
    return 0


__all__ = ["register"]
