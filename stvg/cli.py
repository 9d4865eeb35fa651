"""The ``stvg`` command.

Each subpackage that offers commands has a ``commands`` module with
``register(subparsers)``; it adds its subcommands, each with ``handler`` set by
``set_defaults(handler=...)``. Handlers import heavy libraries (torch, ray) lazily so that
``stvg --help`` stays fast. Errors are reported here, in one place: a config, data or
file-system error, or Ray failing, that escapes a handler is one line on stderr and exit
status 2 (see :mod:`stvg.cli_errors`); a config error without its file gets the command's
``CONFIG`` named; Ctrl-C is one line with how to continue and exit status 130.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

# Modules that register subcommands, in the order they appear in ``stvg --help``.
COMMAND_MODULES: tuple[str, ...] = (
    "stvg.data.commands",
    "stvg.experiments.commands",  # evaluate (predictions-file mode from stvg.verifiers.commands)
    "stvg.training.commands",
    "stvg.training.rl_commands",
    "stvg.experiments.run_commands",
    "stvg.experiments.sweep_commands",
    "stvg.policies.commands",  # models tiny
    "stvg.synthesis.commands",  # synth-cot
    "stvg.render.commands",  # render
    "stvg.exports.commands",  # export verl|trl
)


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose usage error is one line of bounded length whatever value it
    quotes (an invalid choice of 100,000 characters, an unrecognised argument holding a
    line break); its subcommands' parsers are of this class too."""

    def error(self, message: str) -> NoReturn:
        from stvg.limits import one_line

        super().error(one_line(message))


def build_parser() -> argparse.ArgumentParser:
    """The top-level argument parser with every registered subcommand."""
    parser = _Parser(
        prog="stvg",
        description="Spatio-temporal video grounding: data, envs, verifiers, policies, RL.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stvg`` console script; returns the process exit code."""
    # transformers draws a progress bar for every checkpoint it loads (each evaluation, each
    # Ray worker); the stages print their own progress. HF_HUB_DISABLE_PROGRESS_BARS=0 in the
    # environment brings them back.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    parser = build_parser()
    if argv is not None and any("\0" in str(arg) for arg in argv):  # as exec() would refuse
        parser.error("an argument holds a NUL character (\\0), which no command-line argument can")
    args, extras = parser.parse_known_args(argv)
    if extras:  # said by the subcommand's parser (its usage, `stvg <command>: error: ...`)
        _leaf_parser(parser, args).error(f"unrecognized arguments: {' '.join(extras)}")
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0 if args.command is None else 2
    from stvg.cli_args import check_config_given
    from stvg.cli_errors import Interrupted

    check_config_given(args)
    try:
        result = handler(args)
    except (KeyboardInterrupt, Interrupted) as exc:  # Ctrl-C: one line, not a traceback
        from stvg.cli_errors import EXIT_INTERRUPTED, RESUME_HINTS

        hint = RESUME_HINTS.get(args.command)
        what = f"{exc}" if isinstance(exc, Interrupted) else "interrupted"
        print(f"{_prog(args)}: {what}" + (f"; {hint}" if hint else ""), file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a config, data, file or Ray error: one line, not a traceback
        from stvg.cli_errors import EXIT_USAGE, error_line, shortened

        if not shortened(exc):
            raise
        print(f"{_prog(args)}: error: {_with_config(error_line(exc), exc, args)}", file=sys.stderr)
        return EXIT_USAGE
    return int(result or 0)


def _with_config(line: str, exc: Exception, args: argparse.Namespace) -> str:
    """``line`` with `` (in CONFIG)`` when ``exc`` is a config error of the command's config
    file that does not name it yet."""
    from stvg.config import ConfigError, InvalidField

    config = getattr(args, "config", None)
    if not isinstance(exc, (ConfigError, InvalidField)) or not isinstance(config, str):
        return line
    return line if f"(in {config}" in line else f"{line} (in {config})"


def _leaf_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Any:
    """The parser of the (sub)command ``args`` was parsed for (``parser`` itself when
    none)."""
    for key in ("command", "data_command", "models_command", "engine"):
        word = getattr(args, key, None)
        subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not word or not subparsers or word not in subparsers[0].choices:
            break
        parser = subparsers[0].choices[word]
    return parser


def _prog(args: argparse.Namespace) -> str:
    """``stvg <command> [<subcommand>]`` of the parsed ``args``."""
    words = ["stvg", str(args.command)]
    for key in ("data_command", "models_command", "engine"):
        if getattr(args, key, None):
            words.append(str(getattr(args, key)))
    return " ".join(words)


if __name__ == "__main__":
    sys.exit(main())
