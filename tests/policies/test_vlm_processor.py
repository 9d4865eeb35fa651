"""Video inputs through transformers' own Qwen processors: parity and timing.

The cost and geometry formulas (``stvg.envs.cost``, ``ModelGeometry``) are fast estimates;
these tests hold them EQUAL to the real video processors' ``video_grid_thw``. The policy's
inputs are held equal to what the processor classes produce when called directly.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import torch
from transformers import (
    Qwen2_5_VLProcessor,
    Qwen2VLImageProcessor,
    Qwen2VLVideoProcessor,
    Qwen3VLProcessor,
    Qwen3VLVideoProcessor,
)

from stvg.envs.cost import resized_size, visual_tokens
from stvg.policies.vlm.tiny import CHAT_TEMPLATE, build_processor, build_tokenizer
from stvg.policies.vlm.video import (
    clip_and_metadata,
    encode_prompt,
    processor_geometry,
    video_kwargs,
)
from stvg.verifiers.formats import ModelGeometry, ShownFrames

FAMILIES = ("qwen2.5-vl", "qwen3-vl")
VIDEO_PROCESSORS = {"qwen2.5-vl": Qwen2VLVideoProcessor, "qwen3-vl": Qwen3VLVideoProcessor}
PATCH = {"qwen2.5-vl": 14, "qwen3-vl": 16}
PROMPT = "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>find it<|im_end|>\n"

#: (frames, (height, width) in pixels): tiny, the synthetic benchmark's, tall, thin and odd
#: frames at every count; SD and HD at short counts (resizing them dominates the test).
SMALL = ((56, 56), (126, 224), (224, 126), (40, 300), (17, 33))
CASES = (
    *itertools.product((1, 2, 3, 4, 7, 16), SMALL),
    *itertools.product((1, 2, 5), ((480, 640), (720, 1280))),
)
#: Processor settings: defaults, overridden pixel bounds, the qwen-vl-utils cap.
SETTINGS = (
    {},
    {"min_pixels": 4096, "max_pixels": 50_000},
    {"cap_pixels_per_frame": True},
)


def processor_grid(family, num_frames, height, width, **settings):
    """``video_grid_thw`` of transformers' video processor for ``num_frames`` black frames."""
    processor = VIDEO_PROCESSORS[family]()
    kwargs = {"cap_pixels_per_frame": settings.get("cap_pixels_per_frame", False)}
    if "min_pixels" in settings:
        kwargs["size"] = {
            "shortest_edge": settings["min_pixels"],
            "longest_edge": settings["max_pixels"],
        }
    # Qwen3-VL refuses clips under one temporal patch; the policy repeats the frame.
    frames = max(num_frames, 2) if family == "qwen3-vl" else num_frames
    video = np.zeros((frames, height, width, 3), dtype=np.uint8)
    out = processor(videos=[video], do_sample_frames=False, return_tensors="pt", **kwargs)
    return tuple(int(v) for v in out["video_grid_thw"][0])


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("settings", SETTINGS, ids=["defaults", "bounds", "cap"])
def test_cost_and_geometry_equal_the_real_processor(family, settings):
    patch = PATCH[family]
    for num_frames, (height, width) in CASES:
        grid_t, grid_h, grid_w = processor_grid(family, num_frames, height, width, **settings)
        where = f"{family} {num_frames} frames of {height}x{width} {settings}"
        assert resized_size(family, num_frames, height, width, **settings) == (
            grid_h * patch,
            grid_w * patch,
        ), where
        assert visual_tokens(family, num_frames, height, width, **settings) == (
            grid_t * grid_h * grid_w // 4
        ), where
        geometry = ModelGeometry(family, **settings)
        assert geometry.model_size(num_frames, (width, height)) == (
            grid_w * patch,
            grid_h * patch,
        ), where


