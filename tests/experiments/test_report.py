"""The run report's per-sample section: histograms, best/worst gallery, missing folders.

Four synthetic test samples get hand-chosen scores. After RL their vIoU is 0.1, 0.9, 0.5
and 0.0 (tIoU 0.2, 0.95, 0.6, 0.05), so the best three by vIoU are samples 1, 2, 0 and the
worst three 3, 0, 2. Before RL every sample has tIoU 0.3 and vIoU 0.15.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import pytest

from stvg.data import load_dataset
from stvg.experiments.report import write_report
from stvg.experiments.report_samples import (
    GALLERY_DIR,
    HISTOGRAM_FILE,
    histogram_counts,
    rank_by_v_iou,
    sheet_name,
)
from stvg.verifiers.predictions import Prediction, write_predictions

AFTER = [(0.2, 0.1), (0.95, 0.9), (0.6, 0.5), (0.05, 0.0)]  # (tIoU, vIoU) per sample


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stvg.data.synthetic import generate_split

    root = tmp_path_factory.mktemp("report_data")
    generate_split(root, "test", 4, 5, duration_s=4.0, fps=5.0, size=64)
    return root


def write_eval(folder: Path, ids: list[str], scores: list[tuple[float, float]]) -> None:
    folder.mkdir(parents=True)
    with (folder / "per_sample.jsonl").open("w", encoding="utf-8") as handle:
        for sample_id, (t_iou, v_iou) in zip(ids, scores, strict=True):
            handle.write(json.dumps({"sample_id": sample_id, "t_iou": t_iou, "v_iou": v_iou}))
            handle.write("\n")


def make_run(tmp_path: Path, data_root: Path, *, with_evals: bool = True) -> dict[str, Any]:
    """A run folder with an RL metrics file, and (optionally) both evaluation folders."""
    dataset = load_dataset("synthetic", root=data_root, split="test")
    ids = dataset.ids
    rl_dir = tmp_path / "rl_run"
    rl_dir.mkdir()
    (rl_dir / "metrics.jsonl").write_text(
        json.dumps({"iteration": 1, "rewards/sampled/total": 0.5, "rewards/sampled/v_iou": 0.2})
        + "\n"
    )
    if with_evals:
        write_eval(tmp_path / "eval_sft", ids, [(0.3, 0.15)] * 4)
        write_eval(tmp_path / "eval_rl", ids, AFTER)
        first = dataset[0]
        write_predictions(
            tmp_path / "eval_rl" / "predictions.json",
            {first.sample_id: Prediction(first.gt_span, first.gt_tube())},
        )
    metrics = {"n": 4, "m_tIoU": 0.3, "m_vIoU": 0.15, "vIoU@0.3": 0.0, "vIoU@0.5": 0.0}
    return {
        "name": "tiny",
        "seed": 1,
        "data_root": str(data_root),
        "sft_checkpoint": "sft/policy.pt",
        "rl_run_dir": str(rl_dir),
        "rl_checkpoint": "rl/ckpt",
        "rl_algorithm": "grpo",
        "rl_iterations": 1,
        "rl_num_workers": 0,
        "reward": {"formula": "t_iou + v_iou + 3·l1", "min": 0.0, "max": 5.0},
        "before_rl": {"metrics": metrics, "cost": {"frames_shown": 3.0}},
        "after_rl": {"metrics": metrics, "cost": {"frames_shown": 3.0}},
        "timings_s": {"data_s": 0.1, "total_s": 1.0},
        "ids": ids,
    }


def test_histogram_counts_by_hand() -> None:
    assert histogram_counts([0.0, 0.05, 0.1, 0.95, 1.0]).tolist() == [2, 1, 0, 0, 0, 0, 0, 0, 0, 2]
    assert histogram_counts([v for _, v in AFTER]).tolist() == [1, 1, 0, 0, 0, 1, 0, 0, 0, 1]


def test_ranking_and_ties() -> None:
    records = [{"sample_id": f"s{i}", "t_iou": t, "v_iou": v} for i, (t, v) in enumerate(AFTER)]
    best, worst = rank_by_v_iou(records)
    assert [r["sample_id"] for r in best] == ["s1", "s2", "s0"]
    assert [r["sample_id"] for r in worst] == ["s3", "s0", "s2"]
    tied = [
        {"sample_id": i, "t_iou": t, "v_iou": 0.5} for i, t in (("b", 0.6), ("a", 0.6), ("c", 0.9))
    ]
    assert [r["sample_id"] for r in rank_by_v_iou(tied, 3)[0]] == ["c", "a", "b"]
    assert sheet_name("worst", 2, "test_0001.mp4") == "worst_2_test_0001_mp4.png"


def test_report_with_histograms_and_gallery(tmp_path: Path, data_root: Path) -> None:
    summary = make_run(tmp_path, data_root)
    ids = summary.pop("ids")
    report = write_report(tmp_path, summary, summary["rl_run_dir"]).read_text()
    assert f"![tIoU and vIoU histograms of the test samples]({HISTOGRAM_FILE})" in report
    assert "after RL (filled) and before RL (outline)" in report
    histogram = cv2.imread(str(tmp_path / HISTOGRAM_FILE))
    assert histogram is not None and histogram.shape[1] == 1000  # 10 in at 100 dpi
    best = [ids[1], ids[2], ids[0]]
    worst = [ids[3], ids[0], ids[2]]
    for kind, order in (("best", best), ("worst", worst)):
        for rank, sample_id in enumerate(order, start=1):
            link = f"{GALLERY_DIR}/{sheet_name(kind, rank, sample_id)}"
            assert f"](gallery/{sheet_name(kind, rank, sample_id)})" in report
            image = cv2.imread(str(tmp_path / link))
            assert image is not None and image.shape[0] > 100
    assert f"| 1 | `{ids[1]}` | 0.950 | 0.900 |" in report
    assert f"| 1 | `{ids[3]}` | 0.050 | 0.000 |" in report
    # the reward curve's scale: its terms and maximum (the curve's title says the same)
    assert "- reward = t_iou + v_iou + 3·l1 (0 to 5): the reward curve's scale" in report
    sections = report.index("## Test metrics"), report.index("## Test samples")
    assert sections[0] < sections[1] < report.index("## Cost of answering")


def test_report_without_eval_folders(tmp_path: Path, data_root: Path) -> None:
    summary = make_run(tmp_path, data_root, with_evals=False)
    summary.pop("ids")
    report = write_report(tmp_path, summary, summary["rl_run_dir"]).read_text()
    assert "## Test samples" not in report and "## Cost of answering" in report
    assert not (tmp_path / HISTOGRAM_FILE).exists() and not (tmp_path / GALLERY_DIR).exists()


def test_eval_dirs_from_the_summary_and_a_missing_data_root(
    tmp_path: Path, data_root: Path
) -> None:
    staged = tmp_path / "stages"
    staged.mkdir()
    summary = make_run(staged, data_root)
    summary.pop("ids")
    summary["eval_dirs"] = {"sft": str(staged / "eval_sft"), "rl": str(staged / "eval_rl")}
    summary["data_root"] = str(tmp_path / "gone")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    report = write_report(run_dir, summary, summary["rl_run_dir"]).read_text()
    assert "## Test samples" in report and (run_dir / HISTOGRAM_FILE).is_file()
    assert "Gallery skipped:" in report and str(tmp_path / "gone") in report


def test_a_text_policy_report_shows_answers(tmp_path: Path, data_root: Path) -> None:
    """A text policy's report: the parse rate and failure reasons before and after RL, the
    first failure's raw text, and the gallery rows quote each answer and its parse error
    (the unparsed sample's sheet says why instead of '(no prediction)')."""
    from stvg.evaluation.answers import answer_stats

    summary = make_run(tmp_path, data_root)
    ids = summary.pop("ids")
    records = []
    for i, line in enumerate((tmp_path / "eval_rl" / "per_sample.jsonl").read_text().splitlines()):
        record = json.loads(line)
        broken = i == 3  # the worst sample: its answer did not parse
        record["answer_text"] = (
            '<answer>{"span": [1, </answer>' if broken else "<answer>ok|`</answer>"
        )
        record["parse_error"] = "invalid JSON at char 20: Expecting value" if broken else None
        record["format_ok"] = not broken
        records.append(record)
    (tmp_path / "eval_rl" / "per_sample.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records)
    )
    summary["after_rl"] = {**summary["after_rl"], "action_format": "text"}
    summary["after_rl"]["answers"] = answer_stats(records)
    report = write_report(tmp_path, summary, summary["rl_run_dir"]).read_text()
    assert (
        "- after RL: answers: 3 of 4 parsed (75.0 %), 3 well-formed (75.0 %); failed: "
        "invalid JSON at char N: Expecting value (1)" in report
    )
    assert (
        f'first failure `{ids[3]}`: invalid JSON at char 20: Expecting value; raw answer: `<answer>{{"span": [1, </answer>`'
        in report
    )
    assert "| answer (raw text) | parse error |" in report
    assert f"| 1 | `{ids[3]}` | 0.050 | 0.000 |" in report
    row = next(line for line in report.splitlines() if line.startswith(f"| 1 | `{ids[3]}`"))
    assert row.endswith(
        '| <answer>{"span": [1, </answer> | invalid JSON at char 20: Expecting value |'
    )
    best = next(line for line in report.splitlines() if line.startswith(f"| 1 | `{ids[1]}`"))
    assert "<answer>ok\\|\\`</answer> |  |" in best  # pipes and backticks escaped
    assert "- before RL: answers" not in report  # no action_format: a struct policy, all parsed
