"""A malformed struct action (issue 14.5) is an invalid action with a reason that scores 0,
never a crash: a missing key (``KeyError: 'boxes'`` before), a wrong type, a wrong shape."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from stvg.data.types import Sample
from stvg.envs.answers import struct_to_parse
from stvg.envs.grounding import GroundingEnv
from stvg.verifiers.formats import FrameContext

GOOD = {"span": [1.0, 1.9], "boxes": [[0.1, 0.2, 0.6, 0.7]], "box_mask": [1]}

CASES: list[tuple[Any, str]] = [
    ({"span": [1.0, 1.9], "box_mask": [1]}, "missing key(s) ['boxes']"),
    ({}, "missing key(s) ['span', 'boxes', 'box_mask']"),
    ([1.0, 1.9], "expected a mapping with keys ['span', 'boxes', 'box_mask'], got list"),
    (None, "got NoneType"),
    ({**GOOD, "boxes": "left half"}, "'boxes' must be numbers, got str 'left half'"),
    ({**GOOD, "span": {"start": 1}}, "'span' must be numbers, got dict"),
    ({**GOOD, "box_mask": [[1], [1, 0]]}, "'box_mask' must be numbers, got list"),
    ({**GOOD, "span": [1.0]}, "'span' must hold 2 numbers, got shape (1,)"),
    ({**GOOD, "boxes": [0.1, 0.2, 0.6]}, "'boxes' must have shape [N, 4]"),
]


@pytest.mark.parametrize(("action", "reason"), CASES)
def test_malformed_struct_action_is_an_invalid_action(action: Any, reason: str) -> None:
    ctx = FrameContext(np.array([10]), np.array([1.0]), (64, 48), (64, 48), 10.0, 30)
    parse, why = struct_to_parse(action, ctx)
    assert parse.answer is None and parse.error == why
    assert why is not None and why.startswith("invalid struct action: ") and reason in why


def test_the_env_scores_a_malformed_struct_action_zero(toy_sample: Sample) -> None:
    env = GroundingEnv(samples=[toy_sample], fps=None, max_side=64, action_format="struct")
    for action, reason in CASES:
        env.reset(seed=0)
        _, reward, terminated, _, info = env.step(action)
        assert reward == 0.0 and terminated
        assert info["t_iou"] == 0.0 and info["v_iou"] == 0.0
        assert reason in info["invalid_action"] and info["parse_error"] == info["invalid_action"]
