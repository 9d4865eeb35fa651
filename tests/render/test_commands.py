"""``stvg render`` end to end on a small synthetic split: PNG, MP4 and clean errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from render_fixtures import SPLIT

from stvg.cli import main
from stvg.data import load_dataset
from stvg.verifiers.predictions import Prediction, write_predictions


@pytest.fixture(scope="module")
def files(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Annotations and a predictions file (the GT tube as the prediction of sample 0)."""
    dataset = load_dataset("synthetic", root=synthetic_root, split=SPLIT)
    first = dataset[0]
    predictions = tmp_path_factory.mktemp("predictions") / "predictions.json"
    write_predictions(predictions, {first.sample_id: Prediction(first.gt_span, first.gt_tube())})
    return {
        "annotations": str(synthetic_root / f"{SPLIT}.json"),
        "predictions": str(predictions),
        "first": first.sample_id,
        "second": dataset[1].sample_id,
    }


def render(files: dict[str, str], *extra: str) -> list[str]:
    return [
        "render",
        "--annotations",
        files["annotations"],
        "--format",
        "synthetic",
        "--predictions",
        files["predictions"],
        *extra,
    ]


def test_png_contact_sheet(files: dict[str, str], tmp_path: Path, capsys) -> None:
    out = tmp_path / "sheet.png"
    assert main(render(files, "--sample", files["first"], "--out", str(out))) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    image = cv2.imread(str(out))
    assert image is not None and image.shape[2] == 3 and image.shape[1] > 2 * 224


def test_mp4_has_every_frame(files: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    assert main(render(files, "--sample", files["first"], "--out", str(out))) == 0
    capture = cv2.VideoCapture(str(out))
    count = 0
    while capture.grab():
        count += 1
    capture.release()
    assert count == 20  # 4 s at 5 fps


def test_root_and_split_instead_of_annotations(
    files: dict[str, str], synthetic_root: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "root.png"
    args = ["render", "--root", str(synthetic_root), "--split", SPLIT, "--format", "synthetic"]
    assert main([*args, "--sample", files["second"], "--out", str(out), "--columns", "4"]) == 0
    assert out.is_file()
    with pytest.raises(SystemExit):
        main([*args, "--annotations", files["annotations"], "--sample", "x", "--out", "x.png"])
    assert "not both" in capsys.readouterr().err


def test_sample_without_prediction_warns_and_draws_gt(
    files: dict[str, str], tmp_path: Path, capsys
) -> None:
    out = tmp_path / "gt_only.png"
    assert main(render(files, "--sample", files["second"], "--out", str(out))) == 0
    assert "no prediction for sample" in capsys.readouterr().err and out.is_file()


def test_unknown_sample_lists_valid_ids(files: dict[str, str], tmp_path: Path, capsys) -> None:
    code = main(render(files, "--sample", "nope", "--out", str(tmp_path / "x.png")))
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "sample id 'nope' is not in the annotations" in err
    assert files["first"] in err and files["annotations"] in err


def test_close_sample_id_is_suggested(files: dict[str, str], tmp_path: Path, capsys) -> None:
    typo = files["first"].replace(".mp4", ".mp")
    assert main(render(files, "--sample", typo, "--out", str(tmp_path / "x.png"))) == 2
    assert f"did you mean '{files['first']}'" in capsys.readouterr().err


def test_missing_video_is_a_clean_error(files: dict[str, str], tmp_path: Path, capsys) -> None:
    args = render(files, "--sample", files["first"], "--out", str(tmp_path / "x.png"))
    assert main([*args, "--video-dir", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "video file not found" in err and files["first"] in err and "Traceback" not in err


def test_bad_out_suffix_is_a_clean_error(files: dict[str, str], tmp_path: Path, capsys) -> None:
    out = tmp_path / "x.gif"
    assert main(render(files, "--sample", files["first"], "--out", str(out))) == 2
    err = capsys.readouterr().err
    assert "stvg render: error:" in err and ".png" in err and ".mp4" in err
    assert not out.exists()
