"""The vision warm-up of a small VLM: image grounding before video grounding.

A VLM of a few million parameters trained from random weights on the synthetic videos
learns the answer format and the query's event words, but not where the object is: its
answers do not change when the frames are replaced by another video's. Two facts explain
it (measured; see the README's VLM section):

* the language model can read a box out of visual tokens only when the position code sits on
  the object's token and the background tokens are all alike: with the position of every
  token on every token (what a randomly initialised tower gives), attention must first learn
  which token to read, and within our budget it does not;
* the vision tower can learn such tokens in minutes from a dense objective, as a detector
  backbone does.

So, as real VLMs are pre-trained on image grounding before video, the warm-up has two
stages on single-frame grounding images (:func:`stvg.data.synthetic.images.grounding_image`):

1. **Tower stage** (``tower_steps``; the vision tower alone): on every drawn object's visual
   token (the merged token whose cell holds the object's centre; the top object wins a
   shared cell) the tower's output (and each DeepStack feature of Qwen3-VL) regresses an
   **object code** of the object's box and attributes (:func:`object_code`), and on every
   other token a constant **background code** (:func:`background_code`); squared error summed
   over the code's dimensions, averaged over tokens and images.
2. **Grounding stage** (``grounding_steps``; the whole model, the tower at
   ``grounding_tower_lr``): the policy's own prompt for the image as a one-frame clip at
   time 0 and its query, and the answer contract's rendering of the target box as the
   target text (``{"span": [0.0, 0.0], "boxes": {"0.0": [...]}}`` in json-v1); the token
   negative log-likelihood of VLM SFT. The first ``single_object_steps`` show the target
   alone (where to look before what to look for), later steps a share
   ``single_object_share`` of lone targets.

The images are drawn at the env's ``max_side`` (the size the video frames are shown at) with
the env's resize (area interpolation). The grounding stage is evaluated every ``eval_every``
steps with greedy answers on ``eval_images`` held-out images (another seed): the mean IoU of
the first answered box with the target box, on the images as drawn and with the target
alone (``warmup/miou``, ``warmup/miou_single``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np

from stvg.config import InvalidField
from stvg.data.synthetic.images import GroundingImage, grounding_image
from stvg.data.synthetic.scene import COLOURS_BGR, SHAPES, SIZE_CLASSES
from stvg.data.types import SecondLevelAnswer
from stvg.verifiers.formats import FrameContext
from stvg.verifiers.iou import box_iou_single

#: Frequencies (cycles over the frame side times 2) of the sine and cosine features of each
#: box coordinate in the object code: periods of 2, 1 and 1/2 frame sides.
CODE_FREQUENCIES = (1.0, 2.0, 4.0)
#: Features per box coordinate: a sine and a cosine per frequency, and the coordinate itself.
FEATURES_PER_COORD = 2 * len(CODE_FREQUENCIES) + 1
_COLOURS = tuple(COLOURS_BGR)
#: Where each part of a code lives in the token vector.
CODE_LAYOUT = {
    "box": (0, 4 * FEATURES_PER_COORD),
    "colour": (4 * FEATURES_PER_COORD, 4 * FEATURES_PER_COORD + len(_COLOURS)),
    "shape": (4 * FEATURES_PER_COORD + len(_COLOURS), 4 * FEATURES_PER_COORD + 9),
    "size": (4 * FEATURES_PER_COORD + 9, 4 * FEATURES_PER_COORD + 11),
    "object": (4 * FEATURES_PER_COORD + 11, 4 * FEATURES_PER_COORD + 12),
    "background": (4 * FEATURES_PER_COORD + 12, 4 * FEATURES_PER_COORD + 13),
}
#: Dimensions a code needs (the model's visual tokens must be at least this wide).
CODE_DIMS = CODE_LAYOUT["background"][1]
#: The background code's one non-zero value (the object code's squared norm is about 17).
BACKGROUND_LEVEL = 6.0


def object_code(
    box_norm: Sequence[float], colour: str, shape: str, size: str, dim: int
) -> np.ndarray:
    """The tower stage's target on an object's token: float32 ``[dim]``.

    Per box coordinate ``b`` (``[x1, y1, x2, y2]`` as fractions of the frame, 0..1):
    ``sin(pi f b)``, ``cos(pi f b)`` for ``f`` in :data:`CODE_FREQUENCIES` and ``2 b - 1``;
    then one-hot colour, shape and size, and an object flag of 1 (:data:`CODE_LAYOUT`);
    zeros after :data:`CODE_DIMS`.

    >>> code = object_code([0.0, 0.5, 0.25, 1.0], "red", "circle", "small", 48)
    >>> [round(float(v), 3) for v in code[:7]]  # x1 = 0
    [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, -1.0]
    """
    _check_dim(dim)
    code = np.zeros(dim, dtype=np.float32)
    omega = np.pi * np.asarray(CODE_FREQUENCIES)
    for i, b in enumerate(np.asarray(box_norm, dtype=np.float64)):
        lo = i * FEATURES_PER_COORD
        k = len(CODE_FREQUENCIES)
        code[lo : lo + k] = np.sin(b * omega)
        code[lo + k : lo + 2 * k] = np.cos(b * omega)
        code[lo + 2 * k] = 2.0 * b - 1.0
    code[CODE_LAYOUT["colour"][0] + _COLOURS.index(colour)] = 1.0
    code[CODE_LAYOUT["shape"][0] + SHAPES.index(shape)] = 1.0
    code[CODE_LAYOUT["size"][0] + SIZE_CLASSES.index(size)] = 1.0
    code[CODE_LAYOUT["object"][0]] = 1.0
    return code


def background_code(dim: int) -> np.ndarray:
    """The tower stage's target on a token without an object: :data:`BACKGROUND_LEVEL` in the
    background slot, zeros elsewhere."""
    _check_dim(dim)
    code = np.zeros(dim, dtype=np.float32)
    code[CODE_LAYOUT["background"][0]] = BACKGROUND_LEVEL
    return code


def _check_dim(dim: int) -> None:
    if dim < CODE_DIMS:
        raise ValueError(
            f"the vision warm-up writes {CODE_DIMS}-dimensional codes on the visual tokens, "
            f"but the model's visual tokens have {dim} dimensions: use a language model of "
            f"at least {CODE_DIMS} hidden units"
        )


def tower_targets(image: GroundingImage, grid: tuple[int, int], dim: int) -> np.ndarray:
    """float32 ``[rows * cols, dim]``: the code of each merged token of ``image``.

    ``grid`` is ``(rows, cols)`` of the merged tokens (row-major, as the Qwen processors
    order them). An object's code goes to the token whose cell holds its box centre; objects
    are written in drawing order, so the one drawn on top wins a shared cell.
    """
    rows, cols = grid
    width, height = image.size
    targets = np.tile(background_code(dim), (rows * cols, 1))
    scale = np.array([width, height, width, height], dtype=np.float64)
    for obj in image.objects:  # drawing order
        box = obj.box_xyxy / scale
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        row = min(rows - 1, max(0, int(cy * rows)))
        col = min(cols - 1, max(0, int(cx * cols)))
        targets[row * cols + col] = object_code(box, obj.colour, obj.shape, obj.size, dim)
    return targets


def image_observation(image: GroundingImage, side: int) -> dict[str, Any]:
    """``image`` as a one-frame observation at time 0, shrunk so its longer side is ``side``
    (area interpolation, as the env shows video frames)."""
    width, height = image.size
    scale = min(1.0, side / max(width, height))
    shown = (max(1, round(width * scale)), max(1, round(height * scale)))
    pixels = image.image
    if shown != (width, height):
        pixels = cv2.resize(pixels, shown, interpolation=cv2.INTER_AREA)
    return {
        "frames": pixels[None],
        "frame_mask": np.ones(1, dtype=np.int8),
        "timestamps": np.zeros(1, dtype=np.float32),
        "shown_size": np.asarray(shown, dtype=np.int64),
        "query": image.query,
    }


def image_context(image: GroundingImage, obs: dict[str, Any], spec: Any) -> FrameContext:
    """The answer contract's frame context of ``image`` shown as ``obs`` (one frame at time
    0, the model's frame size from ``spec``: a :class:`~stvg.verifiers.formats.ContractSpec`)."""
    shown = tuple(int(v) for v in obs["shown_size"])
    ctx = FrameContext(
        frame_idx=[0],
        timestamps_s=[0.0],
        shown_size=shown,  # type: ignore[arg-type]
        original_size=image.size,
        native_fps=1.0,
        num_frames=1,
        fps=spec.fps,
    )
    return spec.contract(ctx).frame


