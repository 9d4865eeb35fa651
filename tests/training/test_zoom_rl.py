"""Multi-step RL on the glance-and-zoom env: the trajectory log-prob and the GRPO loss of a
2-turn episode against hand figures, whole episodes per group in the rollouts, RLOO's
trajectory advantages and exact resume (Ray workers equal to in-process ones on episode
groups: ``test_rollout_workers.py``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from rl_helpers import (
    TINY_ZOOM_MODEL,
    build,
    make_split,
    make_zoom_checkpoint,
    zoom_config,
    zoom_env_kwargs,
)

from stvg.policies.base import Rollouts
from stvg.policies.native import NativePolicy, QueryVocab
from stvg.policies.native.features import VideoInputs
from stvg.policies.native.model import NativeOutputs
from stvg.training.algorithms import GRPO, RLOO, grpo_loss
from stvg.training.batch import EpisodeRecord, Experience
from stvg.training.config import GRPOConfig, RLOOConfig
from stvg.training.loop import Trainer
from stvg.training.rollout import RolloutTask, RolloutWorker
from stvg.training.run_dir import read_metrics

LOG_STD = math.log(0.1)  # box std 0.1 of the frame in the hand-made outputs


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = make_split(tmp_path_factory.mktemp("zoom_rl_data"))
    learned = make_zoom_checkpoint(root, root / "zoom_learned.pt")
    always = make_zoom_checkpoint(root, root / "zoom_always.pt", decide="always")
    return root, learned, always


# ----------------------------------------------------------------- hand figures
def _glance_outputs() -> NativeOutputs:
    """Turn 0 on a 2-frame glance (seconds 0 and 2, video length 4 s, 4 bins of 1 s):
    ``p(zoom) = sigmoid(ln 3) = 3/4``; ``p(a = 1) = 2 / (1 + 2 + 1 + 1) = 2/5``;
    ``p(b = 2 | a = 1) = 3 / (1 + 3 + 1) = 3/5`` (bins 1, 2, 3 allowed)."""
    return NativeOutputs(
        start_logits=torch.zeros(1, 2),
        end_logits=torch.zeros(1, 2),
        box_mean=torch.tensor([0.5, 0.5, 0.6, 0.6]).expand(1, 2, 4),
        box_log_std=torch.full((4,), LOG_STD),
        value=torch.zeros(1),
        mask=torch.ones(1, 2, dtype=torch.bool),
        zoom_start_logits=torch.tensor([[0.0, math.log(2.0), 0.0, 0.0]]),
        zoom_end_logits=torch.tensor([[0.0, 0.0, math.log(3.0), 0.0]]),
        zoom_kind_logit=torch.tensor([math.log(3.0)]),
    )


def _answer_outputs() -> NativeOutputs:
    """Turn 1 on 3 frames (seconds 0, 1, 2), no zoom left: ``p(s = 0) = 1/3``;
    ``p(e = 1 | s = 0) = 2 / (1 + 2 + 1) = 1/2``; boxes at the mean on frames 0, 1."""
    return NativeOutputs(
        start_logits=torch.zeros(1, 3),
        end_logits=torch.tensor([[0.0, math.log(2.0), 0.0]]),
        box_mean=torch.tensor([0.5, 0.5, 0.6, 0.6]).expand(1, 3, 4),
        box_log_std=torch.full((4,), LOG_STD),
        value=torch.zeros(1),
        mask=torch.ones(1, 3, dtype=torch.bool),
        zoom_start_logits=torch.zeros(1, 4),
        zoom_end_logits=torch.zeros(1, 4),
        zoom_kind_logit=torch.tensor([5.0]),  # no zoom is possible: not counted
    )


def _video(times: list[float], can_zoom: bool) -> VideoInputs:
    frames = np.zeros((len(times), 16, 16, 3), dtype=np.uint8)
    return VideoInputs(frames, np.asarray(times, np.float32), "q", zoom_env=True, can_zoom=can_zoom)


def test_trajectory_log_prob_of_a_two_turn_episode_equals_the_hand_figure() -> None:
    policy = NativePolicy(vocab=QueryVocab.build(["q"]).words, model=TINY_ZOOM_MODEL)
    turns = [
        (_glance_outputs(), _video([0.0, 2.0], True)),
        (_answer_outputs(), _video([0.0, 1.0, 2.0], False)),
    ]
    # the zoom on bins 1..2 of 1 s each: [1, 3] s at the grid rate
    zoom = {"kind": 0, "window": np.array([1.0, 3.0], np.float32), "zoom_fps": np.zeros(1)}
    boxes = np.zeros((4, 4), np.float32)
    boxes[:2] = [0.2, 0.2, 0.8, 0.8]  # xyxy of the mean box (cx, cy, w, h) = (.5, .5, .6, .6)
    answer = {
        "kind": 1,
        "span": np.array([0.0, 1.0], np.float32),
        "boxes": boxes,
        "box_mask": np.array([1, 1, 0, 0], np.int8),
    }
    logps = []
    for (out, video), action in zip(turns, [zoom, answer], strict=True):
        policy.forward = lambda obs, out=out, video=video: (out, [video])  # type: ignore[method-assign]
        _, logp, _ = policy.evaluate_actions([{}], [action])
        logps.append(float(logp))
    box_at_mean = 4 * (-LOG_STD - 0.5 * math.log(2 * math.pi))  # log N at the mean, 4 coords
    hand_zoom = math.log(3 / 4) + math.log(2 / 5) + math.log(3 / 5)
    hand_answer = math.log(1 / 3) + math.log(1 / 2) + 2 * box_at_mean
    assert logps[0] == pytest.approx(hand_zoom, abs=1e-5)
    assert logps[1] == pytest.approx(hand_answer, abs=1e-4)
    assert sum(logps) == pytest.approx(hand_zoom + hand_answer, abs=1e-4)


def _two_episode_group() -> Experience:
    """One group of 2 trajectories of 2 turns (zoom, answer): rewards (0, 1.0) and
    (0, 0.2), so returns 1.0 and 0.2."""
    rows = 4
    rollouts = Rollouts(
        actions=[{}] * rows,
        obs_index=list(range(rows)),
        log_probs=torch.tensor([[-1.0], [-2.0], [-1.5], [-0.5]]),
        mask=torch.ones(rows, 1, dtype=torch.bool),
    )
    return Experience(
        observations=[{}] * rows,
        rollouts=rollouts,
        rewards=np.array([0.0, 1.0, 0.0, 0.2]),
        terminated=np.array([False, True, False, True]),
        truncated=np.zeros(rows, dtype=bool),
        next_values=np.zeros(rows),
        sample_ids=["s"] * rows,
        episodes=[EpisodeRecord("s", 1.0, 2), EpisodeRecord("s", 0.2, 2)],
        trajectory=np.array([0, 0, 1, 1]),
    )


def test_grpo_gives_every_action_its_trajectorys_advantage_and_the_hand_loss() -> None:
    experience = _two_episode_group()
    adv = GRPO(GRPOConfig(group_size=2)).advantages(experience, None).advantages
    # returns 1.0 and 0.2: mean 0.6, unbiased std sqrt(0.4^2 + 0.4^2) = sqrt(0.32)
    a = 0.4 / (math.sqrt(0.32) + 1e-4)
    assert adv.tolist() == pytest.approx([a, a, -a, -a], abs=1e-6)

    old = experience.rollouts.log_probs
    shift = torch.tensor([[0.3], [-0.1], [0.0], [0.3]])  # log pi - log pi_old per action
    logp = (old + shift).requires_grad_(True)
    loss, stats = grpo_loss(logp, old, adv, experience.rollouts.mask)
    # per action -min(r A, clip(r, 0.8, 1.2) A), averaged over the 4 actions:
    # action 0: r = e^0.3 > 1.2 with A = a > 0 -> clipped, -1.2 a (no gradient);
    # action 1: -e^-0.1 a; action 2: r = 1, A = -a -> +a; action 3: A = -a, the
    # unclipped e^0.3 (-a) is the smaller -> +e^0.3 a
    hand = (-1.2 * a - math.exp(-0.1) * a + a + math.exp(0.3) * a) / 4
    assert float(loss.detach()) == pytest.approx(hand, abs=1e-6)
    assert float(stats["clipfrac"]) == pytest.approx(1 / 4)
    loss.backward()
    # d loss / d log pi = -r A / 4 on unclipped actions, 0 on the clipped one
    grad = [0.0, -math.exp(-0.1) * a / 4, a / 4, math.exp(0.3) * a / 4]
    assert logp.grad.reshape(-1).tolist() == pytest.approx(grad, abs=1e-6)


def test_rloo_baselines_each_trajectory_by_the_others() -> None:
    experience = _two_episode_group()
    adv = RLOO(RLOOConfig(group_size=2)).advantages(experience, None).advantages
    # returns 1.0 and 0.2: each minus the other's
    assert adv.tolist() == pytest.approx([0.8, 0.8, -0.8, -0.8], abs=1e-6)


# ----------------------------------------------------------------- rollouts
def _worker(root: Path, checkpoint: Path) -> tuple[RolloutWorker, dict]:
    policy = NativePolicy.load(checkpoint)
    from stvg.config import to_dict

    return RolloutWorker(
        "stvg/ZoomGrounding-v0",
        zoom_env_kwargs(root),
        None,
        "native",
        to_dict(policy.config),
    ), policy.state_dict()


def test_groups_play_whole_episodes_with_exact_log_probs(setup) -> None:
    root, _, always = setup
    worker, weights = _worker(root, always)
    ids = worker.sample_ids()[:2]
    experience = worker.run(RolloutTask(0, tuple(ids), group_size=2, seed=5), weights, 1)
    # "always" zooms once, then answers: 2 rows per episode, 2 episodes per sample
    assert experience.trajectory.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert [a["kind"] for a in experience.rollouts.actions] == [0, 1] * 4
    assert experience.terminated.tolist() == [False, True] * 4
    assert experience.rewards[0::2].tolist() == [0.0] * 4
    assert experience.sample_ids == [ids[0]] * 4 + [ids[1]] * 4
    assert [e.metrics["cost/zooms"] for e in experience.episodes] == [1.0] * 4
    # the sampling log-prob of every action is the one the learner computes
    _, logp, _ = worker.policy.evaluate_actions(experience.observations, experience.rollouts)
    torch.testing.assert_close(logp, experience.rollouts.log_probs.reshape(-1))


# ----------------------------------------------------------------- training
TIMING = ("charts/SPS", "charts/rollout_SPS", "time/rollout_s", "time/update_s")


def _strip(lines: list[dict]) -> list[dict]:
    return [
        {k: v for k, v in line.items() if not k.startswith(TIMING + ("time/",))} for line in lines
    ]


class Interrupted(RuntimeError):
    """Stands for a crash of the training process."""


def _interrupt_after_two(iteration: int, metrics, trainer) -> None:
    if iteration == 2:
        raise Interrupted


@pytest.mark.parametrize("algorithm", ["grpo", "rloo", "ppo"])
def test_zoom_training_resumes_exactly(setup, tmp_path: Path, algorithm: str) -> None:
    root, learned, _ = setup

    def config(name: str):
        return build(
            zoom_config(
                root,
                learned,
                tmp_path,
                name=name,
                algorithm=algorithm,
                iterations=4,
                checkpoint_every=2,
                update_epochs=2,
                num_minibatches=2,
                grpo={"beta": 0.02},
            )
        )

    straight = Trainer.create(config("straight"), tensorboard=False)
    try:
        straight.train()
    finally:
        straight.close()
    first = Trainer.create(config("resumed"), tensorboard=False)
    with pytest.raises(Interrupted):
        try:
            first.train(on_iteration_end=_interrupt_after_two)
        finally:
            first.close()
    second = Trainer.resume(first.run_dir.path, tensorboard=False)
    try:
        second.train()
    finally:
        second.close()
    a, b = straight.policy.state_dict(), second.policy.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    lines_a, lines_b = read_metrics(straight.run_dir.path), read_metrics(first.run_dir.path)
    assert _strip(lines_a) == _strip(lines_b)
    assert all("cost/zooms" in line and "cost/frames_shown" in line for line in lines_a)
    # every action of the episodes is a row: more rows than episodes when it zoomed
    assert all(
        line["charts/trained_rows"] == line["charts/episodes"] * line["charts/episodic_length"]
        for line in lines_a
    )


def test_dynamic_sampling_keeps_whole_informative_episode_groups() -> None:
    informative = _two_episode_group()  # returns 1.0 and 0.2
    flat = _two_episode_group()
    flat.rewards = np.array([0.0, 0.5, 0.0, 0.5])  # returns 0.5 and 0.5: no signal
    both = Experience.concat([flat, informative])  # trajectories 0, 1 | 2, 3
    kept, stats = GRPO(GRPOConfig(group_size=2, loss_type="dapo")).collect(lambda n: both, 1)
    assert kept.trajectory.tolist() == [2, 2, 3, 3]  # the second group's 4 actions
    assert kept.rewards.tolist() == [0.0, 1.0, 0.0, 0.2]
    assert stats["charts/kept_groups_frac"] == 0.5
