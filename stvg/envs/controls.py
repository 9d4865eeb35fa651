"""Visual-reliance controls: score a policy with the frames it sees replaced.

A grounding policy can score well without looking: the query's event words predict the span
("after it stops" comes late), and a box near the centre earns some vIoU. A control answers
"how much of the score comes from the pixels?" by showing the policy other pixels while the
query, the timestamps, the ground truth and the scoring stay those of the real sample:

* ``shuffled-video``: every sample is shown the frames of another sample of the split (a
  permutation of the samples without fixed points, drawn from ``seed``). Frame slot ``k`` of
  the sample shows the donor's frame at the same relative position in time
  (``round(k * (T_donor - 1) / (T - 1))``), resized to the sample's shown size when the
  sizes differ, so the observation has exactly the real one's shape, mask and timestamps.
* ``blank-video``: every shown frame is black (all zeros).

A policy that reads the frames drops to near the prior under both controls; a text-shortcut
policy keeps its score. :func:`stvg.evaluation.evaluate_policy` applies a
control with ``control=`` (``stvg evaluate --policy ... --control shuffled-video``).

>>> donor_permutation(4, seed=0).tolist()  # a single cycle: no sample is its own donor
[3, 0, 1, 2]
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np

VisualControl = Literal["shuffled-video", "blank-video"]

#: The controls :func:`controlled_observation` knows.
VISUAL_CONTROLS: tuple[str, ...] = ("shuffled-video", "blank-video")


def check_control(control: str | None) -> str | None:
    """``control`` when it is ``None`` or one of :data:`VISUAL_CONTROLS`; else ``ValueError``."""
    if control is not None and control not in VISUAL_CONTROLS:
        raise ValueError(
            f"unknown visual control {control!r}; choose one of {list(VISUAL_CONTROLS)} "
            "(or none for the real frames)"
        )
    return control


def donor_permutation(n: int, seed: int) -> np.ndarray:
    """A permutation of ``range(n)`` without fixed points (``n >= 2``), the same for a seed.

    Sattolo's algorithm draws a uniformly random single cycle of length ``n``, so sample ``i``
    is shown the frames of sample ``perm[i] != i``. ``n == 1`` returns ``[0]``: a split of one
    sample has no other video (:func:`controlled_observation` refuses to show a sample its own
    frames as a control).
    """
    if n < 1:
        raise ValueError(f"need at least one sample, got n={n}")
    rng = np.random.default_rng(seed)
    perm = np.arange(n)
    for i in range(n - 1, 0, -1):
        j = int(rng.integers(0, i))  # j < i: Sattolo, not Fisher-Yates
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def real_frame_count(obs: dict[str, Any]) -> int:
    """Real frames in a GroundingEnv observation (``frame_mask`` ones)."""
    return int(np.asarray(obs["frame_mask"]).astype(bool).sum())


def shown_hw(obs: dict[str, Any]) -> tuple[int, int]:
    """``(height, width)`` of the real frames of ``obs`` (its ``shown_size``)."""
    if "shown_size" in obs:
        width, height = (int(v) for v in np.asarray(obs["shown_size"]).reshape(2))
        return height, width
    frames = np.asarray(obs["frames"])
    return int(frames.shape[1]), int(frames.shape[2])


def controlled_observation(
    obs: dict[str, Any], control: str, donor_frames: np.ndarray | None = None
) -> dict[str, Any]:
    """A copy of ``obs`` whose real frames follow ``control`` (see the module doc).

    Args:
        obs: a GroundingEnv observation (frames padded top-left into slots, ``frame_mask``,
            ``timestamps``, ``shown_size``, ``query``).
        control: ``shuffled-video`` or ``blank-video``.
        donor_frames: uint8 ``[T', H', W', 3]``: the donor sample's shown frames
            (``shuffled-video`` only).

    Returns:
        The observation with the same keys, shapes, mask, timestamps and query; only the
        pixels of the real frames differ (padding stays zero).
    """
    check_control(control)
    out = dict(obs)
    frames = np.array(obs["frames"], copy=True)
    count = real_frame_count(obs)
    height, width = shown_hw(obs)
    if control == "blank-video":
        frames[:count, :height, :width] = 0
        out["frames"] = frames
        return out
    if donor_frames is None or len(donor_frames) == 0:
        raise ValueError("shuffled-video needs the donor sample's frames (got none)")
    donor = np.asarray(donor_frames, dtype=np.uint8)
    for k in range(count):
        pick = 0 if count == 1 else int(round(k * (len(donor) - 1) / (count - 1)))
        image = donor[pick]
        if image.shape[:2] != (height, width):
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        frames[k, :height, :width] = image
    out["frames"] = frames
    return out


__all__ = [
    "VISUAL_CONTROLS",
    "VisualControl",
    "check_control",
    "controlled_observation",
    "donor_permutation",
    "real_frame_count",
    "shown_hw",
]
