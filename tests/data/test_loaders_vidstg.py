"""VidSTG loader: the real test-split annotations, and boxes from a tiny VidOR folder."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from stvg.data import DataError, load_dataset

FIXTURE = Path("vidstg") / "test_annotations.json"


@pytest.fixture(scope="module")
def entries(shared_fixtures) -> list[dict]:
    return json.loads((shared_fixtures / FIXTURE).read_text(encoding="utf-8"))


def test_real_test_split_loads_every_sentence(shared_fixtures, caplog):
    with caplog.at_level(logging.WARNING, logger="stvg.data.loaders.vidstg"):
        dataset = load_dataset("vidstg", annotations=shared_fixtures / FIXTURE)
    assert len(dataset) == 10_303
    kinds = [s.meta["sentence_type"] for s in dataset]
    assert kinds.count("declarative") == 4_610
    assert kinds.count("interrogative") == 5_693
    assert dataset.split == "test"  # from test_annotations.json
    assert dataset.repairs == {}  # every temporal_gt lies inside its video
    assert all(not s.gt_boxes and s.meta["boxes_available"] is False for s in dataset)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "WITHOUT boxes" in warnings[0].getMessage()
    assert "10303 samples" in warnings[0].getMessage()

    first = dataset[0]
    assert first.sample_id == "7771650716/0/d0"
    assert first.query == "a dog with a rope walks in front of a man in white."
    assert first.gt_span == (0, 389)  # end_fid 390 is exclusive
    assert (first.num_frames, first.width, first.height) == (1805, 640, 360)
    assert first.native_fps == pytest.approx(30000 / 1001)
    assert first.meta == {
        "dataset": "vidstg",
        "split": "test",
        "vid": "7771650716",
        "entry_index": 0,
        "sentence_type": "declarative",
        "target_type": "object",
        "target_id": 0,
        "used_segment": {"begin_fid": 0, "end_fid": 479},
        "boxes_available": False,
        "end_fid_box": None,
        "repairs": {},
    }
    assert dataset[1].sample_id == "7771650716/0/q0"
    second_question = dataset.get("7492398760/2/q1")
    assert second_question.query == "who is behind the adult in the field?"
    assert second_question.meta["target_id"] == 3
    assert second_question.meta["target_type"] == "person"
    # end_fid == frame_count: the span ends on the last frame, no repair.
    at_end = dataset.get("6297019062/11/d0")
    assert at_end.gt_span == (1560, 1745)
    assert at_end.num_frames == 1746


def box(xmin, ymin, xmax, ymax) -> dict:
    return {"xmin": xmin, "ymin": ymin, "xmax": xmax, "ymax": ymax}


def write_vidor(path: Path, trajectories: list, video_path: str | None = None) -> None:
    data = {"video_id": path.stem, "trajectories": trajectories}
    if video_path is not None:
        data["video_path"] = video_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.fixture
def tiny_vidstg(tmp_path, entries) -> tuple[Path, Path]:
    """Entries 0, 1 (video 7771650716) and 11 (6297019062) with VidOR files in nested folders."""
    annotations = tmp_path / "vidstg" / "test_annotations.json"
    annotations.parent.mkdir()
    annotations.write_text(json.dumps([entries[0], entries[1], entries[11]]), encoding="utf-8")
    vidor = tmp_path / "vidor" / "annotation"
    # 7771650716: tid 0 on every frame, sliding right by f % 100; tid 7 on frames 936..1000.
    frames = []
    for f in range(1805):
        objects = [{"tid": 0, "bbox": box(10 + f % 100, 20, 110 + f % 100, 120), "generated": 0}]
        if 936 <= f <= 1000:
            objects.append({"tid": 7, "bbox": box(300, 100, 400, 300), "generated": 1})
        frames.append(objects)
    write_vidor(vidor / "validation" / "0001" / "7771650716.json", frames, "0001/7771650716.mp4")
    # 6297019062: tid 5 on every frame, reaching past the 640x360 frame from frame 1740 on.
    frames = [
        [{"tid": 5, "bbox": box(600, 300, 700, 380) if f >= 1740 else box(50, 60, 70, 80)}]
        for f in range(1746)
    ]
    write_vidor(vidor / "validation" / "0042" / "deeper" / "6297019062.json", frames)
    return annotations, vidor


def test_boxes_from_vidor_files(tiny_vidstg, tmp_path):
    annotations, vidor = tiny_vidstg
    dataset = load_dataset(
        "vidstg", annotations=annotations, vidor_root=vidor, video_dir=tmp_path / "videos"
    )
    assert dataset.ids == [
        "7771650716/0/d0",
        "7771650716/0/q0",
        "7771650716/1/d0",
        "7771650716/1/q0",
        "6297019062/2/d0",
        "6297019062/2/q0",
    ]
    dog = dataset.get("7771650716/0/d0")
    assert dog.gt_span == (0, 389)
    assert len(dog.gt_boxes) == 390
    assert dog.gt_boxes[0] == [10.0, 20.0, 110.0, 120.0]
    assert dog.gt_boxes[389] == [99.0, 20.0, 199.0, 120.0]  # 389 % 100 = 89
    assert 390 not in dog.gt_boxes  # end_fid is exclusive
    assert dog.meta["end_fid_box"] == [100.0, 20.0, 200.0, 120.0]  # frame 390, for cgstvg
    assert dog.meta["boxes_available"] is True
    assert dog.video_path == str(tmp_path / "videos" / "0001" / "7771650716.mp4")

    adult = dataset.get("7771650716/1/d0")  # target 7, present on frames 936..1000 only
    assert adult.gt_span == (936, 1269)
    assert sorted(adult.gt_boxes) == list(range(936, 1001))
    assert adult.gt_boxes[936] == [300.0, 100.0, 400.0, 300.0]
    assert adult.meta["end_fid_box"] is None  # target 7 is absent on frame 1270
    hugged = dataset.get("7771650716/1/q0")  # target 0 over the same span
    assert len(hugged.gt_boxes) == 334
    assert hugged.gt_boxes[1269] == [79.0, 20.0, 179.0, 120.0]  # 1269 % 100 = 69

    seat = dataset.get("6297019062/2/d0")  # end_fid == frame_count == 1746
    assert seat.gt_span == (1560, 1745)
    assert len(seat.gt_boxes) == 186
    assert seat.gt_boxes[1560] == [50.0, 60.0, 70.0, 80.0]
    assert seat.gt_boxes[1745] == [600.0, 300.0, 700.0, 380.0]  # kept as annotated
    assert seat.meta["repairs"] == {"box_outside_frame": 6}  # frames 1740..1745
    assert seat.meta["end_fid_box"] is None  # frame 1746 is past the video
    assert seat.video_path == str(tmp_path / "videos" / "6297019062.mp4")  # no video_path
    baby = dataset.get("6297019062/2/q0")  # target 0 never appears
    assert baby.gt_boxes == {}
    assert dataset.repairs == {"box_outside_frame": 6}


def test_missing_vidor_file_names_the_video_and_folder(tiny_vidstg, entries, tmp_path):
    annotations, vidor = tiny_vidstg
    annotations.write_text(json.dumps([entries[0], entries[2]]), encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_dataset("vidstg", annotations=annotations, vidor_root=vidor)
    message = str(info.value)
    assert "7492398760" in message
    assert str(vidor) in message


def test_missing_vidor_folder(tiny_vidstg, tmp_path):
    annotations, _ = tiny_vidstg
    with pytest.raises(DataError, match="VidOR annotation folder not found"):
        load_dataset("vidstg", annotations=annotations, vidor_root=tmp_path / "absent")


def test_root_resolves_split_annotations(tiny_vidstg):
    annotations, _ = tiny_vidstg
    dataset = load_dataset("vidstg", root=annotations.parent)  # default split test
    assert dataset.source == str(annotations)
    assert dataset[0].video_path == str(annotations.parent / "videos" / "7771650716.mp4")
