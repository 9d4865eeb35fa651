"""The ``stvg sweep`` command: a grid of ``stvg run`` pipelines on Ray Tune.

::

    stvg sweep stvg/experiments/configs/sweeps/fps.yaml
    stvg sweep stvg/experiments/configs/sweeps/algorithms.yaml --set set.rl.iterations=20

Running it again resumes an interrupted sweep. See :mod:`stvg.experiments.sweep`.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from stvg.cli_args import add_config_argument
from stvg.config import add_set_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` subcommand to the ``stvg`` parser."""
    parser = subparsers.add_parser(
        "sweep",
        help="run a grid of experiments on Ray Tune: results.csv and a report with CIs",
        description=(
            "Run every combination of a sweep config's grid as a Ray Tune trial of the "
            "`stvg run` pipeline (shared stages built once), then write results.csv and "
            "report.md (means and 95% confidence intervals across seeds, paired differences "
            "against a baseline cell, plots). Running it again resumes."
        ),
    )
    add_config_argument(parser, "the sweep's YAML config")
    parser.add_argument(
        "--restart",
        action="store_true",
        help="discard an earlier run in the sweep folder and start over",
    )
    add_set_argument(parser, "set.rl.iterations=20 max_concurrent_trials=1 grid.seed=[0,1]")
    parser.set_defaults(handler=_sweep)


def _sweep(args: argparse.Namespace) -> int:
    from stvg.config import parse_overrides
    from stvg.experiments.sweep import load_sweep_config, run_sweep

    command = "stvg sweep " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    config, spec = load_sweep_config(args.config, parse_overrides(args.overrides))
    result = run_sweep(config, spec, command=command, restart=args.restart)
    failed = sum(1 for row in result.rows if row["status"] != "ok")
    return 1 if failed else 0


__all__ = ["register"]
