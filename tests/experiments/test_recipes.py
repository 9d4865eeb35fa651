"""``stvg run`` of each shipped synthetic recipe config (``configs/recipes/``) on a tiny
budget: the whole pipeline runs with each recipe's reward, and its report names it.

The budget is cut with ``--set`` as the README test cuts ``quickstart.yaml``'s (the recipes
are the quickstart's pipeline): 8 train videos, 2 SFT epochs of a tiny network, 2 GRPO
iterations in process (the gated recipe's schedule is told both), one data folder for all.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stvg.cli import main

RECIPES = Path(__file__).resolve().parents[2] / "stvg" / "experiments" / "configs" / "recipes"
MODEL = "{frame_size: 16, channels: [4, 4, 8], word_dim: 8, query_dim: 8, hidden: 8}"
TINY = [
    "data.n_train=8",
    "data.n_test=4",
    "data.val_size=2",
    "sft.epochs=2",
    "sft.batch_size=4",
    f"sft.model={MODEL}",
    "rl.iterations=2",
    "rl.checkpoint_every=2",
    "rl.batch_size=2",
    "rl.grpo.group_size=2",
    "eval.batch_size=4",
]
#: Each recipe's reward as the report's summary writes it.
FORMULAS = {
    "paper": "t_iou + v_iou + 3·l1",
    "time_r1": "t_iou_boundary + v_iou + 3·l1",
    "gated": "t_iou + gate + 3·l1",
    "stvg_o1": "format + box_consistency + t_iou + spatial + 3·l1",
}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("recipes_data") / "synthetic"


@pytest.mark.parametrize("name", list(FORMULAS))
def test_each_synthetic_recipe_runs_end_to_end(name: str, data_root: Path, tmp_path: Path) -> None:
    config = RECIPES / f"{name}.yaml"
    overrides = [*TINY, f"data.root={data_root}", f"out_dir={tmp_path}"]
    assert main(["run", str(config), "--no-progress", "--set", *overrides]) == 0
    run = tmp_path / f"recipe_{name}"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["reward"]["formula"] == FORMULAS[name]
    assert summary["rl_iterations"] == 2
    for stage in ("before_rl", "after_rl"):
        assert 0.0 <= summary[stage]["metrics"]["m_vIoU"] <= 1.0
    assert (run / "report.md").is_file()


def _tiny_vlm_budget(tmp_path: Path) -> list[str]:
    """``--set`` overrides for a tiny-VLM run of a few samples and one RL iteration, with
    its checkpoint, data and runs under ``tmp_path``."""
    return [
        "data.n_train=4",
        "data.n_test=2",
        "sft.epochs=1",
        "rl.iterations=1",
        "rl.batch_size=2",
        "rl.grpo.group_size=2",
        "eval.batch_size=2",
        f"policy.config.model_path={tmp_path / 'tiny'}",
        f"data.root={tmp_path / 'data'}",
        f"out_dir={tmp_path / 'runs'}",
    ]


def test_the_stvg_o1_text_recipe_runs_through_the_vlm_path(tmp_path: Path) -> None:
    """What the native policy cannot write: STVG-o1's draft-final answers and its full
    reward (think_gain included), through ``vlm_tiny_quickstart.yaml``'s pipeline (a tiny
    random Qwen2.5-VL): SFT targets hold the ground truth in both box lists, the RL stage
    logs every term of the reward."""
    config = RECIPES.parent / "vlm_tiny_quickstart.yaml"
    terms = (
        "[{name: format, weight: 1.0}, {name: box_consistency, weight: 1.0}, "
        "{name: t_iou, weight: 1.0}, {name: spatial, weight: 1.0}, "
        "{name: think_gain, weight: 0.5}]"
    )
    overrides = [
        *_tiny_vlm_budget(tmp_path),
        "rl.rollout.num_workers=0",
        "policy.config.max_new_tokens=16",
        "policy.config.answer_format=draft-final",
        f"env.verifier.terms={terms}",
    ]
    assert main(["run", str(config), "--no-progress", "--set", *overrides]) == 0
    run = tmp_path / "runs" / "vlm_tiny_quickstart"
    target = json.loads((run / "sft" / "targets.jsonl").read_text().splitlines()[0])["target"]
    draft = target.split("<think bbox>")[1].split("</think bbox>")[0]
    assert target.startswith("<time>[") and draft and f"<pred bbox>{draft}</pred bbox>" in target
    summary = json.loads((run / "summary.json").read_text())
    assert summary["reward"]["formula"] == (
        "format + box_consistency + t_iou + spatial + 0.5·think_gain"
    )
    rl_run = next((run / "rl").glob("Grounding-v0__grpo__*"))
    line = json.loads((rl_run / "metrics.jsonl").read_text().splitlines()[0])
    for term in ("format", "box_consistency", "t_iou", "spatial", "think_gain"):
        assert f"rewards/{term}/mean" in line


def test_the_stvg_r1_recipe_runs_with_track_ids(tmp_path: Path) -> None:
    """recipes/stvg_r1.yaml (tiny VLM, synthetic tracks drawn on the frames, track-id
    answers): SFT targets name the target's track, the RL stage logs tIoU + id_match +
    format."""
    overrides = _tiny_vlm_budget(tmp_path)
    assert main(["run", str(RECIPES / "stvg_r1.yaml"), "--no-progress", "--set", *overrides]) == 0
    run = tmp_path / "runs" / "recipe_stvg_r1"
    lines = (run / "sft" / "targets.jsonl").read_text().splitlines()
    targets = [json.loads(line)["target"] for line in lines]
    assert targets and all(t.startswith("Target ID: ") and " to " in t for t in targets)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["reward"]["formula"] == "t_iou + id_match + format"
    rl_run = next((run / "rl").glob("Grounding-v0__grpo__*"))
    line = json.loads((rl_run / "metrics.jsonl").read_text().splitlines()[0])
    for term in ("t_iou", "id_match", "format"):
        assert f"rewards/{term}/mean" in line


@pytest.mark.parametrize("algorithm", ["grpo", "ppo", "rloo"])
def test_the_native_stvg_r1_recipe_runs_with_struct_track_ids(
    algorithm: str, data_root: Path, tmp_path: Path
) -> None:
    """recipes/stvg_r1_native.yaml: the native policy's ID head answers {track, span}
    struct actions; SFT learns the target's track (losses/track_nll), the RL stage logs
    tIoU + id_match and its update moves the ID head (GRPO, PPO and RLOO)."""
    import torch

    from stvg.policies.native import NativePolicy

    model = MODEL[:-1] + ", track_id: true}"
    overrides = [
        *TINY,
        f"sft.model={model}",
        f"rl.algorithm={algorithm}",
        f"data.root={data_root}",
        f"out_dir={tmp_path}",
    ]
    config = RECIPES / "stvg_r1_native.yaml"
    assert main(["run", str(config), "--no-progress", "--set", *overrides]) == 0
    run = tmp_path / "recipe_stvg_r1_native"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["reward"]["formula"] == "t_iou + id_match"
    assert summary["rl_iterations"] == 2
    for stage in ("before_rl", "after_rl"):
        assert 0.0 <= summary[stage]["metrics"]["m_vIoU"] <= 1.0
    sft = json.loads((run / "sft" / "metrics.jsonl").read_text().splitlines()[0])
    assert sft["losses/track_nll"] > 0
    rl_run = next((run / "rl").glob(f"Grounding-v0__{algorithm}__*"))
    line = json.loads((rl_run / "metrics.jsonl").read_text().splitlines()[0])
    for term in ("t_iou", "id_match"):
        assert f"rewards/{term}/mean" in line
    before = NativePolicy.load(summary["sft_checkpoint"]).model.track_head
    after = NativePolicy.load(Path(summary["rl_checkpoint"]) / "policy.pt").model.track_head
    moved = [
        not torch.equal(a, b) for a, b in zip(before.parameters(), after.parameters(), strict=True)
    ]
    assert any(moved)
