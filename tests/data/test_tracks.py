"""Tracks: the MOT converter and the tracks file (by hand), synthetic tracks and their noise."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from stvg.data.errors import DataError
from stvg.data.synthetic.generate import SyntheticConfig, make_scene
from stvg.data.synthetic.tracks import TrackNoise, scene_tracks
from stvg.data.tracks import load_tracks, save_tracks, tracks_from_mot
from stvg.data.types import Sample


def test_mot_conversion_by_hand(tmp_path: Path) -> None:
    mot = "1,3,10,20,30,40,1,-1,-1,-1\n2,3,12,20,30,40,0.9\n\n5,7,-2,0,5,5,0\n"
    tracks = tracks_from_mot(mot, "v.mp4")
    assert tracks.ids == [3, 7]
    # MOT frame 1 is native frame 0; [x, y, w, h] -> [x, y, x + w, y + h]
    assert tracks.tracks[3].to_dict() == {0: [10, 20, 40, 60], 1: [12, 20, 42, 60]}
    assert tracks.tracks[7].to_dict() == {4: [0, 0, 3, 5]}  # clipped at the left edge
    path = save_tracks(tmp_path / "t.jsonl", [tracks])
    line = json.loads(path.read_text().splitlines()[0])
    assert line == {
        "video": "v.mp4",
        "tracks": [
            {"id": 3, "frames": {"0": [10.0, 20.0, 40.0, 60.0], "1": [12.0, 20.0, 42.0, 60.0]}},
            {"id": 7, "frames": {"4": [0.0, 0.0, 3.0, 5.0]}},
        ],
    }
    sample = Sample("other", "/videos/v.mp4", "q", 10.0, 10, 64, 64, (0, 1), {0: [0, 0, 1, 1]})
    assert load_tracks(path).for_sample(sample).tracks[3].to_dict() == tracks.tracks[3].to_dict()


@pytest.mark.parametrize(
    ("mot", "message"),
    [
        ("0,3,1,1,2,2\n", "line 1: frame must be an integer >= 1"),
        ("1,3,1,1\n", "line 1: expected 'frame,id,x,y,w,h,...'"),
        ("1,3,1,1,2,2\n1,3,1,1,2,2\n", "line 2: track 3, frame 1: given twice"),
        ("1,3,1,1,-2,2\n", "negative size"),
    ],
)
def test_bad_mot_lines_are_named(mot: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        tracks_from_mot(mot, "v.mp4", path="v.txt")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            '{"video": "a", "tracks": [{"id": 1, "frames": {"3": [5, 5, 1, 1]}}]}',
            "video 'a', track 1, frame 3: box",
        ),
        (
            '{"video": "a", "tracks": [{"id": -1, "frames": {}}]}',
            "track id must be an integer >= 0",
        ),
        ('{"video": "a", "tracks": [{"id": 1, "frames": {"x": [0, 0, 1, 1]}}]}', "frame key 'x'"),
        (
            '{"video": "a", "tracks": [{"id": 1, "frames": {"2": [0, 0, 1]}}]}',
            "frame 2: box must be 4 finite",
        ),
        (
            '{"video": "a", "tracks": [{"id": 1, "frames": {}}, {"id": 1, "frames": {}}]}',
            "track 1: the id is given twice",
        ),
        ("not json", "invalid JSON"),
    ],
)
def test_loading_names_file_line_video_track_and_frame(
    tmp_path: Path, line: str, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"video": "ok", "tracks": []}\n' + line + "\n")
    with pytest.raises(DataError, match=message) as info:
        load_tracks(path)
    assert "line 2" in str(info.value) and str(path) in str(info.value)


def test_a_missing_video_is_named(tmp_path: Path) -> None:
    path = save_tracks(tmp_path / "t.jsonl", [])
    sample = Sample("s1", "/v/x.mp4", "q", 10.0, 10, 64, 64, (0, 1), {0: [0, 0, 1, 1]})
    with pytest.raises(DataError, match="no tracks for video 'x.mp4'"):
        load_tracks(path).for_sample(sample)


SCENE = make_scene(SyntheticConfig(split="test", n=1, seed=3, duration_s=4.0, fps=5.0, size=64), 0)


def test_exact_synthetic_tracks_are_the_drawn_objects() -> None:
    tracks, target = scene_tracks(SCENE, seed=0)
    assert sorted(tracks.ids) == list(range(1, len(SCENE.objects) + 1))
    target_track = tracks.tracks[target]
    obj = SCENE.target
    frames = np.arange(obj.visible[0], obj.visible[1] + 1)
    assert target_track.frame_idx.tolist() == frames.tolist()
    assert np.array_equal(target_track.boxes_xyxy, obj.boxes_xyxy(frames))


def test_noisy_tracks_are_deterministic_per_seed_and_differ_across_seeds() -> None:
    noise = TrackNoise(id_switch=1.0, miss=0.2, jitter=0.1, false_tracks=2)
    a, _ = scene_tracks(SCENE, seed=1, noise=noise)
    b, _ = scene_tracks(SCENE, seed=1, noise=noise)
    c, _ = scene_tracks(SCENE, seed=2, noise=noise)
    assert a.to_dict() == b.to_dict()
    assert a.to_dict() != c.to_dict()
    exact, _ = scene_tracks(SCENE, seed=1)
    # every object switches ID once (one more track each) and 2 false tracks are added
    assert len(a.ids) == 2 * len(exact.ids) + 2
    with pytest.raises(ValueError, match="miss must lie in"):
        TrackNoise(miss=1.0)
