"""verl export: a parquet of prompts, frames and ground truth for verl's ``RLHFDataset``.

Row schema (what ``verl.utils.dataset.rl_dataset.RLHFDataset`` reads; one row per sample):

================================  ===========================================================
column                            value
================================  ===========================================================
``data_source``                   ``stvg/<dataset>`` (verl groups its reward metrics by it)
``prompt``                        chat messages with string contents; the user message holds
                                  one ``<video>`` placeholder where the policy's template
                                  puts the video. ``RLHFDataset`` turns it into the same
                                  content items the VLM policy builds, so the chat template
                                  renders the policy's prompt text exactly
``videos``                        one entry: ``{"video": [frames], "sample_fps", "raw_fps",
                                  "resized_height", "resized_width", "stvg_timestamps"}`` —
                                  the shown frames themselves (base64 PNG data URIs, or JPEG),
                                  never a path that verl's video utilities would resample
                                  at another rate; the sizes are the ones the model sees
``ability``                       ``video_grounding``
``reward_model``                  ``{"style": "rule", "ground_truth": <JSON string>}``: the
                                  verifier's record (``docs/verifier.md``) with the answer
                                  contract: format, coordinates, the model's frame size,
                                  the shown frames' native indices and times
``extra_info``                    ``index``, ``split``, ``sample_id``, ``query``,
                                  ``family``, ``frames_shown``, ``video_tokens`` (stvg's
                                  cost figure for the policy's family), ``target`` (the
                                  ground truth as the answer to write: an SFT target)
================================  ===========================================================

Two ways for verl to read the frames:

* verl's own ``RLHFDataset`` (qwen-vl-utils): the frames and the model's frame size are
  exact, and so is every token count and, for Qwen2.5-VL, the time per temporal patch
  (``sample_fps``). qwen-vl-utils numbers the frames ``0, 1, ...`` at ``raw_fps``, so
  Qwen3-VL's in-prompt timestamps are exact when the shown times are ``k / fps`` (a native
  rate that is a multiple of ``fps``, no ``max_frames`` thinning), and it resizes the frames
  itself (bicubic) before the processor does, so pixel values differ slightly from stvg's.
* :class:`stvg.exports.verl_dataset.StvgRLHFDataset` (``data.custom_cls``): hands the processor the shown frames and
  the policy's own video metadata (:func:`stvg.policies.vlm.video.clip_and_metadata`): the
  same pixels, timestamps and tokens as the VLM policy, for both families.

The reward is :func:`stvg.verifiers.adapters.verl.compute_score` (``custom_reward_function``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from stvg.exports.samples import VIDEO_PLACEHOLDER, ExportSample, data_uri, decode_data_uri

#: ``ability`` column value of every row.
ABILITY = "video_grounding"


def prompt_messages(sample: ExportSample) -> list[dict[str, str]]:
    """The policy's chat messages with string contents, the video as ``<video>``."""
    messages: list[dict[str, str]] = []
    for message in sample.messages:
        content = message["content"]
        if isinstance(content, str):
            if VIDEO_PLACEHOLDER in content:
                raise ValueError(
                    f"sample {sample.sample_id!r}: the prompt text holds {VIDEO_PLACEHOLDER!r}, "
                    "which verl would read as a video; remove it from the query or template"
                )
            messages.append({"role": message["role"], "content": content})
            continue
        parts = []
        for item in content:
            if item.get("type") == "video":
                parts.append(VIDEO_PLACEHOLDER)
            elif item.get("type") == "text":
                if VIDEO_PLACEHOLDER in item["text"]:
                    raise ValueError(
                        f"sample {sample.sample_id!r}: the prompt text holds "
                        f"{VIDEO_PLACEHOLDER!r}, which verl would read as a video; remove it "
                        "from the query or template"
                    )
                parts.append(item["text"])
            else:
                raise ValueError(f"unexpected content item {item.get('type')!r} in the prompt")
        messages.append({"role": message["role"], "content": "".join(parts)})
    return messages


def video_entry(sample: ExportSample, family: str, image_format: str = "png") -> dict[str, Any]:
    """The row's ``videos`` entry: the shown frames and how the model sees them."""
    width, height = sample.prepared.model_size
    rate = 1.0 / sample.shown.interval_s
    return {
        "video": [data_uri(frame, image_format) for frame in sample.frames],
        "sample_fps": rate,
        "raw_fps": rate,
        "resized_height": int(height),
        "resized_width": int(width),
        "stvg_timestamps": [float(t) for t in sample.shown.timestamps_s],
        "stvg_family": family,
    }


def verl_row(
    sample: ExportSample, *, dataset: str, split: str, family: str, image_format: str = "png"
) -> dict[str, Any]:
    """One parquet row of ``sample`` (module doc)."""
    return {
        "data_source": f"stvg/{dataset}",
        "prompt": prompt_messages(sample),
        "videos": [video_entry(sample, family, image_format)],
        "ability": ABILITY,
        "reward_model": {"style": "rule", "ground_truth": json.dumps(sample.ground_truth)},
        "extra_info": {
            "index": int(sample.index),
            "split": split,
            "sample_id": sample.sample_id,
            "query": sample.query,
            "family": family,
            "frames_shown": int(sample.frames.shape[0]),
            "video_tokens": int(sample.cost[f"cost/visual_tokens/{family}"]),
            "target": sample.target,
        },
    }


def write_parquet(rows: Iterable[Mapping[str, Any]], out: str | Path) -> int:
    """Write ``rows`` to the parquet file ``out`` (folders created); returns the row count.

    Raises:
        ValueError: no rows.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = list(rows)
    if not rows:
        raise ValueError(f"nothing to write to {out}: the split has no samples")
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return len(rows)


def _video_items(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    items = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            items.extend(i for i in content if isinstance(i, dict) and i.get("type") == "video")
    return items


def stvg_videos(messages: list[dict[str, Any]], temporal_patch_size: int = 2) -> list[Any]:
    """``(frames, video_metadata)`` of every stvg video item in ``messages``: the shown
    frames (uint8 ``[T, H, W, 3]``) and the VLM policy's own metadata (frame times,
    :func:`~stvg.policies.vlm.video.clip_and_metadata`).

    Raises:
        ValueError: a video item without stvg's keys (not written by ``stvg export verl``).
    """
    from stvg.policies.vlm.video import clip_and_metadata
    from stvg.verifiers.formats import ShownFrames

    videos = []
    for item in _video_items(messages):
        missing = [k for k in ("video", "stvg_timestamps", "stvg_family") if item.get(k) is None]
        if missing:
            raise ValueError(
                f"video item without {missing}: StvgRLHFDataset reads parquet files written "
                "by `stvg export verl`"
            )
        frames = np.stack([decode_data_uri(uri) for uri in item["video"]])
        times = np.asarray(item["stvg_timestamps"], dtype=np.float64)
        shown = ShownFrames(
            times,
            (int(frames.shape[2]), int(frames.shape[1])),
            (int(item["resized_width"]), int(item["resized_height"])),
            float(item["sample_fps"]),
        )
        clip, metadata = clip_and_metadata(item["stvg_family"], frames, shown, temporal_patch_size)
        videos.append((clip, metadata))
    return videos


__all__ = [
    "ABILITY",
    "prompt_messages",
    "stvg_videos",
    "verl_row",
    "video_entry",
    "write_parquet",
]
