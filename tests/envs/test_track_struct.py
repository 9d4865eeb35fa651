"""Struct track-id actions: the observation's track candidates are the tracks' boxes on
the shown frames, and a struct answer scores exactly as its text form."""

from __future__ import annotations

import numpy as np
import pytest

from stvg.config import ConfigError
from stvg.data.tracks import VideoTracks, target_track_id
from stvg.data.types import Tube
from stvg.envs.answers import track_struct_to_parse
from stvg.envs.grounding import GroundingEnv
from stvg.envs.tracks import shown_candidates
from stvg.verifiers.formats import FrameContext

TRACKS = {"source": "synthetic", "seed": 0}
TERMS = [
    {"name": "t_iou", "weight": 1.0},
    {"name": "v_iou", "weight": 1.0},
    {"name": "id_match", "weight": 1.0},
    {"name": "format", "weight": 1.0},
]


@pytest.fixture(scope="module")
def env_kwargs(small_split_kwargs: dict) -> dict:
    return {
        **small_split_kwargs,
        "max_side": 64,
        "tracks": TRACKS,
        "answer_format": "track-id",
        "verifier": {"terms": TERMS},
    }


def _ctx(tracks: VideoTracks) -> FrameContext:
    return FrameContext(
        frame_idx=np.array([0, 10, 20]),
        timestamps_s=np.array([0.0, 1.0, 2.0]),
        native_fps=10.0,
        num_frames=30,
        original_size=(200, 100),
        shown_size=(100, 50),
        tracks=tracks,
    )


def test_candidates_are_the_tracks_boxes_on_the_shown_frames_by_hand() -> None:
    tracks = VideoTracks(
        "v",
        {
            7: Tube(
                np.array([10, 11, 20]), np.array([[20.0, 10, 60, 50]] * 2 + [[0, 0, 200, 100]])
            ),
            3: Tube(np.array([0]), np.array([[100.0, 50, 150, 100]])),
            5: Tube(np.array([5, 15]), np.array([[0.0, 0, 10, 10]] * 2)),  # never shown
        },
    )
    cand = shown_candidates(_ctx(tracks), max_candidates=4, max_frames=5)
    assert cand.ids.tolist() == [3, 7, -1, -1]
    assert cand.count == 2
    assert cand.mask.tolist() == [[1, 0, 0, 0, 0], [0, 1, 1, 0, 0], [0] * 5, [0] * 5]
    np.testing.assert_allclose(cand.boxes[0, 0], [0.5, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(cand.boxes[1, 1], [0.1, 0.1, 0.3, 0.5])
    np.testing.assert_allclose(cand.boxes[1, 2], [0.0, 0.0, 1.0, 1.0])
    assert not cand.boxes[2:].any() and not cand.boxes[0, 1:].any()
    with pytest.raises(ConfigError, match=r"env\.tracks\.max_candidates.*2 tracks.*at least 2"):
        shown_candidates(_ctx(tracks), max_candidates=1, max_frames=5)


def test_max_candidates_is_bounded() -> None:
    from stvg.config import from_dict
    from stvg.envs.config import TracksConfig

    with pytest.raises(ConfigError, match=r"env\.tracks\.max_candidates: must be at most 1,024"):
        from_dict(TracksConfig, {"max_candidates": 10**6}, path="env.tracks")
    with pytest.raises(ConfigError, match=r"env\.tracks\.max_candidates: must be >= 1"):
        from_dict(TracksConfig, {"max_candidates": 0}, path="env.tracks")


def test_env_observation_carries_the_candidates(env_kwargs: dict) -> None:
    env = GroundingEnv({**env_kwargs, "action_format": "struct"})
    obs, _ = env.reset(options={"index": 0})
    assert env.observation_space.contains(obs)
    ctx = env.contract.frame
    expected = shown_candidates(ctx, 16, env.max_frames)
    assert np.array_equal(obs["track_ids"], expected.ids)
    assert np.array_equal(obs["track_boxes"], expected.boxes)
    count = int((obs["track_ids"] >= 0).sum())
    assert count == len(ctx.tracks.tracks) >= 2
    w, h = ctx.original_size
    track = ctx.tracks.tracks[int(obs["track_ids"][0])]
    row = int(np.searchsorted(track.frame_idx, ctx.frame_idx[0]))
    np.testing.assert_allclose(
        obs["track_boxes"][0, 0], track.boxes_xyxy[row] / [w, h, w, h], rtol=1e-6
    )
    assert set(env.action_space.spaces) == {"track", "span"}
    assert env.action_space.contains(env.action_space.sample())


def test_struct_and_text_answers_score_identically(env_kwargs: dict) -> None:
    text_env = GroundingEnv(env_kwargs)
    struct_env = GroundingEnv({**env_kwargs, "action_format": "struct"})
    compared = hits = 0
    for index in range(3):
        obs, _ = struct_env.reset(options={"index": index})
        text_env.reset(options={"index": index})
        sample = struct_env.sample
        target, _ = target_track_id(struct_env.contract.frame.tracks, sample)
        ids = obs["track_ids"].tolist()
        for k in range(int((obs["track_ids"] >= 0).sum())):
            for span in ((1.0, 4.0), (0.0, 9.5), (2.5, 3.0)):
                text = f"Target ID: {ids[k]}, Time range: {span[0]} to {span[1]}"
                [(r_text, i_text)] = text_env.score_group([text])
                text_env.reset(options={"index": index})
                action = {"track": k, "span": np.asarray(span, dtype=np.float32)}
                [(r_struct, i_struct)] = struct_env.score_group([action])
                struct_env.reset(options={"index": index})
                assert r_struct == r_text
                for key in ("t_iou", "v_iou", "reward/id_match", "reward/format", "repairs"):
                    assert i_struct[key] == i_text[key], key
                assert i_struct["reward/id_match"] == float(ids[k] == target)
                compared += 1
                hits += i_struct["reward/id_match"] > 0 and i_struct["v_iou"] > 0
    assert compared >= 12 and hits >= 3


def test_struct_track_action_errors_say_what_is_wrong(env_kwargs: dict) -> None:
    env = GroundingEnv({**env_kwargs, "action_format": "struct"})
    obs, _ = env.reset(options={"index": 0})
    ctx, ids = env.contract.frame, obs["track_ids"]
    count = int((ids >= 0).sum())
    _, reason = track_struct_to_parse({"track": count, "span": [0, 1]}, ctx, ids)
    assert reason is not None and f"shows {count} tracks" in reason
    _, reason = track_struct_to_parse({"track": 0.5, "span": [0, 1]}, ctx, ids)
    assert reason is not None and "integer index" in reason
    _, reason = track_struct_to_parse({"span": [0, 1]}, ctx, ids)
    assert reason is not None and "missing key(s) ['track']" in reason
    parse, reason = track_struct_to_parse({"track": np.int64(0), "span": [0, 1]}, ctx, ids)
    assert reason is None and parse.track_id == int(ids[0])
