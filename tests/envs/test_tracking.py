"""TrackingEnv rewards computed by hand on the toy sample (see ``test_grounding.py``).

At 1 fps the toy video shows frames 0, 10, 20 (0, 1, 2 s); the GT span is frames 10..19
with the box [8, 8, 40, 32] on a 64x48 frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from stvg.data.types import Sample
from stvg.envs.tracking import TrackingEnv

GT_NORM = [8 / 64, 8 / 48, 40 / 64, 32 / 48]
HALF_NORM = [8 / 64, 8 / 48, 24 / 64, 32 / 48]  # left half of the GT box: IoU 0.5


def act(present: int, box: list[float] | None = None) -> dict[str, Any]:
    return {"present": present, "box": np.asarray(box or [0, 0, 0, 0], dtype=np.float32)}


# present at 0 s (outside the span) and 1 s (inside, half box), absent at 2 s.
ACTIONS = [act(1, GT_NORM), act(1, HALF_NORM), act(0)]


def run(env: TrackingEnv, actions: list[dict[str, Any]]) -> tuple[list[float], list[dict]]:
    env.reset(seed=0)
    rewards, infos = [], []
    for i, action in enumerate(actions):
        _, reward, terminated, truncated, info = env.step(action)
        assert terminated == (i == len(actions) - 1) and not truncated
        rewards.append(reward)
        infos.append(info)
    return rewards, infos


def test_dense_rewards(toy_sample: Sample) -> None:
    env = TrackingEnv(samples=[toy_sample], fps=1.0, max_side=64, reward_mode="dense")
    rewards, infos = run(env, ACTIONS)
    assert rewards == pytest.approx([-0.1, 0.5, 0.0])
    assert [i["in_gt_span"] for i in infos] == [False, True, False]
    assert [i["frame_idx"] for i in infos] == [0, 10, 20]
    # The episode's answer: span 0..1 s = frames 0..10 against GT 10..19: I = {10}, U = 20;
    # the densified box on frame 10 is the half box (IoU 0.5): vIoU = 0.5 / 20.
    last = infos[-1]
    assert last["t_iou"] == pytest.approx(1 / 20)
    assert last["v_iou"] == pytest.approx(0.5 / 20)
    assert last["cost/frames_shown"] == 3 and last["sample_id"] == "toy"


def test_dense_penalty_is_configurable(toy_sample: Sample) -> None:
    env = TrackingEnv(
        samples=[toy_sample],
        fps=1.0,
        max_side=64,
        reward_mode="dense",
        false_presence_penalty=0.3,
    )
    rewards, _ = run(env, [act(1, GT_NORM), act(1, GT_NORM), act(1, GT_NORM)])
    assert rewards == pytest.approx([-0.3, 1.0, -0.3])


def test_sparse_reward_is_the_verifier_total_at_the_end(toy_sample: Sample) -> None:
    env = TrackingEnv(samples=[toy_sample], fps=1.0, max_side=64)
    rewards, infos = run(env, ACTIONS)
    assert rewards == pytest.approx([0.0, 0.0, 1 / 20 + 0.5 / 20])
    assert infos[-1]["reward"] == pytest.approx(rewards[-1])


def test_perfect_tracking_at_frame_level(toy_sample: Sample) -> None:
    env = TrackingEnv(samples=[toy_sample], fps=None, max_side=64)
    actions = [act(int(10 <= f <= 19), GT_NORM) for f in range(30)]
    rewards, infos = run(env, actions)
    assert len(rewards) == 30
    assert infos[-1]["t_iou"] == 1.0
    assert infos[-1]["v_iou"] == pytest.approx(1.0, abs=1e-6)
    assert rewards[-1] == pytest.approx(2.0, abs=1e-6)


def test_never_present_scores_zero_with_reason(toy_sample: Sample) -> None:
    env = TrackingEnv(samples=[toy_sample], fps=1.0, max_side=64)
    rewards, infos = run(env, [act(0)] * 3)
    assert rewards == [0.0, 0.0, 0.0]
    assert "never claimed present" in infos[-1]["invalid_action"]


@pytest.mark.parametrize("mode", ["dense", "sparse"])
def test_nan_box_scores_zero_with_reason(toy_sample: Sample, mode: str) -> None:
    env = TrackingEnv(samples=[toy_sample], fps=1.0, max_side=64, reward_mode=mode)
    rewards, infos = run(env, [act(0), act(1, [np.nan, 0, 1, 1]), act(0)])
    assert rewards == [0.0, 0.0, 0.0]
    assert "non-finite" in infos[1]["invalid_action"]
    assert "non-finite" in infos[-1]["invalid_action"]


def test_observations_and_prev_box(toy_sample: Sample) -> None:
    env = TrackingEnv(samples=[toy_sample], fps=1.0, max_side=32, include_prev_box=True)
    obs, info = env.reset(seed=0)
    assert info["frame_idx"].tolist() == [0, 10, 20]
    assert obs["frame"].shape == (32, 32, 3) and obs["shown_size"].tolist() == [32, 24]
    assert not obs["frame"][24:].any()
    assert obs["timestamp"].tolist() == [0.0] and obs["prev_box"].tolist() == [0.0] * 4
    obs, *_ = env.step(act(1, [0.1, 0.2, 1.5, 0.5]))
    assert obs["timestamp"].tolist() == [1.0]
    np.testing.assert_allclose(obs["prev_box"], [0.1, 0.2, 1.0, 0.5], rtol=1e-6)  # clipped
    # The shown frame 10 has the red box at [4, 4, 20, 16] of the 32x24 frame.
    assert obs["frame"][10, 10, 0] > 200 and obs["frame"][2, 2, 0] < 80
    obs, *_ = env.step(act(0))
    assert obs["timestamp"].tolist() == [2.0] and obs["prev_box"].tolist() == [0.0] * 4
    env.step(act(0))
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step(act(0))


# ------------------------------------------------------------- malformed actions (issue 25)

BAD_PRESENT = "invalid tracking action at step 1: 'present' must be 0 or 1 (or a bool), got "
BAD_BOX = "invalid tracking action at step 1: "


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        ({"present": np.nan, "box": GT_NORM}, BAD_PRESENT + "nan"),
        ({"present": 2, "box": GT_NORM}, BAD_PRESENT + "2"),
        ({"present": -1, "box": GT_NORM}, BAD_PRESENT + "-1"),
        (
            {"present": np.float32(0.7), "box": GT_NORM},
            BAD_PRESENT + "0.699999988079071; a probability is not a decision: threshold it first",
        ),
        ({"present": "1", "box": GT_NORM}, BAD_PRESENT + "str '1'"),
        ({"present": None, "box": GT_NORM}, BAD_PRESENT + "NoneType None"),
        ({"present": [1, 1], "box": GT_NORM}, BAD_PRESENT + "list [1, 1]"),
        (
            {"present": 1, "box": [0.1, 0.2, 0.3]},
            BAD_BOX + "'box' must be 4 numbers [x1, y1, x2, y2], got 3 ([0.1, 0.2, 0.3])",
        ),
        (
            {"present": 1, "box": "the left half"},
            BAD_BOX + "'box' must be 4 numbers [x1, y1, x2, y2], got str 'the left half'",
        ),
        (
            {"present": 1, "box": [np.inf, 0, 1, 1]},
            BAD_BOX + "box [inf, 0.0, 1.0, 1.0] has a non-finite coordinate",
        ),
        ({"box": GT_NORM}, BAD_BOX + "missing key(s) ['present']; it needs ['present', 'box']"),
        ({"present": 0}, BAD_BOX + "missing key(s) ['box']; it needs ['present', 'box']"),
        ([1, GT_NORM], BAD_BOX + "expected a mapping with keys ['present', 'box'], got list"),
    ],
)
@pytest.mark.parametrize("mode", ["dense", "sparse"])
def test_a_malformed_action_is_invalid_with_its_reason(
    toy_sample: Sample, mode: str, action: Any, reason: str
) -> None:
    """Step 1 (1 s, inside the GT span) gets the bad action: the GT box claimed there would
    score IoU 1 (dense), and 2/10 + 2/10 as the episode's answer (sparse); it scores 0 and
    the episode goes on, its answer unusable."""
    env = TrackingEnv(samples=[toy_sample], fps=1.0, max_side=64, reward_mode=mode)
    rewards, infos = run(env, [act(0), action, act(0)])
    assert infos[1]["invalid_action"] == reason
    assert "invalid_action" not in infos[0]
    assert rewards == [0.0, 0.0, 0.0]
    last = infos[-1]
    assert last["invalid_action"] == last["parse_error"] == reason
    assert last["reward"] == 0.0 and last["t_iou"] == 0.0 and last["v_iou"] == 0.0


@pytest.mark.parametrize(
    "present", [True, 1, 1.0, np.int64(1), np.float32(1.0), np.array([1]), np.bool_(True)]
)
def test_present_is_a_bool_or_an_integer_or_float_equal_to_1(
    toy_sample: Sample, present: Any
) -> None:
    env = TrackingEnv(samples=[toy_sample], fps=1.0, max_side=64, reward_mode="dense")
    rewards, infos = run(env, [act(0), {"present": present, "box": GT_NORM}, act(0)])
    assert rewards == pytest.approx([0.0, 1.0, 0.0])
    assert not any("invalid_action" in info for info in infos)


@pytest.mark.parametrize("absent", [False, 0, 0.0, np.int8(0), np.array([0.0])])
def test_a_claimed_absence_ignores_the_box(toy_sample: Sample, absent: Any) -> None:
    # 0 s is outside the GT span: a presence claim there would cost the penalty 0.1.
    env = TrackingEnv(samples=[toy_sample], fps=1.0, max_side=64, reward_mode="dense")
    steps = [{"present": absent, "box": [np.nan, 1]}, act(1, GT_NORM), act(0)]
    rewards, infos = run(env, steps)
    assert rewards == pytest.approx([0.0, 1.0, 0.0])
    assert not any("invalid_action" in info for info in infos)


def test_swapped_corners_are_swapped_back_as_in_a_text_answer(toy_sample: Sample) -> None:
    """The GT box with its corners swapped: IoU 1 at 1 s (dense; it scored 0 before), and
    the episode's answer gets the text rule's repair (span 1..1 s = frame 10 only, the GT
    box there: tIoU = vIoU = 1/10)."""
    swapped = [GT_NORM[2], GT_NORM[3], GT_NORM[0], GT_NORM[1]]
    env = TrackingEnv(samples=[toy_sample], fps=1.0, max_side=64, reward_mode="dense")
    rewards, infos = run(env, [act(0), act(1, swapped), act(0)])
    assert rewards == pytest.approx([0.0, 1.0, 0.0])
    last = infos[-1]
    assert last["repairs"] == ("box corners swapped (x2 < x1 or y2 < y1) at 1 s",)
    assert last["t_iou"] == pytest.approx(1 / 10)
    assert last["v_iou"] == pytest.approx(1 / 10, abs=1e-6)  # float32 boxes
