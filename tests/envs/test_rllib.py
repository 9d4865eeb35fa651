"""RLlib PPO (new API stack) trains on the flat synthetic tracking env for two iterations."""

from __future__ import annotations

import math

import pytest

import stvg  # noqa: F401  (registers stvg/SyntheticTrackingFlat-v0 in this process)

pytest.importorskip("ray.rllib")


def test_ppo_two_iterations_on_flat_tracking() -> None:
    import ray
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        config = (
            PPOConfig()
            .environment(
                "stvg/SyntheticTrackingFlat-v0",
                env_config={"max_side": 32, "frame_size": 8, "reward_mode": "dense"},
            )
            # The local env runner (num_env_runners=0) lives in this process, where the
            # id is registered and $STVG_CACHE points at the test's tmp cache.
            .env_runners(num_env_runners=0, num_envs_per_env_runner=1, rollout_fragment_length=32)
            .learners(num_learners=0)
            .training(train_batch_size_per_learner=32, minibatch_size=16, num_epochs=1, lr=1e-3)
            .rl_module(model_config=DefaultModelConfig(fcnet_hiddens=[16], head_fcnet_hiddens=[]))
            .debugging(seed=0)
        )
        algo = config.build_algo()
        try:
            results = [algo.train() for _ in range(2)]
        finally:
            algo.stop()
    finally:
        ray.shutdown()
    last = results[-1]
    learner = last["learners"]["default_policy"]
    for key in ("total_loss", "policy_loss", "vf_loss", "entropy"):
        assert math.isfinite(learner[key]), (key, learner[key])
    runners = last["env_runners"]
    assert runners["num_env_steps_sampled_lifetime"] == 64
    # Synthetic videos are 10 s at 1 fps: 10-step episodes, so 64 steps finish >= 5.
    assert runners["num_episodes_lifetime"] >= 5
    assert math.isfinite(runners["episode_return_mean"])
