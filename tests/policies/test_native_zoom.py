"""The native policy's zoom head: off by default (old checkpoints load, answers carry
``kind = 1`` on the zoom env), exact log-probabilities of mixed zoom and answer actions,
the window's seconds and bins, and config errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from stvg.checkpoint_files import load_checkpoint_file, save_checkpoint_file
from stvg.config import ConfigError
from stvg.policies.native import NativePolicy, QueryVocab
from stvg.policies.native.zoom import window_bins, window_seconds

QUERIES = ["The red circle while it moves left.", "The small blue square after it stops."]
SMALL = {"frame_size": 16, "channels": [4, 4, 8], "word_dim": 8, "query_dim": 8, "hidden": 8}
ZOOM = {**SMALL, "zoom": {"enabled": True, "bins": 6}}


def _policy(model: dict, **config) -> NativePolicy:
    torch.manual_seed(0)
    return NativePolicy(vocab=QueryVocab.build(QUERIES).words, model=model, **config)


def _zoom_obs(count: int, zooms_left: int, slots: int = 8, seed: int = 0) -> dict:
    """A zoom-env observation: ``count`` frames 2 s apart (a 0.5 fps glance)."""
    rng = np.random.default_rng(seed)
    frames = np.zeros((slots, 32, 32, 3), dtype=np.uint8)
    frames[:count] = rng.integers(0, 256, (count, 32, 32, 3))
    mask = np.zeros(slots, dtype=np.int8)
    mask[:count] = 1
    times = np.zeros(slots, dtype=np.float32)
    times[:count] = 2.0 * np.arange(count)
    return {
        "frames": frames,
        "frame_mask": mask,
        "timestamps": times,
        "shown_size": np.array([32, 32]),
        "query": QUERIES[0],
        "frame_turn": np.zeros(slots, dtype=np.int64),
        "turn": np.array([0]),
        "frames_left": np.array([slots - count]),
        "zooms_left": np.array([zooms_left]),
    }


def test_a_checkpoint_saved_before_the_zoom_head_loads_without_it(tmp_path: Path) -> None:
    path = _policy(SMALL).save(tmp_path / "old.pt")
    payload = load_checkpoint_file(path, "test")
    del payload["config"]["model"]["zoom"]  # what checkpoints written before it hold
    save_checkpoint_file(payload, path)
    policy = NativePolicy.load(path)
    assert not policy.zoom_enabled and policy.model.zoom_head is None
    # on the zoom env it answers on the glance, with kind 1
    action = policy.act(_zoom_obs(3, zooms_left=1))
    assert action["kind"] == 1 and "span" in action


def test_the_zoom_head_leaves_the_answer_weights_as_they_are() -> None:
    plain, zoom = _policy(SMALL), _policy(ZOOM)
    extra = set(zoom.state_dict()) - set(plain.state_dict())
    assert extra and all(
        k.startswith("model.zoom_head.") or k.startswith("zoom_head.") for k in extra
    )
    assert all(torch.equal(v, zoom.state_dict()[k]) for k, v in plain.state_dict().items())


def test_sampled_zooms_and_answers_have_exact_log_probs() -> None:
    policy = _policy(ZOOM, deterministic=False, seed=3)
    observations = [_zoom_obs(3, zooms_left=1), _zoom_obs(5, zooms_left=0, seed=1)]
    rollouts = policy.sample(observations, 8)
    kinds = [int(a["kind"]) for a in rollouts.actions]
    assert 0 in kinds[:8] and 1 in kinds[:8]  # p(zoom) = sigmoid(~0): both kinds drawn
    assert kinds[8:] == [1] * 8  # no zoom left: always an answer
    for action in rollouts.actions[:8]:
        if action["kind"] == 0:  # a window of whole bins of (4 + 2) / 6 = 1 s
            start, end = action["window"].tolist()
            assert start == round(start) and end == round(end) and 0 <= start < end <= 6
    _, logp, entropy = policy.evaluate_actions(observations, rollouts)
    torch.testing.assert_close(logp, rollouts.log_probs.reshape(-1))
    assert bool(torch.isfinite(entropy).all())


def test_the_always_rule_zooms_whenever_it_can() -> None:
    policy = _policy({**SMALL, "zoom": {"enabled": True, "decide": "always", "fps": 0.5}})
    action = policy.act(_zoom_obs(3, zooms_left=1))
    assert action["kind"] == 0 and action["zoom_fps"].tolist() == [0.5]
    assert policy.act(_zoom_obs(3, zooms_left=0))["kind"] == 1
    assert policy.answer_batch([_zoom_obs(3, zooms_left=1)])[0]["kind"] == 1


def test_window_seconds_and_bins_are_inverse() -> None:
    for a in range(10):
        for b in range(a, 10):
            assert window_bins(*window_seconds(a, b, 12.0, 10), 12.0, 10) == (a, b)


def test_zoom_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="policy.model.zoom.bins"):
        _policy({**SMALL, "zoom": {"enabled": True, "bins": 0}})
    with pytest.raises(ConfigError, match="zoom.enabled"):
        _policy({**SMALL, "track_id": True, "zoom": {"enabled": True}})
