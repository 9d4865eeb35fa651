"""Tests of the synthetic STVG benchmark generator (stvg.data.synthetic)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from stvg.data.synthetic import (
    COLOURS_BGR,
    SHAPES,
    Background,
    Event,
    Query,
    Scene,
    SceneObject,
    SyntheticConfig,
    derive_event_span,
    generate_split,
    make_scene,
    relation_holds,
    render_frame,
    render_scene,
    scene_annotation,
    scene_from_dict,
    scene_to_dict,
)

GREY = (128, 128, 128)
SMALL = dict(duration_s=3.0, fps=10.0, size=96)  # 30 frames of 96x96: fast to write


def read_frames(path: Path) -> np.ndarray:
    """Every decoded frame of a video, ``[N, H, W, 3]`` BGR."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return np.stack(frames)


def linear_scene() -> Scene:
    """A red circle (r = 10) whose box x goes 20 -> 120 over frames 10..60, 2 px a frame."""
    target = SceneObject(
        object_id=7,
        shape="circle",
        colour="red",
        size="small",
        radius=10.0,
        keyframes=((10, 30.0, 64.0), (60, 130.0, 64.0)),
        visible=(0, 79),
        z=1,
    )
    distractor = SceneObject(3, "square", "blue", "small", 8.0, ((0, 80.0, 110.0),), (0, 79))
    return Scene(
        scene_id="custom_0000.mp4",
        width=160,
        height=128,
        fps=10.0,
        num_frames=80,
        background=Background(GREY),
        objects=(target, distractor),
        target_id=7,
        event=Event("move_right", 10, 60),
        query=Query(
            "The red circle while it moves right.", "the red circle", "while it moves right"
        ),
    )


def load_synthetic(root: Path, split: str):
    """``load_dataset("synthetic", ...)``, or skip while the loader is not available."""
    try:
        from stvg.data.datasets import load_dataset
    except ImportError as exc:  # the loader lives in another helper's module
        pytest.skip(f"stvg.data.datasets.load_dataset not available: {exc}")
    return load_dataset("synthetic", root=root, split=split)


# --- hand-made scene: analytic boxes -------------------------------------------------


def test_linear_target_has_exactly_the_analytic_boxes(tmp_path: Path) -> None:
    scene = linear_scene()
    entry = scene_annotation(scene)
    assert entry["bbox"] == [[20.0 + 2 * k, 54.0, 20.0, 20.0] for k in range(51)]
    assert entry["bbox"][25] == [70.0, 54.0, 20.0, 20.0]  # frame 35
    assert entry["st_frame"] == 11
    assert entry["st_time"] == 1.0 and entry["ed_time"] == 6.0
    assert entry["img_num"] == 80
    assert entry["img_size"] == [128, 160]
    assert entry["fps"] == 10.0
    assert entry["English"] == "The red circle while it moves right."
    assert derive_event_span(scene.target, "move_right", 80) == (10, 60)


def test_linear_target_pixels_in_decoded_video(tmp_path: Path) -> None:
    scene = linear_scene()
    path = render_scene(scene, tmp_path / "videos" / scene.scene_id)
    frames = read_frames(path)
    assert frames.shape == (80, 128, 160, 3)
    red = np.array(COLOURS_BGR["red"], dtype=int)
    for frame_idx, box_x in ((10, 20), (35, 70), (60, 120)):
        centre = frames[frame_idx, 64, box_x + 10].astype(int)
        assert np.abs(centre - red).max() <= 30, (frame_idx, centre)
    # Where the circle started (centre x = 30) is background once it has moved away.
    assert np.abs(frames[60, 64, 30].astype(int) - np.array(GREY)).max() <= 12
    assert np.abs(frames[5, 64, 30].astype(int) - red).max() <= 30


def test_linear_target_loads_through_the_synthetic_loader(tmp_path: Path) -> None:
    scene = linear_scene()
    render_scene(scene, tmp_path / "videos" / scene.scene_id)
    annotation = {scene.scene_id: scene_annotation(scene)}
    (tmp_path / "custom.json").write_text(json.dumps(annotation))
    dataset = load_synthetic(tmp_path, "custom")
    sample = dataset[0]
    assert sample.sample_id == "custom_0000.mp4"
    assert sample.gt_span == (10, 60)
    assert sample.native_fps == 10.0 and sample.num_frames == 80
    assert (sample.width, sample.height) == (160, 128)
    assert sample.gt_boxes == {10 + k: [20.0 + 2 * k, 54.0, 40.0 + 2 * k, 74.0] for k in range(51)}
    assert Path(sample.video_path) == tmp_path / "videos" / "custom_0000.mp4"


