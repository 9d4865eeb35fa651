"""Exceptions raised for bad data, each naming the file, the sample id and the field."""

from __future__ import annotations

from stvg.limits import one_line, short_repr


class DataError(ValueError):
    """Bad input data: a missing or corrupt file, a missing key, an impossible value.

    The message says what was wrong, where (file, sample id, field) and how to fix it, in
    one line (line breaks a value or a library put in it become spaces).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        sample_id: str | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = []
        if path is not None:
            where.append(f"file {path}")
        if sample_id is not None:
            where.append(f"sample {short_repr(sample_id)}")
        if field is not None:
            where.append(f"field {short_repr(field)}")
        text = message if not where else f"{message} ({', '.join(where)})"
        if hint:
            text = f"{text}. Fix: {hint}"
        super().__init__(one_line(text))  # printed as one line by every command
        self.path = path
        self.sample_id = sample_id
        self.field = field


class VideoError(DataError):
    """A video file that is missing, unreadable or corrupt."""
