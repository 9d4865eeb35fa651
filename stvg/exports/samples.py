"""One dataset sample as the VLM policy is shown it, for the exporters.

:func:`export_samples` plays each sample of a split through a text
:class:`~stvg.envs.grounding.GroundingEnv` bound to the policy's answer contract (the env
samples the frames: rate, ``max_frames``, ``max_side``) and builds the prompt with the
policy's :class:`~stvg.policies.vlm.prompter.VLMPrompter`, never a copy of its logic.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from stvg.data.types import Sample
from stvg.envs.config import EnvConfig, as_env_config
from stvg.envs.scoring import cost_info
from stvg.policies.vlm.prompter import VLMPrompter
from stvg.policies.vlm.video import PreparedPrompt
from stvg.verifiers.adapters.common import ground_truth_to_dict
from stvg.verifiers.formats import AnswerContract, ShownFrames

#: The placeholder verl's ``RLHFDataset`` replaces by the row's video (and TRL's image
#: placeholders are content items, see :mod:`stvg.exports.trl`).
VIDEO_PLACEHOLDER = "<video>"


@dataclass(frozen=True)
class ExportSample:
    """One sample as the policy is shown it.

    Attributes:
        index: position of the sample in the split.
        sample_id: the dataset's sample id.
        query: the query text.
        messages: the policy's chat messages (transformers' multimodal format, one video
            content item).
        prompt_text: the chat prompt the policy's processor expands (generation prompt added).
        frames: uint8 ``[T, H, W, 3]`` shown frames (RGB, the shown size).
        shown: their timestamps (seconds), shown size and the size the model sees (pixels).
        ground_truth: the verifier's ground-truth record of the sample (with the answer
            contract: format, coordinates, the model's frame size), ``docs/verifier.md``.
        cost: stvg's cost figures of the sample (``cost/frames_shown``,
            ``cost/visual_tokens/<family>``).
        prepared: the processor's output for the prompt (what the policy feeds the model).
        sample: the dataset sample (ground truth in original pixels and native frames).
        contract: the episode's answer contract (format, coordinates, what was shown).
    """

    index: int
    sample_id: str
    query: str
    messages: list[dict[str, Any]]
    prompt_text: str
    frames: np.ndarray
    shown: ShownFrames
    ground_truth: dict[str, Any]
    cost: dict[str, Any]
    prepared: PreparedPrompt
    sample: Sample
    contract: AnswerContract

    @property
    def target(self) -> str:
        """The ground truth as the answer the model should write (an SFT target)."""
        return self.contract.render(self.contract.gt_answer(self.sample))

    @property
    def video_tokens(self) -> int:
        """``<|video_pad|>`` tokens the policy's processor gave this prompt."""
        t, h, w = self.prepared.grid_thw
        return int(t * h * w // self.prepared.merge_size**2)


#: Model families the TRL and verl exports support: the Qwen video families, whose frames
#: go in as one video that those engines' Qwen pipelines rebuild exactly.
EXPORT_FAMILIES: tuple[str, ...] = ("qwen2.5-vl", "qwen3-vl")


def check_export_family(prompter: VLMPrompter) -> None:
    """Raise ``ValueError`` unless ``prompter``'s family is one of :data:`EXPORT_FAMILIES`
    (the message names the checkpoint's family and the supported ones)."""
    if prompter.family not in EXPORT_FAMILIES:
        raise ValueError(
            f"stvg export: {prompter.model_path} is a {prompter.family} checkpoint, but the "
            f"TRL and verl exports support only the families {list(EXPORT_FAMILIES)} (their "
            "frames go in as one video that those engines rebuild); evaluate or train a "
            f"{prompter.family} policy with stvg itself (stvg evaluate / stvg train)"
        )


def build_export_env(prompter: VLMPrompter, env_config: EnvConfig | Mapping[str, Any]) -> Any:
    """The text ``GroundingEnv`` of ``env_config`` (an :class:`~stvg.envs.config.EnvConfig`
    or a mapping of its keys) scoring in ``prompter``'s answer contract (unset contract
    keys filled from it; contradicting keys raise ``ContractError``)."""
    from stvg.envs.contract import bind_env_kwargs, check_env_policy
    from stvg.envs.grounding import GroundingEnv

    check_export_family(prompter)
    config = as_env_config(env_config)
    if config.kind != "grounding":
        raise ValueError(f"exports write prompts of a grounding env, got env.id {config.id}")
    text = replace(config, action_format="text")
    kwargs = bind_env_kwargs(prompter, text.env_kwargs())
    env = GroundingEnv(kwargs)
    check_env_policy(env, prompter, env_name="export env", policy_name="policy vlm")
    return env


def export_samples(
    prompter: VLMPrompter, env: Any, *, limit: int | None = None
) -> Iterator[ExportSample]:
    """Every sample of ``env``'s split (the first ``limit``), as the policy is shown it."""
    count = len(env.samples) if limit is None else min(int(limit), len(env.samples))
    for index in range(count):
        obs, _ = env.reset(options={"index": index})
        prep = prompter.prepare(obs, env.frame_context)
        frames, query, _ = prompter.shown_frames(obs)
        contract = env.contract
        sample = env.sample
        yield ExportSample(
            index=index,
            sample_id=sample.sample_id,
            query=query,
            messages=prompter.messages(query, prep.shown),
            prompt_text=prep.text,
            frames=frames,
            shown=prep.shown,
            ground_truth=ground_truth_to_dict(sample, contract),
            cost=cost_info(int(frames.shape[0]), prep.shown.shown_size, prompter.geometry),
            prepared=prep,
            sample=sample,
            contract=contract,
        )


def encode_image(frame: np.ndarray, image_format: str = "png") -> bytes:
    """``frame`` (uint8 ``[H, W, 3]`` RGB) as PNG (lossless) or JPEG (quality 95) bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    if image_format == "png":
        Image.fromarray(frame).save(buffer, format="PNG")
    elif image_format == "jpeg":
        Image.fromarray(frame).save(buffer, format="JPEG", quality=95)
    else:
        raise ValueError(f"image_format must be 'png' or 'jpeg', got {image_format!r}")
    return buffer.getvalue()


def data_uri(frame: np.ndarray, image_format: str = "png") -> str:
    """``frame`` as a ``data:image/...;base64,`` URI (what qwen-vl-utils reads)."""
    payload = base64.b64encode(encode_image(frame, image_format)).decode("ascii")
    return f"data:image/{image_format};base64,{payload}"


def decode_data_uri(uri: str) -> np.ndarray:
    """The uint8 ``[H, W, 3]`` RGB frame of a :func:`data_uri`.

    Raises:
        ValueError: not a base64 image data URI.
    """
    from PIL import Image

    if not (isinstance(uri, str) and uri.startswith("data:image") and "base64," in uri):
        raise ValueError(f"expected a base64 image data URI, got {str(uri)[:40]!r}...")
    data = base64.b64decode(uri.split("base64,", 1)[1])
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


__all__ = [
    "EXPORT_FAMILIES",
    "VIDEO_PLACEHOLDER",
    "check_export_family",
    "ExportSample",
    "build_export_env",
    "data_uri",
    "decode_data_uri",
    "encode_image",
    "export_samples",
]
