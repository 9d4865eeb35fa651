"""One progress display per long stage: a bar on a terminal, periodic lines in a log.

Every stage that can take more than a few seconds (frame decoding, SFT, RL, evaluation,
CoT synthesis) reports through :func:`progress`:

* on a terminal (stderr is a TTY): one tqdm bar, with the stage's counter (epochs, steps,
  iterations, samples), its latest figures (loss, validation metric, reward) and an ETA;
* not on a terminal (CI logs, ``> log.txt``): a line at most every :data:`LINE_EVERY_S`
  seconds and one at the end, ``SFT: 12/40 epochs (30%), 1m20s, ETA 3m07s; val m_vIoU
  0.412``, never the bar's carriage returns;
* ``enabled=False`` (``--no-progress``, ``progress: false``): nothing.

``STVG_PROGRESS=bar|lines|off`` in the environment forces one of the three.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Mapping
from typing import IO, Any, Literal

#: Seconds between two lines when stderr is not a terminal.
LINE_EVERY_S = 30.0
#: The environment variable that forces a mode.
MODE_ENV = "STVG_PROGRESS"
Mode = Literal["bar", "lines", "off"]


def _clock(seconds: float) -> str:
    """``75`` -> ``1m15s``; ``4000`` -> ``1h06m40s``.

    >>> _clock(9.4), _clock(75), _clock(4000)
    ('9s', '1m15s', '1h06m40s')
    """
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _figures(metrics: Mapping[str, Any]) -> str:
    """``{"loss": 0.51234, "val m_vIoU": 0.4}`` -> ``loss 0.512, val m_vIoU 0.400``."""
    parts = []
    for key, value in metrics.items():
        if isinstance(value, float):
            value = "nan" if math.isnan(value) else f"{value:.3f}"
        parts.append(f"{key} {value}")
    return ", ".join(parts)


def _terminal_width(stream: IO[str]) -> int | None:
    """``None`` when the terminal reports its size (the bar follows it), else a fixed
    width: ``COLUMNS`` or 100 (tqdm draws nothing on a pseudo-terminal of size 0, as some
    CI runners and ``script`` give)."""
    try:
        if os.get_terminal_size(stream.fileno()).columns > 0:
            return None
    except (AttributeError, OSError, ValueError):
        pass
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else 100


def choose_mode(enabled: bool, stream: IO[str] | None = None) -> Mode:
    """``off`` when not ``enabled``, else ``STVG_PROGRESS`` when set, else ``bar`` on a
    terminal and ``lines`` elsewhere."""
    if not enabled:
        return "off"
    forced = os.environ.get(MODE_ENV, "").strip().lower()
    if forced in ("bar", "lines", "off"):
        return forced  # type: ignore[return-value]
    stream = sys.stderr if stream is None else stream
    try:
        return "bar" if stream.isatty() else "lines"
    except (AttributeError, ValueError):  # a closed or odd stream
        return "lines"


class Progress:
    """The display of one stage (see the module docstring); a context manager.

    Args:
        total: the stage's length in ``unit`` (epochs, steps, ...).
        desc: the stage's name (``SFT``, ``RL``, ``evaluate native``).
        mode: ``bar``, ``lines`` or ``off`` (:func:`choose_mode`).
        unit: what is counted.
        initial: already done (a resumed run).
        stream: where it writes (stderr by default).
        every_s: seconds between lines in ``lines`` mode.
    """

    def __init__(
        self,
        total: int,
        desc: str,
        *,
        mode: Mode,
        unit: str = "it",
        initial: int = 0,
        stream: IO[str] | None = None,
        every_s: float = LINE_EVERY_S,
    ) -> None:
        self.total, self.desc, self.mode, self.unit = int(total), desc, mode, unit
        self.done = int(initial)
        self.stream = sys.stderr if stream is None else stream
        self.every_s = every_s
        self.metrics: dict[str, Any] = {}
        self._start = time.monotonic()
        self._last_line = self._start
        self._initial = int(initial)
        self._closed = False
        self._bar = None
        if mode == "bar":
            from tqdm.auto import tqdm

            width = _terminal_width(self.stream)
            self._bar = tqdm(
                total=self.total,
                initial=self.done,
                desc=desc,
                unit=unit,
                file=self.stream,
                dynamic_ncols=width is None,  # follows the terminal's resizes
                ncols=width,
                nrows=None if width is None else 24,  # tqdm draws nothing for 0 rows
                leave=True,
            )

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int = 1, **metrics: Any) -> None:
        """``n`` more done; ``metrics`` (the latest figures) shown beside the counter."""
        self.done += n
        self.metrics.update(metrics)
        if self._bar is not None:
            if metrics:
                self._bar.set_postfix_str(_figures(self.metrics), refresh=False)
            self._bar.update(n)
        elif self.mode == "lines" and time.monotonic() - self._last_line >= self.every_s:
            self._line()

    def write(self, text: str) -> None:
        """A line of its own (an early stop, a kept checkpoint) that does not break the bar;
        nothing when the display is off."""
        if self.mode == "off":
            return
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def line(self) -> str:
        """The ``lines`` mode's line: counter, share, elapsed, ETA and the figures."""
        elapsed = time.monotonic() - self._start
        share = self.done / self.total if self.total else 1.0
        text = f"{self.desc}: {self.done}/{self.total} {self.unit} ({100 * share:.0f}%), "
        text += _clock(elapsed)
        rate_done = self.done - self._initial
        if 0 < rate_done and self.done < self.total:
            text += f", ETA {_clock(elapsed / rate_done * (self.total - self.done))}"
        if self.metrics:
            text += f"; {_figures(self.metrics)}"
        return text

    def _line(self) -> None:
        self._last_line = time.monotonic()
        print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        """End the display (``lines``: a last line with the final count)."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        elif self.mode == "lines":
            self._line()


def progress(
    total: int,
    desc: str,
    *,
    enabled: bool = True,
    unit: str = "it",
    initial: int = 0,
    stream: IO[str] | None = None,
) -> Progress:
    """The display of a stage of ``total`` ``unit`` (see the module docstring)."""
    mode = choose_mode(enabled, stream)
    return Progress(total, desc, mode=mode, unit=unit, initial=initial, stream=stream)


__all__ = ["LINE_EVERY_S", "MODE_ENV", "Progress", "choose_mode", "progress"]
