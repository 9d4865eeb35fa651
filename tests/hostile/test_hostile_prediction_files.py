"""Predictions files and other codebases' dumps built to break ``stvg evaluate``: a valid
file with places replaced by hostile values, removed or given twice.

``load_predictions`` must give predictions inside the bounds (spans of frame indices up
to ``MAX_FRAME_INDEX``, finite boxes within ``MAX_BOX_COORD``) or one DataError naming the
file; ``stvg evaluate`` must exit 0 with every metric in [0, 1] in a strict JSON
``--out``, or 2 with one line; with ``--on-invalid zero`` a malformed entry is listed,
not fatal. Bounded time and memory throughout."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from hostile_kit import (
    MAX_MESSAGE_CHARS,
    Raw,
    bounded_memory,
    bounded_time,
    check_outcome,
    check_unit_metrics,
    deep,
    hostile_settings,
    mutated,
    run_cli,
    strict_json,
    write_json,
)
from hypothesis import event, example, given
from hypothesis import strategies as st

from stvg.data.errors import DataError
from stvg.limits import MAX_BOX_COORD, MAX_FRAME_INDEX
from stvg.verifiers.predictions import load_predictions

SETTINGS = hostile_settings(40)

BOXES = {str(f): [1.0 + f, 2.0, 20.0 + f, 30.0] for f in (5, 6, 9, 14)}
STVG = {
    "test_0000.mp4": {"st_frame": 5, "ed_frame": 14, "bbox": BOXES},
    "test_0001.mp4": {"st_frame": 0, "ed_frame": 19, "bbox": {"3": [0, 0, 64, 64]}},
    "test_0002.mp4": {"st_frame": 2, "ed_frame": 3, "bbox": {}},
}
TUBEDETR = {
    "test_hcstvg_hcstvg": {
        "video_predictions": {"0": {"sted": [5.0, 15.0]}, "1": {"sted": [0, 20]}},
        "predictions": {"0_5": {"boxes": [[1, 1, 9, 9]]}, "1_3": {"boxes": [[0, 0, 64, 64]]}},
    }
}
CGSTVG = {
    "video_predictions": {"0": {"sted": [5, 15]}, "2": {"sted": [2, 4]}},
    "predictions": {"0": {"5": [[1, 1, 9, 9]], "6": [[2, 1, 9, 9]]}, "2": {}},
    "vid2names": {"0": "test_0000.mp4", "2": "test_0002.mp4"},
}
OPTIONS = st.fixed_dictionaries(
    {
        "protocol": st.sampled_from(["official", "span", "tubedetr", "cgstvg", "all"]),
        "fill": st.sampled_from(["none", "linear", "hold"]),
        "on_invalid": st.sampled_from(["error", "zero"]),
    }
)


def check_loaded(path: Path, pred_format: str, samples: list) -> None:
    """Every prediction read is within the bounds, or one DataError names the file."""
    for on_invalid in ("error", "zero"):
        try:
            loaded = load_predictions(
                path, pred_format=pred_format, on_invalid=on_invalid, samples=samples
            )
        except DataError as exc:
            event(f"{pred_format} {on_invalid}: DataError")
            message = str(exc)
            assert str(path) in message, message[:500]
            assert "\n" not in message and len(message) <= MAX_MESSAGE_CHARS, message[:500]
            continue
        event(f"{pred_format} {on_invalid}: {len(loaded.invalid)} invalid")
        for prediction in loaded.predictions.values():
            first, last = prediction.span
            assert 0 <= first <= last <= MAX_FRAME_INDEX
            boxes = prediction.tube.boxes_xyxy
            assert boxes.shape[1:] == (4,) and (abs(boxes) <= MAX_BOX_COORD).all()
        for reason in loaded.invalid.values():
            assert "\n" not in reason and len(reason) <= MAX_MESSAGE_CHARS, reason[:500]


def check_evaluate(
    path: Path, pred_format: str, options: dict[str, Any], root: Path, out: Path
) -> None:
    argv = ["evaluate", "--annotations", str(root / "test.json"), "--format", "synthetic"]
    argv += ["--predictions", str(path), "--pred-format", pred_format, "--out", str(out)]
    argv += ["--protocol", options["protocol"], "--fill", options["fill"]]
    argv += ["--on-invalid", options["on_invalid"]]
    out.unlink(missing_ok=True)
    with bounded_memory(what=str(argv)), bounded_time(30, str(argv)):
        code, stdout, stderr = run_cli(argv)
    event(f"evaluate exit {code}")
    if check_outcome(argv, code, stdout, stderr):
        report = strict_json(out.read_text(encoding="utf-8"))
        assert check_unit_metrics(report) > 0
        for reason in report["prediction_checks"].get("invalid", {}).values():
            assert "\n" not in reason


def _run(data: Any, pred_format: str, options: dict, synth_root: Path, synth_samples, tmp: Path):
    path = write_json(tmp / "predictions.json", data)
    with bounded_memory(what="load_predictions"), bounded_time(30, "load_predictions"):
        check_loaded(path, pred_format, synth_samples)
    check_evaluate(path, pred_format, options, synth_root, tmp / "metrics.json")


HUGE_BOX = {"st_frame": 5, "ed_frame": 14, "bbox": {"6": [-1e308, 0, 1e308, 0]}}
ALL = {"protocol": "all", "fill": "linear", "on_invalid": "error"}


@SETTINGS
@given(data=mutated(STVG, max_changes=3), options=OPTIONS)
@example(data={"test_0000.mp4": HUGE_BOX}, options=ALL)  # was NaN m_vIoU
@example(  # was an OverflowError traceback (math.isfinite of a 400-digit integer)
    data={"test_0000.mp4": {"st_frame": 5, "ed_frame": 14, "bbox": {"6": [10**400, 0, 1, 1]}}},
    options={"protocol": "all", "fill": "none", "on_invalid": "zero"},
)
@example(data={"a": {"st_frame": Raw("1" * 5000), "ed_frame": 1, "bbox": {}}}, options=ALL)
@example(data={"a": {"st_frame": 0, "ed_frame": 1, "bbox": {"\n" * 3: [0, 0, 1, 1]}}}, options=ALL)
@example(
    data={"a": {"st_frame": 0, "ed_frame": 1, "bbox": {"1" * 5000: [0, 0, 1, 1]}}}, options=ALL
)
@example(data={"x" * 100_000: {"st_frame": 0, "ed_frame": 1, "bbox": deep(100_000)}}, options=ALL)
@example(
    data={"test_0000.mp4": {"st_frame": 0, "ed_frame": MAX_FRAME_INDEX, "bbox": BOXES}},
    options={"protocol": "all", "fill": "linear", "on_invalid": "zero"},
)
def test_stvg_predictions(
    data: Any, options: dict, synth_root: Path, synth_samples: list, tmp_path: Path
) -> None:
    _run(data, "stvg", options, synth_root, synth_samples, tmp_path)


@SETTINGS
@given(
    dump=st.sampled_from([("tubedetr", TUBEDETR), ("cgstvg", CGSTVG)]).flatmap(
        lambda pair: st.tuples(st.just(pair[0]), mutated(pair[1], max_changes=2))
    ),
    options=OPTIONS,
)
@example(
    dump=("cgstvg", {**CGSTVG, "video_predictions": {"0": {"sted": [math.nan, 3]}}}), options=ALL
)
@example(
    dump=(
        "tubedetr",
        {**TUBEDETR["test_hcstvg_hcstvg"], "predictions": {"0_5": {"boxes": [[10**400, 1, 9, 9]]}}},
    ),
    options=ALL,
)
@example(
    dump=("cgstvg", {**CGSTVG, "video_predictions": {"0": {"sted": [0, Raw("1e400")]}}}),
    options=ALL,
)
@example(
    dump=("cgstvg", {**CGSTVG, "video_predictions": {"\u00b2": {"sted": [0, 3]}}}), options=ALL
)
@example(
    dump=("cgstvg", {**CGSTVG, "video_predictions": {"0": {"sted": [0, 3], "qtype": []}}}),
    options=ALL,
)
@example(
    dump=(
        "tubedetr",
        {
            "video_predictions": {"0": {"sted": [0, 3]}},
            "predictions": {"0_" + "1" * 5000: {"boxes": [[1, 1, 2, 2]]}},
        },
    ),
    options=ALL,
)
def test_prediction_dumps(
    dump: tuple[str, Any], options: dict, synth_root: Path, synth_samples: list, tmp_path: Path
) -> None:
    pred_format, data = dump
    _run(data, pred_format, options, synth_root, synth_samples, tmp_path)
