"""GroundingEnv under an answer contract: pixel answers read in the model's resized frame."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from stvg.data.types import Sample
from stvg.envs.contract import bind_env_kwargs, check_env_policy
from stvg.envs.cost import visual_tokens
from stvg.envs.grounding import GroundingEnv
from stvg.verifiers.formats import ContractError, ContractSpec, ModelGeometry

GT_BOX = [160.0, 90.0, 320.0, 180.0]  # original 640x360 pixels


@pytest.fixture(scope="module")
def wide_sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    """A 640x360 video, 4 s at 10 fps; shown at max_side 224 it is 224x126."""
    path = Path(tmp_path_factory.mktemp("wide")) / "wide.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (640, 360))
    for _ in range(40):
        writer.write(np.full((360, 640, 3), 90, dtype=np.uint8))
    writer.release()
    return Sample(
        "wide",
        str(path),
        "the grey box",
        10.0,
        40,
        640,
        360,
        (10, 20),
        {f: list(GT_BOX) for f in range(10, 21)},
    )


class _SpecPolicy:
    def __init__(self, spec: ContractSpec) -> None:
        self.answer_spec = spec


QWEN25 = ContractSpec("json-v1", "pixels", 1.0, ModelGeometry("qwen2.5-vl"))


def test_env_scores_pixels_of_the_model_frame(wide_sample: Sample) -> None:
    kwargs = bind_env_kwargs(_SpecPolicy(QWEN25), {"max_side": 224})
    env = GroundingEnv(kwargs, samples=[wide_sample])
    env.reset(seed=0)
    ctx = env.frame_context
    assert ctx.shown_size == (224, 126)
    assert ctx.model_size == (448, 252)
    assert env.contract.frame is ctx
    # GT box in the 448x252 model frame: 160/640*448 = 112, 90/360*252 = 63, 224, 126.
    text = '<answer>{"span": [1, 2], "boxes": {"1": [112, 63, 224, 126], "2": [112, 63, 224, 126]}}</answer>'
    _, reward, _, _, info = env.step(text)
    assert info["t_iou"] == pytest.approx(1.0)
    assert info["v_iou"] == pytest.approx(1.0)
    assert reward == pytest.approx(2.0)
    # The Qwen2.5-VL cost uses the geometry's bounds: 4 frames of 448x252 ->
    # 2 * (252/14) * (448/14) / 4 = 288 tokens.
    assert info["cost/visual_tokens/qwen2.5-vl"] == 288
    assert info["cost/visual_tokens/qwen2.5-vl"] == visual_tokens("qwen2.5-vl", 4, 126, 224)


def test_same_text_without_the_geometry_misses(wide_sample: Sample) -> None:
    env = GroundingEnv(max_side=224, samples=[wide_sample])
    env.reset(seed=0)
    text = '<answer>{"span": [1, 2], "boxes": {"1": [112, 63, 224, 126], "2": [112, 63, 224, 126]}}</answer>'
    _, _, _, _, info = env.step(text)
    # Read as pixels of 224x126 the box is [320, 180, 640, 360]: no overlap with the GT.
    assert info["t_iou"] == pytest.approx(1.0)
    assert info["v_iou"] == 0.0


def test_env_and_policy_that_disagree_fail_at_construction(wide_sample: Sample) -> None:
    env = GroundingEnv(samples=[wide_sample], coords="norm1000")
    with pytest.raises(ContractError, match="coords: evaluation env has 'norm1000'"):
        check_env_policy(env, _SpecPolicy(QWEN25), env_name="evaluation env")
    # A user-set key is kept by the binding, so the disagreement is reported, not hidden.
    kwargs = bind_env_kwargs(_SpecPolicy(QWEN25), {"coords": "norm1000"})
    with pytest.raises(ContractError, match="policy has 'pixels'"):
        check_env_policy(GroundingEnv(kwargs, samples=[wide_sample]), _SpecPolicy(QWEN25))
    # Struct policies declare no contract: nothing to bind or check.
    check_env_policy(env, object())
    assert bind_env_kwargs(object(), {"fps": 2.0}) == {"fps": 2.0}


def test_max_frames_default_makes_room_and_a_cap_warns(wide_sample: Sample) -> None:
    env = GroundingEnv(samples=[wide_sample], fps=2.0)
    assert env.max_frames == 8  # 4 s at 2 fps
    with pytest.warns(UserWarning, match="max_frames=3 thins 1 of 1 videos below 2 fps"):
        GroundingEnv(samples=[wide_sample], fps=2.0, max_frames=3)
