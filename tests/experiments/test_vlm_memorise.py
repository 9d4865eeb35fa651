"""Acceptance of the VLM path: tiny Qwen2.5-VL, Qwen3-VL, InternVL and LLaVA-OneVision
checkpoints, SFT-trained on the ground-truth answers of 8 synthetic samples, score m_vIoU >= 0.9
with greedy decoding through ``GroundingEnv`` and through ``stvg evaluate --policy``, although
the env shows 128x128 frames and the processors resize them (Qwen2.5-VL under
``min_pixels=12544``: 140x140; InternVL to its fixed 56x56, each frame an image after its
"Frame at t s:" label; LLaVA-OneVision to its fixed 56x56, one video of 4 tokens per frame
after which LLaVA-Video's instruction lists the frame times).

InternVL and LLaVA-OneVision train on a one-line prompt template (the query only; the frames
and their times come from the adapter): about 160-220 prompt tokens instead of the default
template's 1,300, so their fixtures run in about 30 s instead of the Qwen fixtures' 80.
LLaVA-OneVision answers in 0-1 coordinates with 4 decimals (up to 212 characters here, hence
its larger ``max_new_tokens``).

The ceiling is below 1: ground-truth boxes given once per second and interpolated in
between miss the moving target a little (about 0.95 on these clips). With the verifier
forced to the other coordinate system, the same evaluation fails at construction.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from stvg.cli import main
from stvg.config import from_dict
from stvg.envs.contract import bind_env_kwargs, check_env_policy
from stvg.envs.grounding import GroundingEnv
from stvg.evaluation import PolicyEvalConfig, PolicySpec, evaluate_policy
from stvg.policies.registry import make
from stvg.policies.vlm.tiny import build_tiny_checkpoint
from stvg.training.sft.vlm import VLMSFTConfig, train_sft_vlm
from stvg.verifiers.formats import ContractError

N_SAMPLES = 8
FAMILIES = ("qwen2.5-vl", "qwen3-vl", "internvl", "llava-onevision")
WRONG_COORDS = {
    "qwen2.5-vl": "norm1000",
    "qwen3-vl": "pixels",
    "internvl": "pixels",
    "llava-onevision": "norm1000",
}
#: SFT settings per family (the Qwen ones unchanged since they were set).
SFT = {
    "qwen2.5-vl": {"epochs": 250, "lr": 0.02},  # 150 left 2 of 8 answers unmemorised
    "qwen3-vl": {"epochs": 250, "lr": 0.02},
    "internvl": {"epochs": 180, "lr": 0.02},  # 150 reached the ceiling (0.9506) in 24 s
    # 80 at lr 0.005 reached the ceiling (0.9566) in 20 s, 80 at 0.004 fell 0.024 short,
    # and lr 0.02 stalled (loss 0.23 after 40 epochs): 100 epochs for a margin.
    "llava-onevision": {"epochs": 100, "lr": 0.005},
}
#: A one-line template (InternVL's fixture): a short prompt is what makes it fast.
SHORT_TEMPLATE = 'user: |-\n  Find: "{query}"\n'


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stvg.data.synthetic import generate_split

    root = tmp_path_factory.mktemp("memorise")
    generate_split(root, "train", N_SAMPLES, 0, duration_s=6.0, fps=5.0, size=128)
    (root / "short.yaml").write_text(SHORT_TEMPLATE)
    return root


def _env(root: Path) -> dict:
    return {"dataset": "synthetic", "root": str(root), "max_side": 128}


def _policy_config(model_path: Path, family: str, root: Path) -> dict:
    config = {"model_path": str(model_path), "max_new_tokens": 160, "device": "cpu"}
    if family == "internvl":  # fixed 56x56 frames (no pixel bounds), the short template
        return {**config, "template": str(root / "short.yaml")}
    if family == "llava-onevision":  # fixed 56x56 frames, short template, longer answers
        return {**config, "template": str(root / "short.yaml"), "max_new_tokens": 240}
    return {**config, "min_pixels": 12544}


@pytest.fixture(scope="module", params=FAMILIES)
def memorised(request, data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    family = request.param
    base = tmp_path_factory.mktemp(family.replace(".", ""))
    checkpoint = build_tiny_checkpoint(family, base / "tiny", seed=0)
    config = from_dict(
        VLMSFTConfig,
        {
            "policy": {"name": "vlm", "config": _policy_config(checkpoint, family, data_root)},
            "env": _env(data_root),
            "data": {
                "train_split": "train",
                "eval_split": "train",
                "generate": False,
                "limit_train": N_SAMPLES,
                "limit_eval": N_SAMPLES,
            },
            **SFT[family],
            "batch_size": 1,
            "micro_batch_size": 1,
            "warmup_steps": 10,
            "seed": 0,
            "threads": 1,
            "out_dir": str(base / "sft"),
        },
    )
    result = train_sft_vlm(config, progress=False, log=None)
    return family, Path(result.checkpoint), data_root


def test_greedy_answers_through_the_env_score_m_viou_over_09(memorised: tuple) -> None:
    family, model_dir, root = memorised
    policy = make("vlm", **_policy_config(model_dir, family, root))
    env = GroundingEnv(bind_env_kwargs(policy, {**_env(root), "split": "train"}))
    check_env_policy(env, policy)
    ctx_sizes, v_ious, t_ious, ceiling = set(), [], [], []
    for index in range(N_SAMPLES):
        obs, _ = env.reset(options={"index": index})
        ctx = env.frame_context
        ctx_sizes.add((ctx.shown_size, ctx.model_size))
        # generate checks the env's frame context against the prompt; act takes the info
        _, _, _, _, info = env.step(policy.generate(obs, ctx)[0].text)
        assert info.get("parse_error") is None, info["parse_error"]
        v_ious.append(info["v_iou"])
        t_ious.append(info["t_iou"])
        # What the ground-truth target itself scores (1 fps boxes, interpolated).
        env.reset(options={"index": index})
        target = env.contract.render(env.contract.gt_answer(env.sample))
        ceiling.append(env.step(target)[4]["v_iou"])
    if family == "qwen2.5-vl":
        assert ctx_sizes == {((128, 128), (140, 140))}
    elif family == "internvl":  # every frame resized to the vision tower's 56x56
        assert ctx_sizes == {((128, 128), (56, 56))}
        assert env.answer_spec.coords == "norm1000"
    elif family == "llava-onevision":  # every frame stretched to 56x56, boxes in 0-1
        assert ctx_sizes == {((128, 128), (56, 56))}
        assert env.answer_spec.coords == "norm1"
    else:  # 0-1000 coordinates: no model frame needed to read them
        assert env.answer_spec.coords == "norm1000"
    assert np.mean(t_ious) >= 0.95
    assert np.mean(v_ious) >= 0.9
    # Memorised: within 0.01 of the ground truth's own score (measured: equal, 0.9191 for
    # Qwen2.5-VL's 140 px frames, 0.9506 for Qwen3-VL's and InternVL's 0-1000 grid, 0.9566
    # for LLaVA-OneVision's 0-1 coordinates).
    assert np.mean(v_ious) >= np.mean(ceiling) - 0.01


def test_stvg_evaluate_policy_agrees(memorised: tuple, tmp_path: Path) -> None:
    family, model_dir, root = memorised
    config_path = tmp_path / "eval.yaml"
    config_path.write_text(
        yaml.safe_dump(
            {
                "policy": {"name": "vlm", "config": _policy_config(model_dir, family, root)},
                "env": {"max_side": 128},
            }
        )
    )
    out = tmp_path / "eval"
    code = main(
        [
            "evaluate",
            "--policy",
            str(config_path),
            "--dataset",
            "synthetic",
            "--split",
            "train",
            "--root",
            str(root),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["m_vIoU"] >= 0.9


def test_the_wrong_coordinate_system_fails_at_construction(memorised: tuple, capsys) -> None:
    family, model_dir, root = memorised
    wrong = WRONG_COORDS[family]
    config = PolicyEvalConfig(
        PolicySpec("vlm", _policy_config(model_dir, family, root)),
        env={**_env(root), "split": "train", "verifier": {"coords": wrong}},
    )
    with pytest.raises(ContractError, match=f"coords: evaluation env has '{wrong}'"):
        evaluate_policy(config)
