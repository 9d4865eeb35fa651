"""Baseline policies: oracle scores 1 through the env, seeded noise, prior statistics, text mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stvg.config import ConfigError
from stvg.data import load_dataset
from stvg.data.timing import span_seconds_to_frames
from stvg.data.types import Sample
from stvg.envs.grounding import GroundingEnv
from stvg.policies import Policy, make
from stvg.policies.baselines import (
    OraclePolicy,
    PriorPolicy,
    RandomPolicy,
    fit_prior,
    struct_action,
)


@pytest.fixture(scope="module")
def split_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 synthetic videos (4 s at 5 fps = 20 frames, 64x64), split ``test``."""
    from stvg.data.synthetic import generate_split

    root = tmp_path_factory.mktemp("baselines")
    generate_split(root, "test", 4, 3, duration_s=4.0, fps=5.0, size=64)
    return root


def _env(root: Path, **kwargs) -> GroundingEnv:
    return GroundingEnv(dataset="synthetic", split="test", root=str(root), max_side=64, **kwargs)


def _run(env: GroundingEnv, policy) -> list[dict]:
    infos = []
    for i in range(len(env.samples)):
        obs, info = env.reset(options={"index": i})
        _, _, terminated, _, step_info = env.step(policy.act(obs, info))
        assert terminated
        infos.append(step_info)
    return infos


def _toy_sample(**changes) -> Sample:
    fields = dict(
        sample_id="toy",
        video_path="toy.mp4",
        query="the red circle",
        native_fps=10.0,
        num_frames=100,
        width=200,
        height=100,
        gt_span=(10, 50),
        gt_boxes={f: [40.0, 20.0, 80.0, 60.0] for f in range(10, 51)},
    )
    fields.update(changes)
    return Sample(**fields)


def _obs(times: list[float], slots: int = 12, size: tuple[int, int] = (64, 32)) -> dict:
    mask = np.zeros(slots, dtype=np.int8)
    mask[: len(times)] = 1
    stamps = np.zeros(slots, dtype=np.float32)
    stamps[: len(times)] = times
    return {
        "frames": np.zeros((slots, 64, 64, 3), dtype=np.uint8),
        "frame_mask": mask,
        "timestamps": stamps,
        "shown_size": np.array(size),
        "query": "the red circle",
    }


def test_baselines_satisfy_the_policy_protocol(split_root):
    samples = list(load_dataset("synthetic", split="test", root=split_root))
    for policy in (RandomPolicy(), OraclePolicy(samples=samples), PriorPolicy.fit(samples)):
        assert isinstance(policy, Policy)
        assert policy.action_format == "struct"


@pytest.mark.parametrize("action_format", ["struct", "text"])
def test_oracle_scores_one_at_frame_level(split_root, action_format):
    env = _env(split_root, fps=None, max_frames=20, action_format=action_format, coords="norm1")
    policy = OraclePolicy(samples=env.samples, action_format=action_format, coords="norm1")
    infos = _run(env, policy)
    assert all(info["parse_error"] is None for info in infos)
    assert [info["t_iou"] for info in infos] == [1.0] * 4
    # struct boxes are float32 fractions of the frame (~1e-7 px from the truth); text
    # boxes are rounded to 4 decimals of the frame (<= 0.0032 px of 64)
    tolerance = 1e-5 if action_format == "struct" else 2e-3
    assert np.mean([info["v_iou"] for info in infos]) == pytest.approx(1.0, abs=tolerance)


def test_oracle_span_noise_moves_the_span_by_the_requested_seconds():
    sample = _toy_sample()
    obs = _obs([float(t) for t in range(10)])
    info = {"sample_id": "toy", "frame_idx": np.arange(0, 100, 10), "native_fps": 10.0}
    starts = []
    policy = OraclePolicy(samples=[sample], span_noise_s=0.5, seed=1)
    for _ in range(2000):
        starts.append(float(policy.act(obs, info)["span"][0]))
    # truth 1.0 s; noise N(0, 0.5 s), clipped at 0 s (2.3 % of draws) and sorted with the end
    assert np.median(starts) == pytest.approx(1.0, abs=0.05)
    assert np.std(starts) == pytest.approx(0.5, abs=0.05)
    again = OraclePolicy(samples=[sample], span_noise_s=0.5, seed=1)
    assert float(again.act(obs, info)["span"][0]) == starts[0]


def test_oracle_box_noise_is_a_fraction_of_the_box_size():
    sample = _toy_sample()  # box 40 px wide (0.2 of 200) and 40 px high (0.4 of 100)
    obs = _obs([float(t) for t in range(10)])
    info = {"sample_id": "toy", "frame_idx": np.arange(0, 100, 10), "native_fps": 10.0}
    policy = OraclePolicy(samples=[sample], box_noise=0.1, seed=0)
    x1 = np.array([policy.act(obs, info)["boxes"][1:6, 0] for _ in range(400)]).ravel()
    y2 = np.array([policy.act(obs, info)["boxes"][1:6, 3] for _ in range(400)]).ravel()
    # std 0.1 * 40 px = 4 px -> 0.02 of the width, 0.04 of the height
    assert np.mean(x1) == pytest.approx(0.2, abs=0.003)
    assert np.std(x1) == pytest.approx(0.02, rel=0.08)
    assert np.mean(y2) == pytest.approx(0.6, abs=0.006)
    assert np.std(y2) == pytest.approx(0.04, rel=0.08)


