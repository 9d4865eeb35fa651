"""Dataset statistics (stvg.data.inspect) and the `stvg data` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stvg.cli import main
from stvg.data import GroundingDataset, Sample, inspect_dataset
from stvg.data.inspect import describe, format_report, inspect_path

# Two HC-STVG v2 entries in a 200x100 frame.
# a.mp4: 200 frames at 10 fps (img_num / 20), span (10, 13): 4 boxes of 20x10.
# b.mp4: 100 frames at an explicit 10 fps, span (0, 2): [190, 0, 20, 50] is clipped to
#        [190, 0, 200, 50] (10x50), then two 40x50 boxes.
V2 = {
    "a.mp4": {
        "bbox": [[0, 0, 20, 10]] * 4,
        "st_frame": 11,
        "img_num": 200,
        "English": "the red car",
        "img_size": [100, 200],
    },
    "b.mp4": {
        "bbox": [[190, 0, 20, 50], [0, 0, 40, 50], [0, 0, 40, 50]],
        "st_frame": 1,
        "img_num": 100,
        "fps": 10,
        "English": "the blue car",
        "img_size": [100, 200],
    },
}


@pytest.fixture
def v2_file(tmp_path) -> Path:
    path = tmp_path / "valv2.json"
    path.write_text(json.dumps(V2), encoding="utf-8")
    return path


def test_describe():
    assert describe([1, 2, 6]) == {"min": 1.0, "mean": 3.0, "max": 6.0}
    assert describe([]) is None


def test_statistics_of_a_hand_written_file(v2_file):
    stats = inspect_path(v2_file, "hcstvg2")
    assert stats["name"] == "hcstvg2" and stats["split"] == "val"
    assert (stats["num_samples"], stats["num_videos"]) == (2, 2)
    assert stats["sentence_types"] == {}
    assert stats["video_duration_s"] == {"min": 10.0, "mean": 15.0, "max": 20.0}
    assert stats["video_num_frames"] == {"min": 100.0, "mean": 150.0, "max": 200.0}
    assert stats["span_frames"] == {"min": 3.0, "mean": 3.5, "max": 4.0}
    assert stats["span_s"] == pytest.approx({"min": 0.3, "mean": 0.35, "max": 0.4})
    assert stats["span_share_of_video"] == pytest.approx({"min": 0.02, "mean": 0.025, "max": 0.03})
    boxes = stats["boxes"]
    assert boxes["num_boxes"] == 7
    assert boxes["samples_without_boxes"] == 0
    # [190, 0, 20, 50] reaches past the 200-pixel-wide frame: kept as annotated (width 20)
    assert boxes["width_px"] == pytest.approx({"min": 20.0, "mean": 180 / 7, "max": 40.0})
    assert boxes["height_px"] == pytest.approx({"min": 10.0, "mean": 190 / 7, "max": 50.0})
    # areas / 20000: 200 (x4), 1000, 2000, 2000
    assert boxes["area_share_of_frame"] == pytest.approx(
        {"min": 0.01, "mean": 0.29 / 7, "max": 0.1}
    )
    assert boxes["span_coverage"] == {"min": 1.0, "mean": 1.0, "max": 1.0}
    assert stats["repairs"] == {"box_outside_frame": 1}


def test_coverage_sentence_types_and_empty_samples(tmp_path):
    def sample(sample_id, boxes, kind):
        meta = {"sentence_type": kind}
        return Sample(sample_id, "v.mp4", "q", 25.0, 100, 50, 40, (0, 3), boxes, meta)

    dataset = GroundingDataset(
        "vidstg",
        "test",
        tmp_path / "t.json",
        [
            sample("a", {0: [0, 0, 10, 10], 2: [0, 0, 10, 10]}, "declarative"),  # 2 of 4 frames
            sample("b", {}, "interrogative"),
            sample("c", {1: [0, 0, 5, 4]}, "interrogative"),  # 1 of 4 frames
        ],
    )
    stats = inspect_dataset(dataset)
    assert stats["num_videos"] == 1
    assert stats["sentence_types"] == {"declarative": 1, "interrogative": 2}
    assert stats["video_duration_s"] == {"min": 4.0, "mean": 4.0, "max": 4.0}
    assert stats["span_s"] == {"min": 0.16, "mean": 0.16, "max": 0.16}
    assert stats["boxes"]["samples_without_boxes"] == 1
    assert stats["boxes"]["span_coverage"] == {"min": 0.0, "mean": 0.25, "max": 0.5}
    assert stats["boxes"]["area_share_of_frame"] == pytest.approx(
        {"min": 0.01, "mean": 0.11 / 3, "max": 0.05}
    )


def test_report_lists_the_figures(v2_file):
    report = format_report(inspect_path(v2_file, "hcstvg2"))
    lines = report.splitlines()
    assert "samples      2   videos 2" in lines
    assert any(line.split() == ["span", "(frames)", "3", "3.5", "4"] for line in lines)
    assert any(line.split() == ["video", "duration", "(s)", "10", "15", "20"] for line in lines)
    assert "repairs      box_outside_frame 1" in lines


def test_inspect_command_on_a_file_and_a_root(v2_file, tmp_path, capsys):
    assert main(["data", "inspect", "--format", "hcstvg2", str(v2_file)]) == 0
    assert "span (s)" in capsys.readouterr().out
    assert (
        main(["data", "inspect", "--format", "hcstvg2", str(tmp_path), "--split", "val", "--json"])
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed == inspect_path(v2_file, "hcstvg2")


def test_inspect_command_reports_bad_input(tmp_path, capsys):
    # exit status 2 and one line on stderr (it was SystemExit(message): status 1)
    assert main(["data", "inspect", "--format", "hcstvg2", str(tmp_path / "none.json")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("stvg data inspect: error: annotation file not found")
    assert main(["data", "inspect", "--format", "hcstvg9", str(tmp_path)]) == 2
    assert "unknown dataset 'hcstvg9'" in capsys.readouterr().err


def test_synth_command_writes_a_loadable_split(tmp_path, capsys):
    out = tmp_path / "synth"
    args = ["data", "synth", "--out", str(out), "--split", "val", "--n", "2", "--seed", "5"]
    assert main([*args, "--difficulty", "easy"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["split"], summary["n"], summary["seed"]) == ("val", 2, 5)
    assert (out / "val.json").is_file() and (out / "val_scenes.json").is_file()
    assert (
        main(["data", "inspect", "--format", "synthetic", str(out), "--split", "val", "--json"])
        == 0
    )
    stats = json.loads(capsys.readouterr().out)
    assert stats["num_samples"] == 2
    assert stats["span_frames"]["mean"] == summary["mean_span_frames"]


def test_data_without_subcommand_prints_help(capsys):
    assert main(["data"]) == 2
    assert "synth" in capsys.readouterr().out