def image_target(image: GroundingImage, ctx: FrameContext, spec: Any) -> str:
    """The grounding stage's target text: the target box at time 0 in the answer contract
    (its format and coordinates)."""
    answer = SecondLevelAnswer(
        span_s=(0.0, 0.0), times_s=np.zeros(1), boxes_xyxy=np.asarray(image.box_xyxy)[None]
    )
    return spec.contract(ctx).render(answer)


@dataclass
class VisionWarmupConfig:
    """The two warm-up stages (see the module doc).

    Attributes:
        tower_steps: optimiser steps of the tower stage (0 skips it).
        grounding_steps: optimiser steps of the grounding stage (0 skips it).
        batch_size: images per optimiser step (both stages).
        tower_lr: AdamW learning rate of the tower stage.
        lr: peak AdamW learning rate of the grounding stage (linear warm-up over 50 steps,
            cosine decay to 0 at ``grounding_steps``).
        grounding_tower_lr: the tower's learning rate in the grounding stage (0 keeps the
            codes the tower stage taught; the same schedule).
        single_object_steps: first grounding steps that show the target alone.
        single_object_share: share of lone-target images after them.
        difficulty: the generator preset of the images' scenes.
        seed: stream of the training images (the evaluation images use ``seed + 1``).
        eval_images: held-out images of each evaluation (0 = none).
        eval_every: evaluate every this many grounding steps, and at the end.
    """

    tower_steps: int = 800
    grounding_steps: int = 1500
    batch_size: int = 16
    tower_lr: float = 1e-3
    lr: float = 1e-3
    grounding_tower_lr: float = 0.0
    single_object_steps: int = 400
    single_object_share: float = 0.3
    difficulty: Literal["easy", "medium", "hard"] = "easy"
    seed: int = 0
    eval_images: int = 200
    eval_every: int = 250

    def __post_init__(self) -> None:
        for name in ("tower_steps", "grounding_steps", "single_object_steps", "eval_images"):
            if getattr(self, name) < 0:
                raise InvalidField(name, f"must be >= 0, got {getattr(self, name)}")
        for name in ("batch_size", "eval_every"):
            if getattr(self, name) < 1:
                raise InvalidField(name, f"must be >= 1, got {getattr(self, name)}")
        for name in ("tower_lr", "lr"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise InvalidField(name, f"must be a positive number, got {value}")
        if not (math.isfinite(self.grounding_tower_lr) and self.grounding_tower_lr >= 0):
            raise InvalidField("grounding_tower_lr", f"must be >= 0, got {self.grounding_tower_lr}")
        if not 0.0 <= self.single_object_share <= 1.0:
            raise InvalidField(
                "single_object_share", f"must be in [0, 1], got {self.single_object_share}"
            )


def _images(
    config: VisionWarmupConfig, start: int, count: int, single: Sequence[bool]
) -> list[GroundingImage]:
    return [
        grounding_image(
            start + k, seed=config.seed, difficulty=config.difficulty, single_object=single[k]
        )
        for k in range(count)
    ]


#: Families whose vision tower the warm-up trains (it reads their video grid).
WARMUP_FAMILIES: tuple[str, ...] = ("qwen2.5-vl", "qwen3-vl")


def run_vision_warmup(
    policy: Any,
    config: VisionWarmupConfig,
    side: int,
    *,
    log: Callable[[str], None] | None = None,
    record: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, float]:
    """Run both stages on ``policy`` (a :class:`~stvg.policies.vlm.VLMPolicy` in float32 on
    its device) with images shown at ``side`` pixels.

    Args:
        policy: the VLM policy (trained in place).
        config: the stages' settings.
        side: the longer side of the shown images (the env's ``max_side``).
        log: called with one line per 50 steps and per evaluation.
        record: called with one metrics dict per 50 steps and per evaluation
            (``warmup/tower_loss``, ``warmup/nll``, ``warmup/miou``, ``warmup/miou_single``).

    Returns:
        The last evaluation's figures (empty without an evaluation).
    """
    if policy.family not in WARMUP_FAMILIES:
        raise ValueError(
            f"the vision warm-up reads a Qwen video grid (video_grid_thw); the policy is a "
            f"{policy.family} model, and the warm-up "
            f"supports only {list(WARMUP_FAMILIES)}: leave the warm-up out of this run's config"
        )
    say = log or (lambda _line: None)
    keep = record or (lambda _line: None)
    started = time.perf_counter()
    if config.tower_steps:
        _tower_stage(policy, config, side, say, keep, started)
    result: dict[str, float] = {}
    if config.grounding_steps:
        result = _grounding_stage(policy, config, side, say, keep, started)
    return result


def _tower_stage(policy, config, side, say, keep, started) -> None:
    import torch

    tower = policy.vision_tower()
    dim = policy.visual_token_width()
    optimiser = torch.optim.AdamW(tower.parameters(), lr=config.tower_lr, weight_decay=0.0)
    policy.train()
    for step in range(1, config.tower_steps + 1):
        images = _images(
            config, (step - 1) * config.batch_size, config.batch_size, [False] * config.batch_size
        )
        preps = [policy.prompter.prepare(image_observation(im, side)) for im in images]
        features = policy.model.get_video_features(
            pixel_values_videos=torch.cat([p.pixel_values_videos for p in preps]).to(
                policy.device, policy.weight_dtype
            ),
            video_grid_thw=torch.cat([p.video_grid_thw for p in preps]).to(policy.device),
            return_dict=True,
        )
        deepstack = getattr(features, "deepstack_features", None) or []
        outputs = [features.pooler_output, *deepstack]
        loss = torch.zeros((), device=policy.device)
        for im, prep, *per_output in zip(images, preps, *outputs, strict=True):
            _, rows, cols = prep.grid_thw
            merge = prep.merge_size
            target = torch.as_tensor(
                tower_targets(im, (rows // merge, cols // merge), dim), device=policy.device
            )
            for out in per_output:
                grid = out.reshape(-1, rows // merge * (cols // merge), dim)  # temporal patches
                loss = loss + ((grid.float() - target) ** 2).sum(-1).mean()
        loss = loss / len(images)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 50 == 0 or step == config.tower_steps:
            seconds = time.perf_counter() - started
            keep(
                {"warmup/step": step, "warmup/tower_loss": float(loss.detach()), "time_s": seconds}
            )
            say(
                f"warm-up tower step {step}/{config.tower_steps}: code loss {float(loss.detach()):.3f} ({seconds:.0f}s)"
            )


def _grounding_stage(policy, config, side, say, keep, started) -> dict[str, float]:
    import torch

    from stvg.policies.vlm.completion import target_completion

    spec = policy.answer_spec
    tower_ids = {id(p) for p in policy.vision_tower().parameters()}
    params = list(policy.parameters())
    groups = [{"params": [p for p in params if id(p) not in tower_ids], "lr": config.lr}]
    if config.grounding_tower_lr > 0:
        groups.append(
            {"params": [p for p in params if id(p) in tower_ids], "lr": config.grounding_tower_lr}
        )
    else:
        for p in params:
            if id(p) in tower_ids:
                p.requires_grad_(False)
    optimiser = torch.optim.AdamW(groups, weight_decay=0.0)
    total = config.grounding_steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda s: min(1.0, (s + 1) / 50) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)),
    )
    rng = np.random.default_rng(config.seed)
    evaluation: dict[str, float] = {}
    policy.train()
    try:
        for step in range(1, total + 1):
            share = 1.0 if step <= config.single_object_steps else config.single_object_share
            single = list(rng.random(config.batch_size) < share)
            images = _images(
                config, 10**7 + (step - 1) * config.batch_size, config.batch_size, single
            )
            obs = [image_observation(im, side) for im in images]
            ctxs = [image_context(im, o, spec) for im, o in zip(images, obs, strict=True)]
            completions = [
                target_completion(policy, image_target(im, c, spec))
                for im, c in zip(images, ctxs, strict=True)
            ]
            log_probs = policy.log_prob(obs, completions, ctxs)
            loss = -log_probs.sum() / sum(len(c.token_ids) for c in completions)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
            scheduler.step()
            if step % 50 == 0:
                seconds = time.perf_counter() - started
                keep({"warmup/step": step, "warmup/nll": float(loss), "time_s": seconds})
                say(
                    f"warm-up grounding step {step}/{total}: nll {float(loss):.4f} ({seconds:.0f}s)"
                )
            if config.eval_images and (step % config.eval_every == 0 or step == total):
                evaluation = evaluate_grounding(policy, config, side)
                keep({"warmup/step": step, **evaluation})
                say(
                    f"warm-up grounding eval @ {step}: mIoU {evaluation['warmup/miou']:.3f} "
                    f"(target alone {evaluation['warmup/miou_single']:.3f})"
                )
    finally:
        for p in params:
            p.requires_grad_(True)
    return evaluation


def evaluate_grounding(policy: Any, config: VisionWarmupConfig, side: int) -> dict[str, float]:
    """Greedy single-frame grounding on ``config.eval_images`` held-out images (seed
    ``config.seed + 1``): the mean IoU of the first answered box with the target's (0 for an
    unusable answer), as drawn and with the target alone."""
    import torch

    spec = policy.answer_spec
    out: dict[str, float] = {}
    was_training = policy.model.training
    policy.eval()
    try:
        for name, single in (("warmup/miou", False), ("warmup/miou_single", True)):
            images = [
                grounding_image(
                    i, seed=config.seed + 1, difficulty=config.difficulty, single_object=single
                )
                for i in range(config.eval_images)
            ]
            ious = []
            for lo in range(0, len(images), 50):
                chunk = images[lo : lo + 50]
                obs = [image_observation(im, side) for im in chunk]
                ctxs = [image_context(im, o, spec) for im, o in zip(chunk, obs, strict=True)]
                with torch.no_grad():
                    answers = policy.generate_batch(obs, ctxs, do_sample=False)
                for im, ctx, answer in zip(chunk, ctxs, answers, strict=True):
                    text = answer[0].text if isinstance(answer, (list, tuple)) else answer.text
                    parsed = spec.contract(ctx).parse(text)
                    boxes = None if parsed.answer is None else parsed.answer.boxes_xyxy
                    ious.append(
                        box_iou_single(boxes[0], im.box_xyxy) if parsed.ok and len(boxes) else 0.0
                    )
            out[name] = float(np.mean(ious))
    finally:
        if was_training:
            policy.train()
    return out


__all__ = [
    "BACKGROUND_LEVEL",
    "CODE_DIMS",
    "CODE_FREQUENCIES",
    "CODE_LAYOUT",
    "VisionWarmupConfig",
    "background_code",
    "evaluate_grounding",
    "image_context",
    "image_observation",
    "image_target",
    "object_code",
    "run_vision_warmup",
    "tower_targets",
]
