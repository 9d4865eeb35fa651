"""Completions and ground-truth records built to break the trainer adapters: TRL's reward
function (``stvg.verifiers.adapters.make_trl_reward()``) and verl's ``compute_score`` /
``compute_score_batch`` (with verl's OmegaConf ``reward_kwargs``).

* A hostile completion (random or very long text, answers holding hostile numbers, a chat
  message list) is a model failure: a finite reward in ``[0, sum of the weights]``, every
  term in ``[0, 1]``, and for verl the reason in ``parse_error``; never an exception. A
  completion that is not text is a caller bug: ``TypeError`` or ``ValueError``.
* A hostile ground-truth record (a valid record with places replaced, removed or given
  twice, as a mapping or as its JSON string) is a data bug: ``ValueError`` (the documented
  error, naming the key, in one bounded line), or a record that scores as above."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hostile_kit import (
    Pairs,
    Raw,
    bounded_memory,
    bounded_time,
    check_reward,
    dump,
    hostile_settings,
    hostile_strings,
    mutated,
    plain,
    plausible,
)
from hypothesis import event, example, given
from hypothesis import strategies as st
from test_hostile_envs import ALL_TERMS, MAX_REWARD, text_actions

from stvg.verifiers.adapters import ground_truth_to_dict, make_trl_reward
from stvg.verifiers.adapters.verl import compute_score, compute_score_batch
from stvg.verifiers.formats import FrameContext

SETTINGS = hostile_settings(60)
TERMS = [term["name"] for term in ALL_TERMS["terms"]]


@pytest.fixture(scope="module")
def record(synth_samples: list) -> dict[str, Any]:
    """The ground-truth record of the first synthetic sample shown at 2 fps."""
    sample = synth_samples[0]
    return ground_truth_to_dict(sample, FrameContext.from_sample(sample, fps=2.0))


def check_verl(result: dict[str, Any]) -> None:
    check_reward(result["score"], 0.0, MAX_REWARD, "score")
    for key in (*TERMS, "t_iou", "v_iou", "parse_ok", "format_ok"):
        check_reward(result[key], 0.0, 1.0, key)
    assert isinstance(result["parse_error"], str) and "\n" not in result["parse_error"]
    if result["parse_ok"] == 0.0:
        event("unusable answer")
        assert result["parse_error"] and result["t_iou"] == result["v_iou"] == 0.0
    else:
        event("usable answer")


completions = st.one_of(
    text_actions,
    st.lists(
        st.fixed_dictionaries(
            {"role": st.sampled_from(["assistant", "user", "system"]), "content": text_actions}
        ),
        min_size=1,
        max_size=3,
    ).filter(lambda messages: any(m["role"] == "assistant" for m in messages)),
    st.just([{"role": "assistant", "content": [{"type": "text", "text": "<answer>{}</answer>"}]}]),
)


@SETTINGS
@given(batch=st.lists(completions, min_size=1, max_size=4))
@example(batch=['<answer>{"span": [0, 3], "boxes": {"1.0": [0, 0, 1e308, 1e308]}}</answer>'])
@example(batch=["<answer>" + "{" * 100_000 + "</answer>", "x" * 1_000_000])
def test_trl_reward(batch: list, record: dict) -> None:
    total = make_trl_reward({"terms": ALL_TERMS["terms"]})
    per_term = make_trl_reward(None, term="giou")
    records = [record] * len(batch)
    with bounded_memory(what="trl"), bounded_time(30, "trl"):
        rewards = total(prompts=None, completions=batch, ground_truth=records)
        terms = per_term(prompts=None, completions=batch, ground_truth=records)
    assert len(rewards) == len(terms) == len(batch)
    for reward, term in zip(rewards, terms, strict=True):
        check_reward(reward, 0.0, MAX_REWARD, "trl total")
        check_reward(term, 0.0, 1.0, "trl giou")


@SETTINGS
@given(text=text_actions)
def test_verl_compute_score(text: str, record: dict) -> None:
    with bounded_memory(what="verl"), bounded_time(30, "verl"):
        result = compute_score("stvg", text, json.dumps(record), None, verifier=ALL_TERMS)
    check_verl(result)


@SETTINGS
@given(texts=st.lists(text_actions, min_size=1, max_size=4))
def test_verl_batch_with_omegaconf_kwargs(texts: list, record: dict) -> None:
    from omegaconf import OmegaConf

    verifier = OmegaConf.create(ALL_TERMS)  # verl passes reward_kwargs as a DictConfig
    n = len(texts)
    with bounded_memory(what="verl batch"), bounded_time(30, "verl batch"):
        results = compute_score_batch(["stvg"] * n, texts, [record] * n, None, verifier=verifier)
    assert len(results) == n
    for result in results:
        check_verl(result)


@pytest.mark.parametrize("completion", [None, 3, b"<answer>{}</answer>", [{"role": "user"}]])
def test_a_completion_that_is_not_text_is_a_caller_error(completion: Any, record: dict) -> None:
    with pytest.raises((TypeError, ValueError)):
        make_trl_reward()(completions=[completion], ground_truth=[record])


def _records(record_fixture_free: dict) -> st.SearchStrategy[Any]:
    return st.one_of(
        mutated(record_fixture_free, max_changes=2),
        mutated(record_fixture_free, max_changes=3, values=plausible),
    )


#: A record like the fixture's (the strategies are built before fixtures exist).
TEMPLATE = {
    "sample_id": "test_0000.mp4",
    "query": "the orange triangle",
    "gt_span": [5, 14],
    "gt_boxes": {str(f): [3.5, 1.0, 9.9, 7.5] for f in range(5, 15)},
    "native_fps": 5.0,
    "num_frames": 20,
    "width": 64,
    "height": 64,
    "frame_indices": [0, 3, 5, 8, 10, 13, 15, 18],
    "timestamps": [0.0, 0.6, 1.0, 1.6, 2.0, 2.6, 3.0, 3.6],
    "shown_size": [64, 64],
    "fps": 2.0,
}


@SETTINGS
@given(
    data=_records(TEMPLATE),
    as_text=st.booleans(),
    text=st.sampled_from(
        [
            '<answer>{"span": [1.0, 3.0], "boxes": {"1.0": [3, 1, 10, 8], "2.0": [3, 1, 10, 8]}}</answer>',
            "<answer>{}</answer>",
            "",
        ]
    )
    | hostile_strings,
)
@example(
    data={**TEMPLATE, "shown_size": [0, 0]},
    as_text=False,
    text='<answer>{"span": [1, 3], "boxes": {"1.0": [3, 1, 10, 8]}}</answer>',
)
@example(
    data={**TEMPLATE, "model_size": [0, 0]},
    as_text=False,
    text='<answer>{"span": [1, 3], "boxes": {"1.0": [3, 1, 10, 8]}}</answer>',
)
@example(data={**TEMPLATE, "gt_boxes": {"5": [-1e308, 0, 1e308, 0]}}, as_text=False, text="")
@example(
    data={**TEMPLATE, "frame_indices": [0, 3, 5, 8, 10, 13, 15, 10**6]},
    as_text=False,
    text='<answer>{"span": [0, 3.6], "boxes": {"3.6": [3, 1, 10, 8]}}</answer>',
)
@example(
    data={**TEMPLATE, "timestamps": [0.0, 0.6, 1.0, 1.6, 2.0, 2.6, 3.0, 1e308]},
    as_text=False,
    text='<answer>{"span": [0, 1e308], "boxes": {}}</answer>',
)
@example(
    data={**TEMPLATE, "fps": 1e-300},
    as_text=False,
    text='<answer>{"span": [0, 3], "boxes": {}}</answer>',
)
@example(data={**TEMPLATE, "num_frames": Raw("9" * 5000)}, as_text=True, text="")
# were messages of 100,000 characters (the sample id quoted whole)
@example(data={**TEMPLATE, "sample_id": "x" * 100_000, "fps": math.nan}, as_text=False, text="")
@example(data={**TEMPLATE, "sample_id": "x" * 100_000, "gt_span": None}, as_text=True, text="")
# were OverflowErrors (math.isfinite of a 400-digit integer)
@example(data={**TEMPLATE, "timestamps": [10**400] * 8}, as_text=False, text="")
@example(data={**TEMPLATE, "gt_boxes": {"5": [0, 0, 10**400, 9]}}, as_text=False, text="")
# was "native_fps 0 is outside ...", naming neither the record nor how to fix it
@example(data={**TEMPLATE, "native_fps": 0}, as_text=False, text="")
# was "gt_span must satisfy 0 <= first <= last", raised by the scoring, naming no record
@example(data={**TEMPLATE, "gt_span": [5, 0]}, as_text=False, text="")
# was "end_extension needs the sampling rate fps" from deep in the scoring
@example(data={k: v for k, v in TEMPLATE.items() if k != "fps"}, as_text=False, text="")
def test_hostile_records(data: Any, as_text: bool, text: str) -> None:
    ground_truth = dump(data) if as_text else plain(data)
    verifier = {"terms": ALL_TERMS["terms"], "densify": {"method": "linear", "end_extension": 0.5}}
    try:
        with bounded_memory(what="record"), bounded_time(30, "record"):
            result = compute_score("stvg", text, ground_truth, None, verifier=verifier)
    except ValueError as exc:
        event("refused")
        message = str(exc)
        assert "\n" not in message and len(message) < 4000, message[:500]
        assert message.startswith("ground_truth"), message[:500]
        return
    event("scored")
    check_verl(result)


@pytest.mark.parametrize(
    "record",
    [
        Pairs((("gt_span", [0, 19]), *TEMPLATE.items())),
        {**TEMPLATE, "gt_boxes": Pairs((("5", [0, 0, 64, 64]), *TEMPLATE["gt_boxes"].items()))},
    ],
)
def test_a_key_given_twice_in_a_record_is_refused(record: Any) -> None:
    # before: json.loads kept the last value silently (gt_span [0, 19] became [5, 14])
    text = '<answer>{"span": [0, 4], "boxes": {}}</answer>'
    with pytest.raises(ValueError, match=r"gives key '(gt_span|5)' twice"):
        compute_score("stvg", text, dump(record), None)


def test_a_record_without_fps_under_an_end_extension_names_the_key() -> None:
    # before: "end_extension needs the sampling rate fps", raised from the span arithmetic
    record = {**TEMPLATE, "fps": None}
    verifier = {"densify": {"method": "linear", "end_extension": 0.5}}
    text = '<answer>{"span": [1, 3], "boxes": {}}</answer>'
    for call in (
        lambda: compute_score("stvg", text, record, None, verifier=verifier),
        lambda: compute_score_batch(["stvg"], [text], [record], [None], verifier=verifier),
    ):
        with pytest.raises(ValueError, match=r"ground_truth key 'fps' of sample 'test_0000.mp4'"):
            call()
    result = compute_score("stvg", text, record, None)  # no extension: scored
    assert result["parse_ok"] == 1.0 and 0.0 < result["t_iou"] <= 1.0
