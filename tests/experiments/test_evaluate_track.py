"""``stvg evaluate --policy`` with ``env.densify: {method: track}``: the tracker's seconds in
the cost columns, its fallbacks in the summary, the scores comparable to linear."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from stvg.cli import main
from stvg.config import from_dict
from stvg.evaluation import PolicyEvalConfig, evaluate_policy
from stvg.experiments.sweep import results_row


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 synthetic videos (4 s at 10 fps, 96x96), split ``test``."""
    from stvg.data.synthetic import generate_split

    path = tmp_path_factory.mktemp("evaluate_track")
    generate_split(path, "test", 3, 0, duration_s=4.0, fps=10.0, size=96)
    return path


def _config(root: Path, method: str) -> PolicyEvalConfig:
    env = {
        "dataset": "synthetic", "split": "test", "root": str(root), "fps": 1.0,
        "max_frames": 4, "max_side": 96, "densify": {"method": method},
    }  # fmt: skip
    return from_dict(
        PolicyEvalConfig, {"policy": {"name": "oracle"}, "env": env, "progress": False}
    )


def test_oracle_with_track_reports_tracker_cost_and_fallbacks(root: Path, tmp_path: Path) -> None:
    linear = evaluate_policy(_config(root, "linear"))
    track = evaluate_policy(_config(root, "track"), out_dir=tmp_path)
    # the oracle's boxes are the GT's on the shown seconds; the targets move on straight
    # lines between keyframes, so both are close to 1 and within a point of each other
    assert linear.metrics["m_vIoU"] > 0.95
    assert track.metrics["m_vIoU"] == pytest.approx(linear.metrics["m_vIoU"], abs=0.01)
    assert track.metrics["m_tIoU"] == linear.metrics["m_tIoU"]
    assert track.cost["densify_seconds"] > 0 and "densify_seconds" not in linear.cost
    summary = json.loads((tmp_path / "metrics.json").read_text())
    totals = summary["densify"]
    assert totals["tracked_frames"] + totals["fallback_frames"] > 0
    assert totals["segments"] >= 1 and "densify" not in linear.summary()
    per_sample = [json.loads(line) for line in (tmp_path / "per_sample.jsonl").open()]
    assert sum(r["densify/tracked_frames"] for r in per_sample) == totals["tracked_frames"]
    # a sweep's results row carries the tracker's seconds per query as a cost column
    stage = {"metrics": track.metrics, "cost": track.cost}
    row = _row({"after_rl": stage, "before_rl": stage})
    assert row["cost/densify_seconds_per_query"] == track.cost["densify_seconds"]


def _row(summary: dict) -> dict:
    """The results row of the first trial of the shipped densify_fps sweep."""
    from stvg.experiments.sweep import grid_combinations, load_sweep_config

    sweeps = Path(__file__).resolve().parents[2] / "stvg" / "experiments" / "configs" / "sweeps"
    _, spec = load_sweep_config(sweeps / "densify_fps.yaml")
    values = grid_combinations(spec.axes)[0]
    return results_row(spec, values, {**summary, "rl_run_dir": "."}, 1.0)


def test_evaluate_cli_policy_mode_with_track(root: Path, tmp_path: Path, capsys) -> None:
    config = tmp_path / "oracle.yaml"
    config.write_text("policy: {name: oracle}\nenv: {max_side: 96, max_frames: 4}\n")
    argv = ["evaluate", "--policy", str(config), "--dataset", "synthetic", "--split", "test"]
    argv += ["--root", str(root), "--fps", "1", "--no-progress", "--out", str(tmp_path / "o")]
    assert main([*argv, "--set", "env.densify.method=track"]) == 0
    out = capsys.readouterr().out
    assert "densify_seconds" in out
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["m_vIoU"] > 0.9 and metrics["cost"]["densify_seconds"] > 0


def test_predict_answers_reads_the_video_files_for_track(root: Path) -> None:
    """SFT validation's path (answers given outside an env): ``track`` decodes each
    sample's video; the GT boxes on the shown seconds give tubes close to the GT."""
    from stvg.data import load_dataset
    from stvg.evaluation.episodes import predict_answers
    from stvg.verifiers.formats import FrameContext
    from stvg.verifiers.verifier import Verifier

    samples = list(load_dataset("synthetic", split="test", root=root))
    contexts = [FrameContext.from_sample(s, fps=1.0) for s in samples]
    texts = []
    for sample in samples:
        first, last = sample.gt_span
        shown = [f for f in range(0, sample.num_frames, 10) if first <= f <= last]
        boxes = ", ".join(f'"{f / 10:g}": {sample.gt_boxes[f]}' for f in shown)
        span = f"[{first / 10:g}, {last / 10:g}]"
        texts.append(f'<answer>{{"span": {span}, "boxes": {{{boxes}}}}}</answer>')
    track = Verifier.from_config({"densify": {"method": "track"}})
    predictions = predict_answers(track, samples, contexts, texts)
    linear = predict_answers(Verifier(), samples, contexts, texts)
    assert set(predictions) == set(linear) == {s.sample_id for s in samples}
    for sample in samples:
        tube, held = predictions[sample.sample_id].tube, linear[sample.sample_id].tube
        first, last = sample.gt_span
        shown = [f for f in range(0, sample.num_frames, 10) if first <= f <= last]
        inner = (tube.frame_idx >= shown[0]) & (tube.frame_idx <= shown[-1])
        gt = np.array([sample.gt_boxes[int(f)] for f in tube.frame_idx])
        assert np.abs(tube.boxes_xyxy[inner] - gt[inner]).max() < 1.0  # tracked, in pixels
        np.testing.assert_array_equal(tube.boxes_xyxy[~inner], held.boxes_xyxy[~inner])
    with pytest.raises(ValueError, match="verifier.densify.method"):
        track.predict(track.parse(texts[0], contexts[0]), samples[0], contexts[0])
