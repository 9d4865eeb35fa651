"""``track`` where frames come from files: ``stvg evaluate --predictions ... --fill track``
on a tiny synthetic split, and the errors where no frames are at hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from stvg.cli import main
from stvg.data import load_dataset
from stvg.data.errors import DataError
from stvg.data.types import Sample, SecondLevelAnswer, Tube
from stvg.tubes import ArrayFrames
from stvg.verifiers.formats import FrameContext
from stvg.verifiers.prediction_checks import check_predictions
from stvg.verifiers.predictions import Prediction
from stvg.verifiers.verifier import Verifier


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 synthetic videos (4 s at 10 fps, 96x96) and a predictions file with the GT box on
    every 10th frame of each GT span (and on its last frame): 1 fps of boxes."""
    from stvg.data.synthetic import generate_split

    root = tmp_path_factory.mktemp("fill_track")
    generate_split(root, "test", 3, 0, duration_s=4.0, fps=10.0, size=96)
    predictions = {}
    for sample in load_dataset("synthetic", annotations=root / "test.json"):
        first, last = sample.gt_span
        frames = sorted({*range(first, last + 1, 10), last})
        predictions[sample.sample_id] = {
            "st_frame": first,
            "ed_frame": last,
            "bbox": {str(f): sample.gt_boxes[f] for f in frames},
        }
    (root / "p.json").write_text(json.dumps(predictions), encoding="utf-8")
    return root


def _evaluate(root: Path, fill: str, *extra: str) -> dict:
    out = root / f"m_{fill}.json"
    argv = ["evaluate", "--annotations", str(root / "test.json"), "--format", "synthetic"]
    argv += ["--predictions", str(root / "p.json"), "--fill", fill, "--out", str(out), *extra]
    assert main(argv) == 0
    return json.loads(out.read_text())


def test_fill_track_scores_a_predictions_file_on_its_videos(split: Path, capsys) -> None:
    linear = _evaluate(split, "linear")
    track = _evaluate(split, "track")
    assert "tracker fell back to linear on 0" in capsys.readouterr().out
    # the synthetic targets move on straight lines here: linear is all but exact, and the
    # tracker stays within a point of it while reading every frame between the boxes
    assert linear["m_vIoU"] > 0.999
    assert track["m_vIoU"] == pytest.approx(linear["m_vIoU"], abs=0.01)
    assert track["m_tIoU"] == linear["m_tIoU"] == 1.0
    checks = track["prediction_checks"]
    assert checks["fill"] == "track"
    assert checks["n_frames_filled"] == linear["prediction_checks"]["n_frames_filled"] > 0
    assert checks["n_frames_fallback"] == 0 and checks["frames_fallback"] == {}
    assert checks["fill_seconds"] > 0
    assert "n_frames_fallback" not in linear["prediction_checks"]


def test_fill_track_without_the_videos_says_where_they_were_looked_for(split: Path, capsys):
    argv = ["evaluate", "--annotations", str(split / "test.json"), "--format", "synthetic"]
    argv += ["--predictions", str(split / "p.json"), "--fill", "track"]
    assert main([*argv, "--video-dir", str(split / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "--fill track reads the videos" in err and "3 of the 3 videos" in err
    assert "nowhere" in err and "--video-dir" in err
    assert main([*argv, "--video-dir", str(split / "videos")]) == 0  # where they are


def test_fill_track_counts_fallback_frames_per_sample() -> None:
    # Frames a provider cannot give (the video "ends" at frame 5) fall back and are counted.
    sample = Sample("a", "a.mp4", "q", 10.0, 21, 64, 64, (0, 20), {})
    tube = Prediction(
        (0, 20), Tube.from_dict({0: [8, 8, 24, 24], 10: [20, 8, 36, 24], 20: [8, 8, 24, 24]})
    )
    short = ArrayFrames(np.zeros((6, 64, 64), dtype=np.uint8))
    filled, checks = check_predictions(
        [sample], {"a": tube}, fill="track", frames_of=lambda s: short
    )
    assert checks.frames_filled == {"a": 18}
    assert checks.frames_fallback == {"a": 18}  # no frame 10 or 20 to track from
    np.testing.assert_allclose(filled["a"].tube.boxes_xyxy[5], [14, 8, 30, 24])  # linear
    assert "fell back to linear interpolation on 18 frames" in " ".join(checks.warnings())


def test_a_verifier_with_track_and_no_frames_names_the_sample_and_the_key() -> None:
    sample = Sample("s", "s.mp4", "q", 10.0, 50, 100, 100, (10, 29), {})
    ctx = FrameContext.from_sample(sample, fps=1.0)
    verifier = Verifier.from_config({"densify": {"method": "track"}})
    answer = SecondLevelAnswer((1.0, 2.0), np.array([1.0, 2.0]), np.array([[0, 0, 50, 50.0]] * 2))
    with pytest.raises(ValueError, match=r"sample 's' has none.*verifier\.densify\.method"):
        verifier.score_answer(answer, sample, ctx)
    # an answer without boxes reads no frames: scored as usual
    empty = SecondLevelAnswer((1.0, 2.0), np.zeros(0), np.zeros((0, 4)))
    result = verifier.score_answer(empty, sample, ctx)
    assert result.t_iou == pytest.approx(0.55) and result.v_iou == 0.0
    assert result.densify_figures["densify/tracked_frames"] == 0


def test_data_error_is_what_a_missing_video_raises(tmp_path: Path) -> None:
    sample = Sample("a", str(tmp_path / "a.mp4"), "q", 10.0, 21, 64, 64, (0, 20), {})
    pred = Prediction((0, 20), Tube.from_dict({0: [8, 8, 24, 24], 20: [8, 8, 24, 24]}))
    with pytest.raises(DataError, match="1 of the 1 videos to fill are not there"):
        check_predictions([sample], {"a": pred}, fill="track")
