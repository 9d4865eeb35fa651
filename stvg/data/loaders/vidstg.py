"""VidSTG loader (``vidstg``), with boxes from the VidOR per-video annotation files.

Annotation file: a JSON list of entries with ``vid``, ``fps``, ``frame_count``, ``width``,
``height``, ``temporal_gt {begin_fid, end_fid}``, ``used_segment``, ``captions``
(declarative) and ``questions`` (interrogative), each sentence ``{description, type,
target_id}``. One :class:`Sample` per sentence, with id ``<vid>/<n>/d<i>`` (i-th caption) or
``<vid>/<n>/q<i>`` (i-th question) of the n-th entry, both 0-based.

``temporal_gt.end_fid`` is **exclusive**: the inclusive span is ``(begin_fid, end_fid - 1)``.
``meta``: ``dataset``, ``split``, ``vid``, ``entry_index`` (n), ``sentence_type``
(``"declarative"``/``"interrogative"``), ``target_type`` (the sentence's ``type``,
``"person"``/``"object"``), ``target_id``, ``used_segment`` (as in the file),
``boxes_available``, ``repairs`` and ``end_fid_box``: the target's box on frame
``end_fid`` (the first frame after the span; ``None`` when the target is not there, the
video ends before it, or without ``vidor_root``), which CG-STVG's loader reads as the last
GT box (metric protocol ``cgstvg``).

Boxes: VidOR stores one file per video (``<vid>.json``, in nested folders) whose
``trajectories`` list has, per frame, ``{tid, bbox {xmin, ymin, xmax, ymax}, generated,
tracker}`` objects. With ``vidor_root`` the folder is walked once and indexed by file stem;
each sample gets the boxes of ``tid == target_id`` on the frames of its span (frames where
the target is absent have no box). A video whose file is missing is a :class:`DataError`.
Without ``vidor_root`` samples load with empty ``gt_boxes`` and
``meta["boxes_available"] = False``, and one warning says so.

Repairs as in :mod:`stvg.data.loaders.common` (spans past the video are clipped, boxes
outside the frame are kept as annotated; both counted per sample). A box with ``xmax < xmin`` or ``ymax < ymin`` is a
:class:`DataError`.

Files: ``annotations=<file>``, or under ``root`` the first of ``<split>.json`` and
``<split>_annotations.json`` (VidSTG ships ``test_annotations.json``); default split
``test``. Videos: ``<video_dir>/<VidOR video_path>`` when the VidOR file has that field,
else ``<video_dir>/<vid>.mp4``.
"""

from __future__ import annotations

import logging
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stvg.data.datasets import GroundingDataset, register_dataset
from stvg.data.errors import DataError
from stvg.data.loaders.common import (
    BOX_OUTSIDE_FRAME,
    SPAN_CLIPPED,
    FieldReader,
    RepairLog,
    box_outside_frame,
    clip_span,
    default_video_dir,
    read_json,
    resolve_annotation_file,
)
from stvg.data.types import Sample
from stvg.limits import MAX_VIDEO_FRAMES, box_problem, short_repr

logger = logging.getLogger(__name__)

PATTERNS: tuple[str, ...] = ("{split}.json", "{split}_annotations.json")
SENTENCE_KINDS: tuple[tuple[str, str, str], ...] = (
    ("captions", "d", "declarative"),
    ("questions", "q", "interrogative"),
)


class VidorIndex:
    """VidOR per-video annotation files under ``root``, found by video id (file stem).

    The folder is walked once; every ``*.json`` file is indexed by its stem.

    Raises:
        DataError: ``root`` is not a folder.
    """

    def __init__(self, root: Path) -> None:
        try:
            found = root.is_dir()
        except (OSError, ValueError):  # a name too long, a NUL character: no folder
            found = False
        if not found:
            raise DataError(
                "VidOR annotation folder not found",
                path=str(root),
                hint="pass vidor_root=<VidOR annotation/ folder> or leave it out to load "
                "VidSTG without boxes",
            )
        self.root = root
        self._files: dict[str, list[Path]] = defaultdict(list)
        for folder, _dirs, files in os.walk(root):
            for name in files:
                if name.endswith(".json"):
                    self._files[name[: -len(".json")]].append(Path(folder) / name)

    def __len__(self) -> int:
        return len(self._files)

    def find(self, vid: str, *, sample_id: str | None = None) -> Path:
        """The file of video ``vid``.

        Raises:
            DataError: no file, or several files, named ``<vid>.json`` under the root.
        """
        paths = self._files.get(vid, [])
        if not paths:
            raise DataError(
                f"no VidOR annotation file {vid}.json for video {vid!r} anywhere under {self.root}",
                path=str(self.root),
                sample_id=sample_id,
                hint="point vidor_root at VidOR's annotation/ folder (training and "
                "validation), or leave it out to load without boxes",
            )
        if len(paths) > 1:
            listed = ", ".join(str(p) for p in sorted(paths))
            raise DataError(
                f"several VidOR annotation files for video {vid!r}: {listed}",
                path=str(self.root),
                sample_id=sample_id,
                hint="keep one file per video id under vidor_root",
            )
        return paths[0]


