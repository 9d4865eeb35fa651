"""The answer contract: model frame geometry, parsing in it, agreement checks, GT answers."""

from __future__ import annotations

import numpy as np
import pytest

from stvg.data.types import Sample
from stvg.verifiers.formats import (
    AnswerContract,
    ContractError,
    ContractSpec,
    FrameContext,
    ModelGeometry,
    check_agreement,
    env_overrides,
)

# A 640x360 video at 10 fps, 40 frames, shown at 1 fps as 224x126 frames (max_side 224).
ORIGINAL = (640, 360)
SHOWN = (224, 126)
FRAME_IDX = np.array([0, 10, 20, 30])


def frame_context(model_size: tuple[int, int] | None = None) -> FrameContext:
    return FrameContext(
        frame_idx=FRAME_IDX,
        timestamps_s=FRAME_IDX / 10.0,
        shown_size=SHOWN,
        original_size=ORIGINAL,
        native_fps=10.0,
        num_frames=40,
        fps=1.0,
        model_size=model_size,
    )


def test_qwen25_geometry_enlarges_small_frames_to_multiples_of_28() -> None:
    # 224x126 = 28,224 px < min_pixels 100,352: beta = sqrt(100352 / 28224) = 1.8856...;
    # ceil(126 * beta / 28) * 28 = 252 and ceil(224 * beta / 28) * 28 = 448.
    assert ModelGeometry("qwen2.5-vl").model_size(4, SHOWN) == (448, 252)
    # Within the bounds a side only rounds to the nearest multiple of 28: 336x336 stays.
    assert ModelGeometry("qwen2.5-vl").model_size(4, (336, 336)) == (336, 336)
    # A lower min_pixels keeps the frame near its size: round(224/28)=8, round(126/28)=4 (4.5
    # rounds half to even) -> 224x112.
    assert ModelGeometry("qwen2.5-vl", min_pixels=3136).model_size(4, SHOWN) == (224, 112)


def test_pixel_answers_are_read_in_the_model_frame() -> None:
    spec = ContractSpec("json-v1", "pixels", 1.0, ModelGeometry("qwen2.5-vl"))
    contract = spec.contract(frame_context())
    assert contract.frame.model_size == (448, 252)
    assert contract.frame.coord_size == (448, 252)
    text = '<answer>{"span": [1, 2], "boxes": {"1": [112, 63, 224, 126], "2": [0, 0, 448, 252]}}</answer>'
    result = contract.parse(text)
    assert result.ok, result.error
    # 112 / 448 * 640 = 160, 63 / 252 * 360 = 90, 224 / 448 * 640 = 320, 126 / 252 * 360 = 180.
    np.testing.assert_allclose(result.answer.boxes_xyxy[0], [160, 90, 320, 180])
    np.testing.assert_allclose(result.answer.boxes_xyxy[1], [0, 0, 640, 360])
    # Read as pixels of the shown 224x126 frames, the same text lands 2x too far.
    shown_only = ContractSpec("json-v1", "pixels", 1.0).contract(frame_context())
    np.testing.assert_allclose(shown_only.parse(text).answer.boxes_xyxy[0], [320, 180, 640, 360])


def test_instructions_state_the_model_frame_size() -> None:
    spec = ContractSpec("json-v1", "pixels", 1.0, ModelGeometry("qwen2.5-vl"))
    text = spec.contract(frame_context()).instructions()
    assert "(448x252: x from 0 to 448, y from 0 to 252)" in text
    assert "224x126" not in text
    # The prompt-side view built from timestamps and the shown size alone says the same.
    shown = spec.shown_frames(FRAME_IDX / 10.0, SHOWN)
    assert spec.format.instructions(shown) == text


def test_render_parse_round_trip_of_the_ground_truth() -> None:
    sample = Sample(
        "s",
        "s.mp4",
        "the car",
        10.0,
        40,
        *ORIGINAL,
        gt_span=(8, 22),
        gt_boxes={f: [100.0, 50.0, 300.0, 250.0] for f in range(8, 23)},
    )
    contract = ContractSpec("json-v1", "pixels", 1.0, ModelGeometry("qwen2.5-vl")).contract(
        frame_context()
    )
    gt = contract.gt_answer(sample)
    # The span is the GT span in seconds (frames 8..22 at 10 fps); boxes at the shown frames
    # inside it: 10 (1 s) and 20 (2 s).
    assert gt.span_s == (0.8, 2.2)
    assert gt.times_s.tolist() == [1.0, 2.0]
    text = contract.render(gt)
    # 100 / 640 * 448 = 70, 50 / 360 * 252 = 35, 300 / 640 * 448 = 210, 250 / 360 * 252 = 175.
    assert text == (
        '<answer>{"span": [0.8, 2.2], "boxes": {"1.0": [70, 35, 210, 175], '
        '"2.0": [70, 35, 210, 175]}}</answer>'
    )
    back = contract.parse(text)
    assert back.format_ok
    np.testing.assert_allclose(back.answer.boxes_xyxy, gt.boxes_xyxy)
    # Scored against the sample, the rendered ground truth is perfect.
    from stvg.verifiers import Verifier

    scored = Verifier().score_text(text, sample, contract.frame)
    assert (scored.t_iou, scored.v_iou) == (1.0, 1.0)
    # A span shorter than a second with no shown frame inside: the nearest frame's box.
    short = Sample("t", "t.mp4", "q", 10.0, 40, *ORIGINAL, (12, 16), {14: [1.0, 2.0, 3.0, 4.0]})
    assert contract.gt_answer(short).times_s.tolist() == [1.0]


def test_disagreeing_specs_fail_naming_both_values() -> None:
    env = ContractSpec("json-v1", "pixels", 1.0)
    policy = ContractSpec("json-v1", "norm1000", 1.0, ModelGeometry("qwen3-vl"))
    with pytest.raises(ContractError, match="coords: env has 'pixels', policy has 'norm1000'"):
        check_agreement(env, policy)
    with pytest.raises(ContractError, match="fps: env has 2.0, policy has 1.0"):
        check_agreement(ContractSpec(fps=2.0), ContractSpec(fps=1.0))
    qwen25 = ContractSpec("json-v1", "pixels", 1.0, ModelGeometry("qwen2.5-vl"))
    with pytest.raises(ContractError, match="model_geometry: env has None"):
        check_agreement(env, qwen25)
    check_agreement(qwen25, qwen25)
    # With 0-1000 coordinates the resize does not change what a box means.
    check_agreement(ContractSpec(coords="norm1000"), policy)


def test_env_overrides_fill_only_unset_keys() -> None:
    policy = ContractSpec("tagged", "pixels", 2.0, ModelGeometry("qwen2.5-vl", min_pixels=3136))
    filled = env_overrides(policy, {"fps": 1.0, "max_side": 224})
    assert filled["fps"] == 1.0  # the user's value stays, so the mismatch is reported
    assert filled["answer_format"] == "tagged" and filled["coords"] == "pixels"
    assert filled["model_geometry"]["min_pixels"] == 3136
    nested = env_overrides(policy, {"verifier": {"coords": "norm1000"}})
    assert "coords" not in nested


def test_contract_refuses_another_video() -> None:
    contract = AnswerContract(ContractSpec(), frame_context())
    other = Sample("o", "o.mp4", "q", 10.0, 40, 320, 240, (0, 5), {0: [0.0, 0.0, 1.0, 1.0]})
    with pytest.raises(ValueError, match="is not the video of this contract"):
        contract.gt_answer(other)