@pytest.mark.parametrize("shape", SHAPES)
def test_drawn_shape_fills_its_box(shape: str) -> None:
    obj = SceneObject(0, shape, "green", "small", 10.0, ((0, 50.0, 40.0),), (0, 19))
    scene = Scene(
        "s.mp4",
        100,
        80,
        10.0,
        20,
        Background(GREY),
        (obj,),
        0,
        Event("pause", 0, 3),
        Query("q", "a", "e"),
    )
    frame = render_frame(scene, 0).astype(int)
    # Box [40, 30, 60, 50]: fully coloured pixels lie in columns 40..59, rows 30..49.
    full_ys, full_xs = np.nonzero(np.all(frame == np.array(COLOURS_BGR["green"]), axis=-1))
    assert full_xs.min() == 40 and full_xs.max() == 59
    assert full_ys.max() == 49 and full_ys.min() in (30, 31)  # the triangle's apex is one point
    # Anti-aliased edges bleed at most 2 pixels beyond the box.
    ys, xs = np.nonzero(np.any(frame != np.array(GREY), axis=-1))
    assert xs.min() >= 38 and xs.max() <= 61 and ys.min() >= 28 and ys.max() <= 51


def test_derive_event_span_reads_the_trajectory() -> None:
    # Moves down 20 -> 60 px over frames 0..20, still 20..40, moves right 40..79.
    obj = SceneObject(
        0,
        "square",
        "red",
        "large",
        10.0,
        ((0, 50.0, 20.0), (20, 50.0, 60.0), (40, 50.0, 60.0), (79, 90.0, 60.0)),
        (0, 79),
    )
    assert derive_event_span(obj, "move_down", 80) == (0, 20)
    assert derive_event_span(obj, "pause", 80) == (20, 40)
    assert derive_event_span(obj, "move_right", 80) == (40, 79)
    assert derive_event_span(obj, "move_left", 80) is None
    assert derive_event_span(obj, "stop", 80) is None
    assert derive_event_span(obj, "appear", 80) is None
    late = SceneObject(1, "circle", "red", "small", 5.0, ((0, 50.0, 50.0),), (15, 79))
    assert derive_event_span(late, "appear", 80) == (15, 79)
    assert derive_event_span(late, "disappear", 80) is None


def test_scene_rejects_a_target_hidden_during_its_event() -> None:
    obj = SceneObject(0, "circle", "red", "small", 5.0, ((0, 50.0, 50.0),), (20, 79))
    with pytest.raises(ValueError, match="must be visible on every event frame"):
        Scene(
            "s.mp4",
            100,
            100,
            10.0,
            80,
            Background(),
            (obj,),
            0,
            Event("stop", 10, 79),
            Query("q", "a", "e"),
        )


def test_scene_rejects_an_object_leaving_the_frame() -> None:
    obj = SceneObject(0, "circle", "red", "small", 5.0, ((0, 50.0, 50.0), (9, 98.0, 50.0)), (0, 9))
    with pytest.raises(ValueError, match="leaves the 100x100 frame"):
        Scene(
            "s.mp4",
            100,
            100,
            10.0,
            10,
            Background(),
            (obj,),
            0,
            Event("stop", 9, 9),
            Query("q", "a", "e"),
        )


def test_config_rejects_odd_size_and_short_videos() -> None:
    with pytest.raises(ValueError, match="even"):
        SyntheticConfig("train", 1, 0, size=97)
    with pytest.raises(ValueError, match="at least 20"):
        SyntheticConfig("train", 1, 0, duration_s=1.0, fps=10.0)
    with pytest.raises(ValueError, match="not one of"):
        SyntheticConfig("train", 1, 0, difficulty="extreme")  # type: ignore[arg-type]


# --- generated splits ------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """The same medium split generated twice in two folders."""
    first = tmp_path_factory.mktemp("synth_a")
    second = tmp_path_factory.mktemp("synth_b")
    summary = generate_split(first, "val", 4, 11, "medium", **SMALL)
    generate_split(second, "val", 4, 11, "medium", **SMALL)
    return first, second, summary


def test_generate_split_writes_files_and_summary(generated: tuple[Path, Path, dict]) -> None:
    root, _, summary = generated
    annotations = json.loads((root / "val.json").read_text())
    scenes = json.loads((root / "val_scenes.json").read_text())
    keys = [f"val_{i:04d}.mp4" for i in range(4)]
    assert list(annotations) == keys and list(scenes) == keys
    assert summary["n"] == 4 and summary["num_frames"] == 30
    spans = [a["ed_time"] * 10 - a["st_time"] * 10 + 1 for a in annotations.values()]
    assert summary["mean_span_frames"] == pytest.approx(np.mean(spans))
    for key, entry in annotations.items():
        frames = read_frames(root / "videos" / key)
        assert frames.shape == (30, 96, 96, 3)
        assert entry["img_num"] == 30 and entry["img_size"] == [96, 96] and entry["fps"] == 10.0