@dataclass
class _Sentence:
    """A parsed sentence waiting for its boxes."""

    sample_id: str
    vid: str
    query: str
    native_fps: float
    num_frames: int
    width: int
    height: int
    span: tuple[int, int]
    target_id: int
    meta: dict[str, Any]
    repairs: Counter[str] = field(default_factory=Counter)


@register_dataset("vidstg")
def load_vidstg(
    *,
    split: str | None,
    root: Path | None,
    annotations: Path | None,
    video_dir: Path | None,
    vidor_root: Path | None,
) -> GroundingDataset:
    """Load a VidSTG split (see the module docstring for files, ids, meta and boxes)."""
    annotation_file, split = resolve_annotation_file(
        "vidstg",
        split=split,
        root=root,
        annotations=annotations,
        patterns=PATTERNS,
        default_split="test",
    )
    videos = default_video_dir(root, annotation_file, video_dir)
    entries = read_json(annotation_file)
    if not isinstance(entries, list):
        raise DataError(
            f"expected a JSON list of VidSTG entries, got {type(entries).__name__}",
            path=str(annotation_file),
            hint="pass a VidSTG annotation file such as test_annotations.json",
        )
    sentences: list[_Sentence] = []
    for n, entry in enumerate(entries):
        sentences.extend(_parse_entry(n, entry, annotation_file, split))

    video_paths: dict[str, str] = {}
    boxes: dict[str, dict[int, list[float]]] = {}
    end_boxes: dict[str, list[float] | None] = {}
    if vidor_root is None:
        logger.warning(
            "VidSTG %s loaded WITHOUT boxes: vidor_root was not given, so gt_boxes is empty "
            "for all %d samples (meta['boxes_available'] = False); pass vidor_root=<VidOR "
            "annotation folder> to load them",
            annotation_file,
            len(sentences),
        )
    else:
        index = VidorIndex(vidor_root)
        by_vid: dict[str, list[_Sentence]] = defaultdict(list)
        for sentence in sentences:
            by_vid[sentence.vid].append(sentence)
        for vid, group in by_vid.items():
            vidor_file = index.find(vid, sample_id=group[0].sample_id)
            vidor = FieldReader(read_json(vidor_file), path=vidor_file, sample_id=vid)
            if vidor.has("video_path"):
                video_paths[vid] = str(videos / vidor.text("video_path"))
            trajectories = vidor.array("trajectories")
            for sentence in group:
                boxes[sentence.sample_id] = _target_boxes(sentence, trajectories, vidor_file)
                end_fid = sentence.span[1] + 1
                if end_fid < len(trajectories):
                    after = _target_boxes(
                        sentence, trajectories, vidor_file, frames=(end_fid, end_fid)
                    )
                    end_boxes[sentence.sample_id] = after.get(end_fid)

    repairs = RepairLog()
    samples = []
    for sentence in sentences:
        meta = dict(sentence.meta)
        meta["boxes_available"] = vidor_root is not None
        meta["end_fid_box"] = end_boxes.get(sentence.sample_id)
        meta["repairs"] = repairs.record(sentence.repairs)
        samples.append(
            Sample(
                sample_id=sentence.sample_id,
                video_path=video_paths.get(sentence.vid, str(videos / f"{sentence.vid}.mp4")),
                query=sentence.query,
                native_fps=sentence.native_fps,
                num_frames=sentence.num_frames,
                width=sentence.width,
                height=sentence.height,
                gt_span=sentence.span,
                gt_boxes=boxes.get(sentence.sample_id, {}),
                meta=meta,
            )
        )
    return GroundingDataset("vidstg", split, annotation_file, samples, repairs.as_dict())


