"""TRL and verl adapters, called exactly as those trainers call them (neither is installed).

Scene (as in ``test_verifier``): 30 fps, 300 frames, 640x480; ground truth frames 30..89
with the box [100, 100, 200, 200]; shown at 1 fps. The answer spans [1, 3] s (tIoU = 60/61)
with the box [150, 100, 250, 200] (vIoU = 20/61).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from stvg.config import ConfigError
from stvg.data.types import Sample, SecondLevelAnswer
from stvg.verifiers.adapters import (
    REQUIRED_KEYS,
    VerifierCache,
    completion_text,
    compute_score,
    ground_truth_from_dict,
    ground_truth_to_dict,
    make_trl_reward,
)
from stvg.verifiers.adapters import verl as verl_adapter
from stvg.verifiers.formats import FrameContext, get_format

GT_BOX = [100.0, 100.0, 200.0, 200.0]
SAMPLE = Sample(
    sample_id="vid",
    video_path="vid.mp4",
    query="the man in the hat",
    native_fps=30.0,
    num_frames=300,
    width=640,
    height=480,
    gt_span=(30, 89),
    gt_boxes={f: list(GT_BOX) for f in range(30, 90)},
)
CTX = FrameContext.from_sample(SAMPLE, fps=1.0)
ANSWER = SecondLevelAnswer(
    (1.0, 3.0), np.array([1.0, 2.0, 3.0]), np.array([[150.0, 100.0, 250.0, 200.0]] * 3)
)
TEXT = get_format("json-v1").render(ANSWER, CTX, reasoning="the man enters at 1 s")
T_IOU, V_IOU = 60 / 61, 20 / 61
GT = ground_truth_to_dict(SAMPLE, CTX)


def test_ground_truth_round_trip_through_json() -> None:
    record = ground_truth_from_dict(json.dumps(GT))
    assert record.sample.gt_span == (30, 89)
    assert record.sample.gt_boxes == SAMPLE.gt_boxes
    assert (record.sample.native_fps, record.sample.num_frames) == (30.0, 300)
    assert (record.sample.width, record.sample.height, record.sample.sample_id) == (640, 480, "vid")
    assert record.ctx.frame_idx.tolist() == CTX.frame_idx.tolist()
    assert record.ctx.timestamps_s.tolist() == CTX.timestamps_s.tolist()
    assert record.ctx.shown_size == (640, 480) and record.ctx.fps == 1.0
    assert record.answer_format is None and record.coords is None
    assert set(REQUIRED_KEYS) <= set(GT)


def test_arrow_style_values_are_accepted() -> None:
    # Parquet/Arrow gives numpy arrays for lists, and None for struct fields of other rows.
    arrow = dict(GT)
    arrow["frame_indices"] = np.array(GT["frame_indices"])
    arrow["timestamps"] = np.array(GT["timestamps"])
    arrow["gt_span"] = np.array(GT["gt_span"])
    arrow["gt_boxes"] = {**{k: np.array(v) for k, v in GT["gt_boxes"].items()}, "500": None}
    record = ground_truth_from_dict(arrow)
    assert record.sample.gt_boxes == SAMPLE.gt_boxes


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"gt_span": None}, r"missing key 'gt_span'"),
        ({"gt_span": [30]}, r"'gt_span' of sample 'vid': expected 2 numbers"),
        ({"gt_span": [30.5, 89]}, r"'gt_span'.*expected integers"),
        ({"native_fps": "30"}, r"'native_fps'.*expected a finite number"),
        ({"num_frames": 300.5}, r"'num_frames'.*expected an integer"),
        ({"gt_boxes": {"abc": GT_BOX}}, r"'gt_boxes'.*frame key 'abc'"),
        ({"gt_boxes": {"30": [1, 2, 3]}}, r"'gt_boxes'.*expected 4 numbers"),
        ({"timestamps": [0.0, 1.0]}, r"'timestamps'.*expected 10 numbers"),
        ({"shown_size": [0, 480]}, r"shown_size must be \(width, height\) positive"),
        ({"coords": 1000}, r"'coords'.*expected a string"),
    ],
)
def test_malformed_ground_truth_is_a_data_bug(change: dict, message: str) -> None:
    record = {**GT, **change}
    if change.get("gt_span", 0) is None:
        del record["gt_span"]
    with pytest.raises(ValueError, match=message):
        ground_truth_from_dict(record)


def test_ground_truth_that_is_not_an_object() -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        ground_truth_from_dict("{gt_span: [1, 2]")
    with pytest.raises(ValueError, match="must be a mapping"):
        ground_truth_from_dict([1, 2])


# ------------------------------------------------------------------------------ verl


def test_verl_compute_score_default_config() -> None:
    out = compute_score("stvg/hcstvg", TEXT, GT)
    assert out["score"] == pytest.approx(T_IOU + V_IOU)
    assert out["t_iou"] == pytest.approx(T_IOU) and out["v_iou"] == pytest.approx(V_IOU)
    assert (out["parse_ok"], out["format_ok"], out["parse_error"]) == (1.0, 1.0, "")
    assert set(out) == {"score", "t_iou", "v_iou", "parse_ok", "format_ok", "parse_error"}


def test_verl_malformed_solution_scores_zero_with_the_reason() -> None:
    out = compute_score("stvg/hcstvg", "<answer>{not json}</answer>", json.dumps(GT))
    assert out["score"] == 0.0 and out["t_iou"] == 0.0 and out["parse_ok"] == 0.0
    assert out["parse_error"].startswith("invalid JSON at char 1")


def test_verl_config_from_reward_kwargs_and_extra_info() -> None:
    spec = {
        "terms": [
            {"name": "t_iou", "weight": 0.5},
            {"name": "v_iou", "weight": 0.5},
            {"name": "format", "weight": 0.1},
        ]
    }
    out = compute_score("src", TEXT, GT, None, verifier=spec)
    assert out["score"] == pytest.approx(40 / 61 + 0.1)
    assert out["format"] == 1.0
    # extra_info's verifier (here a JSON string) wins over reward_kwargs.
    giou_only = json.dumps({"terms": [{"name": "giou", "weight": 2.0}]})
    out = compute_score("src", TEXT, GT, {"index": 3, "verifier": giou_only}, verifier=spec)
    assert out["score"] == pytest.approx(2 * 2 / 3)
    assert out["giou"] == pytest.approx(2 / 3)
    with pytest.raises(ConfigError, match=r"terms\[0\]\.name"):
        compute_score("src", TEXT, GT, {"verifier": {"terms": [{"name": "iou"}]}})


def test_verl_per_sample_format_and_coords_overrides() -> None:
    tagged_text = get_format("tagged", "norm1").render(ANSWER, CTX)
    gt = ground_truth_to_dict(SAMPLE, CTX, answer_format="tagged", coords="norm1")
    out = compute_score("src", tagged_text, gt)
    assert out["t_iou"] == pytest.approx(T_IOU)
    # norm1 renders 4 decimals: 150/640 = 0.234375 -> 0.2344 -> 150.016 px, so vIoU is
    # within 0.001 of 20/61.
    assert out["v_iou"] == pytest.approx(V_IOU, abs=1e-3)
    with pytest.raises(ValueError, match="unknown answer format 'xml'"):
        compute_score("src", TEXT, {**GT, "answer_format": "xml"})


def test_draft_final_records_score_both_lists_in_trl_and_verl() -> None:
    """A draft-final record (the STVG-o1 reward): the draft list is the shifted box, the
    final list the GT box. spatial(final) = 1; spatial(draft) = GIoU 1/3 - L1 0.0390625
    ((50 + 50) / 640 / 4); both lists cover 1, 2, 3 s."""
    final = SecondLevelAnswer((1.0, 3.0), ANSWER.times_s, np.array([GT_BOX] * 3))
    text = get_format("draft-final").render(final, CTX, draft=ANSWER)
    gt = ground_truth_to_dict(SAMPLE, CTX, answer_format="draft-final")
    config = {
        "terms": [
            {"name": "t_iou", "weight": 1.0},
            {"name": "spatial", "weight": 1.0},
            {"name": "box_consistency", "weight": 1.0},
            {"name": "think_gain", "weight": 0.5},
        ]
    }
    gain = 1 - (1 / 3 - 0.0390625)
    out = compute_score("src", text, gt, verifier=config)
    assert out["think_gain"] == pytest.approx(gain) and out["box_consistency"] == 1.0
    assert out["score"] == pytest.approx(T_IOU + 1.0 + 1.0 + 0.5 * gain)
    reward = make_trl_reward(config, term="think_gain")
    assert reward(completions=[text], ground_truth=[gt]) == pytest.approx([gain])


def test_trl_reward_follows_the_trainers_step_for_a_scheduled_gate() -> None:
    """TRL passes ``trainer_state``: iteration ``global_step + 1``. The gate's threshold
    goes from 0.9 at iteration 1 to 1.0 from iteration 3 (2 scheduled iterations), so the
    answer's tIoU 60/61 = 0.984 opens it at steps 0 and 1 (0.9, 0.95), not at step 2 (1.0),
    nor without a trainer state (the final threshold)."""
    from types import SimpleNamespace

    gate = {"threshold": 1.0, "threshold_start": 0.9, "schedule_iterations": 2}
    reward = make_trl_reward({"terms": [{"name": "gate", "params": gate}]})
    paid = [
        reward(completions=[TEXT], ground_truth=[GT], trainer_state=SimpleNamespace(global_step=s))
        for s in (0, 1, 2)
    ]
    assert paid == [pytest.approx([V_IOU]), pytest.approx([V_IOU]), [0.0]]
    assert reward(completions=[TEXT], ground_truth=[GT]) == [0.0]


def test_verl_builds_each_verifier_once() -> None:
    verl_adapter.VERIFIERS.clear()
    for _ in range(3):
        compute_score("src", TEXT, GT)
        compute_score("src", TEXT, GT, {"verifier": {"terms": [{"name": "l1"}]}})
    info = verl_adapter.VERIFIERS._build.cache_info()
    assert (info.misses, info.hits) == (2, 4)
    cache = VerifierCache()
    assert cache.get({"terms": [{"name": "l1"}]}) is cache.get({"terms": [{"name": "l1"}]})


# ------------------------------------------------------------------------------- TRL


def trl_call(reward, completions, **columns):
    """Call ``reward`` the way TRL's GRPOTrainer._calculate_rewards does."""
    prompts = [[{"role": "user", "content": "Where is the man?"}]] * len(completions)
    return reward(
        prompts=prompts,
        completions=completions,
        completion_ids=[[1, 2, 3]] * len(completions),
        trainer_state=object(),
        **columns,
    )