def test_hand_computed_resizes():
    # Qwen2.5-VL, per-frame min 100_352 px: 224x126 -> beta = sqrt(100352 / 28224) = 1.8856;
    # ceil(224 * 1.8856 / 28) * 28 = 448, ceil(126 * 1.8856 / 28) * 28 = 252.
    assert processor_grid("qwen2.5-vl", 4, 126, 224) == (2, 252 // 14, 448 // 14)
    # Qwen3-VL, clip min 131_072 px over 4 frames: 56x56 -> beta = sqrt(131072 / 12544)
    # = 3.2325; ceil(56 * 3.2325 / 32) * 32 = 192 per side.
    assert processor_grid("qwen3-vl", 4, 56, 56) == (2, 12, 12)


def shown(times, size=(64, 48), fps=1.0, model_size=None):
    return ShownFrames(np.asarray(times, dtype=np.float64), size, model_size, fps)


def test_qwen3_metadata_makes_the_patch_times_the_shown_means():
    frames = np.zeros((4, 48, 64, 3), dtype=np.uint8)
    # Irregular times: patches (0, 1.5) and (2.25, 4.0) -> means 0.75 and 3.125 seconds.
    clip, metadata = clip_and_metadata("qwen3-vl", frames, shown([0, 1.5, 2.25, 4.0]), 2)
    assert clip is frames
    assert metadata == {"fps": 1.0, "frames_indices": [0, 1.5, 2.25, 4.0], "total_num_frames": 4}
    processor = build_processor("qwen3-vl")
    out = processor(
        text=[PROMPT],
        videos=[clip],
        videos_kwargs={"do_sample_frames": False, "video_metadata": [metadata]},
    )
    text = processor.tokenizer.decode(out["input_ids"][0])
    # Python formats 0.75 -> "0.8" and 3.125 -> "3.1" (exact binary values, half to even).
    assert re.findall(r"<([\d.]+) seconds>", text) == ["0.8", "3.1"]


def test_qwen3_single_frame_is_padded_to_a_temporal_patch():
    frames = np.arange(48 * 64 * 3, dtype=np.uint8).reshape(1, 48, 64, 3)
    clip, metadata = clip_and_metadata("qwen3-vl", frames, shown([3.0]), 2)
    assert clip.shape == (2, 48, 64, 3) and np.array_equal(clip[0], clip[1])
    assert metadata["frames_indices"] == [3.0, 3.0]


def test_qwen25_metadata_gives_the_shown_interval():
    frames = np.zeros((3, 48, 64, 3), dtype=np.uint8)
    _, metadata = clip_and_metadata("qwen2.5-vl", frames, shown([1.0, 3.0, 5.0]), 2)
    assert metadata == {"fps": 0.5, "frames_indices": [0, 1, 2], "total_num_frames": 3}
    processor = build_processor("qwen2.5-vl")
    out = processor(
        text=[PROMPT],
        videos=[frames],
        videos_kwargs={"do_sample_frames": False, "video_metadata": [metadata]},
        return_tensors="pt",
    )
    # 2 frames per temporal patch, 2 s apart: 4 s per patch.
    assert out["second_per_grid_ts"].tolist() == [4.0]
    # A single frame at fps 0.5: its interval is 1 / fps = 2 s.
    _, single = clip_and_metadata("qwen2.5-vl", frames[:1], shown([7.0], fps=0.5), 2)
    assert single["fps"] == pytest.approx(0.5)


def reference_processor(family):
    """A processor built from transformers' classes at their defaults (not the checkpoint's)."""
    tokenizer = build_tokenizer()
    if family == "qwen2.5-vl":
        return Qwen2_5_VLProcessor(
            Qwen2VLImageProcessor(), tokenizer, Qwen2VLVideoProcessor(), chat_template=CHAT_TEMPLATE
        )
    image = Qwen2VLImageProcessor(patch_size=16, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    return Qwen3VLProcessor(image, tokenizer, Qwen3VLVideoProcessor(), chat_template=CHAT_TEMPLATE)


@pytest.mark.parametrize("family", FAMILIES)
def test_encode_prompt_equals_the_processor_classes(family):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 126, 224, 3), dtype=np.uint8)
    view = shown([0.0, 2.0, 4.0], size=(224, 126), fps=0.5)
    processor = build_processor(family)
    geometry = processor_geometry(processor, family)
    prep = encode_prompt(processor, family, PROMPT, frames, view, geometry)

    # The documented call: native frames 0, 1, 2 of a 0.5 fps video (times 0, 2, 4 s).
    reference = reference_processor(family)
    expected = reference(
        text=[PROMPT],
        videos=[frames],
        videos_kwargs={
            "do_sample_frames": False,
            "cap_pixels_per_frame": False,
            "video_metadata": [{"fps": 0.5, "frames_indices": [0, 1, 2], "total_num_frames": 3}],
        },
        return_tensors="pt",
    )
    torch.testing.assert_close(prep.pixel_values_videos, expected["pixel_values_videos"])
    assert prep.video_grid_thw.tolist() == expected["video_grid_thw"].tolist()
    assert torch.equal(prep.input_ids, expected["input_ids"])
    assert torch.equal(prep.mm_token_type_ids, expected["mm_token_type_ids"])
    # Qwen2.5-VL (per frame): 224x126 -> 448x252. Qwen3-VL (over the clip): 4 * 128 * 224
    # < 131_072, beta = sqrt(131072 / (3 * 126 * 224)) = 1.2442 -> ceil(224 * 1.2442 / 32)
    # * 32 = 288 by ceil(126 * 1.2442 / 32) * 32 = 160.
    assert prep.model_size == {"qwen2.5-vl": (448, 252), "qwen3-vl": (288, 160)}[family]
    assert prep.visual_tokens == visual_tokens(family, 3, 126, 224)
    if family == "qwen2.5-vl":
        # Frames 2 s apart: 4 s per temporal patch, as for frames_indices / 0.5 fps.
        assert prep.second_per_grid_ts.tolist() == expected["second_per_grid_ts"].tolist()
        assert prep.second_per_grid_ts.tolist() == [4.0]
    else:
        assert prep.second_per_grid_ts is None
        text = reference.tokenizer.decode(prep.input_ids[0])
        assert re.findall(r"<([\d.]+) seconds>", text) == ["1.0", "4.0"]


