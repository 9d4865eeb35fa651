"""Visual-reliance controls: which frames a policy is shown, and the drop they measure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from stvg.cli import main
from stvg.config import from_dict
from stvg.envs.controls import controlled_observation, donor_permutation
from stvg.evaluation import (
    PolicyEvalConfig,
    compare_control,
    evaluate_policy,
    format_control,
)
from stvg.policies.registry import make


@pytest.mark.parametrize("n", [2, 3, 7, 50])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_donor_permutation_is_a_derangement_fixed_by_the_seed(n, seed):
    perm = donor_permutation(n, seed)
    assert sorted(perm.tolist()) == list(range(n))
    assert np.all(perm != np.arange(n))  # nobody sees its own video
    assert perm.tolist() == donor_permutation(n, seed).tolist()


def test_donor_permutations_differ_between_seeds():
    assert donor_permutation(20, 0).tolist() != donor_permutation(20, 1).tolist()
    assert donor_permutation(4, 0).tolist() == [3, 0, 1, 2]  # the doc's example


def _obs(frames: int, slots: int, height: int, width: int, side: int) -> dict:
    canvas = np.zeros((slots, side, side, 3), dtype=np.uint8)
    canvas[:frames, :height, :width] = 200
    mask = np.zeros(slots, dtype=np.int8)
    mask[:frames] = 1
    times = np.zeros(slots, dtype=np.float32)
    times[:frames] = np.arange(frames)
    return {
        "frames": canvas,
        "frame_mask": mask,
        "timestamps": times,
        "shown_size": np.array([width, height]),
        "query": "the red square",
    }


def test_blank_video_zeroes_the_real_frames_only():
    obs = _obs(3, 5, 6, 8, 8)
    obs["frames"][3:] = 7  # padding slots hold something else: they must be left alone
    out = controlled_observation(obs, "blank-video")
    assert out["frames"][:3].max() == 0
    assert np.all(out["frames"][3:] == 7)
    for key in ("frame_mask", "timestamps", "shown_size"):
        assert np.array_equal(out[key], obs[key])
    assert out["query"] == obs["query"]
    assert obs["frames"][:3, :6, :8].min() == 200  # the input is not modified


def test_shuffled_video_takes_the_donor_frame_at_the_same_relative_time():
    obs = _obs(3, 4, 6, 8, 8)
    donor = np.stack([np.full((6, 8, 3), 10 * k, dtype=np.uint8) for k in range(5)])
    out = controlled_observation(obs, "shuffled-video", donor)
    # slot k of 3 takes donor frame round(k * 4 / 2): 0, 2, 4
    assert [int(out["frames"][k, 0, 0, 0]) for k in range(3)] == [0, 20, 40]
    assert out["frames"][3].max() == 0  # padding stays black
    # a donor of another size is resized to the shown size (a flat frame stays flat)
    small = np.full((2, 3, 4, 3), 90, dtype=np.uint8)
    out = controlled_observation(obs, "shuffled-video", small)
    assert np.all(out["frames"][:3, :6, :8] == 90) and out["frames"][:3, 6:].max() == 0


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """5 synthetic videos (4 s at 5 fps, 64x64), split ``test``."""
    from stvg.data.synthetic import generate_split

    path = tmp_path_factory.mktemp("controls")
    generate_split(path, "test", 5, 3, duration_s=4.0, fps=5.0, size=64)
    return path


class _Recorder:
    """The oracle policy, recording the frames it is shown (one entry per sample)."""

    def __init__(self) -> None:
        self.inner = make("oracle")
        self.action_format = self.inner.action_format
        self.seen: list[np.ndarray] = []

    def bind_samples(self, samples):
        self.inner.bind_samples(samples)

    def act_batch(self, obs_list, infos=None):
        self.seen.extend(np.array(o["frames"]) for o in obs_list)
        return self.inner.act_batch(obs_list, infos)


def _config(root: Path, **extra) -> PolicyEvalConfig:
    env = {"dataset": "synthetic", "split": "test", "root": str(root), "max_side": 64, "fps": 1.0}
    return from_dict(
        PolicyEvalConfig,
        {"policy": {"name": "oracle"}, "env": env, "progress": False, "batch_size": 2, **extra},
    )


def test_evaluation_shows_each_sample_its_donors_frames(root):
    real = _Recorder()
    evaluate_policy(_config(root), policy=real)
    shuffled = _Recorder()
    result = evaluate_policy(
        _config(root, control="shuffled-video", control_seed=4), policy=shuffled
    )
    donors = donor_permutation(5, 4)
    for i in range(5):
        assert np.array_equal(shuffled.seen[i], real.seen[donors[i]])
        assert not np.array_equal(shuffled.seen[i], real.seen[i])
    again = _Recorder()
    evaluate_policy(_config(root, control="shuffled-video", control_seed=4), policy=again)
    assert all(np.array_equal(a, b) for a, b in zip(again.seen, shuffled.seen, strict=True))
    # the oracle answers from the ground truth, not the pixels: no drop at all
    comparison = compare_control(evaluate_policy(_config(root), policy=real), result)
    assert comparison["n"] == 5 and comparison["control"] == "shuffled-video"
    assert comparison["m_vIoU"]["drop"] == 0.0 and comparison["m_tIoU"]["drop"] == 0.0
    assert result.summary()["control"] == "shuffled-video"


def test_compare_control_pairs_samples_and_bounds_the_drop(root):
    real = evaluate_policy(_config(root))
    blank = evaluate_policy(_config(root, control="blank-video"))
    # hand-set per-sample vIoU: real 0.5 everywhere, control 0.1 -> drop 0.4 with a zero-width CI
    for r in real.per_sample:
        r["v_iou"], r["t_iou"] = 0.5, 0.8
    for i, r in enumerate(blank.per_sample):
        r["v_iou"], r["t_iou"] = 0.1, [0.8, 0.6, 0.8, 0.6, 0.8][i]
    comparison = compare_control(real, blank)
    assert comparison["m_vIoU"] == pytest.approx(
        {"real": 0.5, "control": 0.1, "drop": 0.4, "drop_lo": 0.4, "drop_hi": 0.4}
    )
    assert comparison["m_tIoU"]["drop"] == pytest.approx(0.08)
    assert 0.0 <= comparison["m_tIoU"]["drop_lo"] < 0.08 < comparison["m_tIoU"]["drop_hi"] <= 0.2
    assert format_control(comparison).startswith(
        "blank-video control (n=5): m_vIoU 50.00 -> 10.00 (drop +40.00 [+40.00, +40.00])"
    )


def test_cli_control_writes_the_comparison(root, tmp_path, capsys):
    config = tmp_path / "eval.yaml"
    config.write_text(yaml.safe_dump({"policy": {"name": "oracle"}, "env": {"max_side": 64}}))
    out = tmp_path / "out"
    code = main(
        ["evaluate", "--policy", str(config), "--dataset", "synthetic", "--split", "test",
         "--root", str(root), "--fps", "1", "--out", str(out), "--no-progress",
         "--control", "shuffled-video", "--control", "blank-video"]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "shuffled-video control (n=5)" in printed and "blank-video control (n=5)" in printed
    comparisons = json.loads((out / "controls.json").read_text())
    assert [c["control"] for c in comparisons] == ["shuffled-video", "blank-video"]
    metrics = json.loads((out / "control-blank-video" / "metrics.json").read_text())
    assert metrics["control"] == "blank-video" and metrics["n"] == 5