def test_generation_is_deterministic(generated: tuple[Path, Path, dict]) -> None:
    first, second, _ = generated
    for name in ("val.json", "val_scenes.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    for key in ("val_0000.mp4", "val_0003.mp4"):
        np.testing.assert_array_equal(
            read_frames(first / "videos" / key), read_frames(second / "videos" / key)
        )


def test_sample_does_not_depend_on_n_and_splits_differ() -> None:
    few = SyntheticConfig("train", 2, 5, "hard")
    many = SyntheticConfig("train", 50, 5, "hard")
    assert scene_to_dict(make_scene(few, 1)) == scene_to_dict(make_scene(many, 1))
    other_split = scene_to_dict(make_scene(SyntheticConfig("test", 2, 5, "hard"), 1))
    other_seed = scene_to_dict(make_scene(SyntheticConfig("train", 2, 6, "hard"), 1))
    this = scene_to_dict(make_scene(few, 1))
    for other in (other_split, other_seed):
        assert other["objects"] != this["objects"]


def test_scene_dict_round_trip() -> None:
    scene = make_scene(SyntheticConfig("train", 1, 3, "hard"), 0)
    data = json.loads(json.dumps(scene_to_dict(scene)))
    assert scene_from_dict(data) == scene


def _scenes(difficulty: str, count: int = 40) -> list[Scene]:
    config = SyntheticConfig("check", count, 2, difficulty)  # type: ignore[arg-type]
    return [make_scene(config, i) for i in range(count)]


@pytest.mark.parametrize("difficulty", ["easy", "medium", "hard"])
def test_every_span_frame_has_a_box_inside_the_frame(difficulty: str) -> None:
    for scene in _scenes(difficulty):
        entry = scene_annotation(scene)
        first = entry["st_frame"] - 1
        last = round(entry["ed_time"] * entry["fps"])
        assert round(entry["st_time"] * entry["fps"]) == first
        assert len(entry["bbox"]) == last - first + 1
        for x, y, w, h in entry["bbox"]:
            assert w > 0 and h > 0
            assert x >= 0 and y >= 0 and x + w <= 224 and y + h <= 224
        target = scene.target
        assert target.visible[0] <= first and last <= target.visible[1]
        assert derive_event_span(target, scene.event.kind, scene.num_frames) == (first, last)


@pytest.mark.parametrize("difficulty", ["easy", "medium", "hard"])
def test_query_names_the_target_unambiguously(difficulty: str) -> None:
    for scene in _scenes(difficulty):
        target, query = scene.target, scene.query
        text = query.text.lower()
        assert f"{target.colour} " in text and target.shape in text
        assert query.event_phrase == scene.event.phrase and query.event_phrase in text
        if "size" in query.attributes:
            assert text.startswith(f"the {target.size} {target.colour} {target.shape}")
        named = [a for a in ("size", "colour", "shape") if a in query.attributes]
        look_alikes = [
            o
            for o in scene.objects
            if o.object_id != target.object_id
            and all(getattr(o, a) == getattr(target, a) for a in named)
        ]
        if query.relation is None:
            assert look_alikes == []
        else:
            rel = query.relation
            anchor = scene.object(rel.anchor_id)
            assert rel.phrase in text
            assert relation_holds(rel.kind, target, anchor, scene.event.first_frame)
            for other in look_alikes:
                assert not relation_holds(rel.kind, other, anchor, scene.event.first_frame)


def _shared(a: SceneObject, b: SceneObject) -> int:
    return sum(getattr(a, k) == getattr(b, k) for k in ("size", "colour", "shape"))


def test_difficulty_controls_shared_attributes_and_events() -> None:
    easy, medium, hard = _scenes("easy"), _scenes("medium"), _scenes("hard")
    for scene in easy:
        assert 1 <= len(scene.distractor_ids) <= 2
        assert all(_shared(scene.object(i), scene.target) <= 1 for i in scene.distractor_ids)
    for scene in medium:
        assert 2 <= len(scene.distractor_ids) <= 4
        assert any(_shared(scene.object(i), scene.target) >= 1 for i in scene.distractor_ids)
    for scene in hard:
        assert any(_shared(scene.object(i), scene.target) == 3 for i in scene.distractor_ids)
        assert scene.query.relation is not None
    mean_span = [
        np.mean([s.event.last_frame - s.event.first_frame + 1 for s in g])
        for g in (easy, medium, hard)
    ]
    assert mean_span[0] > mean_span[1] > mean_span[2]


def test_generated_split_loads_through_the_synthetic_loader(
    generated: tuple[Path, Path, dict],
) -> None:
    root, _, _ = generated
    dataset = load_synthetic(root, "val")
    scenes = json.loads((root / "val_scenes.json").read_text())
    assert len(dataset) == 4
    for sample in dataset:
        scene = scene_from_dict(scenes[sample.sample_id])
        assert sample.gt_span == scene.event.span
        assert sample.query == scene.query.text
        expected = {
            int(f): [float(v) for v in b]
            for f, b in zip(scene.gt_frames(), scene.gt_boxes_xyxy(), strict=True)
        }
        assert sample.gt_boxes == expected
        assert sample.meta["scene"]["target_id"] == scene.target_id