def test_geometry_overrides_reach_the_processor():
    processor = build_processor("qwen2.5-vl")
    geometry = processor_geometry(processor, "qwen2.5-vl", min_pixels=4096, max_pixels=20_000)
    assert (geometry.min_pixels, geometry.max_pixels) == (4096, 20_000)
    assert geometry.cap_pixels_per_frame is False
    assert video_kwargs(geometry) == {
        "do_sample_frames": False,
        "size": {"shortest_edge": 4096, "longest_edge": 20_000},
        "cap_pixels_per_frame": False,
    }
    frames = np.zeros((2, 126, 224, 3), dtype=np.uint8)
    prep = encode_prompt(
        processor, "qwen2.5-vl", PROMPT, frames, shown([0, 1], (224, 126)), geometry
    )
    # 224x126 = 28_224 px fits in [4096, 20_000]? No: above 20_000 -> beta = sqrt(28224 / 20000)
    # = 1.188; floor(224 / 1.188 / 28) * 28 = 168, floor(126 / 1.188 / 28) * 28 = 84.
    assert prep.model_size == (168, 84)


def test_processor_geometry_rejects_a_mismatched_processor():
    processor = build_processor("qwen3-vl")
    processor.video_processor.patch_size = 14
    with pytest.raises(ValueError, match=r"qwen3-vl uses \(16, 2\)"):
        processor_geometry(processor, "qwen3-vl")
    processor = build_processor("qwen2.5-vl")
    processor.video_processor.do_resize = False
    with pytest.raises(ValueError, match="do_resize=false"):
        processor_geometry(processor, "qwen2.5-vl")


def test_encode_prompt_needs_exactly_one_placeholder():
    processor = build_processor("qwen3-vl")
    geometry = processor_geometry(processor, "qwen3-vl")
    frames = np.zeros((2, 64, 64, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="holds 2 <\\|video_pad\\|> placeholders"):
        encode_prompt(
            processor, "qwen3-vl", PROMPT + "<|video_pad|>", frames, shown([0, 1]), geometry
        )


@pytest.mark.parametrize("family", FAMILIES)
def test_geometry_of_one_frame_temporal_patches_equals_the_real_processor(family):
    # A checkpoint of `stvg models small --temporal-patch-size 1`: every frame its own tokens.
    patch = PATCH[family]
    processor = VIDEO_PROCESSORS[family](temporal_patch_size=1)
    for num_frames, (height, width) in itertools.product((1, 2, 3, 7), SMALL):
        video = np.zeros((num_frames, height, width, 3), dtype=np.uint8)
        out = processor(videos=[video], do_sample_frames=False, return_tensors="pt")
        grid_t, grid_h, grid_w = (int(v) for v in out["video_grid_thw"][0])
        where = f"{family} {num_frames} frames of {height}x{width}"
        assert grid_t == num_frames, where
        assert visual_tokens(family, num_frames, height, width, temporal_patch_size=1) == (
            grid_t * grid_h * grid_w // 4
        ), where
        geometry = ModelGeometry(family, temporal_patch_size=1)
        assert geometry.model_size(num_frames, (width, height)) == (
            grid_w * patch,
            grid_h * patch,
        ), where


def test_one_frame_patches_tell_every_frame_its_time():
    # Qwen3-VL with temporal patches of 1: four frames at 0, 1.5, 2.25, 4 s -> four tokens
    # groups, each with its own frame's time (the family's 2 would give the pair means).
    processor = build_processor("qwen3-vl", temporal_patch_size=1)
    frames = np.zeros((4, 48, 64, 3), dtype=np.uint8)
    clip, metadata = clip_and_metadata("qwen3-vl", frames, shown([0, 1.5, 2.25, 4.0]), 1)
    out = processor(
        text=[PROMPT],
        videos=[clip],
        videos_kwargs={"do_sample_frames": False, "video_metadata": [metadata]},
    )
    text = processor.tokenizer.decode(out["input_ids"][0])
    assert re.findall(r"<([\d.]+) seconds>", text) == ["0.0", "1.5", "2.2", "4.0"]
    assert processor_geometry(processor, "qwen3-vl").temporal_patch_size == 1
