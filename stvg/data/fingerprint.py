"""A cheap fingerprint of a file's content, for caches keyed on video files.

Size and modification time alone miss a file rewritten in place within the same clock tick
(or with its time restored, as ``rsync -t`` and ``cp -p`` do) to the same size: a cache keyed
on them serves the old frames. :func:`file_fingerprint` also hashes the first and the last
``FINGERPRINT_BYTES`` of the content (containers keep their index and headers there), so it
costs two small reads whatever the file's size.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: Bytes hashed at each end of the file.
FINGERPRINT_BYTES = 64 * 1024


def file_fingerprint(path: str | Path) -> str:
    """Hex digest (16 characters) of ``path``'s size, modification time (ns), and first
    and last :data:`FINGERPRINT_BYTES` bytes.

    Raises:
        OSError: the file cannot be read (a path holding a NUL character included).
    """
    if "\0" in str(path):  # open() raises ValueError for it; it is a path no file has
        raise FileNotFoundError(2, "no file has a NUL character in its path", str(path))
    with open(path, "rb") as handle:
        stat = os.fstat(handle.fileno())
        digest = hashlib.sha256(f"{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
        digest.update(handle.read(FINGERPRINT_BYTES))
        if stat.st_size > FINGERPRINT_BYTES:
            handle.seek(max(stat.st_size - FINGERPRINT_BYTES, FINGERPRINT_BYTES))
            digest.update(handle.read(FINGERPRINT_BYTES))
    return digest.hexdigest()[:16]


__all__ = ["FINGERPRINT_BYTES", "file_fingerprint"]
