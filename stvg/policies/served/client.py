"""The client of an OpenAI-compatible chat-completions endpoint (vLLM, SGLang, a hosted API).

A vLLM or SGLang server (``vllm serve Qwen/Qwen2.5-VL-72B-Instruct``), or a hosted model,
answers each :class:`ChatRequest` through the official ``openai`` client (``AsyncOpenAI``):

* messages (:func:`chat_messages`): the system text, then one user message holding, for
  every frame, ``"Frame at <t> s:"`` and the frame as a base64 JPEG ``image_url``, then the
  prompt;
* at most ``max_concurrency`` requests in flight; each attempt must be complete, body
  included, within ``timeout_s`` seconds (a deadline, not a gap between bytes:
  :mod:`~stvg.policies.served.http_guard`) and its body at most :data:`MAX_REPLY_BYTES`
  once decompressed; failed requests (connection errors, timeouts, 408/409/429/5xx)
  retried ``max_retries`` times with the client's exponential backoff;
* the API key is read from the environment variable named by ``api_key_env`` (never from
  a config file, never written anywhere: :meth:`ChatClient.settings` names the variable
  only); an unset variable sends ``EMPTY``, what local servers accept.

A request that still fails, a reply too large, a reply that is not a chat completion
(:func:`parse_completion`), an empty reply or a refusal becomes a :class:`ChatReply`
without text and with the reason; :meth:`ChatClient.generate` never raises for one. Every
text kept from the server, error or reply, has the API key and anything shaped like a
credential redacted (:func:`stvg.redact.redact`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stvg.config import InvalidField
from stvg.redact import redact
from stvg.verifiers.formats.base import format_seconds

#: Most bytes of a reply body, once decompressed (a chat completion of ``max_tokens``
#: tokens is a few kilobytes).
MAX_REPLY_BYTES = 8 * 2**20


@dataclass
class EndpointConfig:
    """Settings of an OpenAI-compatible endpoint and of the requests sent to it.

    Attributes:
        base_url: the endpoint, e.g. ``http://localhost:8000/v1`` (vLLM / SGLang) or a
            hosted API's URL.
        model: the model name the endpoint serves.
        api_key_env: name of the environment variable holding the API key (unset: ``EMPTY``).
        max_concurrency: requests in flight at once.
        timeout_s: seconds one request may take in all, body included, before it counts
            as failed (then retried).
        max_retries: retries of a failed request (the client's exponential backoff).
        temperature: sampling temperature.
        max_tokens: most tokens per answer.
        jpeg_quality: JPEG quality of the frames sent (0-100).
    """

    base_url: str = "http://localhost:8000/v1"
    model: str = "Qwen/Qwen2.5-VL-72B-Instruct"
    api_key_env: str = "OPENAI_API_KEY"
    max_concurrency: int = 8
    timeout_s: float = 120.0
    max_retries: int = 3
    temperature: float = 0.0
    max_tokens: int = 1024
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        if not self.base_url:
            raise InvalidField("base_url", "must name the endpoint, e.g. http://localhost:8000/v1")
        if not self.api_key_env or "=" in self.api_key_env:
            raise InvalidField(
                "api_key_env",
                f"must be the NAME of an environment variable (e.g. OPENAI_API_KEY), got "
                f"{'an empty name' if not self.api_key_env else 'a value with ='}; never put "
                "the key itself in a config",
            )
        if self.max_concurrency < 1:
            raise InvalidField("max_concurrency", f"must be >= 1, got {self.max_concurrency}")
        if not self.timeout_s > 0:
            raise InvalidField("timeout_s", f"must be positive seconds, got {self.timeout_s}")
        if self.max_retries < 0:
            raise InvalidField("max_retries", f"must be >= 0, got {self.max_retries}")
        if not self.temperature >= 0:
            raise InvalidField("temperature", f"must be >= 0, got {self.temperature}")
        if self.max_tokens < 1:
            raise InvalidField("max_tokens", f"must be >= 1, got {self.max_tokens}")
        if not 0 <= self.jpeg_quality <= 100:
            raise InvalidField("jpeg_quality", f"must be in [0, 100], got {self.jpeg_quality}")


@dataclass(frozen=True, eq=False)
class ChatRequest:
    """One prompt with its frames.

    Attributes:
        prompt: the user prompt text (after the frames).
        system: the system message, or ``None``.
        frames: uint8 ``[T, H, W, 3]`` RGB frames, sent as JPEG images in order.
        timestamps_s: float ``[T]`` time of each frame, seconds (each image's label).
    """

    prompt: str
    system: str | None
    frames: np.ndarray
    timestamps_s: np.ndarray


@dataclass(frozen=True)
class ChatReply:
    """The endpoint's answer to one :class:`ChatRequest`.

    Attributes:
        text: the answer text, or ``None`` when there is none.
        error: why there is no text (``None`` when there is).
        model: the model that answered, as the server names it.
        usage: the server's token usage when its reply reports it (``prompt_tokens``,
            ``completion_tokens``, ``total_tokens``: integers), else ``None``.
        finish_reason: why generation stopped (``stop``, ``length``), when reported.
    """

    text: str | None
    error: str | None = None
    model: str | None = None
    usage: dict[str, int] | None = field(default=None, compare=False)
    finish_reason: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the endpoint returned text."""
        return self.text is not None


def frame_data_url(frame: np.ndarray, quality: int = 90) -> str:
    """A uint8 RGB ``[H, W, 3]`` frame as a ``data:image/jpeg;base64,...`` URL."""
    import cv2

    ok, buffer = cv2.imencode(
        ".jpg", np.ascontiguousarray(frame[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise ValueError(f"could not encode a frame of shape {frame.shape} as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buffer.tobytes()).decode("ascii")


def chat_messages(request: Any, quality: int = 90) -> list[dict[str, Any]]:
    """The chat-completions messages of one request (see the module doc).

    ``request`` is a :class:`ChatRequest` or anything with its attributes (``system``,
    ``prompt``, ``frames``, ``timestamps_s``).
    """
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


class ChatClient:
    """Sends :class:`ChatRequest` objects to an OpenAI-compatible endpoint (see the module
    doc) and returns one :class:`ChatReply` each, in order.

    Args:
        config: an :class:`EndpointConfig` (or any object with its attributes).
    """

    def __init__(self, config: EndpointConfig) -> None:
        try:
            import openai  # noqa: F401
        except ImportError as exc:  # pragma: no cover - openai is a dependency
            raise ImportError(
                "the OpenAI-compatible client needs the openai package: pip install openai"
            ) from exc
        self.config = config

    def settings(self) -> dict[str, Any]:
        """Endpoint, model and sampling settings (the key's variable name, never the key)."""
        cfg = self.config
        return {
            "base_url": cfg.base_url,
            "model": cfg.model,
            "api_key_env": cfg.api_key_env,
            "temperature": cfg.temperature,
            "max_tokens": cfg.max_tokens,
            "max_concurrency": cfg.max_concurrency,
            "timeout_s": cfg.timeout_s,
            "max_retries": cfg.max_retries,
        }

    def api_key(self) -> str | None:
        """The API key from the environment variable ``api_key_env`` (``None``: unset)."""
        return os.environ.get(self.config.api_key_env) or None

    def generate(
        self, requests: Sequence[ChatRequest], *, temperature: float | None = None
    ) -> list[ChatReply]:
        """One reply per request, in order (requests run concurrently, bounded); never
        raises for a failed request. ``temperature`` replaces the config's for this call."""
        if not requests:
            return []
        temp = self.config.temperature if temperature is None else float(temperature)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._generate_all(list(requests), temp))
        # Called from inside an event loop (a notebook): run ours in a thread.
        out: list[list[ChatReply]] = []
        thread = threading.Thread(
            target=lambda: out.append(asyncio.run(self._generate_all(list(requests), temp)))
        )
        thread.start()
        thread.join()
        return out[0]

    async def _generate_all(
        self, requests: list[ChatRequest], temperature: float
    ) -> list[ChatReply]:
        import openai

        from stvg.policies.served.http_guard import GuardedHttpClient

        cfg = self.config
        client = openai.AsyncOpenAI(
            base_url=cfg.base_url,
            api_key=self.api_key() or "EMPTY",
            timeout=cfg.timeout_s,
            max_retries=cfg.max_retries,
            http_client=GuardedHttpClient(
                deadline_s=cfg.timeout_s, max_bytes=MAX_REPLY_BYTES, timeout=cfg.timeout_s
            ),
        )
        limit = asyncio.Semaphore(cfg.max_concurrency)

        async def one(request: ChatRequest) -> ChatReply:
            async with limit:
                return self._redacted(await self._ask(client, request, temperature))

        try:
            return list(await asyncio.gather(*(one(r) for r in requests)))
        finally:
            await client.close()

    def _redacted(self, reply: ChatReply) -> ChatReply:
        """``reply`` with the API key and credential-shaped text redacted."""
        key = [self.api_key()]
        return ChatReply(
            None if reply.text is None else redact(reply.text, key),
            None if reply.error is None else redact(reply.error, key),
            None if reply.model is None else redact(reply.model, key),
            reply.usage,
            reply.finish_reason,
        )

    async def _ask(self, client: Any, request: ChatRequest, temperature: float) -> ChatReply:
        import openai

        from stvg.policies.served.http_guard import ReplyTooLarge

        cfg = self.config
        try:
            raw = await client.chat.completions.with_raw_response.create(
                model=cfg.model,
                messages=chat_messages(request, cfg.jpeg_quality),
                temperature=temperature,
                max_tokens=cfg.max_tokens,
            )
        except ReplyTooLarge as exc:  # not retried
            return ChatReply(None, f"reply too large: {_short(exc)}")
        except openai.APIStatusError as exc:
            return ChatReply(None, f"HTTP {exc.status_code} after retries: {_short(exc)}")
        except openai.APIError as exc:  # connection errors, timeouts
            return ChatReply(None, f"{type(exc).__name__} after retries: {_short(exc)}")
        return parse_completion(raw.content)


def parse_completion(body: bytes) -> ChatReply:
    """The :class:`ChatReply` of a chat-completions response body.

    The body must be a JSON object whose ``choices`` is a non-empty list, whose first item
    is an object with a ``message`` object, whose ``content`` is a string (or ``null`` with
    a ``refusal``). Anything else (not JSON, HTML, a list, ``{"choices": "x"}``, integer or
    list content) is a reply without text and with ``malformed reply: <what was wrong>``.
    The body's ``usage`` (its integer counts) is kept whatever the outcome.
    """
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        start = body[:60].decode("utf-8", "replace")
        reason = "nesting too deep" if isinstance(exc, RecursionError) else str(exc)
        return _malformed(f"not JSON ({reason}): {start!r}")
    if not isinstance(payload, dict):
        return _malformed(f"the body is {_kind(payload)}, not an object")
    model = payload.get("model") if isinstance(payload.get("model"), str) else None
    usage = _usage(payload.get("usage"))
    choices = payload.get("choices")
    if choices is None or choices == []:
        return ChatReply(None, "the endpoint returned no choices", model, usage)
    if not isinstance(choices, list):
        return _malformed(f"'choices' is {_kind(choices)}, not a list", model, usage)
    choice = choices[0]
    if not isinstance(choice, dict):
        return _malformed(f"choices[0] is {_kind(choice)}, not an object", model, usage)
    finish = choice.get("finish_reason") if isinstance(choice.get("finish_reason"), str) else None
    message = choice.get("message")
    if not isinstance(message, dict):
        what = "has no 'message'" if message is None else f"message is {_kind(message)}"
        return _malformed(f"choices[0] {what}", model, usage)
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        return ChatReply(None, f"refusal: {refusal[:200]}", model, usage, finish)
    content = message.get("content")
    if content is None or content == "":
        return ChatReply(None, "empty reply", model, usage, finish)
    if not isinstance(content, str):
        return _malformed(f"the message content is {_kind(content)}, not text", model, usage)
    return ChatReply(content, None, model, usage, finish)


def _usage(value: Any) -> dict[str, int] | None:
    """The integer counts of a body's ``usage`` object (``None`` when it has none)."""
    if not isinstance(value, dict):
        return None
    counts = {
        str(k): int(v)
        for k, v in value.items()
        if isinstance(v, int) and not isinstance(v, bool) and v >= 0
    }
    return counts or None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    name = type(value).__name__
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def _malformed(
    reason: str, model: str | None = None, usage: dict[str, int] | None = None
) -> ChatReply:
    return ChatReply(None, f"malformed reply: {reason}", model, usage)


def _short(exc: BaseException) -> str:
    """The exception's message and its causes' (``APITimeoutError`` says only "Request
    timed out."; its cause names the deadline), on one line, at most 300 characters."""
    parts, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(parts) < 3:
        seen.add(id(current))
        text = str(current).replace("\n", " ").strip()
        if text and text not in parts:
            parts.append(text)
        current = current.__cause__
    text = " <- ".join(parts) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


__all__ = [
    "MAX_REPLY_BYTES",
    "ChatClient",
    "ChatReply",
    "ChatRequest",
    "EndpointConfig",
    "chat_messages",
    "frame_data_url",
    "parse_completion",
]
