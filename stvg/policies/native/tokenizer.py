"""Query vocabulary of the native policy: words of the training split -> integer ids.

Words are lower-cased runs of letters and digits (``[a-z0-9]+`` after lower-casing, so
punctuation is dropped). Id 0 is padding (``<pad>``), id 1 is ``<unk>`` (a word not seen in
the training split, or seen fewer than ``min_count`` times); the other words follow in
order of decreasing frequency, ties alphabetically, so the same queries always give the
same vocabulary. The vocabulary is saved inside native-policy checkpoints as a word list.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

PAD = "<pad>"
UNK = "<unk>"
PAD_ID = 0
UNK_ID = 1

_WORD = re.compile(r"[a-z0-9]+")


def split_words(text: str) -> list[str]:
    """The words of ``text``: lower-cased ``[a-z0-9]+`` runs.

    >>> split_words("The red Circle, while it moves left.")
    ['the', 'red', 'circle', 'while', 'it', 'moves', 'left']
    """
    return _WORD.findall(text.lower())


class QueryVocab:
    """A fixed word -> id table.

    Args:
        words: the vocabulary words in id order, starting with ``<pad>`` and ``<unk>``.

    Raises:
        ValueError: ``words`` does not start with ``<pad>``, ``<unk>`` or repeats a word.
    """

    def __init__(self, words: Sequence[str]) -> None:
        words = list(words)
        if words[:2] != [PAD, UNK]:
            raise ValueError(
                f"QueryVocab words must start with {[PAD, UNK]}, got {words[:2]}: build it "
                "with QueryVocab.build or from a checkpoint's saved word list"
            )
        if len(set(words)) != len(words):
            repeated = sorted(w for w, c in Counter(words).items() if c > 1)
            raise ValueError(f"QueryVocab words must be unique, {repeated[:5]} repeat")
        self.words: list[str] = words
        self._ids = {w: i for i, w in enumerate(words)}

    @classmethod
    def build(cls, queries: Iterable[str], *, min_count: int = 1) -> QueryVocab:
        """The vocabulary of ``queries``: words seen at least ``min_count`` times.

        >>> QueryVocab.build(["the red circle", "the blue circle"]).words
        ['<pad>', '<unk>', 'circle', 'the', 'blue', 'red']
        """
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        counts = Counter(w for q in queries for w in split_words(q))
        kept = sorted(
            (w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w)
        )
        return cls([PAD, UNK, *kept])

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, text: str, max_len: int) -> np.ndarray:
        """Ids of ``text``: int64 ``[max_len]``, unknown words -> 1, padded with 0, truncated.

        >>> QueryVocab.build(["red circle"]).encode("A red circle", 4).tolist()
        [1, 3, 2, 0]
        """
        if max_len <= 0:
            raise ValueError(f"max_len must be positive, got {max_len}")
        ids = np.zeros(max_len, dtype=np.int64)
        for i, word in enumerate(split_words(text)[:max_len]):
            ids[i] = self._ids.get(word, UNK_ID)
        return ids

    def encode_batch(self, texts: Sequence[str], max_len: int) -> np.ndarray:
        """:meth:`encode` of each text: int64 ``[len(texts), max_len]``."""
        return (
            np.stack([self.encode(t, max_len) for t in texts])
            if texts
            else np.zeros((0, max_len), dtype=np.int64)
        )


__all__ = ["PAD", "PAD_ID", "UNK", "UNK_ID", "QueryVocab", "split_words"]