def test_trl_reward_with_string_and_conversational_completions() -> None:
    reward = make_trl_reward()
    assert reward.__name__ == "stvg"
    conversational = [{"role": "assistant", "content": TEXT}]
    parts = [{"role": "assistant", "content": [{"type": "text", "text": TEXT}]}]
    out = trl_call(
        reward,
        [TEXT, conversational, parts, "no answer"],
        ground_truth=[GT, json.dumps(GT), GT, GT],
        split=["train"] * 4,
    )
    assert out == pytest.approx([80 / 61, 80 / 61, 80 / 61, 0.0])


def test_trl_single_term_reward() -> None:
    reward = make_trl_reward({"terms": [{"name": "t_iou"}]}, term="giou")
    assert reward.__name__ == "stvg_giou"
    assert reward.config.term_names == ["t_iou", "giou"]
    assert trl_call(reward, [TEXT], ground_truth=[GT]) == pytest.approx([2 / 3])
    assert trl_call(make_trl_reward(term="v_iou"), [TEXT], ground_truth=[GT]) == pytest.approx(
        [V_IOU]
    )


def test_trl_errors() -> None:
    reward = make_trl_reward()
    with pytest.raises(
        ValueError, match="needs a 'ground_truth' column.*got columns \\['solution'\\]"
    ):
        trl_call(reward, [TEXT], solution=["x"])
    with pytest.raises(ValueError, match="2 completions but 1 'ground_truth'"):
        trl_call(reward, [TEXT, TEXT], ground_truth=[GT])
    with pytest.raises(ValueError, match="no assistant message"):
        trl_call(reward, [[{"role": "user", "content": "hi"}]], ground_truth=[GT])
    with pytest.raises(TypeError, match="must be a str or a list of chat messages"):
        completion_text(42)
    with pytest.raises(ValueError, match="unknown reward term 'tiou'"):
        make_trl_reward(term="tiou")
    with pytest.raises(ConfigError, match=r"terms\[0\]\.weight"):
        make_trl_reward({"terms": [{"name": "t_iou", "weight": "x"}]})
    custom = make_trl_reward(ground_truth_key="gt")
    assert trl_call(custom, [TEXT], gt=[GT]) == pytest.approx([80 / 61])


