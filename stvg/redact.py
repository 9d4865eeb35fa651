"""Secrets out of text that stvg stores or prints: the one redaction rule.

A remote server's error text (an HTTP error body, an exception message) may quote the
request back, ``Authorization`` header included. Every path that keeps or shows text from
a remote server passes it through :func:`redact` first: the known secret values given by
the caller (an API key read from the environment) and anything shaped like a credential
(``Bearer <token>``, ``Basic <token>``, ``api_key=...``, ``"x-api-key": "..."``, an
``sk-...`` key) become :data:`REDACTED`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: What a secret is replaced with.
REDACTED = "[REDACTED]"
#: Secret values shorter than this are not searched for (``EMPTY``, what local servers
#: accept, is not a secret; a short value would blank out ordinary words).
MIN_SECRET_LENGTH = 8

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # an Authorization scheme and its credentials
    (
        re.compile(r"\b(Bearer|Basic|Token)(\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
        rf"\1\2{REDACTED}",
    ),
    # key = value, key: value, "key": "value" for the usual names of a key
    (
        re.compile(
            r"""(["']?\b(?:api[_-]?key|x-api-key|access[_-]?token|secret|password)["']?\s*[:=]\s*["']?)"""
            r"""[^\s"',;}&]+""",
            re.IGNORECASE,
        ),
        rf"\1{REDACTED}",
    ),
    # OpenAI-style keys anywhere
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), REDACTED),
)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every secret replaced by :data:`REDACTED`.

    Args:
        text: text from a remote server (an error body, an exception message, a reply).
        secrets: known secret values (an API key); values shorter than
            :data:`MIN_SECRET_LENGTH` characters or ``None`` are skipped.

    Returns:
        The text without the secrets and without credential-shaped substrings (see the
        module doc); text without any is returned unchanged.
    """
    for secret in sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len)[::-1]:
        text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


__all__ = ["MIN_SECRET_LENGTH", "REDACTED", "redact"]
