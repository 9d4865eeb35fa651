"""A small deterministic hashing tokenizer: query text -> fixed-length integer ids.

Classical RL libraries cannot take text observations (RLlib corrupts ``Text`` spaces), so
the flat tracking wrapper feeds the query as ids. Words are lower-cased ``\\w+`` runs; a
word's id is ``1 + crc32(word) % (vocab_size - 1)`` (CRC-32 is stable across processes,
unlike Python's salted ``hash``); 0 is padding. Longer queries are truncated.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)


def hash_tokens(text: str, length: int, vocab_size: int) -> np.ndarray:
    """Token ids of ``text``: int64 ``[length]`` in ``[0, vocab_size)``, 0 = padding.

    >>> hash_tokens("The man", 4, 100).tolist()
    [49, 35, 0, 0]
    """
    if length <= 0:
        raise ValueError(f"hash_tokens length must be positive, got {length}")
    if vocab_size < 2:
        raise ValueError(f"hash_tokens vocab_size must be >= 2 (0 is padding), got {vocab_size}")
    ids = np.zeros(length, dtype=np.int64)
    for i, word in enumerate(_WORD.findall(text.lower())[:length]):
        ids[i] = 1 + zlib.crc32(word.encode("utf-8")) % (vocab_size - 1)
    return ids


__all__ = ["hash_tokens"]
