"""The ``openai`` teacher: any OpenAI-compatible chat-completions endpoint.

A vLLM or SGLang server (``vllm serve Qwen/Qwen2.5-VL-72B-Instruct``), or a hosted model,
answers each sample's prompt through the official ``openai`` client (``AsyncOpenAI``):

* messages: the template's system text, then one user message holding, for every shown
  frame, ``"Frame at <t> s:"`` and the frame as a base64 JPEG ``image_url``, then the prompt
  (the same text the policy is shown, so the teacher answers in the contract's timestamps
  and coordinates);
* at most ``max_concurrency`` requests in flight; each with ``timeout_s``; failed requests
  (connection errors, timeouts, 408/409/429/5xx) retried ``max_retries`` times with the
  client's exponential backoff;
* the API key is read from the environment variable named by ``api_key_env`` (never from
  the config file); an unset variable sends ``EMPTY``, what local servers accept.

A request that still fails, an empty reply or a refusal becomes a :class:`TeacherReply`
without text and with the reason; it never raises.
"""

from __future__ import annotations

import asyncio
import base64
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stvg.config import InvalidField
from stvg.synthesis.teachers.base import Teacher, TeacherReply, TeacherRequest
from stvg.verifiers.formats.base import format_seconds


@dataclass
class OpenAITeacherConfig:
    """Settings of the ``openai`` teacher.

    Attributes:
        base_url: the endpoint, e.g. ``http://localhost:8000/v1`` (vLLM / SGLang) or a
            hosted API's URL.
        model: the model name the endpoint serves.
        api_key_env: name of the environment variable holding the API key (unset: ``EMPTY``).
        max_concurrency: requests in flight at once.
        timeout_s: seconds per request before it counts as failed (then retried).
        max_retries: retries of a failed request (the client's exponential backoff).
        temperature: sampling temperature of the teacher.
        max_tokens: most tokens per answer.
        jpeg_quality: JPEG quality of the frames sent (0-100).
    """

    base_url: str = "http://localhost:8000/v1"
    model: str = "Qwen/Qwen2.5-VL-72B-Instruct"
    api_key_env: str = "OPENAI_API_KEY"
    max_concurrency: int = 8
    timeout_s: float = 120.0
    max_retries: int = 3
    temperature: float = 0.7
    max_tokens: int = 1024
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise InvalidField("max_concurrency", f"must be >= 1, got {self.max_concurrency}")
        if not self.timeout_s > 0:
            raise InvalidField("timeout_s", f"must be positive seconds, got {self.timeout_s}")
        if self.max_retries < 0:
            raise InvalidField("max_retries", f"must be >= 0, got {self.max_retries}")
        if self.max_tokens < 1:
            raise InvalidField("max_tokens", f"must be >= 1, got {self.max_tokens}")
        if not 0 <= self.jpeg_quality <= 100:
            raise InvalidField("jpeg_quality", f"must be in [0, 100], got {self.jpeg_quality}")


def frame_data_url(frame: np.ndarray, quality: int = 90) -> str:
    """A uint8 RGB ``[H, W, 3]`` frame as a ``data:image/jpeg;base64,...`` URL."""
    import cv2

    ok, buffer = cv2.imencode(
        ".jpg", np.ascontiguousarray(frame[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise ValueError(f"could not encode a frame of shape {frame.shape} as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buffer.tobytes()).decode("ascii")


def chat_messages(request: TeacherRequest, quality: int = 90) -> list[dict[str, Any]]:
    """The chat-completions messages of one request (see the module doc)."""
    content: list[dict[str, Any]] = []
    for frame, time_s in zip(request.frames, request.timestamps_s, strict=True):
        content.append({"type": "text", "text": f"Frame at {format_seconds(time_s)} s:"})
        content.append({"type": "image_url", "image_url": {"url": frame_data_url(frame, quality)}})
    content.append({"type": "text", "text": request.prompt})
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages.append({"role": "user", "content": content})
    return messages


class OpenAITeacher(Teacher):
    """Answers prompts through an OpenAI-compatible endpoint (see the module doc).

    Args:
        config: an :class:`OpenAITeacherConfig` (or any object with its attributes).
    """

    name = "openai"

    def __init__(self, config: OpenAITeacherConfig | None = None) -> None:
        try:
            import openai  # noqa: F401
        except ImportError as exc:  # pragma: no cover - openai is a dependency
            raise ImportError(
                "the openai teacher needs the openai package: pip install openai"
            ) from exc
        self.config = config or OpenAITeacherConfig()

    def settings(self) -> dict[str, Any]:
        """Endpoint, model and sampling settings for the manifest (not the key)."""
        cfg = self.config
        return {
            "teacher": self.name,
            "base_url": cfg.base_url,
            "model": cfg.model,
            "api_key_env": cfg.api_key_env,
            "temperature": cfg.temperature,
            "max_tokens": cfg.max_tokens,
            "max_concurrency": cfg.max_concurrency,
            "timeout_s": cfg.timeout_s,
            "max_retries": cfg.max_retries,
        }

    def generate(self, requests: Sequence[TeacherRequest]) -> list[TeacherReply]:
        """One reply per request, in order (requests run concurrently, bounded)."""
        if not requests:
            return []
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._generate_all(list(requests)))
        # Called from inside an event loop (a notebook): run ours in a thread.
        out: list[list[TeacherReply]] = []
        thread = threading.Thread(
            target=lambda: out.append(asyncio.run(self._generate_all(list(requests))))
        )
        thread.start()
        thread.join()
        return out[0]

    async def _generate_all(self, requests: list[TeacherRequest]) -> list[TeacherReply]:
        import openai

        cfg = self.config
        client = openai.AsyncOpenAI(
            base_url=cfg.base_url,
            api_key=os.environ.get(cfg.api_key_env) or "EMPTY",
            timeout=cfg.timeout_s,
            max_retries=cfg.max_retries,
        )
        limit = asyncio.Semaphore(cfg.max_concurrency)

        async def one(request: TeacherRequest) -> TeacherReply:
            async with limit:
                return await self._ask(client, request)

        try:
            return list(await asyncio.gather(*(one(r) for r in requests)))
        finally:
            await client.close()

    async def _ask(self, client: Any, request: TeacherRequest) -> TeacherReply:
        import openai

        cfg = self.config
        try:
            response = await client.chat.completions.create(
                model=cfg.model,
                messages=chat_messages(request, cfg.jpeg_quality),
                temperature=cfg.temperature,
                max_tokens=cfg.max_tokens,
            )
        except openai.APIStatusError as exc:
            return TeacherReply(None, f"HTTP {exc.status_code} after retries: {_short(exc)}")
        except openai.APIError as exc:  # connection errors and timeouts, after retries
            return TeacherReply(None, f"{type(exc).__name__} after retries: {_short(exc)}")
        if not response.choices:
            return TeacherReply(None, "the endpoint returned no choices", response.model)
        choice = response.choices[0]
        message = choice.message
        refusal = getattr(message, "refusal", None)
        if refusal:
            return TeacherReply(None, f"refusal: {refusal[:200]}", response.model)
        if not message.content:
            return TeacherReply(None, "empty reply", response.model)
        return TeacherReply(message.content, None, response.model)


def _short(exc: Exception) -> str:
    text = str(exc).replace("\n", " ")
    return text if len(text) <= 200 else text[:197] + "..."


__all__ = ["OpenAITeacher", "OpenAITeacherConfig", "chat_messages", "frame_data_url"]
