"""Which H.264 packets hold a disposable picture, read from two bytes of the bitstream.

An H.264 picture whose slices have ``nal_ref_idc == 0`` is never used to predict another
picture (x264's default B-pyramid makes about half the frames so); dropping its packet
leaves every other frame bit-exact, which is what the H.264 design of ``nal_ref_idc`` is
for (``frame_num`` only counts reference pictures, so no gap appears). FFmpeg's
``skip_frame="NONREF"`` skips the same pictures but only after the packet has gone through
the decoder's frame threads; :class:`~stvg.data.video.VideoReader` drops such packets
before that when it does not want their frame.

Only length-prefixed H.264 (``avcC`` extradata: MP4, MOV, Matroska) is parsed; any other
stream answers ``None`` from :func:`h264_length_size`, and the reader falls back to
``skip_frame``.
"""

from __future__ import annotations

_SLICE_TYPES = (1, 5)  # coded slice of a non-IDR picture, of an IDR picture


def h264_length_size(codec_name: str, extradata: bytes | None) -> int | None:
    """Bytes of each NAL unit's length prefix (1, 2 or 4) of an ``avcC`` H.264 stream,
    ``None`` for any other codec or an Annex B (start-code) stream."""
    if codec_name != "h264" or not extradata or len(extradata) < 7 or extradata[0] != 1:
        return None
    size = (extradata[4] & 0x03) + 1
    return size if size in (1, 2, 4) else None


def is_disposable(data: memoryview | bytes, length_size: int) -> bool:
    """Whether the access unit ``data`` (length-prefixed NAL units) is a non-reference
    picture: its first slice NAL unit has ``nal_ref_idc == 0``. Malformed data and packets
    without a slice answer ``False`` (decode them)."""
    offset, end = 0, len(data)
    while offset + length_size < end:
        size = int.from_bytes(data[offset : offset + length_size], "big")
        header = data[offset + length_size]
        if header & 0x1F in _SLICE_TYPES:
            return header >> 5 == 0
        if size <= 0:
            return False
        offset += length_size + size
    return False
