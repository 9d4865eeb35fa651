"""The native policy's track ID head: exact log-probs by hand, sampling and recomputed
log-probs on env observations, actions the env scores, and a small supervised learning
test that drives the ID accuracy up."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from stvg.data.tracks import target_track_id
from stvg.envs.grounding import GroundingEnv
from stvg.policies.native import NativePolicy, QueryVocab
from stvg.policies.native import distributions as dist
from stvg.policies.native.model import NativeOutputs

SMALL = {
    "frame_size": 32,
    "channels": [8, 8, 8],
    "word_dim": 8,
    "query_dim": 8,
    "hidden": 16,
    "dropout": 0.0,
    "track_id": True,
}
TERMS = [{"name": "t_iou", "weight": 1.0}, {"name": "id_match", "weight": 1.0}]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> GroundingEnv:
    from stvg.data.synthetic import generate_split

    root: Path = tmp_path_factory.mktemp("synthetic_tracks")
    generate_split(root, "test", 8, 3, duration_s=4.0, fps=5.0, size=64)
    return GroundingEnv(
        dataset="synthetic",
        root=str(root),
        split="test",
        max_side=64,
        fps=1.0,
        action_format="struct",
        answer_format="track-id",
        tracks={"source": "synthetic", "seed": 0, "draw": False, "max_candidates": 6},
        verifier={"terms": TERMS},
    )


def _episodes(env: GroundingEnv) -> tuple[list[dict], list[int], list]:
    """Every sample's observation, the target's candidate index, and the sample."""
    observations, targets, samples = [], [], []
    for index in range(len(env.samples)):
        obs, _ = env.reset(options={"index": index})
        track, _ = target_track_id(env.contract.frame.tracks, env.sample)
        assert track is not None
        observations.append(obs)
        targets.append(obs["track_ids"].tolist().index(track))
        samples.append(env.sample)
    return observations, targets, samples


def _policy(env: GroundingEnv) -> NativePolicy:
    torch.manual_seed(0)
    vocab = QueryVocab.build(s.query for s in env.samples).words
    return NativePolicy(vocab=vocab, model=SMALL, deterministic=True)


def test_track_log_prob_is_log_softmax_over_real_candidates_by_hand() -> None:
    out = NativeOutputs(
        start_logits=torch.tensor([[0.0, 1.0, 0.0]]),
        end_logits=torch.tensor([[0.0, 0.0, 2.0]]),
        box_mean=torch.zeros(1, 3, 4),
        box_log_std=torch.zeros(4),
        value=torch.zeros(1),
        mask=torch.tensor([[True, True, True]]),
        track_logits=torch.tensor([[1.0, 2.0, 0.5, 9.0]]),
        track_valid=torch.tensor([[True, True, True, False]]),  # slot 3: padding
    )
    lp = dist.track_log_probs(out)[0]
    norm = math.log(math.e**1 + math.e**2 + math.e**0.5)
    assert lp[:3].tolist() == pytest.approx([1 - norm, 2 - norm, 0.5 - norm], abs=1e-6)
    assert float(lp[3]) < -1e8
    # the whole action: log p(k=1) + log p(s=1) + log p(e=2 | s=1), no box terms
    start, end, track = torch.tensor([1]), torch.tensor([2]), torch.tensor([1])
    lp_s = 1 - math.log(2 + math.e)
    lp_e = 2 - math.log(1 + math.e**2)  # ends allowed after s=1: frames 1 and 2
    no_boxes = torch.zeros(1, 3, dtype=torch.bool)
    total = dist.action_log_prob(out, start, end, torch.zeros(1, 3, 4), no_boxes, track)
    assert float(total[0]) == pytest.approx(2 - norm + lp_s + lp_e, abs=1e-5)
    h = -sum(math.exp(v) * v for v in (1 - norm, 2 - norm, 0.5 - norm))
    assert float(dist.track_entropy(out)[0]) == pytest.approx(h, abs=1e-5)
    assert int(dist.mode_tracks(out)[0]) == 1


def test_sampled_track_actions_have_exact_recomputed_log_probs_and_score(
    env: GroundingEnv,
) -> None:
    observations, _, _ = _episodes(env)
    policy = _policy(env)
    rollouts = policy.sample(observations[:3], 4)
    assert all(set(a) == {"track", "span"} for a in rollouts.actions)
    counts = [int((o["track_ids"] >= 0).sum()) for o in observations[:3]]
    for action, i in zip(rollouts.actions, rollouts.obs_index, strict=True):
        assert 0 <= action["track"] < counts[i]
        assert env.action_space.contains(
            {"track": action["track"], "span": action["span"].astype(np.float32)}
        )
    again = policy.log_prob(observations[:3], rollouts)
    torch.testing.assert_close(again, rollouts.log_probs, atol=1e-5, rtol=1e-5)
    assert torch.equal(
        rollouts.extras["track"], torch.tensor([a["track"] for a in rollouts.actions])
    )
    _, log_prob, entropy = policy.evaluate_actions(observations[:3], rollouts)
    assert log_prob.requires_grad and bool((entropy > 0).all())
    env.reset(options={"index": 0})
    [(reward, info)] = env.score_group([policy.act(observations[0])])
    assert info["parse_error"] is None and "invalid_action" not in info
    assert reward == pytest.approx(info["reward/t_iou"] + info["reward/id_match"])


def test_supervised_training_drives_the_id_accuracy_up(env: GroundingEnv) -> None:
    observations, targets, samples = _episodes(env)
    policy = _policy(env)
    actions = []
    for obs, target, sample in zip(observations, targets, samples, strict=True):
        count = int(obs["frame_mask"].sum())
        times = obs["timestamps"][:count]
        first, last = (t / sample.native_fps for t in sample.gt_span)
        span = [times[np.abs(times - first).argmin()], times[np.abs(times - last).argmin()]]
        actions.append({"track": target, "span": np.asarray(span, dtype=np.float32)})

    def accuracy() -> float:
        picked = [a["track"] for a in policy.act_batch(observations)]
        return float(np.mean([p == t for p, t in zip(picked, targets, strict=True)]))

    before = accuracy()
    optimiser = torch.optim.Adam(policy.parameters(), lr=0.01)
    policy.train()
    for _ in range(20):
        optimiser.zero_grad()
        loss = -policy.log_prob(observations, actions).mean()
        loss.backward()
        optimiser.step()
    policy.eval()
    after = accuracy()
    chance = float(np.mean([1 / int((o["track_ids"] >= 0).sum()) for o in observations]))
    assert after == 1.0 and after - before >= 0.5, (before, after, chance)
