"""``argparse`` types shared by every subcommand (``--fps``, counts).

Top level (beside :mod:`stvg.config`) so that each layer's ``commands`` module can use them
without importing a layer above it.
"""

from __future__ import annotations

import argparse
import math
import warnings
from collections.abc import Callable

from stvg.limits import MAX_SAMPLING_FPS, MAX_SEED

#: ``--fps`` words for "every frame of the video" (the config's ``fps: null``).
EVERY_FRAME = ("all", "none", "null")


class _ConfigPath(argparse.Action):
    """Stores the config path of ``CONFIG`` or ``--config CONFIG``; the two at once with
    different paths is a usage error."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        before = getattr(namespace, self.dest, None)
        if before is not None and values is not None and before != values:
            parser.error(
                f"the config is given twice ({before} and {values}): give it once, as CONFIG "
                "or --config CONFIG"
            )
        if values is not None:
            setattr(namespace, self.dest, values)


def add_config_argument(
    parser: argparse.ArgumentParser, help: str, *, required: bool = True
) -> None:
    """The command's YAML config: positional ``CONFIG`` (every command), with ``--config
    CONFIG`` kept as an alias. ``args.config`` holds the path (``None`` when absent and not
    ``required``); :func:`check_config_given` reports a missing required one."""
    parser.add_argument(
        "config",
        nargs="?",
        action=_ConfigPath,
        default=argparse.SUPPRESS,
        metavar="CONFIG",
        help=f"{help} (also accepted as --config CONFIG)",
    )
    parser.add_argument(
        "--config", dest="config", action=_ConfigPath, default=None, help=argparse.SUPPRESS
    )
    parser.set_defaults(config_parser=parser if required else None)


def check_config_given(args: argparse.Namespace) -> None:
    """A usage error (exit status 2) when a command that needs its config got none."""
    parser = getattr(args, "config_parser", None)
    if parser is not None and getattr(args, "config", None) is None:
        parser.error("the following arguments are required: CONFIG")


def parse_fps(text: str) -> float | None:
    """``--fps`` value: a positive finite number, or ``all`` (``none``, ``null``) for every
    frame. The old word ``native`` is read as ``all``, with a deprecation warning (``native``
    names the video's own frames and frame rate everywhere else).

    >>> parse_fps("2"), parse_fps("all")
    (2.0, None)
    """
    word = text.strip().lower()
    if word == "native":
        warnings.warn(
            "--fps native is deprecated: write --fps all (every frame of the video)",
            FutureWarning,
            stacklevel=2,
        )
        return None
    if word in EVERY_FRAME:
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--fps must be a positive number or 'all' (every frame), got {text!r}"
        ) from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"--fps must be a positive number, got {text!r}")
    if value > MAX_SAMPLING_FPS:
        raise argparse.ArgumentTypeError(
            f"--fps must be at most {MAX_SAMPLING_FPS:g} frames per second (or 'native' for "
            f"every frame), got {text!r}"
        )
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1.

    >>> positive_int("3")
    3
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type: an integer >= 0 and at most ``stvg.limits.MAX_SEED`` (a seed).

    >>> non_negative_int("0")
    0
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"expected an integer <= {MAX_SEED} (64 bits), got {value}"
        )
    return value


def int_up_to(maximum: int, what: str) -> Callable[[str], int]:
    """An argparse type: an integer from 1 to ``maximum`` (a bound of :mod:`stvg.limits`;
    ``what`` says what the number counts, for the message).

    >>> int_up_to(16384, "pixels")("224")
    224
    """

    def parse(text: str) -> int:
        value = positive_int(text)
        if value > maximum:
            raise argparse.ArgumentTypeError(f"expected at most {maximum:,} ({what}), got {value}")
        return value

    parse.__name__ = "int_up_to"
    return parse


__all__ = ["int_up_to", "non_negative_int", "parse_fps", "positive_int"]
