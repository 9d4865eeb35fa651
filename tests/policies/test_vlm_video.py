"""Video inputs of the VLM policy: settings files, patch layout, timing, processor parity."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re

import numpy as np
import pytest
import torch
from tiny_vlm import QWEN3_PROCESSOR_FILES, QWEN25_PROCESSOR_FILES, transformers_qwen3_video_module

from stvg.envs.cost import resized_size, visual_tokens
from stvg.policies.vlm.video import VideoSettings, encode_video, load_video_settings


def write_files(path, files):
    for name, content in files.items():
        (path / name).write_text(json.dumps(content), encoding="utf-8")
    return path


def test_video_config_takes_precedence_over_the_image_config(tmp_path):
    write_files(tmp_path, QWEN25_PROCESSOR_FILES)
    settings = load_video_settings(tmp_path, "qwen2.5-vl")
    assert settings.source.endswith("video_preprocessor_config.json")
    assert (settings.min_pixels, settings.max_pixels) == (100_352, 602_112)


def test_qwen25_falls_back_to_the_image_config_min_max_pixels(tmp_path):
    # Real Qwen2.5-VL checkpoints ship only preprocessor_config.json: its top-level
    # min_pixels / max_pixels become the video bounds, as in Qwen2VLVideoProcessor.__init__.
    write_files(
        tmp_path, {"preprocessor_config.json": QWEN25_PROCESSOR_FILES["preprocessor_config.json"]}
    )
    settings = load_video_settings(tmp_path, "qwen2.5-vl")
    assert (settings.min_pixels, settings.max_pixels) == (3136, 12_845_056)
    # 10 frames of 224x224 then keep their size: 5 * 16 * 16 / 4 tokens.
    assert settings.visual_tokens(10, 224, 224) == 320


def test_processor_config_json_nested_video_processor_wins(tmp_path):
    write_files(tmp_path, QWEN3_PROCESSOR_FILES)
    nested = dict(QWEN3_PROCESSOR_FILES["video_preprocessor_config.json"])
    nested["size"] = {"shortest_edge": 4096, "longest_edge": 25_165_824}
    write_files(tmp_path, {"processor_config.json": {"video_processor": nested}})
    settings = load_video_settings(tmp_path, "qwen3-vl", cap_pixels_per_frame=True)
    assert settings.source.endswith("processor_config.json[video_processor]")
    assert (settings.min_pixels, settings.max_pixels) == (4096, 25_165_824)
    assert settings.cap_pixels_per_frame is True


def test_defaults_without_files_and_overrides(tmp_path):
    settings = load_video_settings(tmp_path, "qwen3-vl", min_pixels=1000, max_pixels=2000)
    assert settings.source is None
    assert (settings.patch_size, settings.min_pixels, settings.max_pixels) == (16, 1000, 2000)
    assert settings.image_mean == (0.5, 0.5, 0.5)


def test_patch_sizes_that_contradict_the_family_raise(tmp_path):
    files = {
        "video_preprocessor_config.json": dict(
            QWEN3_PROCESSOR_FILES["video_preprocessor_config.json"]
        )
    }
    files["video_preprocessor_config.json"]["patch_size"] = 14
    write_files(tmp_path, files)
    with pytest.raises(ValueError, match=r"qwen3-vl uses \(16, 2, 2\)"):
        load_video_settings(tmp_path, "qwen3-vl")
    (tmp_path / "video_preprocessor_config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_video_settings(tmp_path, "qwen3-vl")


def raw_settings(family):
    """Settings that keep pixel values as they are (no resize, rescale or normalise)."""
    return dataclasses.replace(
        VideoSettings.defaults(family), do_resize=False, do_rescale=False, do_normalize=False
    )


def test_patches_follow_the_merge_window_order():
    # 2 frames of 56x56 (Qwen2.5-VL: 4x4 patches of 14 px, merged 2x2). Pixel value = frame * 100
    # + patch row * 10 + patch column, in every channel.
    frames = np.zeros((2, 56, 56, 3), dtype=np.uint8)
    for f in range(2):
        for r in range(4):
            for c in range(4):
                frames[f, r * 14 : (r + 1) * 14, c * 14 : (c + 1) * 14] = f * 100 + r * 10 + c
    video = encode_video(frames, np.array([0.0, 1.0]), raw_settings("qwen2.5-vl"), fps=1.0)
    assert video.grid_thw == (1, 4, 4)
    assert video.pixel_values.shape == (16, 3 * 2 * 14 * 14)
    # Each row is [channel, time, 14, 14]; its first value is channel 0 of frame 0.
    first = video.pixel_values.reshape(16, 3, 2, 14, 14)[:, 0, 0, 0, 0].tolist()
    # Merge windows row by row, inside each window (0,0) (0,1) (1,0) (1,1).
    assert first == [0, 1, 10, 11, 2, 3, 12, 13, 20, 21, 30, 31, 22, 23, 32, 33]
    second_frame = video.pixel_values.reshape(16, 3, 2, 14, 14)[:, 0, 1, 0, 0].tolist()
    assert second_frame == [v + 100 for v in first]
    assert video.num_tokens == 4
    assert video.placeholder == "<|video_pad|>" * 4


def test_odd_clip_repeats_the_last_frame_and_times_patches():
    frames = np.stack([np.full((64, 64, 3), v, dtype=np.uint8) for v in (10, 20, 30)])
    video = encode_video(frames, np.array([0.0, 1.0, 2.0]), raw_settings("qwen3-vl"), fps=1.0)
    assert video.grid_thw == (2, 4, 4)
    per_time = video.pixel_values.reshape(2, 4, 4, 3, 2, 16, 16)[:, 0, 0, 0, :, 0, 0].tolist()
    assert per_time == [[10, 20], [30, 30]]
    # Patch times: mean of (0 s, 1 s) and of (2 s, 2 s repeated).
    assert video.placeholder.count("<0.5 seconds><|vision_start|>") == 1
    assert video.placeholder.count("<2.0 seconds><|vision_start|>") == 1
    assert video.placeholder.count("<|video_pad|>") == video.num_tokens == 2 * 4


def test_single_frame_timing():
    frame = np.zeros((1, 56, 56, 3), dtype=np.uint8)
    qwen25 = encode_video(frame, np.array([3.0]), VideoSettings.defaults("qwen2.5-vl"), fps=0.5)
    assert qwen25.second_per_grid_t == pytest.approx(2 / 0.5)
    assert qwen25.grid_thw[0] == 1
    qwen3 = encode_video(frame, np.array([3.0]), VideoSettings.defaults("qwen3-vl"), fps=0.5)
    assert qwen3.placeholder.startswith("<3.0 seconds>")
    assert qwen3.num_tokens == visual_tokens("qwen3-vl", 1, 56, 56)


def test_resize_and_normalise_match_torch_reference():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (2, 30, 40, 3), dtype=np.uint8)
    settings = VideoSettings.defaults("qwen3-vl")
    video = encode_video(frames, np.array([0.0, 1.0]), settings, fps=1.0)
    height, width = video.resized_size
    assert (height % 32, width % 32) == (0, 0)
    reference = torch.nn.functional.interpolate(
        torch.from_numpy(frames).permute(0, 3, 1, 2).float(),
        size=(height, width),
        mode="bicubic",
        antialias=True,
    )
    reference = (reference.clamp(0, 255).round() / 255 - 0.5) / 0.5
    # Un-patchify: row-major merge windows back to [T, C, H, W].
    gt, gh, gw = video.grid_thw
    patches = video.pixel_values.reshape(gt, gh // 2, gw // 2, 2, 2, 3, 2, 16, 16)
    image = patches.permute(0, 6, 5, 1, 3, 7, 2, 4, 8).reshape(2, 3, height, width)
    torch.testing.assert_close(image, reference, atol=1e-5, rtol=0)


def test_bad_frames_raise():
    settings = VideoSettings.defaults("qwen3-vl")
    with pytest.raises(ValueError, match="uint8"):
        encode_video(np.zeros((2, 32, 32, 3), np.float32), np.array([0.0, 1.0]), settings, fps=1)
    with pytest.raises(ValueError, match="one timestamp per frame"):
        encode_video(np.zeros((2, 32, 32, 3), np.uint8), np.array([0.0]), settings, fps=1)


@pytest.mark.skipif(
    importlib.util.find_spec("torchvision") is None,
    reason="transformers' video processors need torchvision (no CPU build on PyPI)",
)
@pytest.mark.parametrize("family", ["qwen2.5-vl", "qwen3-vl"])
def test_matches_the_transformers_video_processor(family):
    from transformers import Qwen2VLVideoProcessor, Qwen3VLVideoProcessor

    processor = {"qwen2.5-vl": Qwen2VLVideoProcessor, "qwen3-vl": Qwen3VLVideoProcessor}[family]()
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 256, (5, 48, 80, 3), dtype=np.uint8)
    times = np.arange(5) * 2.0
    out = processor(
        videos=[frames],
        video_metadata=[{"total_num_frames": 5, "fps": 0.5, "frames_indices": list(range(5))}],
        do_sample_frames=False,
        cap_pixels_per_frame=False,
        return_tensors="pt",
    )
    ours = encode_video(frames, times, VideoSettings.defaults(family), fps=0.5)
    assert tuple(out["video_grid_thw"][0].tolist()) == ours.grid_thw
    torch.testing.assert_close(out["pixel_values_videos"], ours.pixel_values, atol=1e-4, rtol=0)
    assert ours.num_tokens == int(out["video_grid_thw"][0].prod()) // 4


def test_cost_formula_equals_transformers_smart_resize():
    """resized_size/visual_tokens against transformers' own smart_resize over 600 cases."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize as resize25

    resize3 = transformers_qwen3_video_module().smart_resize
    rng = np.random.default_rng(3)
    for _ in range(300):
        frames = int(rng.integers(1, 64))
        height, width = (int(v) for v in rng.integers(20, 1400, size=2))
        lo = int(rng.choice([3136, 4096, 100_352, 131_072]))
        hi = int(rng.choice([602_112, 786_432, 12_845_056, 25_165_824]))
        h25, w25 = resize25(height, width, factor=28, min_pixels=lo, max_pixels=hi)
        assert resized_size("qwen2.5-vl", frames, height, width, min_pixels=lo, max_pixels=hi) == (
            h25,
            w25,
        )
        want25 = -(-frames // 2) * (h25 // 14) * (w25 // 14) // 4
        assert (
            visual_tokens("qwen2.5-vl", frames, height, width, min_pixels=lo, max_pixels=hi)
            == want25
        )
        t3 = max(frames, 2)
        h3, w3 = resize3(
            t3, height, width, temporal_factor=2, factor=32, min_pixels=lo, max_pixels=hi
        )
        assert resized_size("qwen3-vl", frames, height, width, min_pixels=lo, max_pixels=hi) == (
            h3,
            w3,
        )
        want3 = -(-frames // 2) * (h3 // 16) * (w3 // 16) // 4
        assert (
            visual_tokens("qwen3-vl", frames, height, width, min_pixels=lo, max_pixels=hi) == want3
        )


def test_patches_equal_transformers_patchify():
    rng = np.random.default_rng(4)
    frames = rng.integers(0, 256, (3, 64, 96, 3), dtype=np.uint8)
    settings = raw_settings("qwen3-vl")
    ours = encode_video(frames, np.array([0.0, 1.0, 2.0]), settings, fps=1.0)
    video = torch.from_numpy(frames).permute(0, 3, 1, 2).float()[None]  # B, T, C, H, W
    patchify = transformers_qwen3_video_module().Qwen3VLVideoProcessor.patchify
    theirs, grid_t, grid_h, grid_w = patchify(
        None, video, patch_size=16, merge_size=2, temporal_patch_size=2
    )
    assert (grid_t, grid_h, grid_w) == ours.grid_thw == (2, 4, 6)
    torch.testing.assert_close(theirs[0], ours.pixel_values, atol=0, rtol=0)


def test_patch_times_equal_transformers_timestamps():
    from transformers.models.qwen3_vl.processing_qwen3_vl import Qwen3VLProcessor

    # Frames 0, 25, 50, 75, 100 of a 25 fps video, as the processor's metadata would give them.
    indices = [0, 25, 50, 75, 100]
    theirs = Qwen3VLProcessor._calculate_timestamps(None, list(indices), 25.0, 2)
    frames = np.zeros((5, 32, 32, 3), dtype=np.uint8)
    ours = encode_video(
        frames, np.array(indices) / 25.0, VideoSettings.defaults("qwen3-vl"), fps=1.0
    )
    assert re.findall(r"<([\d.]+) seconds>", ours.placeholder) == [f"{t:.1f}" for t in theirs]
    assert theirs == [0.5, 2.5, 4.0]
