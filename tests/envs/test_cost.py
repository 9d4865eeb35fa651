"""Visual-token cost formula: hand-computed cases for Qwen2.5-VL and Qwen3-VL."""

from __future__ import annotations

import pytest

from stvg.envs.cost import CostFigures, cost_figures, resized_size, visual_tokens


def test_qwen25_small_frames_are_scaled_up_to_min_pixels():
    # 224x224 = 50_176 px < min_pixels 100_352 -> beta = sqrt(2), side ceil(224*1.414/28)*28 = 336.
    assert resized_size("qwen2.5-vl", 10, 224, 224) == (336, 336)
    # grid_t = 10 / 2 = 5, grid 24 x 24 patches, 4 patches per token: 5 * 576 / 4.
    assert visual_tokens("qwen2.5-vl", 10, 224, 224) == 720


def test_qwen3_small_frames_keep_their_size():
    # 10 * 224 * 224 = 501_760 px over the clip, inside [131_072, 786_432]: no rescale.
    assert resized_size("qwen3-vl", 10, 224, 224) == (224, 224)
    # 5 temporal patches * 14 * 14 patches / 4.
    assert visual_tokens("qwen3-vl", 10, 224, 224) == 245


def test_qwen25_large_frames_are_scaled_down_per_frame():
    # 720x1280 rounds to 728x1288 = 937_664 > 602_112 -> beta = sqrt(921_600 / 602_112) = 1.2372:
    # h = floor(581.97 / 28) * 28 = 560, w = floor(1034.6 / 28) * 28 = 1008.
    assert resized_size("qwen2.5-vl", 8, 720, 1280) == (560, 1008)
    # 4 * (40 * 72) / 4.
    assert visual_tokens("qwen2.5-vl", 8, 720, 1280) == 2880


def test_qwen3_bound_counts_every_frame():
    # 20 * 448 * 448 = 4_014_080 > 786_432 -> beta = sqrt(5.104) = 2.259, side floor(6.2) * 32 = 192.
    assert resized_size("qwen3-vl", 20, 448, 448) == (192, 192)
    assert visual_tokens("qwen3-vl", 20, 448, 448) == 10 * 12 * 12 // 4


def test_odd_frame_counts_pad_the_last_temporal_patch():
    # 5 frames -> 3 temporal patches (last frame repeated): 3 * 24 * 24 / 4.
    assert visual_tokens("qwen2.5-vl", 5, 224, 224) == 432
    # Qwen3-VL tests round(5 / 2) * 2 = 4 frames (half-to-even) against max_pixels:
    # 4 * 416 * 416 = 692_224 <= 786_432, so 416x416 stays; 3 * 26 * 26 / 4 = 507.
    assert resized_size("qwen3-vl", 5, 416, 416) == (416, 416)
    assert visual_tokens("qwen3-vl", 5, 416, 416) == 507


def test_qwen3_single_frame_costs_like_two():
    # The processor refuses T < 2; the policy repeats the frame. 2 * 320 * 320 = 204_800 is
    # in range, so 320x320, one temporal patch of 20 * 20 patches: 100 tokens.
    assert visual_tokens("qwen3-vl", 1, 320, 320) == 100
    assert visual_tokens("qwen3-vl", 2, 320, 320) == 100


def test_checkpoint_pixel_bounds_override_the_defaults():
    # Real Qwen2.5-VL checkpoints ship min_pixels=3136, max_pixels=12_845_056: 224x224 stays,
    # 5 * 16 * 16 / 4 = 320 tokens.
    assert visual_tokens("qwen2.5-vl", 10, 224, 224, min_pixels=3136, max_pixels=12_845_056) == 320


def test_pixel_cap_qwen3():
    # per frame: max(min(768 * 32 * 32, 786_432 // 20), int(131_072 * 1.05)) = 137_625,
    # so max_pixels = 2_752_500; beta = sqrt(4_014_080 / 2_752_500) = 1.2076 -> 352.
    assert resized_size("qwen3-vl", 20, 448, 448, cap_pixels_per_frame=True) == (352, 352)
    assert visual_tokens("qwen3-vl", 20, 448, 448, cap_pixels_per_frame=True) == 1210


def test_pixel_cap_qwen25():
    # max_pixels = max(min(602_112, int(128_000 * 784 * 0.9) * 2 // 500), 105_369) = 361_267;
    # beta = sqrt(921_600 / 361_267) = 1.5972 -> 448 x 784; 250 * 32 * 56 / 4 = 112_000.
    assert resized_size("qwen2.5-vl", 500, 720, 1280, cap_pixels_per_frame=True) == (448, 784)
    assert visual_tokens("qwen2.5-vl", 500, 720, 1280, cap_pixels_per_frame=True) == 112_000


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"model_family": "llava", "num_frames": 4, "height": 56, "width": 56},
            "unknown model_family",
        ),
        ({"model_family": "qwen3-vl", "num_frames": 0, "height": 56, "width": 56}, "num_frames"),
        ({"model_family": "qwen3-vl", "num_frames": 2, "height": -1, "width": 56}, "height"),
        (
            {"model_family": "qwen2.5-vl", "num_frames": 2, "height": 28, "width": 28 * 300},
            "aspect ratio",
        ),
    ],
)
def test_bad_arguments_raise_with_the_reason(kwargs, message):
    with pytest.raises(ValueError, match=message):
        visual_tokens(**kwargs)


def test_cost_figures_reports_both_families():
    figures = cost_figures(10, 224, 224, output_tokens=37)
    assert figures == {
        "frames_shown": 10,
        "visual_tokens": {"qwen2.5-vl": 720, "qwen3-vl": 245},
        "output_tokens": 37,
    }
    assert cost_figures(0, 224, 224)["visual_tokens"] == {"qwen2.5-vl": 0, "qwen3-vl": 0}
    with pytest.raises(ValueError, match="non-negative"):
        cost_figures(-1, 224, 224)


def test_cost_figures_dataclass_to_dict():
    figures = CostFigures(frames_shown=3, visual_tokens={"qwen3-vl": 12})
    assert figures.to_dict() == {
        "frames_shown": 3,
        "visual_tokens": {"qwen3-vl": 12},
        "output_tokens": None,
    }
