"""The native policy: size, vocabulary, exact log-probs, decoding, checkpoints, the env."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from stvg.config import ConfigError
from stvg.envs.grounding import GroundingEnv
from stvg.policies import ActorCriticPolicy, TrainablePolicy, make
from stvg.policies.native import NativePolicy, QueryVocab, count_parameters
from stvg.policies.native import distributions as dist
from stvg.policies.native.features import (
    cxcywh_to_xyxy,
    observation_inputs,
    relative_times,
    xyxy_to_cxcywh,
)
from stvg.policies.native.model import NativeModelConfig, NativeOutputs
from stvg.training.sft import SFTConfig

QUERIES = ["The red circle while it moves left.", "The small blue square after it stops."]
SMALL = {"frame_size": 32, "channels": [8, 8, 8], "word_dim": 8, "query_dim": 8, "hidden": 8}


def _policy(**config) -> NativePolicy:
    torch.manual_seed(0)
    vocab = QueryVocab.build(QUERIES).words
    return NativePolicy(vocab=vocab, **{"model": SMALL, **config})


def _obs(count: int, slots: int = 8, query: str = QUERIES[0], seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    frames = np.zeros((slots, 48, 48, 3), dtype=np.uint8)
    frames[:count, :40, :48] = rng.integers(0, 256, (count, 40, 48, 3))
    mask = np.zeros(slots, dtype=np.int8)
    mask[:count] = 1
    times = np.zeros(slots, dtype=np.float32)
    times[:count] = np.arange(count, dtype=np.float32)
    return {
        "frames": frames,
        "frame_mask": mask,
        "timestamps": times,
        "shown_size": np.array([48, 40]),
        "query": query,
    }


LOG_STD = math.log(0.1)  # box std 0.1 of the frame in the hand-made outputs


def _outputs(start_logits, end_logits, mask=None, mean=0.5, log_std=LOG_STD) -> NativeOutputs:
    start = torch.tensor([start_logits], dtype=torch.float32)
    steps = start.shape[1]
    return NativeOutputs(
        start_logits=start,
        end_logits=torch.tensor([end_logits], dtype=torch.float32),
        box_mean=torch.full((1, steps, 4), mean),
        box_log_std=torch.full((4,), log_std),
        value=torch.zeros(1),
        mask=torch.tensor([mask or [True] * steps]),
    )


def test_parameter_budget_of_the_shipped_sizes():
    vocab = QueryVocab.build(QUERIES).words
    shipped = SFTConfig().model
    policy = NativePolicy(vocab=vocab, model=shipped)
    assert count_parameters(policy.model) <= 5_000_000
    assert isinstance(policy, TrainablePolicy) and isinstance(policy, ActorCriticPolicy)
    assert policy.action_format == "struct"


def test_vocabulary_maps_unknown_words_to_unk():
    vocab = QueryVocab.build(["the red circle", "the blue circle"])
    assert vocab.words == ["<pad>", "<unk>", "circle", "the", "blue", "red"]
    assert vocab.encode("The GREEN circle!", 5).tolist() == [3, 1, 2, 0, 0]
    assert vocab.encode("the red circle the blue", 3).tolist() == [3, 5, 2]
    with pytest.raises(ValueError, match="must start with"):
        QueryVocab(["red", "blue"])


def test_box_conversions_and_relative_times():
    box = np.array([0.5, 0.5, 0.2, 0.4])
    assert cxcywh_to_xyxy(box).tolist() == pytest.approx([0.4, 0.3, 0.6, 0.7])
    assert xyxy_to_cxcywh(cxcywh_to_xyxy(box)).tolist() == pytest.approx(box.tolist())
    assert relative_times(np.array([0.0, 2.0, 4.0])).tolist() == pytest.approx([0, 1 / 3, 2 / 3])


def test_observation_inputs_crop_the_shown_corner():
    obs = _obs(3)
    obs["frames"][:3, :40, :48] = 200  # shown pixels
    inputs = observation_inputs(obs, 16)
    assert inputs.frames.shape == (3, 16, 16, 3)
    assert np.all(inputs.frames == 200)  # no zero padding leaked into the resize
    assert inputs.timestamps_s.tolist() == [0.0, 1.0, 2.0]


def test_span_probabilities_sum_to_one_with_end_after_start():
    out = _outputs([0.3, -1.0, 2.0, 0.5], [1.0, 0.0, -2.0, 5.0], mask=[True, True, True, False])
    p_start = dist.start_log_probs(out).exp()[0]
    assert float(p_start.sum()) == pytest.approx(1.0)
    assert float(p_start[3]) == 0.0  # padding frame
    p_end = dist.end_log_probs(out).exp()[0]
    for s in range(3):
        assert float(p_end[s].sum()) == pytest.approx(1.0)
        assert float(p_end[s, :s].sum()) == 0.0 and float(p_end[s, 3]) == 0.0
    # p(e | s = 1) over e in {1, 2}: softmax(0, -2)
    assert float(p_end[1, 1]) == pytest.approx(1 / (1 + math.exp(-2)))


def test_mode_is_the_joint_argmax_hand_computed():
    # p(s) = [1/2, 1/6, 1/3]; p(e | 0) = [9/11, 1/11, 1/11]: (0, 0) has 0.409 > (2, 2) 0.333
    out = _outputs([math.log(3), 0.0, math.log(2)], [math.log(9), 0.0, 0.0])
    start, end, _ = dist.mode_actions(out)
    assert (int(start), int(end)) == (0, 0)
    boxes = torch.full((1, 3, 4), 0.5)
    lp = dist.action_log_prob(out, start, end, boxes, torch.tensor([[True, False, False]]))
    box_at_mean = 4 * (-math.log(0.1) - 0.5 * math.log(2 * math.pi))
    assert float(lp) == pytest.approx(math.log(0.5 * 9 / 11) + box_at_mean, rel=1e-6)
    # one coordinate one std off the mean costs 0.5 nats
    boxes[0, 0, 2] += 0.1
    lp_off = dist.action_log_prob(out, start, end, boxes, torch.tensor([[True, False, False]]))
    assert float(lp - lp_off) == pytest.approx(0.5, rel=1e-5)


def test_sampled_log_probs_are_exact_and_recomputed_with_grad():
    policy = _policy()
    obs = [_obs(6), _obs(4, query=QUERIES[1], seed=1)]
    rollouts = policy.sample(obs, 3)
    assert rollouts.obs_index == [0, 0, 0, 1, 1, 1]
    assert rollouts.log_probs.shape == (6, 1) and rollouts.values.shape == (6,)
    for action, i in zip(rollouts.actions, rollouts.obs_index, strict=True):
        start, end = action["span"]
        assert start <= end and action["box_mask"].sum() >= 1
        assert action["box_mask"][len(obs[i]["timestamps"][obs[i]["frame_mask"] == 1]) :].sum() == 0
    recomputed = policy.log_prob(obs, rollouts)
    assert torch.allclose(recomputed.detach(), rollouts.log_probs, atol=1e-4)
    recomputed.sum().backward()
    assert policy.model.box_log_std.grad is not None
    assert all(p.grad is not None for p in policy.model.start_head.parameters())
    values, logp, entropy = policy.evaluate_actions(obs, rollouts)
    assert values.shape == logp.shape == entropy.shape == (6,)
    assert torch.all(torch.isfinite(entropy))


def test_sampling_is_seeded_by_the_policy_generator():
    policy = _policy(seed=5)
    obs = [_obs(6)]
    first = policy.sample(obs, 4)
    policy.generator.manual_seed(5)
    again = policy.sample(obs, 4)
    assert torch.equal(first.log_probs, again.log_probs)


def test_checkpoint_round_trip_rebuilds_the_policy(tmp_path: Path):
    policy = _policy()
    with torch.no_grad():
        policy.model.start_head.bias.fill_(0.7)
    path = policy.save(tmp_path / "policy.pt", extra={"note": 1})
    loaded = make("native", checkpoint=str(path))
    assert loaded.vocab.words == policy.vocab.words
    assert loaded.config.model == policy.config.model
    obs = [_obs(5), _obs(3, seed=2)]
    for a, b in zip(policy.act_batch(obs), loaded.act_batch(obs), strict=True):
        assert np.array_equal(a["span"], b["span"]) and np.array_equal(a["boxes"], b["boxes"])
    with pytest.raises(FileNotFoundError, match="train one with"):
        NativePolicy.load(tmp_path / "missing.pt")
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a native policy checkpoint"):
        NativePolicy.load(tmp_path / "other.pt")


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="policy.vocab"):
        make("native")
    with pytest.raises(ConfigError, match="policy.model.channels"):
        make("native", vocab=["<pad>", "<unk>"], model={"channels": [8, 8]})
    with pytest.raises(ConfigError, match="unknown config key policy.model.chanels"):
        make("native", vocab=["<pad>", "<unk>"], model={"chanels": [8, 8, 8]})
    assert NativeModelConfig().frame_size == 64


def test_deterministic_actions_fit_the_env(tmp_path_factory: pytest.TempPathFactory):
    from stvg.data.synthetic import generate_split

    root = tmp_path_factory.mktemp("native_env")
    generate_split(root, "test", 2, 0, duration_s=4.0, fps=5.0, size=64)
    env = GroundingEnv(
        dataset="synthetic",
        split="test",
        root=str(root),
        fps=1.0,
        max_frames=8,
        max_side=48,
        action_format="struct",
    )
    policy = NativePolicy.from_samples(env.samples, model=SMALL)
    for i in range(2):
        obs, _ = env.reset(options={"index": i})
        action = policy.act(obs)
        assert env.action_space.contains(action)
        _, reward, terminated, _, info = env.step(action)
        assert terminated and info.get("invalid_action") is None and 0.0 <= reward <= 1.0


def test_box_temperature_scales_exploration_and_keeps_log_probs_exact():
    """Same weights, temperature 0.25: the box std is 0.25x, sampled boxes spread 0.25x as
    far from the mean, the recorded log-probabilities are those of the scaled Gaussian, and
    the most likely action does not change."""
    cold = _policy(box_temperature=0.25)
    warm = _policy()
    warm.load_state_dict(cold.state_dict())
    obs = [_obs(6)]
    out_cold, _ = cold.forward(obs)
    out_warm, _ = warm.forward(obs)
    assert torch.allclose(out_cold.box_log_std.exp(), 0.25 * out_warm.box_log_std.exp())
    cold_rollouts = cold.sample(obs, 64)
    warm_rollouts = warm.sample(obs, 64)

    def spread(rollouts) -> float:
        boxes = np.stack([a["boxes"] for a in rollouts.actions])
        masks = np.stack([a["box_mask"] for a in rollouts.actions]).astype(bool)
        return float(np.std(boxes[masks], axis=0).mean())

    ratio = spread(cold_rollouts) / spread(warm_rollouts)
    assert 0.15 < ratio < 0.4
    assert torch.allclose(
        cold.log_prob(obs, cold_rollouts).detach(), cold_rollouts.log_probs, atol=1e-4
    )
    assert not torch.allclose(warm.log_prob(obs, cold_rollouts), cold_rollouts.log_probs, atol=1e-2)
    greedy_cold, greedy_warm = cold.act(obs[0]), warm.act(obs[0])
    assert np.array_equal(greedy_cold["span"], greedy_warm["span"])
    assert np.allclose(greedy_cold["boxes"], greedy_warm["boxes"])
    with pytest.raises(ConfigError, match="box_temperature"):
        _policy(box_temperature=0.0)