def test_completion_text_edge_cases() -> None:
    assert completion_text([{"role": "assistant", "content": None}]) == ""
    two_turns = [
        {"role": "assistant", "content": "first"},
        {"role": "tool", "content": "result"},
        {"role": "assistant", "content": "final"},
    ]
    assert completion_text(two_turns) == "final"


def test_record_from_a_contract_reads_pixels_in_the_model_frame() -> None:
    # Shown at 320x240, the Qwen2.5-VL processor resizes to 336x252 (round(240/28)=9 -> 252,
    # round(320/28)=11 -> 308; 308*252 = 77,616 < min_pixels 100,352, so beta =
    # sqrt(100352 / 76800) = 1.1431 and the sides become ceil(274.3/28)*28 = 280 and
    # ceil(365.8/28)*28 = 392): the model frame is 392x280.
    from stvg.verifiers.formats import ContractSpec, ModelGeometry

    spec = ContractSpec("json-v1", "pixels", 1.0, ModelGeometry("qwen2.5-vl"))
    contract = spec.contract(FrameContext.from_sample(SAMPLE, shown_size=(320, 240), fps=1.0))
    assert contract.frame.model_size == (392, 280)
    record = ground_truth_to_dict(SAMPLE, contract)
    assert record["model_size"] == [392, 280]
    assert (record["answer_format"], record["coords"]) == ("json-v1", "pixels")
    assert ground_truth_from_dict(json.dumps(record)).ctx.model_size == (392, 280)
    text = contract.render(ANSWER)
    score = verl_adapter.compute_score("stvg", text, json.dumps(record))
    # The record scores exactly as the contract itself does; whole model pixels (1.63
    # original pixels each) move vIoU off 20/61 by rounding only.
    from stvg.verifiers import Verifier

    direct = Verifier().score_text(text, SAMPLE, contract.frame)
    assert score["t_iou"] == pytest.approx(T_IOU)
    assert score["v_iou"] == direct.v_iou
    assert score["v_iou"] == pytest.approx(V_IOU, abs=5e-3)


