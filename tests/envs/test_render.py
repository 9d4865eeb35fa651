"""``GroundingEnv(render_mode="rgb_array")``: contact sheets of the episode, by hand.

The toy sample (``conftest.toy_sample``): 30 frames at 10 fps, 64x48, GT box [8, 8, 40, 32]
on frames 10..19. At 1 fps the env shows frames 0, 10, 20 (t = 0, 1, 2 s). The sheet's
tiles are 160x160 (``MIN_TILE_SIDE``), the 64x48 frames fill 160x120 of them: 2.5 sheet
pixels per original pixel, so the GT's left edge (x = 8) is column 20 of a tile and the
prediction's (x = 24) column 60, both at row round(20 * 2.5) = 50.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import stvg  # noqa: F401  (registers the ids)
from stvg.data.types import Sample
from stvg.envs.grounding import GroundingEnv
from stvg.envs.render_sheet import MIN_TILE_SIDE, sheet_layout
from stvg.render.draw import GT_COLOUR, PRED_COLOUR
from stvg.render.sheet import sheet_geometry

PRED_NORM = [24 / 64, 8 / 48, 56 / 64, 32 / 48]  # the GT box moved 16 px right


def struct_action(slot: int, span: tuple[float, float], box: list[float]) -> dict[str, Any]:
    action = {
        "span": np.asarray(span, dtype=np.float32),
        "boxes": np.zeros((3, 4), dtype=np.float32),
        "box_mask": np.zeros(3, dtype=np.int8),
    }
    action["boxes"][slot], action["box_mask"][slot] = box, 1
    return action


@pytest.fixture
def env(toy_sample: Sample) -> GroundingEnv:
    return GroundingEnv(
        samples=[toy_sample],
        fps=1.0,
        max_side=64,
        action_format="struct",
        render_mode="rgb_array",
    )


def pixel(image: np.ndarray, tile: int, x: float, y: float) -> tuple[int, ...]:
    geometry = sheet_geometry(3, (64, 48), (64, 48), sheet_layout(3, 64))
    column, row = geometry.to_sheet(tile, x, y)
    return tuple(int(c) for c in image[row, column])


def test_metadata_and_bad_render_mode(toy_sample: Sample) -> None:
    assert GroundingEnv.metadata["render_modes"] == ["rgb_array"]
    with pytest.raises(ValueError, match=r"render_mode must be None or one of \['rgb_array'\]"):
        GroundingEnv(samples=[toy_sample], render_mode="human")


def test_before_the_step_only_the_frames(env: GroundingEnv) -> None:
    _, info = env.reset(seed=0)
    assert info["frame_idx"].tolist() == [0, 10, 20]
    image = env.render()
    geometry = sheet_geometry(3, (64, 48), (64, 48), sheet_layout(3, 64))
    assert geometry.tile_size == (MIN_TILE_SIDE, MIN_TILE_SIDE) and geometry.scale == (2.5, 2.5)
    assert image.dtype == np.uint8 and image.shape == (geometry.size[1], geometry.size[0], 3)
    assert pixel(image, 1, 8, 20) not in (GT_COLOUR, PRED_COLOUR)
    tiles = image[geometry.header_height :]
    assert not np.all(tiles == GT_COLOUR, axis=-1).any()
    assert not np.all(tiles == PRED_COLOUR, axis=-1).any()


def test_after_the_step_answer_and_ground_truth(env: GroundingEnv) -> None:
    env.reset(seed=0)
    before = env.render()
    _, _, _, _, info = env.step(struct_action(1, (1.0, 1.9), PRED_NORM))
    # prediction frames 10..19 = GT span: tIoU 1; box IoU 384 / 1152 = 1/3 on each frame
    assert info["t_iou"] == pytest.approx(1.0) and info["v_iou"] == pytest.approx(1 / 3)
    image = env.render()
    assert image.shape == before.shape
    assert pixel(image, 1, 8, 20) == GT_COLOUR and pixel(image, 1, 24, 20) == PRED_COLOUR
    for tile in (0, 2):  # frames 0 and 20: outside both spans
        assert pixel(image, tile, 8, 20) == pixel(before, tile, 8, 20)
        assert pixel(image, tile, 24, 20) == pixel(before, tile, 24, 20)
    env.reset()
    assert np.array_equal(env.render(), before)  # a new episode: no boxes again


def test_unusable_answer_draws_the_ground_truth_only(toy_sample: Sample) -> None:
    env = GroundingEnv(samples=[toy_sample], fps=1.0, max_side=64, render_mode="rgb_array")
    env.reset(seed=0)
    _, _, _, _, info = env.step("no answer here")
    assert info["parse_error"]
    image = env.render()
    geometry = sheet_geometry(3, (64, 48), (64, 48), sheet_layout(3, 64))
    assert pixel(image, 1, 8, 20) == GT_COLOUR
    assert not np.all(image[geometry.header_height :] == PRED_COLOUR, axis=-1).any()


def test_same_shape_for_every_sample(small_split_kwargs: dict[str, str]) -> None:
    env = GroundingEnv(**small_split_kwargs, fps=1.0, max_side=32, render_mode="rgb_array")
    shapes = set()
    for index in range(2):
        env.reset(options={"index": index})
        shapes.add(env.render().shape)
        env.step('<answer>{"span": [0, 1], "boxes": {"0": [0, 0, 10, 10]}}</answer>')
        shapes.add(env.render().shape)
    assert len(shapes) == 1


def test_without_render_mode_and_before_reset(toy_sample: Sample) -> None:
    plain = GroundingEnv(samples=[toy_sample], fps=1.0, max_side=64)
    plain.reset(seed=0)
    with pytest.warns(UserWarning, match="without a render mode"):
        assert plain.render() is None
    fresh = GroundingEnv(samples=[toy_sample], fps=1.0, max_side=64, render_mode="rgb_array")
    with pytest.raises(RuntimeError, match="before reset"):
        fresh.render()


@pytest.mark.filterwarnings("ignore:.*symmetric and normalized space")
def test_check_env_with_render_mode(small_split_kwargs: dict[str, str]) -> None:
    env = gym.make(
        "stvg/Grounding-v0",
        **small_split_kwargs,
        max_side=32,
        render_mode="rgb_array",
        disable_env_checker=True,
    )
    check_env(env.unwrapped)  # includes Gymnasium's render checks for every declared mode
    listed = gym.make("stvg/Grounding-v0", **small_split_kwargs, render_mode="rgb_array_list")
    listed.reset(seed=0)
    listed.step(listed.action_space.sample())
    frames = listed.render()
    assert len(frames) == 2 and frames[0].shape == frames[1].shape