def _parse_entry(n: int, entry: Any, path: Path, split: str) -> list[_Sentence]:
    """The sentences of entry ``n`` (boxes not attached yet)."""
    fields = FieldReader(entry, path=path, sample_id=f"entry {n}")
    vid_value = fields.raw("vid")
    if isinstance(vid_value, bool) or not isinstance(vid_value, (str, int)):
        raise fields.error(f"expected a video id string, got {short_repr(vid_value)}", "vid")
    vid = str(vid_value)
    fields.sample_id = f"{vid}/{n}"
    native_fps = fields.native_fps("fps")
    num_frames = fields.frame_count("frame_count")
    width = fields.frame_side("width")
    height = fields.frame_side("height")
    temporal = fields.child("temporal_gt")
    begin = temporal.integer("begin_fid")
    end_exclusive = temporal.integer("end_fid")
    if end_exclusive <= begin:
        raise temporal.error(
            f"empty ground-truth span: end_fid={end_exclusive} <= begin_fid={begin} "
            "(end_fid is exclusive)",
            "end_fid",
        )
    first, last, span_clipped = clip_span(
        begin, end_exclusive - 1, num_frames, fields, "temporal_gt"
    )
    used_segment = _used_segment(fields)

    sentences = []
    for list_key, letter, sentence_type in SENTENCE_KINDS:
        for i, raw in enumerate(fields.array(list_key)):
            sample_id = f"{vid}/{n}/{letter}{i}"
            sentence = FieldReader(raw, path=path, sample_id=sample_id, prefix=f"{list_key}[{i}]")
            target_id = sentence.integer("target_id", minimum=0)
            repairs: Counter[str] = Counter()
            if span_clipped:
                repairs[SPAN_CLIPPED] += 1
            sentences.append(
                _Sentence(
                    sample_id=sample_id,
                    vid=vid,
                    query=sentence.text("description"),
                    native_fps=native_fps,
                    num_frames=num_frames,
                    width=width,
                    height=height,
                    span=(first, last),
                    target_id=target_id,
                    meta={
                        "dataset": "vidstg",
                        "split": split,
                        "vid": vid,
                        "entry_index": n,
                        "sentence_type": sentence_type,
                        "target_type": sentence.text("type"),
                        "target_id": target_id,
                        "used_segment": used_segment,
                    },
                    repairs=repairs,
                )
            )
    return sentences


def _used_segment(fields: FieldReader) -> Any:
    """The entry's ``used_segment`` as in the file (``None`` when absent), checked:
    ``{begin_fid, end_fid}`` integers with ``0 <= begin_fid <= end_fid <= MAX_VIDEO_FRAMES``
    (the metrics build a frame grid over it, so its size is bounded like a video's)."""
    if not fields.has("used_segment") or fields.raw("used_segment") is None:
        return None
    segment = fields.child("used_segment")
    begin = segment.integer("begin_fid", minimum=0, maximum=MAX_VIDEO_FRAMES)
    end = segment.integer("end_fid", minimum=0, maximum=MAX_VIDEO_FRAMES)
    if end < begin:
        raise segment.error(f"end_fid={end} is before begin_fid={begin}", "end_fid")
    return segment.entry


def _target_boxes(
    sentence: _Sentence,
    trajectories: list[Any],
    vidor_file: Path,
    *,
    frames: tuple[int, int] | None = None,
) -> dict[int, list[float]]:
    """Boxes of ``sentence.target_id`` on the frames ``frames`` (default: its span), as
    annotated (boxes outside the frame on the span are counted in ``sentence.repairs``,
    not changed)."""
    boxes: dict[int, list[float]] = {}
    first, last = sentence.span if frames is None else frames
    count_repairs = frames is None
    for frame in range(first, min(last, len(trajectories) - 1) + 1):
        objects = trajectories[frame]
        key = f"trajectories[{frame}]"
        if not isinstance(objects, list):
            raise DataError(
                f"expected a list of objects, got {type(objects).__name__}",
                path=str(vidor_file),
                sample_id=sentence.sample_id,
                field=key,
            )
        for j, obj in enumerate(objects):
            tid = obj.get("tid") if isinstance(obj, dict) else None
            if isinstance(tid, int) and tid != sentence.target_id:
                continue  # fast path: another object
            item = FieldReader(
                obj, path=vidor_file, sample_id=sentence.sample_id, prefix=f"{key}[{j}]"
            )
            if item.integer("tid") != sentence.target_id:
                continue
            bbox = item.child("bbox")
            box = [bbox.number(k) for k in ("xmin", "ymin", "xmax", "ymax")]
            problem = box_problem(box)
            if problem is not None:
                raise bbox.error(f"box {short_repr(box)}: {problem}", "")
            if box[2] < box[0] or box[3] < box[1]:
                raise bbox.error(
                    f"box has xmax < xmin or ymax < ymin: {bbox.entry}",
                    "",
                    hint="fix the VidOR box or drop the video",
                )
            if count_repairs and box_outside_frame(box, sentence.width, sentence.height):
                sentence.repairs[BOX_OUTSIDE_FRAME] += 1
            boxes[frame] = box
    return boxes
