"""EnvConfig: the one env section of every stage: its id picks the env, keys of another
env are errors, env_kwargs() gives gymnasium.make's keyword arguments."""

from __future__ import annotations

import pytest

from stvg.config import ConfigError, from_dict
from stvg.envs.config import EnvConfig, GroundingEnvConfig, TrackingEnvConfig


def test_env_kwargs_are_the_keys_set_and_fps() -> None:
    env = from_dict(EnvConfig, {"root": "data/x", "max_side": 32, "split": "train"}, path="env")
    assert env.env_kwargs() == {"root": "data/x", "split": "train", "fps": 1.0, "max_side": 32}
    # the kwargs build the env's own config to the same values
    own = from_dict(GroundingEnvConfig, env.env_kwargs())
    assert (own.root, own.max_side, own.fps, own.max_frames) == ("data/x", 32, 1.0, None)


def test_the_id_decides_which_keys_apply() -> None:
    tracking = from_dict(EnvConfig, {"id": "stvg/Tracking-v0", "reward_mode": "dense"})
    assert tracking.kind == "tracking"
    assert tracking.env_kwargs() == {"fps": 1.0, "reward_mode": "dense"}
    from_dict(TrackingEnvConfig, tracking.env_kwargs())
    with pytest.raises(
        ConfigError,
        match=r"env.reward_mode: is a key of the tracking envs, not of stvg/Grounding-v0",
    ):
        from_dict(EnvConfig, {"reward_mode": "dense"}, path="env")
    with pytest.raises(ConfigError, match=r"env.coords: is a key of the grounding envs"):
        from_dict(EnvConfig, {"id": "stvg/Tracking-v0", "coords": "norm1000"}, path="env")
    with pytest.raises(ConfigError, match="env.root: stvg/Synthetic-v0 always uses the cached"):
        from_dict(EnvConfig, {"id": "stvg/Synthetic-v0", "root": "x"}, path="env")
    # an id of another package: its keys pass unchecked
    assert from_dict(EnvConfig, {"id": "my/Env-v0", "reward_mode": "dense"}).kind is None


def test_a_verifier_sets_only_what_it_names() -> None:
    """A verifier's answer format and coordinates count as set (for a policy's contract)
    only when the YAML names them."""
    plain = from_dict(EnvConfig, {"verifier": {"terms": [{"name": "t_iou"}]}})
    assert "coords" not in plain.env_kwargs()["verifier"]
    pinned = from_dict(EnvConfig, {"verifier": {"coords": "pixels"}})
    assert pinned.env_kwargs()["verifier"] == {"coords": "pixels"}


def test_flat_observations_wrap_a_tracking_env(tmp_path) -> None:
    from stvg.data.synthetic import generate_split
    from stvg.envs.make import make_env_of

    generate_split(tmp_path, "train", 2, 0, duration_s=4.0, fps=5.0, size=64)
    config = from_dict(
        EnvConfig,
        {
            "id": "stvg/Tracking-v0",
            "root": str(tmp_path),
            "split": "train",
            "max_side": 32,
            "flat_observation": {"frame_size": 4, "query_length": 5},
        },
    )
    env = make_env_of(config)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3 * 4 * 4 + 1 + 5,)  # frame, time, query ids (no previous box)
    with pytest.raises(ConfigError, match="numbers-only observations are for tracking envs"):
        from_dict(EnvConfig, {"flat_observation": {}}, path="env")
