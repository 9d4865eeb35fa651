"""Prompt templates of the VLM policy: YAML files with named placeholders.

A template is a YAML mapping::

    system: "You are ..."          # optional system message
    video_first: true              # the video comes before (true) or after the user text
    user: |-
      The video is sampled at {fps} frames per second ...
      Find: "{query}"
      {format_instructions}

Placeholders (``str.format`` syntax; write ``{{``/``}}`` for literal braces):

=========================  ==============================================================
``{query}``                the natural-language query
``{fps}``                  the sampling rate, frames per second (e.g. ``1``, ``0.5``)
``{timestamps}``           comma-separated times of the shown frames, seconds
``{num_frames}``           number of shown frames
``{duration}``             time of the last shown frame, seconds
``{width}``, ``{height}``  size of the frames as the model sees them (its processor's
                           resized size, which ``pixels`` coordinates refer to), pixels
``{format_instructions}``  the answer format's instructions
=========================  ==============================================================

The values come from the observation and the policy config only (never from the env's
frame context), so an observation gets the same prompt in rollouts, evaluation and SFT.

Shipped templates live in ``stvg/policies/templates/<name>.yaml``; a path to any YAML file
works too.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stvg.config import ConfigError, from_yaml
from stvg.verifiers.formats.base import format_seconds
from stvg.verifiers.formats.contract import ContractSpec

#: Directory of the shipped templates.
TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"

#: Every placeholder a template may use.
PLACEHOLDERS: tuple[str, ...] = (
    "query",
    "fps",
    "timestamps",
    "num_frames",
    "duration",
    "width",
    "height",
    "format_instructions",
)


@dataclass(frozen=True)
class PromptTemplate:
    """A chat prompt with placeholders (see the module doc).

    Attributes:
        user: the user message text.
        system: the system message text, or ``None`` for none.
        video_first: put the video before the user text (``True``) or after it.
        source: where the template was read from (for error messages).
    """

    user: str
    system: str | None = None
    video_first: bool = True
    source: str | None = None

    def __post_init__(self) -> None:
        for key in ("system", "user"):
            text = getattr(self, key)
            if text is None:
                continue
            try:
                fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
            except ValueError as exc:
                raise ConfigError(
                    f"template {self.source or '<inline>'} key {key}: malformed placeholder "
                    f"({exc}); write literal braces as {{{{ and }}}}"
                ) from exc
            unknown = sorted(set(fields) - set(PLACEHOLDERS))
            if unknown:
                raise ConfigError(
                    f"template {self.source or '<inline>'} key {key}: unknown placeholder(s) "
                    f"{unknown}; valid placeholders: {list(PLACEHOLDERS)}"
                )

    def render(self, values: dict[str, Any]) -> tuple[str | None, str]:
        """``(system_text, user_text)`` with the placeholders filled from ``values``."""
        system = None if self.system is None else self.system.format_map(values)
        return system, self.user.format_map(values)


@dataclass(frozen=True)
class _TemplateFile:
    user: str
    system: str | None = None
    video_first: bool = True


def template_path(name_or_path: str) -> Path:
    """The YAML file of a shipped template name or an explicit path."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        if not candidate.is_file():
            raise ConfigError(f"prompt template file not found: {candidate}")
        return candidate
    shipped = TEMPLATES_DIR / f"{name_or_path}.yaml"
    if not shipped.is_file():
        names = sorted(p.stem for p in TEMPLATES_DIR.glob("*.yaml"))
        raise ConfigError(
            f"unknown prompt template {name_or_path!r}: shipped templates are {names}, "
            "or pass the path of a YAML file"
        )
    return shipped


def load_template(name_or_path: str) -> PromptTemplate:
    """Load and validate a template (unknown keys or placeholders raise ``ConfigError``)."""
    path = template_path(name_or_path)
    data = from_yaml(_TemplateFile, path)
    return PromptTemplate(
        user=data.user, system=data.system, video_first=data.video_first, source=str(path)
    )


