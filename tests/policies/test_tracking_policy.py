"""``tracking-mlp`` is a registered policy of :mod:`stvg.policies` (issue 16), and its
distribution at initialisation, computed by hand.

At construction every bias is 0, so on the all-zero observation the torso gives 0, the
``present`` logits are ``[0, 0]`` (p = 0.5 each), the box mean is ``sigmoid(0) = 0.5`` and
the value is 0; the box log-std is ``init_log_std = -1.5`` in each of the 4 coordinates.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stvg.policies import BUILTIN_POLICIES, make, policy_class
from stvg.policies.base import Rollouts
from stvg.policies.tracking import TrackingMLPPolicy


def test_registered_like_the_other_policies() -> None:
    assert BUILTIN_POLICIES["tracking-mlp"] == "stvg.policies.tracking:TrackingMLPPolicy"
    assert policy_class("tracking-mlp") is TrackingMLPPolicy
    policy = make("tracking-mlp", obs_dim=3, hidden=[2])
    assert isinstance(policy, TrackingMLPPolicy)
    # torso 3*2+2, present 2*2+2, box 2*4+4, value 2*1+1, log_std 4
    assert sum(p.numel() for p in policy.parameters()) == 8 + 6 + 12 + 3 + 4
    with pytest.raises(ValueError, match="obs_dim >= 1"):
        make("tracking-mlp", hidden=[2])


def test_initial_distribution_by_hand() -> None:
    policy = make("tracking-mlp", obs_dim=3, hidden=[2])
    obs = np.zeros(3, dtype=np.float32)
    action = policy.act(obs)
    assert action["present"] == 0  # a tie: the first class
    np.testing.assert_allclose(action["box"], [0.5] * 4)
    half = np.full(4, 0.5, dtype=np.float32)
    actions = Rollouts(
        actions=[{"present": 0, "box": half}, {"present": 1, "box": half}],
        obs_index=[0, 0],
        log_probs=torch.zeros(2, 1),
        mask=torch.ones(2, 1, dtype=torch.bool),
    )
    values, log_prob, entropy = policy.evaluate_actions([obs], actions)
    assert values.tolist() == [0.0, 0.0]
    # absent: log 0.5; present at the mean: log 0.5 + 4 * (1.5 - 0.5 * log(2 pi))
    box_log_density = 4 * (1.5 - 0.5 * math.log(2 * math.pi))  # 2.324245
    assert log_prob.tolist() == pytest.approx(
        [math.log(0.5), math.log(0.5) + box_log_density], abs=1e-5
    )
    # H = log 2 + 0.5 * 4 * (-1.5 + 0.5 * log(2 pi e)) = 0.531024
    expected_entropy = math.log(2) + 0.5 * 4 * (-1.5 + 0.5 * math.log(2 * math.pi * math.e))
    assert entropy.tolist() == pytest.approx([0.531024] * 2, abs=1e-5)
    assert expected_entropy == pytest.approx(0.531024, abs=1e-6)
