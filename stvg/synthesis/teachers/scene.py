"""The ``scene`` teacher: template reasoning read off the synthetic benchmark's scene files.

For each sample it writes, in the contract's timestamps and coordinates:

1. which objects share the attributes the query names (and, for a relational query, which
   of them stands in the relation to the anchor);
2. which object is meant;
3. which event fixes the span ("it moves right from 3 s to 7 s");
4. where the object is at the first and last shown frame of that span ("At 3 s it is at
   [x1, y1, x2, y2].");

then the answer in the contract's format. With ``span_noise_s`` / ``box_noise`` it is a
*noisy* teacher (seeded Gaussian noise on the span ends and on each box coordinate, as a
fraction of the box size); ``track: distractor`` writes the boxes of another object. With
no noise the answer is the ground truth, still written through the teacher path.

It reads ``extras["sample"]`` (:class:`~stvg.data.Sample`), ``extras["scene"]`` (a
:class:`~stvg.data.synthetic.scene.Scene` or its dict) and ``extras["contract"]`` (the
episode's :class:`~stvg.verifiers.formats.AnswerContract`); a request without a scene gets
a reply without text ("no scene"), never an exception.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from stvg.data.synthetic.scene import Scene, SceneObject, scene_from_dict
from stvg.data.types import SecondLevelAnswer
from stvg.synthesis.config import SceneTeacherConfig
from stvg.synthesis.teachers.base import Teacher, TeacherReply, TeacherRequest
from stvg.verifiers.formats.base import format_seconds
from stvg.verifiers.formats.coords import from_original, render_coord


def box_text(box_xyxy: np.ndarray, coords: str, ctx: Any) -> str:
    """``[x1, y1, x2, y2]`` of one original-pixel box in the contract's coordinates."""
    values = from_original(np.asarray(box_xyxy, dtype=np.float64), coords, ctx)[0]
    return "[" + ", ".join(str(render_coord(v, coords)) for v in values) + "]"


def _attributes(obj: SceneObject, names: Sequence[str]) -> tuple[str, ...]:
    return tuple(getattr(obj, name) for name in names)


class SceneTeacher(Teacher):
    """Deterministic reasoning from the scene; see the module doc.

    Args:
        config: noise, seed and which object's boxes to write.
    """

    name = "scene"

    def __init__(self, config: SceneTeacherConfig | None = None) -> None:
        self.config = SceneTeacherConfig() if config is None else config

    def settings(self) -> dict[str, Any]:
        """The teacher name and its noise settings."""
        c = self.config
        return {
            "teacher": self.name,
            "span_noise_s": c.span_noise_s,
            "box_noise": c.box_noise,
            "seed": c.seed,
            "track": c.track,
        }

    def generate(self, requests: Sequence[TeacherRequest]) -> list[TeacherReply]:
        """One reply per request (a reply without text when the scene is missing)."""
        return [self._one(request) for request in requests]

    def _one(self, request: TeacherRequest) -> TeacherReply:
        extras = request.extras
        scene = extras.get("scene")
        contract = extras.get("contract")
        if scene is None or contract is None:
            return TeacherReply(None, "no scene (the scene teacher needs a synthetic split)")
        if isinstance(scene, dict):
            scene = scene_from_dict(scene)
        return TeacherReply(self.write(scene, contract, request.sample_id), model="scene")

    def answer(self, scene: Scene, contract: Any, sample_id: str) -> SecondLevelAnswer:
        """The teacher's (possibly noisy) answer: span in seconds, original-pixel boxes."""
        ctx = contract.frame
        rng = np.random.default_rng([self.config.seed, zlib.crc32(sample_id.encode())])
        start = scene.event.first_frame / scene.fps
        end = scene.event.last_frame / scene.fps
        if self.config.span_noise_s > 0:
            start, end = np.asarray([start, end]) + rng.normal(0, self.config.span_noise_s, 2)
            start, end = sorted((float(start), float(end)))
            start = float(np.clip(start, 0.0, ctx.duration_s))
            end = float(np.clip(end, start, ctx.duration_s))
        times = ctx.timestamps_s
        inside = np.flatnonzero((times >= start - 1e-9) & (times <= end + 1e-9))
        if inside.size == 0:
            inside = np.array([int(np.argmin(np.abs(times - (start + end) / 2)))])
        obj = self._tracked(scene)
        boxes = obj.boxes_xyxy(ctx.frame_idx[inside])
        if self.config.box_noise > 0:
            size = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1)
            scale = np.concatenate([size, size], axis=1) * self.config.box_noise
            boxes = boxes + rng.normal(0, 1, boxes.shape) * scale
            boxes = np.sort(boxes.reshape(-1, 2, 2), axis=1).reshape(-1, 4)
        width, height = ctx.original_size
        boxes = np.clip(boxes, 0, [width, height, width, height])
        return SecondLevelAnswer((start, end), times[inside], boxes)

    def _tracked(self, scene: Scene) -> SceneObject:
        if self.config.track == "distractor" and scene.distractor_ids:
            return scene.object(scene.distractor_ids[0])
        return scene.target

    def reasoning(self, scene: Scene, contract: Any, answer: SecondLevelAnswer) -> str:
        """The template reasoning of ``answer`` (times in seconds, boxes in the contract's
        coordinates)."""
        query, target = scene.query, scene.target
        names = [a for a in ("size", "colour", "shape") if a in query.attributes] or ["shape"]
        wanted = _attributes(target, names)
        sharing = [o for o in scene.objects if _attributes(o, names) == wanted]
        lines = [
            f"The query asks for {query.attribute_phrase} {query.event_phrase}.",
            f"I see {len(scene.objects)} objects: "
            + ", ".join(o.description for o in scene.objects)
            + ".",
        ]
        words = " ".join(wanted)
        if len(sharing) == 1:
            lines.append(f"Only one object is {words}: the {target.description}.")
        else:
            lines.append(f"{len(sharing)} objects are {words}.")
            if query.relation is not None:
                lines.append(
                    f"The one {query.relation.phrase} is the {target.description}, so it is "
                    "the one meant."
                )
        obj = self._tracked(scene)
        lines.append(f"The object meant is the {obj.description}.")
        start, end = (format_seconds(t) for t in answer.span_s)
        lines.append(f"The span ({scene.event.phrase}) is from {start} to {end} s.")
        coords, ctx = contract.spec.coords, contract.frame
        shown = sorted({0, len(answer.times_s) - 1})
        for i in shown:
            t = format_seconds(answer.times_s[i])
            lines.append(f"At {t} s it is at {box_text(answer.boxes_xyxy[i], coords, ctx)}.")
        return "\n".join(lines)

    def write(self, scene: Scene, contract: Any, sample_id: str) -> str:
        """The whole teacher text: reasoning and the answer in the contract's format."""
        answer = self.answer(scene, contract, sample_id)
        return contract.render(answer, self.reasoning(scene, contract, answer))


__all__ = ["SceneTeacher", "box_text"]
