"""The ``openai`` teacher: any OpenAI-compatible chat-completions endpoint.

A thin adapter over the served-model client :mod:`stvg.policies.served.client` (the one
transport, shared with the ``openai`` policy): each :class:`TeacherRequest` is sent as a
:class:`~stvg.policies.served.client.ChatRequest` (the template's system text, every shown
frame labelled ``"Frame at <t> s:"`` as a base64 JPEG, then the prompt the policy is shown,
so the teacher answers in the contract's timestamps and coordinates), with the client's
bounded concurrency, per-request deadline, size cap and retries. A request that fails
becomes a :class:`TeacherReply` without text and with the reason; it never raises. The API
key is read from the environment variable named by ``api_key_env`` and redacted from every
text kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stvg.policies.served.client import (
    MAX_REPLY_BYTES,
    ChatClient,
    ChatRequest,
    EndpointConfig,
    chat_messages,
    frame_data_url,
    parse_completion,
)
from stvg.synthesis.teachers.base import Teacher, TeacherReply, TeacherRequest


@dataclass
class OpenAITeacherConfig(EndpointConfig):
    """Settings of the ``openai`` teacher: the keys of
    :class:`~stvg.policies.served.client.EndpointConfig` (endpoint, model, key variable,
    concurrency, deadline, retries, sampling), sampling at ``temperature`` 0.7 by default."""

    temperature: float = 0.7


class OpenAITeacher(Teacher):
    """Answers prompts through an OpenAI-compatible endpoint (see the module doc).

    Args:
        config: an :class:`OpenAITeacherConfig` (or any object with its attributes).
    """

    name = "openai"

    def __init__(self, config: OpenAITeacherConfig | None = None) -> None:
        self.config = config or OpenAITeacherConfig()
        self.client = ChatClient(self.config)

    def settings(self) -> dict[str, Any]:
        """Endpoint, model and sampling settings for the manifest (not the key)."""
        return {"teacher": self.name, **self.client.settings()}

    def generate(self, requests: Sequence[TeacherRequest]) -> list[TeacherReply]:
        """One reply per request, in order (requests run concurrently, bounded)."""
        chats = [ChatRequest(r.prompt, r.system, r.frames, r.timestamps_s) for r in list(requests)]
        return [TeacherReply(c.text, c.error, c.model) for c in self.client.generate(chats)]


__all__ = [
    "MAX_REPLY_BYTES",
    "OpenAITeacher",
    "OpenAITeacherConfig",
    "chat_messages",
    "frame_data_url",
    "parse_completion",
]
