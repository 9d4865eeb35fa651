"""The composite verifier: config from YAML, text and structured answers, hand-computed totals.

Scene (as in ``test_rewards``): 30 fps, 300 frames, 640x480; ground truth frames 30..89 with
the box [100, 100, 200, 200]; shown at 1 fps (frames 0, 30, ..., 270 at 0..9 s). The answer
spans [1, 3] s (frames 30..90: I = 60, U = 61, tIoU = 60/61) with the box
[150, 100, 250, 200] (IoU 1/3, vIoU = 60 * (1/3) / 61 = 20/61).
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

from stvg.config import ConfigError
from stvg.data.types import Sample, SecondLevelAnswer
from stvg.tubes import DensifyConfig
from stvg.verifiers import verifier as verifier_module
from stvg.verifiers.formats import FrameContext, get_format
from stvg.verifiers.rewards import REWARD_TERMS, RewardTerm, TermScores
from stvg.verifiers.verifier import (
    TermConfig,
    Verifier,
    VerifierConfig,
    load_verifier_config,
)

GT_BOX = [100.0, 100.0, 200.0, 200.0]
SHIFTED = [150.0, 100.0, 250.0, 200.0]
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
ANSWER = SecondLevelAnswer((1.0, 3.0), np.array([1.0, 2.0, 3.0]), np.array([SHIFTED] * 3))
T_IOU, V_IOU = 60 / 61, 20 / 61
SPEC_CONFIG = {
    "verifier": {
        "terms": [
            {"name": "t_iou", "weight": 0.5},
            {"name": "v_iou", "weight": 0.5},
            {"name": "format", "weight": 0.1},
        ]
    }
}


def rendered(fmt: str = "json-v1", coords: str = "pixels", ctx: FrameContext = CTX) -> str:
    return get_format(fmt, coords).render(ANSWER, ctx, reasoning="the man walks in at 1 s")


def test_spec_example_weights_half_half_plus_format() -> None:
    result = Verifier.from_config(SPEC_CONFIG).score_text(rendered(), SAMPLE, CTX)
    assert result.parse_error is None and result.format_ok
    assert result.pred_span == (30, 90)
    assert result.t_iou == pytest.approx(T_IOU)
    assert result.v_iou == pytest.approx(V_IOU)
    assert result.terms == pytest.approx({"t_iou": T_IOU, "v_iou": V_IOU, "format": 1.0})
    assert result.weighted == pytest.approx({"t_iou": 30 / 61, "v_iou": 10 / 61, "format": 0.1})
    assert result.total == pytest.approx(40 / 61 + 0.1)
    assert result.reasons == {}


def test_default_is_the_papers_tiou_plus_viou() -> None:
    verifier = Verifier()
    assert [(t.name, t.weight) for t in verifier.config.terms] == [("t_iou", 1.0), ("v_iou", 1.0)]
    assert verifier.score_text(rendered(), SAMPLE, CTX).total == pytest.approx(80 / 61)


def test_weight_zero_terms_are_logged_not_rewarded_and_iou_always_computed() -> None:
    config = {"terms": [{"name": "format", "weight": 1.0}, {"name": "giou", "weight": 0.0}]}
    result = Verifier.from_config(config).score_text(rendered(), SAMPLE, CTX)
    assert result.terms["giou"] == pytest.approx(2 / 3)  # (GIoU 1/3 + 1) / 2
    assert result.weighted["giou"] == 0.0
    assert result.total == pytest.approx(1.0)
    assert result.t_iou == pytest.approx(T_IOU) and result.v_iou == pytest.approx(V_IOU)
    info = result.to_info()
    assert info["reward"] == pytest.approx(1.0)
    assert info["reward/giou"] == pytest.approx(2 / 3)
    assert set(info) == {
        "reward",
        "reward/format",
        "reward/giou",
        "t_iou",
        "v_iou",
        "parse_ok",
        "format_ok",
        "parse_error",
        "num_repairs",
        "repairs",
        "pred_span",
    }


def test_shown_size_boxes_map_back_to_original_pixels() -> None:
    # Frames shown at 320x240: the text says [75, 50, 125, 100], i.e. SHIFTED in the original.
    ctx = FrameContext.from_sample(SAMPLE, shown_size=(320, 240), fps=1.0)
    text = rendered(ctx=ctx)
    assert '"1.0": [75, 50, 125, 100]' in text
    assert Verifier().score_text(text, SAMPLE, ctx).v_iou == pytest.approx(V_IOU)


def test_norm1000_coords_and_tagged_format() -> None:
    # [160, 120, 240, 240] px = [250, 250, 375, 500] in 0-1000 (exact); IoU with GT_BOX =
    # 40*80 / (9600 + 10000 - 3200) = 8/41 -> vIoU = 60 * 8/41 / 61.
    box = np.array([[160.0, 120.0, 240.0, 240.0]] * 3)
    ans = SecondLevelAnswer((1.0, 3.0), np.array([1.0, 2.0, 3.0]), box)
    text = get_format("json-v1", "norm1000").render(ans, CTX)
    assert "[250, 250, 375, 500]" in text
    verifier = Verifier.from_config({"coords": "norm1000"})
    assert verifier.score_text(text, SAMPLE, CTX).v_iou == pytest.approx(60 * 8 / 41 / 61)
    tagged = Verifier.from_config({"answer_format": "tagged"})
    result = tagged.score_text(rendered("tagged"), SAMPLE, CTX)
    assert (result.t_iou, result.v_iou) == pytest.approx((T_IOU, V_IOU))


def test_unparseable_text_scores_zero_with_reasons() -> None:
    result = Verifier.from_config(SPEC_CONFIG).score_text("I think it is the man.", SAMPLE, CTX)
    assert result.total == 0.0
    assert result.terms == {"t_iou": 0.0, "v_iou": 0.0, "format": 0.0}
    assert result.parse_error == "no <answer> block"
    assert result.reasons == {name: "parse failed: no <answer> block" for name in result.terms}
    assert result.pred_span is None and result.pred_tube is None
    info = result.to_info()
    assert info["parse_ok"] is False and info["parse_error"] == "no <answer> block"


def test_repaired_text_gets_half_the_format_reward() -> None:
    text = rendered() + "\nHope this helps!"
    result = Verifier.from_config(SPEC_CONFIG).score_text(text, SAMPLE, CTX)
    assert result.parse_ok and not result.format_ok and result.repairs
    assert result.terms["format"] == 0.5
    assert result.total == pytest.approx(40 / 61 + 0.05)


def test_structured_answers() -> None:
    verifier = Verifier.from_config(SPEC_CONFIG)
    result = verifier.score_answer(ANSWER, SAMPLE, CTX)
    assert result.total == pytest.approx(40 / 61 + 0.1)
    none = verifier.score_answer(None, SAMPLE, CTX)
    assert none.total == 0.0 and none.parse_error == "no answer (None)"
    with pytest.raises(TypeError, match="SecondLevelAnswer or None"):
        verifier.score_answer({"span": [1, 3]}, SAMPLE, CTX)
    with pytest.raises(TypeError, match="as str"):
        verifier.score_text(b"<answer>", SAMPLE, CTX)


def test_score_batch_mixes_texts_and_structured_answers() -> None:
    verifier = Verifier()
    results = verifier.score_batch([rendered(), ANSWER, None, "junk"], [SAMPLE] * 4, [CTX] * 4)
    assert [r.total for r in results] == pytest.approx([80 / 61, 80 / 61, 0.0, 0.0])
    with pytest.raises(ValueError, match="2 actions, 1 samples and 1 contexts"):
        verifier.score_batch([ANSWER, ANSWER], [SAMPLE], [CTX])


def test_context_of_another_video_is_a_bug() -> None:
    other = FrameContext.from_sample(Sample("o", "", "", 25.0, 250, 640, 480, (0, 1), {}), fps=1.0)
    with pytest.raises(ValueError, match=r"sample 'vid'.*num_frames 250 != 300.*native_fps 25.0"):
        Verifier().score_text(rendered(), SAMPLE, other)


def test_densify_end_extension_from_config() -> None:
    # end 3 s + 0.5 s -> frame 105: I = 60, U = 76.
    verifier = Verifier.from_config({"densify": {"end_extension": 0.5}})
    result = verifier.score_text(rendered(), SAMPLE, CTX)
    assert result.pred_span == (30, 105)
    assert result.t_iou == pytest.approx(60 / 76)
    assert result.v_iou == pytest.approx(20 / 76)


def test_a_bug_inside_a_term_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(inp):
        raise RuntimeError("term bug")

    def nan_term(batch):
        return TermScores(np.full(len(batch), math.nan), [None] * len(batch))

    monkeypatch.setitem(REWARD_TERMS, "broken", RewardTerm("broken", broken, {}, {}, "bug"))
    monkeypatch.setitem(REWARD_TERMS, "nan_term", RewardTerm("nan_term", nan_term, {}, {}, "nan"))
    with pytest.raises(RuntimeError, match="term bug"):
        Verifier.from_config({"terms": [{"name": "broken"}]}).score_text(rendered(), SAMPLE, CTX)
    with pytest.raises(ValueError, match="'nan_term' returned nan"):
        Verifier.from_config({"terms": [{"name": "nan_term"}]}).score_text(rendered(), SAMPLE, CTX)


def test_yaml_file_with_a_run_config(tmp_path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(
        "env: {fps: 1.0}\n"
        "verifier:\n"
        "  coords: norm1000\n"
        "  densify: {method: hold}\n"
        "  terms:\n"
        "    - {name: t_iou, weight: 0.5}\n"
        "    - {name: v_iou, weight: 0.5}\n"
        "    - {name: span_length, weight: 0.2, params: {reference: prior}}\n"
    )
    config = load_verifier_config(path)
    assert config.coords == "norm1000"
    assert config.densify == DensifyConfig(method="hold")
    assert config.terms[2] == TermConfig("span_length", 0.2, {"reference": "prior"})
    assert Verifier.from_config(str(path)).term_names == ["t_iou", "v_iou", "span_length"]
    (tmp_path / "empty.yaml").write_text("verifier:\n")
    assert load_verifier_config(tmp_path / "empty.yaml") == VerifierConfig()


def test_yaml_errors_name_the_key_path_and_file(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "verifier:\n  terms:\n    - {name: t_iou}\n    - {name: v_iou}\n    - {name: tiou}\n"
    )
    with pytest.raises(ConfigError, match=r"verifier\.terms\[2\]\.name \(in .*bad\.yaml\).*'tiou'"):
        Verifier.from_config(path)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"terms": [{"name": "t_iou", "weight": "high"}]},
            r"terms\[0\]\.weight: expected a number",
        ),
        (
            {"terms": [{"name": "t_iou", "weight": float("nan")}]},
            r"terms\[0\]\.weight: weight must be finite",
        ),
        ({"terms": [{"name": "t_iou"}, {"name": "t_iou"}]}, r"terms\[1\]\.name: .* listed twice"),
        ({"terms": []}, r"verifier\.terms: list at least one"),
        ({"terms": [{"name": "giou", "params": {"mapd": True}}]}, r"terms\[0\]\.params\.mapd"),
        (
            {"terms": [{"name": "t_iou", "wieght": 1}]},
            r"unknown config key verifier\.terms\[0\]\.wieght",
        ),
        ({"answer_format": "xml"}, r"verifier\.answer_format: unknown answer format 'xml'"),
        ({"coords": "inches"}, r"verifier\.coords: 'inches' is not one of"),
        ({"densify": {"method": "cubic"}}, r"verifier\.densify\.method"),
    ],
)
def test_config_errors_name_the_key_path(config: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_verifier_config({"verifier": config})


def test_verifier_needs_a_config_object() -> None:
    with pytest.raises(TypeError, match="Verifier.from_config"):
        Verifier({"terms": []})


def test_module_doctests_pass() -> None:
    result = doctest.testmod(verifier_module)
    assert result.attempted >= 3
    assert result.failed == 0
