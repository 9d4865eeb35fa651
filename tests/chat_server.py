"""A real OpenAI-compatible chat-completions server on localhost, for the tests of the
served-model client (the ``openai`` teacher and policy).

``ChatServer(respond)`` serves ``POST /v1/chat/completions`` from a thread; ``respond`` gets
the request's JSON (and, when it takes a second argument, the request's headers, an
``email.message.Message``: case-insensitive ``get``) and
returns ``(status, reply_text_or_error)`` or a :class:`RawReply`, a hostile server's reply:
any bytes, headers and status, sent at once or one byte at a time. Every request is
recorded. Bounded: it serves only while the ``with`` block runs and binds 127.0.0.1 only.
"""

from __future__ import annotations

import functools
import inspect
import json
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Respond = Callable[..., "tuple[int, str] | RawReply"]


@dataclass
class RawReply:
    """A reply sent as given.

    Attributes:
        body: the body bytes.
        status: the HTTP status.
        headers: extra headers (``Content-Type`` defaults to JSON; ``Content-Length`` is
            the body's unless given).
        drip_s: send the body one byte every ``drip_s`` seconds (``None``: at once).
        forever: after the body, keep dripping spaces until the client hangs up or the
            server stops (with ``drip_s``).
    """

    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    drip_s: float | None = None
    forever: bool = False


@functools.lru_cache(maxsize=2)
def _gzip_spaces(megabytes: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip stream
    parts = [packer.compress(b'{"choices": [{"message": {"content": "')]
    block = b" " * 1_000_000
    parts += [packer.compress(block) for _ in range(megabytes)]
    return b"".join(parts) + packer.flush()


def gzip_bomb(megabytes: int) -> RawReply:
    """A 200 reply whose gzip body inflates to ``megabytes`` MB of spaces (a JSON-looking
    start, so that only its size is wrong); built a megabyte at a time."""
    return RawReply(
        _gzip_spaces(megabytes),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )


def completion(content: Any, model: str = "fake") -> dict[str, Any]:
    """A chat-completion payload whose first choice's message has ``content``."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


class ChatServer:
    """See the module doc. ``url`` is the ``base_url`` to give the client."""

    def __init__(self, respond: Respond, delay_s: float = 0.0) -> None:
        self.respond = respond
        self.delay_s = delay_s
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        with_headers = len(inspect.signature(respond).parameters) >= 2
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.requests.append(body)
                    server.authorizations.append(self.headers.get("Authorization"))
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    time.sleep(server.delay_s)
                    if with_headers:
                        reply = server.respond(body, self.headers)
                    else:
                        reply = server.respond(body)
                finally:
                    with server._lock:
                        server.in_flight -= 1
                if isinstance(reply, RawReply):
                    self._send_raw(reply)
                    return
                status, text = reply
                if status == 200:
                    payload = completion(text, body.get("model", "fake"))
                    payload["id"] = f"chatcmpl-{len(server.requests)}"
                else:
                    payload = {"error": {"message": text, "type": "server_error"}}
                self._send_raw(RawReply(json.dumps(payload).encode(), status))

            def _send_raw(self, reply: RawReply) -> None:
                headers = {"Content-Type": "application/json", **reply.headers}
                headers.setdefault("Content-Length", str(len(reply.body)))
                if reply.forever:  # a length the drip never reaches
                    headers["Content-Length"] = str(10**12)
                self.send_response(reply.status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                try:
                    if reply.drip_s is None:
                        self.wfile.write(reply.body)
                        return
                    data = iter(reply.body)
                    while not server._stopped.is_set():
                        byte = next(data, None)
                        if byte is None:
                            if not reply.forever:
                                return
                            byte = 32
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(reply.drip_s)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up: what the hostile tests expect

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stopped.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def user_text(body: dict[str, Any]) -> str:
    """The text parts of the request's user message, joined."""
    user = [m for m in body["messages"] if m["role"] == "user"][-1]
    return "\n".join(part["text"] for part in user["content"] if part["type"] == "text")
