"""A corrupt video in an evaluation (issue 14.4): ``on_bad_video: error`` stops with one line
naming the sample and the file after writing the partial results; ``skip`` scores the
other samples and lists the bad one."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from stvg.cli import main
from stvg.config import ConfigError, from_dict
from stvg.evaluation import (
    EvaluationStopped,
    PolicyEvalConfig,
    evaluate_policy,
)

BAD = "test_0002.mp4"  # the third of four samples


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 synthetic videos (4 s at 5 fps, 64x64), split ``test``; the third one's bytes
    overwritten with garbage."""
    from stvg.data.synthetic import generate_split

    path = tmp_path_factory.mktemp("bad_video")
    generate_split(path, "test", 4, 5, duration_s=4.0, fps=5.0, size=64)
    (path / "videos" / BAD).write_bytes(b"\x00not an mp4\xff" * 64)
    return path


def _config(root: Path, **top) -> PolicyEvalConfig:
    env = {"dataset": "synthetic", "split": "test", "root": str(root), "max_side": 64}
    data = {"policy": {"name": "oracle"}, "env": {**env, "fps": None}, "progress": False, **top}
    return from_dict(PolicyEvalConfig, data)


@pytest.mark.parametrize("batch_size", [1, 8])
def test_error_stops_naming_sample_and_file_after_writing_partial_results(
    root: Path, tmp_path: Path, batch_size: int
) -> None:
    with pytest.raises(EvaluationStopped) as caught:
        evaluate_policy(_config(root, batch_size=batch_size), out_dir=tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert f"sample {BAD!r}" in message and f"videos/{BAD}" in message
    assert "stopped after 2 of 4 samples" in message and "on_bad_video: skip" in message
    # the two samples before the bad one, scored whatever the batch size
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["n"] == 2 and metrics["m_tIoU"] == 1.0
    assert metrics["complete"] is False and metrics["stopped_at"]["sample_id"] == BAD
    assert len((tmp_path / "per_sample.jsonl").read_text().splitlines()) == 2
    assert caught.value.partial is not None and caught.value.partial.metrics["n"] == 2


def test_error_on_the_first_sample_writes_the_counts(tmp_path: Path) -> None:
    from stvg.data.synthetic import generate_split

    generate_split(tmp_path / "d", "test", 2, 5, duration_s=4.0, fps=5.0, size=64)
    (tmp_path / "d" / "videos" / "test_0000.mp4").write_bytes(b"")
    with pytest.raises(EvaluationStopped, match="stopped after 0 of 2 samples"):
        evaluate_policy(_config(tmp_path / "d"), out_dir=tmp_path / "out")
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics == {
        "n": 0,
        "n_bad_videos": 0,
        "bad_videos": [],
        "complete": False,
        "stopped_at": metrics["stopped_at"],
    }
    assert metrics["stopped_at"]["sample_id"] == "test_0000.mp4"


def test_skip_scores_the_others_and_lists_the_bad_one(root: Path, tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match=f"left out sample {BAD!r}"):
        result = evaluate_policy(_config(root, on_bad_video="skip"), out_dir=tmp_path)
    # the oracle on every native frame scores 1 on each of the 3 readable samples
    assert result.metrics["n"] == 3 and result.metrics["m_tIoU"] == 1.0
    assert result.metrics["m_vIoU"] == pytest.approx(1.0, abs=1e-5)
    assert [s["sample_id"] for s in result.per_sample] == [
        "test_0000.mp4",
        "test_0001.mp4",
        "test_0003.mp4",
    ]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["n"] == 3 and metrics["n_bad_videos"] == 1 and metrics["complete"] is True
    (bad,) = metrics["bad_videos"]
    assert bad["sample_id"] == BAD and bad["video_path"].endswith(f"videos/{BAD}")
    assert "unreadable" in bad["reason"]


def test_default_is_error_and_env_key_is_refused(root: Path) -> None:
    assert _config(root).on_bad_video == "error"
    with pytest.raises(ConfigError, match="env.on_bad_video"):
        from_dict(PolicyEvalConfig, {"policy": {"name": "oracle"}, "env": {"on_bad_video": "skip"}})
    with pytest.raises(ConfigError, match="on_bad_video"):
        _config(root, on_bad_video="ignore")


def test_cli_error_is_one_line_and_skip_lists_the_sample(root: Path, tmp_path: Path, capsys):
    config = tmp_path / "oracle.yaml"
    config.write_text(yaml.safe_dump({"policy": {"name": "oracle"}, "env": {"max_side": 64}}))
    argv = ["evaluate", "--policy", str(config), "--dataset", "synthetic", "--split", "test"]
    argv += ["--root", str(root), "--no-progress", "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    (line,) = [e for e in err if e.startswith("stvg evaluate: error:")]
    assert BAD in line and "partial results in" in line and "Traceback" not in "".join(err)
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["n"] == 2
    with pytest.warns(UserWarning):
        assert main([*argv, "--on-bad-video", "skip"]) == 0
    printed = capsys.readouterr().out
    assert "left out 1 sample(s) whose video is unreadable" in printed and BAD in printed


def test_run_eval_section_passes_on_bad_video() -> None:
    from stvg.experiments.run import RunConfig

    config = from_dict(RunConfig, {"eval": {"on_bad_video": "skip"}})
    assert config.eval.on_bad_video == "skip"
    assert from_dict(RunConfig, {}).eval.on_bad_video == "error"
    tick = time.perf_counter()
    with pytest.raises(ConfigError, match="eval.on_bad_video"):
        from_dict(RunConfig, {"eval": {"on_bad_video": "sometimes"}})
    assert time.perf_counter() - tick < 1.0
