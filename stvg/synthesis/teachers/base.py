"""The teacher interface of CoT synthesis: an observation and its prompt in, raw text out.

A teacher writes reasoning and an answer for one sample's prompt, as the policy would be
asked. Teachers never raise for a bad answer or a failed request: a :class:`TeacherReply`
carries the text, or ``None`` and the reason (an HTTP error after retries, a refusal, an
empty reply), so a synthesis run counts failures instead of crashing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class TeacherRequest:
    """One sample's prompt, as the policy is shown it.

    Attributes:
        sample_id: the sample's id.
        query: the natural-language query.
        prompt: the user prompt text (the policy's template with the answer contract's
            instructions: same timestamps, same coordinate frame).
        system: the template's system message, or ``None``.
        frames: uint8 ``[T, H, W, 3]`` RGB frames as shown (no padding).
        timestamps_s: float64 ``[T]`` time of each frame, seconds.
        extras: what a teacher may read besides the prompt (the ``scene`` teacher: the
            sample and its scene; never sent to an external model).
    """

    sample_id: str
    query: str
    prompt: str
    system: str | None
    frames: np.ndarray
    timestamps_s: np.ndarray
    extras: dict[str, Any]


@dataclass(frozen=True)
class TeacherReply:
    """A teacher's raw answer to one request.

    Attributes:
        text: the raw text, or ``None`` when there is none.
        error: why there is no text (``None`` when there is).
        model: the model that answered (for the manifest).
    """

    text: str | None
    error: str | None = None
    model: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the teacher returned text."""
        return self.text is not None


class Teacher(ABC):
    """Writes raw CoT answers for prompts; see the module doc.

    Subclasses set :attr:`name` and implement :meth:`generate`; :meth:`settings` goes into
    the manifest (model, sampling settings; never secrets).
    """

    name: str = "teacher"

    @abstractmethod
    def generate(self, requests: Sequence[TeacherRequest]) -> list[TeacherReply]:
        """One reply per request, in order; never raises for a failed request."""

    def settings(self) -> dict[str, Any]:
        """JSON-friendly settings recorded in the manifest."""
        return {"teacher": self.name}


__all__ = ["Teacher", "TeacherReply", "TeacherRequest"]
