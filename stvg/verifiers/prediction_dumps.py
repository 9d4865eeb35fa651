"""Prediction dumps of other codebases, converted to stvg's predictions-file entries.

One place for the conversion (:func:`convert_dump`, used by
:func:`stvg.verifiers.predictions.load_predictions`); every converted entry is then
validated like an entry of an stvg predictions file. The structures below were read from
the code of each codebase (file and commit given); frames are 0-based native frames in
both, and both write the predicted end **exclusive** (``pred_sted[1] = end + 1``), so the
stvg span is ``(sted[0], sted[1] - 1)`` inclusive.

``tubedetr`` -- TubeDETR (antoyang/TubeDETR). ``main.py --eval --test`` writes
``log_stats.json`` (``main.py``, ``engine.py`` and ``preproc/`` at commit ``20c00199``;
the evaluators that summarise it, ``datasets/hcstvg_eval.py`` and ``vidstg_eval.py``, at
commit ``3c32cc9``, which fixed them and changed nothing else); under
``"test_hcstvg_hcstvg"`` (or ``"test_vidstg_vidstg"``) the evaluator's ``summarize()``
puts::

    "predictions":       {"<video_id>_<frame_id>": {"boxes": [[x1, y1, x2, y2]]}, ...}
    "video_predictions": {"<video_id>": {"sted": [start, end_exclusive]}, ...}

(VidSTG adds ``"qtype"``: ``"interrogative"`` or ``"declarative"``, to each video
prediction.) Boxes are xyxy pixels (``models/postprocessors.py: PostProcess``), ``sted``
floats with integer values (``PostProcessSTVG`` adds 1 to the end). ``video_id`` is the
index of the sample in TubeDETR's preprocessed annotations (``"video_id": len(videos)``):

* HC-STVG (``preproc/preproc_hcstvg*.py``): the order of the annotation file, so it maps to
  ``sample_ids[video_id]``;
* VidSTG (``preproc/preproc_vidstg.py``): entry by entry, each entry's **questions first,
  then its captions** (stvg's own order is captions first, so ``q0`` and ``d0`` of an entry
  swap places). :func:`tubedetr_order` gives that order; it needs the samples (``meta``
  ``entry_index`` and ``sentence_type``), and a VidSTG dump read without them is an error.
  Each video prediction's ``qtype`` must equal its sample's ``sentence_type``: a dump
  mapped in the wrong order, or scored against another annotation file, is an error,
  never a silent result.

The file may also be that inner object itself.

``cgstvg`` -- CG-STVG (HengLan/CGSTVG, commit 90bed961), ``datasets/evaluation/
hcstvg_eval.py`` (or ``vidstg_eval.py``) with ``save_pred`` writes ``test_results.json``::

    "predictions":       {"<item_id>": {"<frame_id>": [[x1, y1, x2, y2]], ...}, ...}
    "video_predictions": {"<item_id>": {"sted": [start, end_exclusive]}, ...}
    "vid2names":         {"<item_id>": "<video file name>"}

(VidSTG adds ``"qtype"``: ``"declar"`` or ``"inter"``, checked against the samples'
sentence types when the samples are given, and ``vid2names`` holds the VidOR video id.)
Boxes are xyxy pixels clamped at 0 (``models/post_processor.py``), linearly interpolated
on every frame between the sampled ones (``engine/evaluate.py: linear_interp``), including
frames outside the span (they are kept and counted; only ``official`` scores them).
``item_id`` counts the samples in annotation-file order (``datasets/hcstvg.py:
preprocess``; ``datasets/vidstg.py: make_data_pairs``: entry by entry, captions first, then
questions, as stvg numbers them, the sentences its loader leaves out included), so it maps
to ``sample_ids[item_id]``; without ``sample_ids``, ``vid2names`` gives the HC-STVG id (the
video file name). When both are there they must agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from stvg.data.errors import DataError
from stvg.data.types import Sample
from stvg.limits import short_repr

_TUBEDETR_IMAGE_ID = re.compile(r"(.+)_([0-9]+)")
_INDEX = re.compile(r"[0-9]+")  # a dump's sample index: ASCII digits ("²".isdigit() is true)
# sentence types as each dump writes them
_TUBEDETR_QTYPES = {"interrogative": "interrogative", "declarative": "declarative"}
_CGSTVG_QTYPES = {"inter": "interrogative", "declar": "declarative"}


def tubedetr_order(samples: Sequence[Sample]) -> list[Sample]:
    """``samples`` in the order TubeDETR numbers them (its ``video_id``).

        VidSTG samples (``meta["dataset"] == "vidstg"``) are reordered entry by entry, each
        entry's interrogative sentences before its declarative ones, each kind in file order
        (``preproc/preproc_vidstg.py``); other samples keep their order.

        Raises:
            DataError: a VidSTG sample without ``meta["entry_index"]`` or
                ``meta["sentence_type"]``.

        >>> from stvg.data.types import Sample
    from stvg.limits import short_repr
        >>> def s(i, t):
        ...     return Sample(i, "v.mp4", "q", 5.0, 9, 8, 8, (0, 1), {},
        ...                   {"dataset": "vidstg", "entry_index": int(i[2]), "sentence_type": t})
        >>> order = tubedetr_order([s("v/0/d0", "declarative"), s("v/0/q0", "interrogative"),
        ...                         s("v/1/d0", "declarative")])
        >>> [x.sample_id for x in order]
        ['v/0/q0', 'v/0/d0', 'v/1/d0']
    """
    if not any(s.meta.get("dataset") == "vidstg" for s in samples):
        return list(samples)

    def key(position: int) -> tuple[int, int, int]:
        sample = samples[position]
        entry, kind = sample.meta.get("entry_index"), sample.meta.get("sentence_type")
        if not isinstance(entry, int) or kind not in _TUBEDETR_QTYPES:
            raise DataError(
                "a VidSTG sample needs meta entry_index and sentence_type to be matched "
                f"with TubeDETR's numbering, got {short_repr(entry)} and {short_repr(kind)}",
                sample_id=sample.sample_id,
                hint="load the samples with stvg's vidstg loader",
            )
        return entry, 0 if kind == "interrogative" else 1, position

    return [samples[i] for i in sorted(range(len(samples)), key=key)]


def _require(path: str, obj: Any, key: str, where: str, fmt: str) -> Any:
    if not isinstance(obj, Mapping) or key not in obj or not isinstance(obj[key], Mapping):
        raise DataError(
            f"not a {fmt} dump: no object {key!r} in {where}",
            path=path,
            hint=f"give the file that {fmt} wrote, or pick the right --pred-format",
        )
    repeated = getattr(obj[key], "repeated", ())
    if repeated:
        raise DataError(
            f"id given twice in {key!r}", path=path, sample_id=repeated[0], hint="keep one entry"
        )
    return obj[key]


def _frame(path: str, sample_id: str, value: Any, field: str) -> int:
    """An integer frame from a dump (ints, or floats with an integer value)."""
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole:  # NaN and inf are not whole numbers
        raise DataError(
            f"{field} must be an integer frame, got {short_repr(value)}",
            path=path,
            sample_id=sample_id,
            field=field,
        )
    return int(value)


def _map_id(
    path: str, dump_id: str, sample_ids: Sequence[str] | None, name: str | None = None
) -> str:
    """The stvg sample id of a dump's numeric sample index (see the module docstring)."""
    if sample_ids is None or not _INDEX.fullmatch(dump_id):
        return name if name is not None else dump_id
    digits = dump_id.lstrip("0") or "0"  # no int() of a 5,000-digit index
    index = int(digits) if len(digits) <= len(str(len(sample_ids))) else len(sample_ids)
    if index >= len(sample_ids):
        raise DataError(
            f"dump sample index {short_repr(dump_id)} is past the {len(sample_ids)} samples of "
            "the annotations",
            path=path,
            sample_id=dump_id,
            hint="score the dump against the annotation file it was made from",
        )
    sample_id = sample_ids[index]
    if name is not None and name != sample_id and not sample_id.startswith(f"{name}/"):
        raise DataError(
            f"dump sample {index} is video {short_repr(name)} but sample {index} of the "
            f"annotations is {short_repr(sample_id)}",
            path=path,
            sample_id=dump_id,
            hint="score the dump against the annotation file (and order) it was made from",
        )
    return sample_id