def prompt_values(
    *,
    query: str,
    fps: float,
    timestamps_s: Sequence[float],
    width: int,
    height: int,
    format_instructions: str,
) -> dict[str, Any]:
    """The placeholder values for one observation (times as compact seconds, e.g. ``2.5``)."""
    times = [float(t) for t in timestamps_s]
    return {
        "query": query,
        "fps": format_seconds(fps),
        "timestamps": ", ".join(format_seconds(t) for t in times),
        "num_frames": len(times),
        "duration": format_seconds(times[-1]) if times else "0",
        "width": int(width),
        "height": int(height),
        "format_instructions": format_instructions,
    }


def contract_prompt(
    template: PromptTemplate,
    spec: ContractSpec,
    *,
    query: str,
    timestamps_s: Sequence[float],
    shown_size: tuple[int, int],
    native_fps: float | None = None,
) -> tuple[str | None, str]:
    """``(system_text, user_text)`` of ``template`` for frames shown under an answer
    contract: the one prompt of a contract, for the served-model policy and the synthesis
    teachers alike.

    Args:
        template: the prompt template.
        spec: the :class:`~stvg.verifiers.formats.ContractSpec` (answer format, coordinates,
            fps, model geometry): ``{width}``/``{height}`` are its coordinate size of the
            shown frames (the model's resized size, or the shown size without geometry),
            ``{format_instructions}`` its format's instructions for those frames.
        query: the natural-language query.
        timestamps_s: time of each shown frame, seconds.
        shown_size: ``(width, height)`` of the shown frames, pixels.
        native_fps: the video's frame rate, the ``{fps}`` told when ``spec.fps`` is
            ``None`` (every native frame shown).

    Raises:
        ValueError: ``spec.fps`` and ``native_fps`` are both ``None``.
    """
    fps = spec.fps or native_fps
    if fps is None:
        raise ValueError(
            "the contract samples every native frame (fps None): pass native_fps, the "
            "video's frame rate, for the prompt's {fps}"
        )
    shown = spec.shown_frames(np.asarray(timestamps_s, dtype=np.float64), shown_size)
    width, height = shown.coord_size
    values = prompt_values(
        query=query,
        fps=fps,
        timestamps_s=shown.timestamps_s,
        width=width,
        height=height,
        format_instructions=spec.format.instructions(shown),
    )
    return template.render(values)


def chat_messages(
    template: PromptTemplate,
    values: dict[str, Any],
    visual: Sequence[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Chat messages (transformers' multimodal format): the user text and the ``visual``
    content items (default one video item; a family adapter's
    :meth:`~stvg.policies.vlm.families.FamilyAdapter.visual_content`), before the text when
    the template says ``video_first``."""
    system, user = template.render(values)
    content: list[dict[str, Any]] = [{"type": "text", "text": user}]
    frames = [{"type": "video"}] if visual is None else [dict(item) for item in visual]
    content = [*frames, *content] if template.video_first else [*content, *frames]
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": content})
    return messages


#: Largest difference between a frame context's and an observation's frame times that
#: counts as the same frame times, seconds (observations carry float32 times).
TIMESTAMP_TOLERANCE_S = 5e-4


def check_context_times(ctx: Any, told_s: np.ndarray) -> None:
    """Raise ``ValueError`` when the frame context ``ctx`` holds other frame times than
    ``told_s``, the times a prompt tells (within :data:`TIMESTAMP_TOLERANCE_S`)."""
    given = np.asarray(ctx.timestamps_s, dtype=np.float64)
    if given.shape != told_s.shape or not np.allclose(
        given, told_s, rtol=0, atol=TIMESTAMP_TOLERANCE_S
    ):
        raise ValueError(
            f"the frame context's timestamps_s {np.round(given, 3).tolist()} differ from "
            f"the observation's {np.round(told_s, 3).tolist()}; pass the context of the "
            "episode this observation comes from"
        )


__all__ = [
    "TIMESTAMP_TOLERANCE_S",
    "check_context_times",
    "PLACEHOLDERS",
    "TEMPLATES_DIR",
    "PromptTemplate",
    "chat_messages",
    "contract_prompt",
    "load_template",
    "prompt_values",
    "template_path",
]
