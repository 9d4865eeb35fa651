"""TRL export: a ``datasets.Dataset`` for ``GRPOTrainer`` with the shown frames as images.

TRL's ``GRPOTrainer`` takes images, not videos, with conversational prompts. Each shown
frame becomes one image, preceded by its time (``"t=2s:"``); the rest of the prompt is the
VLM policy's template text (which also lists the times). Qwen's *image* processor resizes
each frame by its own pixel bounds (not the video processor's), so ``pixels`` coordinates
refer to the frames as the image processor resized them: that size is measured with the
checkpoint's image processor, told in the prompt and written into the ground truth, so the
verifier reads answers in the frame the model saw.

Columns: ``prompt`` (chat messages; the user content has one ``{"type": "image"}``
placeholder per frame, filled by TRL from ``images``), ``images`` (the shown frames, PIL),
``ground_truth`` (the verifier's record as a JSON string, read by
:func:`stvg.verifiers.adapters.make_trl_reward`), ``target`` (the ground truth as the
answer the model should write, in this contract: an SFT target), ``sample_id``, ``frames_shown``,
``visual_tokens`` (image tokens of the prompt, from the processor).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import numpy as np

from stvg.exports.samples import ExportSample
from stvg.policies.vlm.prompter import VLMPrompter
from stvg.verifiers.formats import AnswerContract, ShownFrames
from stvg.verifiers.formats.base import format_seconds


def image_model_size(prompter: VLMPrompter, frame: np.ndarray) -> tuple[int, int]:
    """``(width, height)`` the checkpoint's image processor resizes ``frame`` to, pixels."""
    out = prompter.processor.image_processor(images=[frame], return_tensors="pt")
    _, grid_h, grid_w = (int(v) for v in out["image_grid_thw"][0])
    patch = int(prompter.processor.image_processor.patch_size)
    return grid_w * patch, grid_h * patch


def image_tokens(prompter: VLMPrompter, frames: np.ndarray) -> int:
    """``<|image_pad|>`` tokens of ``frames`` as separate images."""
    out = prompter.processor.image_processor(images=list(frames), return_tensors="pt")
    merge = int(prompter.processor.image_processor.merge_size)
    return int(out["image_grid_thw"].prod(dim=1).sum()) // merge**2


def frame_items(shown: ShownFrames) -> list[dict[str, Any]]:
    """One ``"t=<time>s:"`` text item and one image placeholder per shown frame."""
    items: list[dict[str, Any]] = []
    for time in shown.timestamps_s:
        items.append({"type": "text", "text": f"t={format_seconds(float(time))}s:"})
        items.append({"type": "image", "text": None})
    return items


def trl_row(prompter: VLMPrompter, sample: ExportSample) -> dict[str, Any]:
    """One dataset row of ``sample`` (module doc)."""
    from PIL import Image

    size = image_model_size(prompter, sample.frames[0])
    shown = ShownFrames(sample.shown.timestamps_s, sample.shown.shown_size, size, sample.shown.fps)
    messages = []
    for message in prompter.messages(sample.query, shown):
        content = message["content"]
        if isinstance(content, str):
            messages.append(
                {"role": message["role"], "content": [{"type": "text", "text": content}]}
            )
            continue
        parts: list[dict[str, Any]] = []
        for item in content:
            parts.extend(frame_items(shown) if item["type"] == "video" else [item])
        messages.append({"role": message["role"], "content": parts})
    # the answer contract of the video, read in the frame size the image processor gives
    record = {**sample.ground_truth, "model_size": [int(size[0]), int(size[1])]}
    contract = AnswerContract(sample.contract.spec, replace(sample.contract.frame, model_size=size))
    return {
        "prompt": messages,
        "images": [Image.fromarray(f) for f in sample.frames],
        "ground_truth": json.dumps(record),
        "target": contract.render(contract.gt_answer(sample.sample)),
        "sample_id": sample.sample_id,
        "frames_shown": int(sample.frames.shape[0]),
        "visual_tokens": image_tokens(prompter, sample.frames),
    }


def trl_dataset(prompter: VLMPrompter, samples: Iterable[ExportSample]) -> Any:
    """The ``datasets.Dataset`` of ``samples`` (module doc).

    Raises:
        ValueError: no samples.
    """
    import datasets

    rows = [trl_row(prompter, sample) for sample in samples]
    if not rows:
        raise ValueError("nothing to export: the split has no samples")
    features = datasets.Features(
        {
            "prompt": [
                {
                    "role": datasets.Value("string"),
                    "content": [
                        {"type": datasets.Value("string"), "text": datasets.Value("string")}
                    ],
                }
            ],
            "images": [datasets.Image()],
            "ground_truth": datasets.Value("string"),
            "target": datasets.Value("string"),
            "sample_id": datasets.Value("string"),
            "frames_shown": datasets.Value("int64"),
            "visual_tokens": datasets.Value("int64"),
        }
    )
    return datasets.Dataset.from_list(rows, features=features)


__all__ = ["frame_items", "image_model_size", "image_tokens", "trl_dataset", "trl_row"]
