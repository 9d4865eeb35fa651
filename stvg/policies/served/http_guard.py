"""An HTTP client for the served-model client that bounds each request in time and size.

The ``openai`` client's ``timeout`` bounds each *gap* between bytes: a server that sends one
byte per second never times out. :class:`GuardedHttpClient` (the client's own async HTTP
client class, with its defaults) bounds each HTTP attempt as a whole instead, connection,
headers and body together, by ``deadline_s`` seconds, and stops reading a body once it has
inflated past ``max_bytes`` (a compressed reply of a few hundred kilobytes may inflate to
gigabytes):

* past the deadline it raises the HTTP library's ``ReadTimeout``, which the ``openai``
  client retries like any timeout and finally reports as ``APITimeoutError`` (the cause
  names the deadline);
* past the size cap it raises :class:`ReplyTooLarge`, an ``openai`` error, which the
  client passes on without asking again.

Every body is read here, in full, before the ``openai`` client sees the response (the
client never streams).
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

import openai

#: The async HTTP client class the ``openai`` client uses, with its defaults
#: (``httpx2.AsyncClient`` or ``httpx.AsyncClient``, by version).
_BASE: type = openai.DefaultAsyncHttpxClient


def _http_library(cls: type) -> Any:
    """The HTTP library module (``httpx2`` or ``httpx``) whose ``AsyncClient`` ``cls`` is
    or extends."""
    for base in cls.__mro__:
        if base.__name__ == "AsyncClient":
            return importlib.import_module(base.__module__.split(".")[0])
    raise ImportError(f"{cls.__module__}.{cls.__name__} is not an AsyncClient")


#: The HTTP library of that class (its ``Response`` and ``ReadTimeout``).
_HTTP = _http_library(_BASE)
#: Headers that describe the body as sent; the body handed on is decoded and complete.
_BODY_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class ReplyTooLarge(openai.APIError):
    """A reply body larger than the cap once decompressed (not retried)."""


class GuardedHttpClient(_BASE):  # type: ignore[misc, valid-type]
    """The ``openai`` client's async HTTP client with a deadline and a size cap per
    request (see the module doc).

    Args:
        deadline_s: seconds one HTTP attempt may take in all (connect, headers, body).
        max_bytes: most bytes of a decoded reply body.
        **kwargs: passed to the HTTP client.
    """

    def __init__(self, *, deadline_s: float, max_bytes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deadline_s = float(deadline_s)
        self.max_bytes = int(max_bytes)

    async def send(self, request: Any, *, stream: bool = False, **kwargs: Any) -> Any:
        """Send ``request`` and read its whole body, within the deadline and the cap."""
        try:
            return await asyncio.wait_for(self._send_and_read(request, **kwargs), self.deadline_s)
        except asyncio.TimeoutError:
            raise _HTTP.ReadTimeout(
                f"no complete reply within {self.deadline_s:g} s (timeout_s)", request=request
            ) from None

    async def _send_and_read(self, request: Any, **kwargs: Any) -> Any:
        response = await super().send(request, stream=True, **kwargs)
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise ReplyTooLarge(
                        f"reply over {self.max_bytes // 2**20} MiB once decompressed; not "
                        "read further",
                        request,
                        body=None,
                    )
                chunks.append(chunk)
        finally:
            await response.aclose()
        headers = [
            (key, value)
            for key, value in response.headers.multi_items()
            if key.lower() not in _BODY_HEADERS
        ]
        extensions = {
            key: response.extensions[key]
            for key in ("http_version", "reason_phrase")
            if key in response.extensions
        }
        complete = _HTTP.Response(
            response.status_code,
            headers=headers,
            content=b"".join(chunks),
            request=request,
            extensions=extensions,
        )
        complete.history = list(response.history)
        return complete


__all__ = ["GuardedHttpClient", "ReplyTooLarge"]
