"""``on_bad_video`` in both envs (the shared :class:`~stvg.envs.base.VideoGroundingEnvBase`).

A 4-video split (``test_0000.mp4`` .. ``test_0003.mp4``, 4 s at 5 fps, 64x64) whose second
video's bytes are garbage. At the default 1 fps an episode shows native frames 0, 5, 10, 15
(4 tracking steps).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

from stvg.data.errors import VideoError
from stvg.envs.grounding import GroundingEnv
from stvg.envs.tracking import TrackingEnv

BAD = "test_0001.mp4"
ENVS = [GroundingEnv, TrackingEnv]


@pytest.fixture(scope="module")
def bad_split(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from stvg.data.synthetic import generate_split

    root = tmp_path_factory.mktemp("bad_env")
    generate_split(root, "test", 4, 1, duration_s=4.0, fps=5.0, size=64)
    (root / "videos" / BAD).write_bytes(b"\x00garbage\xff" * 50)
    return {"dataset": "synthetic", "root": str(root), "split": "test"}


def _first_frame(obs: dict[str, Any]) -> np.ndarray:
    return obs["frames"][0] if "frames" in obs else obs["frame"]


@pytest.mark.parametrize("env_class", ENVS)
def test_error_is_the_default_and_names_the_sample(bad_split, env_class) -> None:
    env = env_class(**bad_split)
    assert env.config.on_bad_video == "error"
    _, info = env.reset(seed=0)
    assert info["sample_id"] == "test_0000.mp4" and "bad_videos" not in info
    with pytest.raises(VideoError, match=f"sample {BAD!r}"):
        env.reset()


@pytest.mark.parametrize("env_class", ENVS)
def test_skip_walks_on_and_lists_the_bad_sample(bad_split, env_class) -> None:
    env = env_class(**bad_split, on_bad_video="skip")
    played, listed = [], []
    with pytest.warns(UserWarning, match=f"skipping sample {BAD!r}") as caught:
        for i in range(6):
            _, info = env.reset(seed=0 if i == 0 else None)
            played.append(info["sample_id"])
            listed.append([b["sample_id"] for b in info.get("bad_videos", [])])
    # the walk 0, 1, 2, 3, 0, 1, ...: sample 1 is replaced by the next of the walk (2),
    # which the walk then does not play again in that pass
    assert played == ["test_0000.mp4", "test_0002.mp4", "test_0003.mp4"] * 2
    assert listed == [[], [BAD], []] * 2
    assert len([w for w in caught if "skipping" in str(w.message)]) == 1  # decoded once


def test_skip_in_tracking_plays_the_replacement_to_the_end(bad_split) -> None:
    env = TrackingEnv(**bad_split, on_bad_video="skip", reward_mode="dense")
    with pytest.warns(UserWarning, match="skipping"):
        obs, info = env.reset(options={"index": 1})  # a chosen sample: dataset order
    reference = TrackingEnv(**bad_split)
    expected, expected_info = reference.reset(options={"index": 2})
    assert info["sample_id"] == "test_0002.mp4"
    assert info["bad_videos"][0]["sample_id"] == BAD
    assert "garbage" not in info["bad_videos"][0]["reason"]  # the reason, not the bytes
    assert BAD in info["bad_videos"][0]["reason"]
    np.testing.assert_array_equal(info["frame_idx"], [0, 5, 10, 15])
    np.testing.assert_array_equal(info["frame_idx"], expected_info["frame_idx"])
    np.testing.assert_array_equal(_first_frame(obs), _first_frame(expected))
    assert env.num_steps == 4 and env.sample is not None and env.sample.sample_id == "test_0002.mp4"
    absent = {"present": 0, "box": np.zeros(4, dtype=np.float32)}
    rewards, terminated, step_info = [], False, {}
    while not terminated:
        _, reward, terminated, _, step_info = env.step(absent)
        rewards.append(reward)
    assert rewards == [0.0, 0.0, 0.0, 0.0]  # claimed absence scores 0 on every dense step
    assert step_info["sample_id"] == "test_0002.mp4" and step_info["step"] == 3
    # asked again: the bad video is not decoded again (no warning), and is listed again
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, again = env.reset(options={"sample_id": BAD})
    assert again["sample_id"] == "test_0002.mp4" and again["bad_videos"] == info["bad_videos"]