def _check_qtype(
    path: str,
    dump_id: str,
    sample_id: str,
    video: Any,
    qtypes: Mapping[str, str],
    types: Mapping[str, Any] | None,
) -> None:
    """The dump's sentence type of a sample must be the sample's (when both are known)."""
    if types is None or not isinstance(video, Mapping) or "qtype" not in video:
        return
    dumped = video["qtype"]
    wanted = qtypes.get(dumped) if isinstance(dumped, str) else None
    if wanted is None or wanted != types.get(sample_id):
        raise DataError(
            f"dump sample {short_repr(dump_id)} is a {short_repr(dumped)} sentence but it maps "
            f"to {short_repr(sample_id)}, a {short_repr(types.get(sample_id))} one: the dump "
            "does not number the samples as assumed",
            path=path,
            sample_id=dump_id,
            field="qtype",
            hint="score the dump against the annotation file it was made from, read with "
            "the matching --pred-format",
        )


def _entry(path: str, sample_id: str, sted: Any, bbox: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(sted, (list, tuple)) or len(sted) != 2:
        raise DataError(
            f"sted must be [start, end_exclusive], got {short_repr(sted)}",
            path=path,
            sample_id=sample_id,
            field="sted",
        )
    first = _frame(path, sample_id, sted[0], "sted[0]")
    last = _frame(path, sample_id, sted[1], "sted[1]") - 1
    return {"st_frame": first, "ed_frame": last, "bbox": bbox}


def _single_box(path: str, sample_id: str, boxes: Any, field: str) -> Any:
    """``[[x1, y1, x2, y2]]`` (one box per frame in both dumps) -> ``[x1, y1, x2, y2]``."""
    if isinstance(boxes, list) and len(boxes) == 1 and isinstance(boxes[0], list):
        return boxes[0]
    raise DataError(
        f"expected one box [[x1, y1, x2, y2]] per frame, got {short_repr(boxes)}",
        path=path,
        sample_id=sample_id,
        field=field,
    )


def _sentence_types(samples: Sequence[Sample] | None) -> dict[str, Any] | None:
    if samples is None:
        return None
    return {s.sample_id: s.meta.get("sentence_type") for s in samples}


def _tubedetr(
    path: str, top: Any, sample_ids: Sequence[str] | None, samples: Sequence[Sample] | None
) -> dict[str, Any]:
    block = top
    if isinstance(top, Mapping) and "video_predictions" not in top:
        inner = [v for k, v in top.items() if k.startswith("test_") and isinstance(v, Mapping)]
        inner = [v for v in inner if "video_predictions" in v]
        if len(inner) == 1:
            block = inner[0]
    videos = _require(path, block, "video_predictions", "the file", "TubeDETR")
    frames = _require(path, block, "predictions", "the file", "TubeDETR")
    vidstg = any(isinstance(v, Mapping) and "qtype" in v for v in videos.values())
    if samples is not None:
        sample_ids = [s.sample_id for s in tubedetr_order(samples)]
    elif vidstg and sample_ids is not None:
        raise DataError(
            "a TubeDETR VidSTG dump (its video predictions carry qtype) numbers the sentences "
            "of each entry questions first; matching it needs the samples, not only their ids",
            path=path,
            hint="pass samples= to load_predictions (stvg evaluate does)",
        )
    by_video: dict[str, dict[str, Any]] = {vid: {} for vid in videos}
    for image_id, value in frames.items():
        match = _TUBEDETR_IMAGE_ID.fullmatch(image_id)
        if match is None or not isinstance(value, Mapping) or "boxes" not in value:
            raise DataError(
                f'expected "<video_id>_<frame_id>": {{"boxes": [[x1, y1, x2, y2]]}}, '
                f"got key {short_repr(image_id)}",
                path=path,
                field=f"predictions[{short_repr(image_id)}]",
            )
        vid, frame = match.groups()
        if vid in by_video:  # boxes of videos without a span are not scored
            frame = frame.lstrip("0") or "0"  # the frame's number, as a decimal key
            by_video[vid][frame] = _single_box(path, vid, value["boxes"], image_id)
    types = _sentence_types(samples)
    out: dict[str, Any] = {}
    for vid, video in videos.items():
        sample_id = _map_id(path, vid, sample_ids)
        _check_qtype(path, vid, sample_id, video, _TUBEDETR_QTYPES, types)
        sted = video.get("sted") if isinstance(video, Mapping) else None
        out[sample_id] = _entry(path, sample_id, sted, by_video[vid])
    return out


def _cgstvg(
    path: str, top: Any, sample_ids: Sequence[str] | None, samples: Sequence[Sample] | None
) -> dict[str, Any]:
    videos = _require(path, top, "video_predictions", "the file", "CG-STVG")
    boxes = _require(path, top, "predictions", "the file", "CG-STVG")
    names = top.get("vid2names") if isinstance(top.get("vid2names"), Mapping) else {}
    types = _sentence_types(samples)
    out: dict[str, Any] = {}
    for item_id, video in videos.items():
        name = names.get(item_id)
        sample_id = _map_id(path, item_id, sample_ids, name if isinstance(name, str) else None)
        _check_qtype(path, item_id, sample_id, video, _CGSTVG_QTYPES, types)
        per_frame = boxes.get(item_id, {})
        if not isinstance(per_frame, Mapping):
            raise DataError(
                "predictions of a sample must map frame -> [[x1, y1, x2, y2]]",
                path=path,
                sample_id=sample_id,
                field="predictions",
            )
        bbox = {
            k: _single_box(path, sample_id, v, f"predictions[{short_repr(k)}]")
            for k, v in per_frame.items()
        }
        sted = video.get("sted") if isinstance(video, Mapping) else None
        out[sample_id] = _entry(path, sample_id, sted, bbox)
    return out


def convert_dump(
    path: str,
    top: Any,
    pred_format: str,
    sample_ids: Sequence[str] | None,
    samples: Sequence[Sample] | None = None,
) -> dict[str, dict[str, Any]]:
    """Convert a parsed dump to ``{sample_id: {"st_frame", "ed_frame", "bbox"}}``.

    Args:
        path: the file (for messages).
        top: the parsed JSON.
        pred_format: ``tubedetr`` or ``cgstvg``.
        sample_ids: the dataset's ids in annotation-file order (maps the dumps' indices).
        samples: the dataset (its ids in annotation-file order, and the sentence types and
            VidSTG entries that TubeDETR's numbering and the dumps' ``qtype`` need); when
            given, ``sample_ids`` is not used.

    Raises:
        DataError: the structure is not the format's, a sample id maps twice, an index
            does not fit the annotations, a dump's sentence type differs from its
            sample's, or a TubeDETR VidSTG dump comes without the samples.
    """
    convert = {"tubedetr": _tubedetr, "cgstvg": _cgstvg}[pred_format]
    if samples is not None:
        sample_ids = [s.sample_id for s in samples]
    entries = convert(path, top, sample_ids, samples)
    return entries


__all__ = ["convert_dump", "tubedetr_order"]