@pytest.mark.parametrize("name", ["compute_score", "compute_score_batch"])
def test_verl_loader_with_a_verifier_in_reward_kwargs(name: str) -> None:
    """Both entry points, loaded by verl's own get_custom_reward_fn with reward_kwargs from
    an OmegaConf config (verl hands them over as DictConfig/ListConfig), and called the way
    verl's reward managers call them. Before: the batch path failed with 'expected a list'."""
    from omegaconf import OmegaConf
    from verl.trainer.ppo.reward import get_custom_reward_fn

    spec = {"terms": [{"name": "t_iou", "weight": 0.5}, {"name": "v_iou", "weight": 0.5}]}
    config = OmegaConf.create(
        {
            "reward": {
                "custom_reward_function": {
                    "path": "pkg://stvg.verifiers.adapters.verl",
                    "name": name,
                    "reward_kwargs": {"verifier": spec},
                }
            }
        }
    )
    reward_fn = get_custom_reward_fn(config)
    if name == "compute_score":  # NaiveRewardManager: one row per call, keyword arguments
        out = [reward_fn(data_source="stvg", solution_str=TEXT, ground_truth=GT, extra_info={})]
    else:  # BatchRewardManager.verify: numpy object arrays of sources and extra infos
        out = reward_fn(
            data_sources=np.array(["stvg", "stvg"], dtype=object),
            solution_strs=[TEXT, "no answer"],
            ground_truths=[GT, json.dumps(GT)],
            extra_infos=np.array([{"index": 0}, {"index": 1}], dtype=object),
        )
    assert out[0]["score"] == pytest.approx(0.5 * T_IOU + 0.5 * V_IOU)  # 40/61
    assert out[0]["t_iou"] == pytest.approx(T_IOU)
    if name == "compute_score_batch":
        assert out[1]["score"] == 0.0 and out[1]["parse_ok"] == 0.0