def test_oracle_uses_the_nearest_annotated_box_and_needs_the_info():
    boxes = {10: [0.0, 0.0, 20.0, 10.0], 30: [100.0, 50.0, 200.0, 100.0]}
    sample = _toy_sample(gt_span=(10, 30), gt_boxes=boxes)
    obs = _obs([1.0, 1.5, 2.5, 3.0])
    info = {"sample_id": "toy", "frame_idx": np.array([10, 15, 25, 30]), "native_fps": 10.0}
    action = OraclePolicy(samples=[sample]).act(obs, info)
    assert action["span"].tolist() == [1.0, 3.0]
    assert action["box_mask"][:5].tolist() == [1, 1, 1, 1, 0]
    # frame 15 is nearer 10 (ties go up: none here), frame 25 nearer 30
    assert action["boxes"][1].tolist() == [0.0, 0.0, 0.10000000149011612, 0.10000000149011612]
    assert action["boxes"][2].tolist() == [0.5, 0.5, 1.0, 1.0]
    with pytest.raises(ValueError, match="reset info"):
        OraclePolicy(samples=[sample]).act(obs)
    with pytest.raises(KeyError, match="no ground truth for sample 'other'"):
        OraclePolicy(samples=[sample]).act(obs, {**info, "sample_id": "other"})


def test_random_policy_is_seeded_and_well_formed():
    obs = _obs([0.0, 1.0, 2.0, 3.0, 4.0])
    first = [RandomPolicy(seed=7).act(obs) for _ in range(2)]
    policy = RandomPolicy(seed=7)
    actions = [policy.act(obs) for _ in range(50)]
    assert all(
        np.array_equal(a["boxes"], b["boxes"]) for a, b in zip(first, first[1:], strict=False)
    )
    assert np.array_equal(actions[0]["boxes"], first[0]["boxes"])
    for action in actions:
        start, end = action["span"]
        assert start <= end and start in obs["timestamps"][:5] and end in obs["timestamps"][:5]
        inside = (obs["timestamps"][:5] >= start) & (obs["timestamps"][:5] <= end)
        assert action["box_mask"][:5].tolist() == inside.astype(int).tolist()
        assert action["box_mask"][5:].sum() == 0
        boxes = action["boxes"][:5][inside]
        assert np.all(boxes[:, 0] <= boxes[:, 2]) and np.all(boxes[:, 1] <= boxes[:, 3])
    assert len({tuple(a["span"]) for a in actions}) > 5


def test_fit_prior_hand_computed():
    a = _toy_sample(gt_span=(10, 50), gt_boxes={10: [0.0, 0.0, 20.0, 10.0]})
    b = _toy_sample(
        sample_id="b", num_frames=50, gt_span=(0, 24), gt_boxes={0: [0.0, 0.0, 40.0, 30.0]}
    )
    stats = fit_prior([a, b])
    assert stats == pytest.approx(
        {"rel_start": 0.05, "rel_end": 0.49, "rel_width": 0.15, "rel_height": 0.2}
    )
    policy = PriorPolicy.fit([a, b])
    # 10 s video seen at 1 fps: span 0.5 .. 4.9 s covers the frames at 1, 2, 3, 4 s
    obs = _obs([float(t) for t in range(10)])
    info = {"num_frames": 100, "native_fps": 10.0, "frame_idx": np.arange(0, 100, 10)}
    action = policy.act(obs, info)
    assert action["span"].tolist() == pytest.approx([0.5, 4.9])
    assert action["box_mask"].tolist() == [0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert action["boxes"][1].tolist() == pytest.approx([0.425, 0.4, 0.575, 0.6])
    assert policy.config.rel_end == pytest.approx(0.49)


def test_prior_fits_from_a_dataset_through_make(split_root):
    samples = list(load_dataset("synthetic", split="test", root=split_root))
    policy = make("prior", dataset="synthetic", split="test", root=str(split_root))
    assert policy.stats == pytest.approx(tuple(fit_prior(samples).values()))
    with pytest.raises(ConfigError, match="policy.rel_end"):
        make("prior", rel_start=0.5, rel_end=0.2, rel_width=0.1, rel_height=0.1)
    with pytest.raises(ConfigError, match="unknown config key policy.noise"):
        make("oracle", noise=1.0)


def test_struct_action_falls_back_to_the_frame_nearest_the_span_middle():
    times = np.array([0.0, 1.0, 2.0])
    action = struct_action((1.2, 1.4), times, np.full((3, 4), 0.5), slots=4)
    assert action["box_mask"].tolist() == [0, 1, 0, 0]


def test_random_text_answers_match_the_struct_ones(split_root):
    env = _env(split_root, fps=1.0, max_frames=8, action_format="text")
    struct_env = _env(split_root, fps=1.0, max_frames=8, action_format="struct")
    text_infos = _run(env, make("random", action_format="text", seed=3))
    struct_infos = _run(struct_env, make("random", seed=3))
    assert all(info["parse_error"] is None for info in text_infos)
    # same answers (spans on shown times); the text only rounds boxes to whole shown pixels
    for text_info, struct_info in zip(text_infos, struct_infos, strict=True):
        assert text_info["pred_span"] == struct_info["pred_span"]
        assert text_info["v_iou"] == pytest.approx(struct_info["v_iou"], abs=0.05)


def test_prior_text_answer_parses_to_the_prior_span(split_root):
    env = _env(split_root, fps=1.0, max_frames=8, action_format="text")
    policy = PriorPolicy.fit(env.samples, action_format="text")
    rel_start, rel_end = policy.stats[:2]
    for info in _run(env, policy):
        sample = next(s for s in env.samples if s.sample_id == info["sample_id"])
        span_s = (rel_start * sample.duration_s, rel_end * sample.duration_s)
        assert info["parse_error"] is None
        assert info["pred_span"] == span_seconds_to_frames(
            span_s, sample.native_fps, sample.num_frames
        )
