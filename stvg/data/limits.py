"""Upper bounds on what an annotation file, a predictions file or a config may ask for.

Every bound is far above any real video or model, and low enough that the arithmetic it
feeds stays exact in int64/float64 and the allocations it sizes fit in memory. A value
outside a bound is refused up front with a message naming it and the bound (a
:class:`~stvg.data.errors.DataError` for a file, a :class:`~stvg.config.ConfigError` for a
config), never a wrapped number or an allocation that fails late.

==========================  =====================  =======================================
bound                       value                  what it limits
==========================  =====================  =======================================
``MAX_VIDEO_FRAMES``        10,000,000             frames of one video (``img_num``,
                                                   ``frame_count``): 92 h at 30 fps
``MAX_FRAME_INDEX``         9,999,999              a frame index anywhere (``st_frame``,
                                                   ``ed_frame``, spans)
``MIN_NATIVE_FPS``          0.01                   a video's frame rate (one frame per
``MAX_NATIVE_FPS``          1000                   100 s up to 1000 frames per second)
``MAX_VIDEO_SIDE``          16384                  a video's width or height, pixels
``MAX_SAMPLING_FPS``        1000                   frames sampled per second (``fps``)
``MAX_FRAME_BUFFER_BYTES``  4 GiB                  one episode's frames observation
                                                   (``max_frames * max_side**2 * 3``)
``MAX_SEED``                2**63 - 1              a seed (torch takes 64-bit seeds)
==========================  =====================  =======================================
"""

from __future__ import annotations

MAX_VIDEO_FRAMES = 10_000_000
MAX_FRAME_INDEX = MAX_VIDEO_FRAMES - 1
MIN_NATIVE_FPS = 0.01
MAX_NATIVE_FPS = 1000.0
MAX_VIDEO_SIDE = 16384
MAX_SAMPLING_FPS = 1000.0
MAX_FRAME_BUFFER_BYTES = 4 * 2**30
MAX_SEED = 2**63 - 1

__all__ = [
    "MAX_FRAME_BUFFER_BYTES",
    "MAX_FRAME_INDEX",
    "MAX_NATIVE_FPS",
    "MAX_SAMPLING_FPS",
    "MAX_SEED",
    "MAX_VIDEO_FRAMES",
    "MAX_VIDEO_SIDE",
    "MIN_NATIVE_FPS",
]
