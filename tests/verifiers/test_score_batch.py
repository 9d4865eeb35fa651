"""Batched scoring equals scoring answer by answer with the pre-batch arithmetic.

``reference_result`` below is the verifier as it was before batching (issue 15): the
per-answer parser (``AnswerFormat.parse``), the per-answer densify (frame of each time,
``np.unique`` + ``np.add.at`` averaging, the method's smoother, clip and collapse), the
per-answer reward term functions on a ``RewardInput`` and ``score_sample``. A property test
draws random scenes, verifier configs (every densify method and term) and answers
(well formed, repaired, malformed, empty, NaN boxes, outside the span or the video,
structured or ``None``) and asserts that :meth:`Verifier.score_batch` gives every field of
every result to 1e-12.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_terms import REFERENCE_TERMS

from stvg.data.timing import frame_of_time, span_seconds_to_frames
from stvg.data.types import Sample, SecondLevelAnswer, Tube
from stvg.tubes import DENSIFY_METHODS, DensifyConfig, densify, resolve_params
from stvg.tubes.densify import densify_batch
from stvg.verifiers.formats import FrameContext, ParseResult
from stvg.verifiers.formats.coords import extent
from stvg.verifiers.rewards import (
    REWARD_TERMS,
    RewardInput,
    TermScores,
    register_term,
    with_failures,
)
from stvg.verifiers.verifier import Verifier, VerifierResult

TERMS = (
    "t_iou",
    "v_iou",
    "format",
    "consistency",
    "giou",
    "l1",
    "span_length",
    "think_gain",
    "box_consistency",
)

# --------------------------------------------------------------- the pre-batch reference


def _tidy(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    out = np.array(boxes, dtype=np.float64)
    out[:, 0::2] = np.clip(out[:, 0::2], 0.0, float(width))
    out[:, 1::2] = np.clip(out[:, 1::2], 0.0, float(height))
    for lo, hi in ((0, 2), (1, 3)):
        crossed = out[:, lo] > out[:, hi]
        mid = 0.5 * (out[crossed, lo] + out[crossed, hi])
        out[crossed, lo] = mid
        out[crossed, hi] = mid
    return out


def reference_densify(
    answer: SecondLevelAnswer, sample: Sample, config: DensifyConfig, fps: float | None
) -> Tube:
    """``stvg.tubes.densify`` before batching: one answer, Python loop over its times."""
    resolved = resolve_params(config.method, config.params)
    if answer.times_s.size == 0:
        return Tube.empty()
    first, last = span_seconds_to_frames(
        answer.span_s, sample.native_fps, sample.num_frames, fps=fps,
        end_extension=config.end_extension,
    )  # fmt: skip
    frames_of = [frame_of_time(t, sample.native_fps, sample.num_frames) for t in answer.times_s]
    unique_frames, inverse = np.unique(np.array(frames_of, dtype=np.int64), return_inverse=True)
    sums = np.zeros((unique_frames.size, 4))
    np.add.at(sums, inverse, answer.boxes_xyxy)
    sample_boxes = sums / np.bincount(inverse, minlength=unique_frames.size)[:, None]
    frames = np.arange(first, last + 1, dtype=np.int64)
    boxes = DENSIFY_METHODS[config.method].function(
        unique_frames.astype(np.float64), sample_boxes, frames.astype(np.float64),
        float(sample.native_fps), **resolved,
    )  # fmt: skip
    return Tube(frames, _tidy(boxes, sample.width, sample.height))


def reference_result(
    verifier: Verifier, action: str | SecondLevelAnswer | None, sample: Sample, ctx: FrameContext
) -> VerifierResult:
    """``Verifier.score_text`` / ``score_answer`` before batching (raises as it did)."""
    if isinstance(action, str):
        parse = verifier.answer_format.parse(action, ctx)
    elif action is None:
        parse = ParseResult.failure("no answer (None)")
    else:
        parse = ParseResult(answer=action, error=None, repairs=(), format_ok=True)
    config = verifier.config
    pred_span = pred_tube = None
    if parse.answer is not None:
        pred_span = span_seconds_to_frames(
            parse.answer.span_s, sample.native_fps, sample.num_frames, fps=ctx.fps,
            end_extension=config.densify.end_extension,
        )  # fmt: skip
        pred_tube = reference_densify(parse.answer, sample, config.densify, ctx.fps)
    draft_tube = None
    if parse.draft is not None:
        draft_tube = reference_densify(parse.draft, sample, config.densify, ctx.fps)
    inp = RewardInput(sample, parse, ctx, pred_span, pred_tube, draft_tube)
    values, weighted, reasons = {}, {}, {}
    for term in config.terms:
        score = REFERENCE_TERMS[term.name](inp, **resolve_term(term))
        value = float(score.value)
        if not math.isfinite(value):
            raise ValueError(
                f"sample {sample.sample_id!r}: reward term {term.name!r} returned {value}; "
                "terms must return finite numbers"
            )
        values[term.name] = value
        weighted[term.name] = term.weight * value
        if score.reason is not None:
            reasons[term.name] = score.reason
    official = inp.official
    return VerifierResult(
        total=float(sum(weighted.values())), terms=values, weighted=weighted, reasons=reasons,
        t_iou=float(official.t_iou), v_iou=float(official.v_iou),
        parse_error=None if parse.ok else (parse.error or "no answer"),
        repairs=tuple(parse.repairs), format_ok=bool(parse.format_ok),
        pred_span=pred_span, pred_tube=pred_tube,
    )  # fmt: skip


def resolve_term(term: Any) -> dict[str, Any]:
    from stvg.verifiers.rewards import resolve_term_params

    return resolve_term_params(term.name, term.params)


def _close(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-12 * max(1.0, abs(b))


def assert_same(got: VerifierResult, want: VerifierResult, where: str) -> None:
    """Every field equal, numbers to 1e-12 (NaN equals NaN)."""
    assert list(got.terms) == list(want.terms), where
    for name in want.terms:
        assert _close(got.terms[name], want.terms[name]), (where, name, got, want)
        assert _close(got.weighted[name], want.weighted[name]), (where, name)
    assert _close(got.total, want.total), (where, got.total, want.total)
    assert _close(got.t_iou, want.t_iou) and _close(got.v_iou, want.v_iou), (where, got, want)
    assert got.reasons == want.reasons, where
    assert (got.parse_error, got.repairs, got.format_ok) == (
        want.parse_error, want.repairs, want.format_ok,
    ), where  # fmt: skip
    assert got.pred_span == want.pred_span, where
    assert (got.pred_tube is None) == (want.pred_tube is None), where
    if want.pred_tube is not None:
        assert np.array_equal(got.pred_tube.frame_idx, want.pred_tube.frame_idx), where
        np.testing.assert_allclose(
            got.pred_tube.boxes_xyxy, want.pred_tube.boxes_xyxy, rtol=0, atol=1e-9, err_msg=where
        )


# ------------------------------------------------------------------------- strategies


def make_sample(rng: np.random.Generator, name: str) -> Sample:
    native_fps = float(rng.choice([10.0, 24.0, 25.0, 29.97, 30.0]))
    n = int(rng.integers(3, 200))
    width, height = [(640, 360), (320, 240), (97, 61)][int(rng.integers(3))]
    gs = int(rng.integers(0, n))
    ge = int(rng.integers(gs, n))
    frames = np.arange(max(0, gs - 3), min(n, ge + 4))
    frames = frames[rng.random(frames.size) < 0.8]  # some frames without a GT box
    boxes = {}
    for f in frames.tolist():
        x, y = rng.uniform(-10, width), rng.uniform(-10, height)
        boxes[f] = [x, y, x + rng.uniform(0, width / 2), y + rng.uniform(0, height / 2)]
    return Sample(name, "", "q", native_fps, n, width, height, (gs, ge), boxes)


def make_context(rng: np.random.Generator, sample: Sample) -> FrameContext:
    kind = int(rng.integers(6))
    if kind == 0:  # nothing shown
        return FrameContext.from_sample(sample, frame_idx=np.zeros(0, dtype=np.int64), fps=1.0)
    fps = [0.5, 1.0, 2.0, 3.0, None][int(rng.integers(5))]
    shown = None if rng.random() < 0.5 else (sample.width // 2 + 1, sample.height // 2 + 1)
    return FrameContext.from_sample(sample, shown_size=shown, fps=fps)


def _number(rng: np.random.Generator, value: float) -> str:
    text = repr(round(value, int(rng.integers(0, 4))))
    return text if rng.random() < 0.9 else text.replace(".0", "")


def make_text(rng: np.random.Generator, ctx: FrameContext, fmt_name: str, coords: str) -> str:
    """A json-v1, tagged or draft-final answer, often well formed, often needing repairs or
    broken (a draft-final draft list: the final list's entries, some left out, shifted)."""
    stamps, duration = ctx.timestamps_s, ctx.duration_s
    max_x, max_y = extent(coords, ctx)
    if stamps.size and rng.random() < 0.8:
        i0 = int(rng.integers(stamps.size))
        i1 = int(rng.integers(i0, min(stamps.size, i0 + 12)))
        start, end = float(stamps[i0]), float(stamps[i1])
        times = [float(t) for t in stamps[i0 : i1 + 1]]
    else:
        start = float(rng.uniform(-2, duration + 2))
        end = start + float(rng.uniform(-1, 5))
        times = list(np.sort(rng.uniform(start - 1, end + 1, int(rng.integers(0, 6)))))
    if rng.random() < 0.15:
        start, end = start - float(rng.uniform(0, 3)), end + float(rng.uniform(0, 3))
    entries = []
    interval = ctx.interval_s
    for t in times:
        if rng.random() < 0.15:
            t += float(rng.choice([0.01, -0.02, 0.3, 0.45, 0.7, -0.6])) * interval
        x1, y1 = rng.uniform(-0.1, 1.0) * max_x, rng.uniform(-0.1, 1.0) * max_y
        box: list[Any] = [
            x1,
            y1,
            x1 + rng.uniform(-0.1, 0.6) * max_x,
            y1 + rng.uniform(0, 0.6) * max_y,
        ]
        box = [round(v, 3) if coords == "norm1" else int(round(v)) for v in box]
        key = _number(rng, t)
        roll = rng.random()
        if roll < 0.04:
            box[int(rng.integers(4))] = "NaN" if fmt_name == "json-v1" else "x"
        elif roll < 0.06 and fmt_name == "json-v1":
            box[0] = "true"
        elif roll < 0.08:
            box = box[:3]
        elif roll < 0.10:
            key = "abc"
        entries.append((key, box))
        if rng.random() < 0.05:  # the same timestamp twice
            entries.append((key, box))
    if fmt_name == "json-v1":
        body = ", ".join(f'"{k}": [{", ".join(str(v) for v in b)}]' for k, b in entries)
        text = f'<answer>{{"span": [{_number(rng, start)}, {_number(rng, end)}], "boxes": {{{body}}}}}</answer>'
        if rng.random() < 0.05:
            text = text.replace('"span"', '"extra": 1, "span"')
    elif fmt_name == "tagged":
        body = ", ".join(f"{k}: [{', '.join(str(v) for v in b)}]" for k, b in entries)
        text = f"<time>{_number(rng, start)} - {_number(rng, end)}</time>\n<boxes>{body}</boxes>"
    else:
        body = ", ".join(f"{k}: [{', '.join(str(v) for v in b)}]" for k, b in entries)
        shift = float(rng.uniform(-0.1, 0.1)) * max_x
        draft = [
            (k, [v + shift if isinstance(v, (int, float)) else v for v in b])
            for k, b in entries
            if rng.random() < 0.85
        ]
        draft_body = ", ".join(f"{k}: [{', '.join(str(v) for v in b)}]" for k, b in draft)
        text = (
            f"<time>[{_number(rng, start)}, {_number(rng, end)}]</time>\n"
            f"<think bbox>{draft_body}</think bbox>\n<pred bbox>{body}</pred bbox>"
        )
    roll = rng.random()
    if roll < 0.06:
        text = text[: int(rng.integers(0, len(text)))]  # cut short
    elif roll < 0.09:
        text += " and that is all"
    elif roll < 0.11:
        text = "no answer here"
    elif roll < 0.13:
        text = text + "\n" + text  # several blocks
    return "<think>\nreasoning\n</think>\n" + text if rng.random() < 0.5 else text


def make_struct(rng: np.random.Generator, sample: Sample) -> SecondLevelAnswer | None:
    if rng.random() < 0.15:
        return None
    duration = sample.num_frames / sample.native_fps
    start = float(rng.uniform(-1, duration + 1))
    end = start + float(rng.uniform(0, 4))
    k = int(rng.integers(0, 6))
    times = np.unique(rng.uniform(start - 1, end + 1, k))
    boxes = rng.uniform(-20, max(sample.width, sample.height) * 1.1, size=(times.size, 4))
    if times.size and rng.random() < 0.1:
        boxes[int(rng.integers(times.size)), int(rng.integers(4))] = np.nan
    return SecondLevelAnswer((start, end), times, boxes)


def make_verifier(rng: np.random.Generator) -> Verifier:
    method = str(rng.choice(list(DENSIFY_METHODS)))
    params: dict[str, float] = {}
    if method == "savgol" and rng.random() < 0.5:
        params = {"window": 3, "polyorder": 1}
    if method == "kalman" and rng.random() < 0.5:
        params = {"measurement_std": 4.0, "accel_std": 50.0}
    names = [t for t in TERMS if rng.random() < 0.6] or ["t_iou"]
    terms = []
    for name in names:
        term: dict[str, Any] = {"name": name, "weight": round(float(rng.uniform(-2, 2)), 2)}
        if name == "giou":
            term["params"] = {"mapped": bool(rng.random() < 0.5)}
        if name == "format":
            term["params"] = {"repaired": 0.25}
        if name == "span_length" and rng.random() < 0.5:
            term["params"] = {"reference": "prior", "prior_fraction": 0.3}
        if name == "think_gain" and rng.random() < 0.5:
            term["params"] = {"l1": False}
        terms.append(term)
    return Verifier.from_config(
        {
            "answer_format": str(rng.choice(["json-v1", "tagged", "draft-final"])),
            "coords": str(rng.choice(["pixels", "norm1000", "norm1"])),
            "densify": {"method": method, "end_extension": float(rng.choice([0.0, 0.5])),
                        "params": params},
            "terms": terms,
        }
    )  # fmt: skip


def make_batch(seed: int) -> tuple[Verifier, list[Any], list[Sample], list[FrameContext]]:
    rng = np.random.default_rng(seed)
    verifier = make_verifier(rng)
    fmt, coords = verifier.config.answer_format, verifier.config.coords
    actions, samples, contexts = [], [], []
    for p in range(int(rng.integers(1, 4))):
        sample = make_sample(rng, f"s{p}")
        ctx = make_context(rng, sample)
        for _ in range(int(rng.integers(1, 6))):
            if rng.random() < 0.7:
                actions.append(make_text(rng, ctx, fmt, coords))
            else:
                actions.append(make_struct(rng, sample))
            samples.append(sample)  # the same objects for a prompt's answers, as in RL
            contexts.append(ctx)
    return verifier, actions, samples, contexts


def _outcome(fn: Any) -> tuple[Any, tuple[type, str] | None]:
    try:
        return fn(), None
    except (ValueError, OverflowError) as exc:
        return None, (type(exc), str(exc))


# ------------------------------------------------------------------------------ tests


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_score_batch_equals_the_per_answer_reference(seed: int) -> None:
    verifier, actions, samples, contexts = make_batch(seed)
    wanted = [
        _outcome(lambda a=a, s=s, c=c: reference_result(verifier, a, s, c))
        for a, s, c in zip(actions, samples, contexts, strict=True)
    ]
    got, error = _outcome(lambda: verifier.score_batch(actions, samples, contexts))
    errors = [e for _, e in wanted if e is not None]
    if errors:  # the reference raised for an answer: the batch raises one of those errors
        assert error in errors, (error, errors)
        return
    assert error is None, error
    for i, ((want, _), result) in enumerate(zip(wanted, got, strict=True)):
        assert_same(result, want, f"seed {seed}, answer {i}: {actions[i]!r}")
    # a batch of one (score_text / score_answer) is the same path
    first, sample, ctx = actions[0], samples[0], contexts[0]
    single = (
        verifier.score_text(first, sample, ctx)
        if isinstance(first, str)
        else verifier.score_answer(first, sample, ctx)
    )
    assert_same(single, wanted[0][0], f"seed {seed}, single")


# Hand-computed scene: 10 fps, 40 frames, 100x100; GT frames 10..19 with [0, 0, 10, 10].
SCENE = Sample("hand", "", "q", 10.0, 40, 100, 100, (10, 19),
               {f: [0.0, 0.0, 10.0, 10.0] for f in range(10, 20)})  # fmt: skip
SCENE_CTX = FrameContext.from_sample(SCENE, fps=1.0)  # frames 0, 10, 20, 30 at 0..3 s


def test_densify_batch_interpolates_every_answer_on_its_own_samples() -> None:
    # Answer 0: boxes at 1 s ([0,0,10,10]) and 2 s ([10,0,20,10]) over frames 10..20: frame
    # 15 is half way, [5, 0, 15, 10]. Answer 1: no boxes. Answer 2: one box held on 0..5.
    batch = densify_batch(
        "linear", {},
        first=np.array([10, 0, 0]), last=np.array([20, 3, 5]),
        box_offsets=np.array([0, 2, 2, 3]),
        times_s=np.array([1.0, 2.0, 0.2]),
        boxes_xyxy=np.array([[0, 0, 10, 10], [10, 0, 20, 10], [1, 2, 3, 4.0]]),
        native_fps=np.full(3, 10.0), num_frames=np.full(3, 40),
        width=np.full(3, 100.0), height=np.full(3, 100.0),
    )  # fmt: skip
    assert batch.lengths.tolist() == [11, 0, 6]
    assert batch.tube(0).frame_idx.tolist() == list(range(10, 21))
    assert batch.tube(0).boxes_xyxy[5].tolist() == [5.0, 0.0, 15.0, 10.0]
    assert batch.tube(0).boxes_xyxy[10].tolist() == [10.0, 0.0, 20.0, 10.0]
    assert len(batch.tube(1)) == 0
    assert batch.tube(2).boxes_xyxy.tolist() == [[1.0, 2.0, 3.0, 4.0]] * 6


@pytest.mark.parametrize("method", sorted(DENSIFY_METHODS))
def test_densify_is_the_batch_of_one(method: str) -> None:
    answer = SecondLevelAnswer((1.0, 3.0), np.array([1.0, 2.0, 3.0]),
                               np.array([[0, 0, 10, 10], [20, 0, 30, 10], [0, 0, 10, 10.0]]))  # fmt: skip
    config = DensifyConfig(method=method)
    want = reference_densify(answer, SCENE, config, 1.0)
    got = densify(answer, SCENE, method)
    assert np.array_equal(got.frame_idx, np.arange(10, 31))
    np.testing.assert_allclose(got.boxes_xyxy, want.boxes_xyxy, rtol=0, atol=1e-12)


def test_batch_scores_by_hand() -> None:
    # Answer A: span [1, 2] s = frames 10..20, boxes = GT at 1 s and 2 s: I = 10, U = 11,
    # tIoU = vIoU = 10/11. Answer B: the same span with no boxes: tIoU 10/11, vIoU 0.
    # Answer C: unparsable.
    gt = '"1": [0, 0, 10, 10], "2": [0, 0, 10, 10]'
    texts = [
        f'<answer>{{"span": [1, 2], "boxes": {{{gt}}}}}</answer>',
        '<answer>{"span": [1, 2], "boxes": {}}</answer>',
        "<answer>{</answer>",
    ]
    config = {"terms": [{"name": n, "weight": 1.0} for n in ("t_iou", "v_iou", "consistency")]}
    a, b, c = Verifier.from_config(config).score_batch(texts, [SCENE] * 3, [SCENE_CTX] * 3)
    assert a.terms == pytest.approx({"t_iou": 10 / 11, "v_iou": 10 / 11, "consistency": 1.0})
    # B: shown frames 0, 10, 20, 30; span frames 10..20; no box anywhere: 0 and 30 right.
    assert b.terms == pytest.approx({"t_iou": 10 / 11, "v_iou": 0.0, "consistency": 0.5})
    assert b.reasons == {"v_iou": "answer has no boxes"}
    assert c.total == 0.0 and c.parse_error is not None
    assert c.reasons["t_iou"].startswith("parse failed: invalid JSON")


def test_a_user_term_has_the_signature_of_the_built_ins() -> None:
    @register_term("test_span_frames")
    def span_frames(batch: Any) -> TermScores:
        """Predicted span length in frames (a test term)."""
        frames = (batch.pred_last - batch.pred_first + 1).astype(float)
        return with_failures(batch, frames, ["no span" if not ok else None for ok in batch.ok])

    try:
        verifier = Verifier.from_config({"terms": [{"name": "test_span_frames", "weight": 2.0}]})
        texts = ['<answer>{"span": [1, 2], "boxes": {}}</answer>', "junk"]
        ok, bad = verifier.score_batch(texts, [SCENE] * 2, [SCENE_CTX] * 2)
        assert ok.terms == {"test_span_frames": 11.0} and ok.total == 22.0
        assert bad.terms == {"test_span_frames": 0.0}
        assert bad.reasons["test_span_frames"].startswith("parse failed:")
    finally:
        del REWARD_TERMS["test_span_frames"]


def test_repairs_are_the_parsers_words() -> None:
    text = (
        '<answer>{"span": [-1, 2], "boxes": {"1.3": [0, 0, 10, 10], "2": [20, 0, 5, 130], '
        '"2.0": [0, 0, 1, 1], "x": [0, 0, 1, 1]}}</answer>'
    )
    result = Verifier().score_batch([text], [SCENE], [SCENE_CTX])[0]
    assert (
        result.repairs
        == Verifier().parse(text, SCENE_CTX).repairs
        == (
            "span clipped to the video [0, 4] s",
            "box time snapped to the nearest shown frame at 1.3 s -> 1 s",
            "box corners swapped (x2 < x1 or y2 < y1) at 2 s",
            "box clipped to the frame at 2 s",
            "several boxes for one shown frame, the last was kept at 2 s",
            "non-numeric time key, box dropped at 'x'",
        )
    )
    assert json.dumps(result.pred_span) == "[0, 20]"


def test_trl_and_verl_batches_equal_scoring_row_by_row() -> None:
    from stvg.verifiers.adapters import compute_score, compute_score_batch, make_trl_reward
    from stvg.verifiers.adapters.common import ground_truth_to_dict

    pixels = ground_truth_to_dict(SCENE, SCENE_CTX)
    tagged = ground_truth_to_dict(SCENE, SCENE_CTX, answer_format="tagged", coords="norm1")
    texts = [
        '<answer>{"span": [1, 2], "boxes": {"1": [0, 0, 10, 10], "2": [0, 0, 20, 10]}}</answer>',
        "<time>1 - 3</time>\n<boxes>1: [0, 0, 0.1, 0.1]</boxes>",
        "junk",
        '<answer>{"span": [0, 1], "boxes": {"1": [0, 0, 10, 10]}}</answer>',
    ]
    records = [pixels, tagged, pixels, json.dumps(pixels)]
    infos = [None, None, {"verifier": {"terms": [{"name": "format", "weight": 1.0}]}}, None]
    rows = [compute_score("stvg", t, r, i) for t, r, i in zip(texts, records, infos, strict=True)]
    assert compute_score_batch(["stvg"] * 4, texts, records, infos) == rows
    # row 0: frames 10..20 (tIoU 10/11); frame 10 + k has [0, 0, 10 + k, 10], IoU 10 / (10 + k)
    v_iou = sum(10 / (10 + k) for k in range(10)) / 11
    assert rows[0]["score"] == pytest.approx(10 / 11 + v_iou)
    reward = make_trl_reward()
    assert reward(completions=texts, ground_truth=records) == [
        compute_score("stvg", t, r)["score"] for t, r in zip(texts, records, strict=True)
    ]


def test_packed_ground_truth_follows_the_sample_it_was_packed_from() -> None:
    """GT is packed once per Sample object; a new gt_boxes object or span is packed anew,
    and the cache entry goes with the sample."""
    import dataclasses
    import gc

    from stvg.verifiers import batch_input

    text = '<answer>{"span": [1, 2], "boxes": {"1": [0, 0, 10, 10], "2": [0, 0, 10, 10]}}</answer>'
    verifier = Verifier()
    sample = dataclasses.replace(SCENE, gt_boxes=dict(SCENE.gt_boxes))
    first = verifier.score_text(text, sample, SCENE_CTX)
    assert first.v_iou == pytest.approx(10 / 11)
    assert batch_input._packed(sample) is not None
    assert verifier.score_text(text, sample, SCENE_CTX).v_iou == first.v_iou  # cached
    # the same frames with boxes twice as wide: IoU 1/2 on each of the 10 shared frames
    wider = {f: [0.0, 0.0, 20.0, 10.0] for f in range(10, 20)}
    moved = dataclasses.replace(sample, gt_boxes=wider)
    assert verifier.score_text(text, moved, SCENE_CTX).v_iou == pytest.approx(5 / 11)
    # a shorter GT span on the same boxes object: frames 10..14, I = 5 of U = 11
    shorter = dataclasses.replace(sample, gt_span=(10, 14))
    assert verifier.score_text(text, shorter, SCENE_CTX).t_iou == pytest.approx(5 / 11)
    # frames added to the boxes dict are seen (its length changed): GT boxes on frames
    # 10..14 only give IoU 1 on 5 of the 11 frames, then on all 10 shared frames
    half = dataclasses.replace(SCENE, gt_boxes={f: [0.0, 0.0, 10.0, 10.0] for f in range(10, 15)})
    assert verifier.score_text(text, half, SCENE_CTX).v_iou == pytest.approx(5 / 11)
    half.gt_boxes.update({f: [0.0, 0.0, 10.0, 10.0] for f in range(15, 20)})
    assert verifier.score_text(text, half, SCENE_CTX).v_iou == pytest.approx(10 / 11)
    key = id(moved)
    assert key in batch_input._PACKED
    del moved
    gc.collect()
    assert key not in batch_input._PACKED
