"""No command writes over one of its own inputs: an output path that is an input file (by
any spelling: the same path, a relative path, a symbolic or hard link) is refused before
any work starts, in one line with exit status 2, and the input is left as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from stvg.cli import main
from stvg.cli_errors import CommandError, check_not_an_input

REPO = Path(__file__).resolve().parents[1]
HCSTVG2_ENTRY = {
    "English": "the man walks",
    "bbox": [[0, 0, 10, 10]] * 10,
    "st_frame": 31,
    "img_num": 600,
    "img_size": [64, 64],
}


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_helper_sees_through_links(tmp_path: Path) -> None:
    data = tmp_path / "in.json"
    data.write_text("{}")
    (tmp_path / "soft.json").symlink_to(data)
    (tmp_path / "hard.json").hardlink_to(data)
    for out in ("soft.json", "hard.json", "in.json"):
        with pytest.raises(CommandError, match="is the same file as --in"):
            check_not_an_input({"--out": tmp_path / out}, {"--in": data})
    check_not_an_input({"--out": tmp_path / "new.json"}, {"--in": data})  # not written yet
    (tmp_path / "other.json").write_text("{}")
    check_not_an_input({"--out": tmp_path / "other.json"}, {"--in": data, "--x": None})


def test_render_refuses_to_write_over_the_video_it_draws(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    annotations = tmp_path / "valv2.json"
    annotations.write_text(json.dumps({"a.mp4": HCSTVG2_ENTRY}))
    video = tmp_path / "videos" / "a.mp4"
    video.parent.mkdir()
    video.write_bytes(b"not decoded: the check comes first")
    argv = ["render", "--annotations", str(annotations), "--format", "hcstvg2"]
    assert main([*argv, "--sample", "a.mp4", "--out", str(video)]) == 2
    assert "is the same file as the video of sample 'a.mp4'" in one_line_error(capsys)
    assert video.read_bytes() == b"not decoded: the check comes first"


def test_policy_evaluation_refuses_to_write_over_its_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # policy mode writes DIR/config.yaml: re-evaluating from a run's own config must not
    # replace it
    config = tmp_path / "config.yaml"
    shutil.copy(REPO / "stvg" / "experiments" / "configs" / "eval_random.yaml", config)
    before = config.read_bytes()
    argv = ["evaluate", "--policy", str(config), "--dataset", "synthetic", "--split", "test"]
    assert main([*argv, "--out", str(tmp_path)]) == 2
    assert f"--out {tmp_path}/config.yaml" in one_line_error(capsys)
    assert config.read_bytes() == before


def test_train_sft_refuses_a_run_folder_holding_its_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    shutil.copy(REPO / "stvg" / "experiments" / "configs" / "sft_native.yaml", config)
    before = config.read_bytes()
    assert main(["train-sft", "--config", str(config), "--out-dir", str(tmp_path)]) == 2
    assert "is the same file as CONFIG" in one_line_error(capsys)
    assert config.read_bytes() == before
