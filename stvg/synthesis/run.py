"""A synthesis run: samples -> teacher prompts -> teacher texts -> GT-replaced SFT targets.

Files under ``config.out``:

* ``records.jsonl``: one line per sample (appended as batches finish, so a rerun skips the
  ids already there, and retries those whose teacher failed unless ``retry_failed`` is
  off): ``sample_id``, ``prompt`` (the prompt-rendering inputs: ``query``,
  ``timestamps_s``, ``shown_size``, ``model_size``, ``fps``), ``target`` (``null`` for a
  failed or dropped trajectory), ``teacher_text``, ``teacher_error``, ``teacher_model``,
  ``replacements``, ``teacher_t_iou``, ``teacher_v_iou``, ``teacher_box_iou``, ``kept``,
  ``drop_reason``, ``detail``.
* ``targets.jsonl``: ``{sample_id, target}`` of the kept trajectories only, the file VLM
  SFT reads (``data.targets``), rewritten from ``records.jsonl`` at the end of each run.
* ``manifest.json``: teacher settings, sampling settings, the contract
  (``ContractSpec.to_dict``), the template's sha256, counts (written, kept, dropped and
  failed by reason) and the teacher's m_tIoU / m_vIoU *before* replacement, both over the
  samples with a parsable teacher answer (``over_parsed``) and over all written samples,
  a failure counting 0 (``over_all``).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stvg.cli_errors import CommandError
from stvg.config import to_dict
from stvg.redact import redact
from stvg.synthesis.config import SynthesisConfig, TeacherConfig
from stvg.synthesis.replace import replace_with_gt
from stvg.synthesis.targets import write_targets
from stvg.synthesis.teachers.base import Teacher, TeacherRequest
from stvg.verifiers.formats import ContractSpec, check_agreement

RECORDS_FILE = "records.jsonl"
TARGETS_FILE = "targets.jsonl"
MANIFEST_FILE = "manifest.json"
#: The env keys the manifest records as the sampling of the targets.
SAMPLING_KEYS = ("dataset", "split", "root", "fps", "max_frames", "max_side")


def build_teacher(config: TeacherConfig, spec: ContractSpec, template: str) -> Teacher:
    """The teacher of ``config.name``.

    The ``openai`` teacher is ``OpenAITeacher`` of
    :mod:`stvg.synthesis.teachers.openai_teacher` with ``config.openai``; the ``local`` one is a ``vlm`` policy asked in ``spec`` with ``template``.
    """
    if config.name == "scene":
        from stvg.synthesis.teachers.scene import SceneTeacher

        return SceneTeacher(config.scene)
    if config.name == "openai":
        from stvg.synthesis.teachers.openai_teacher import OpenAITeacher

        return OpenAITeacher(config.openai)
    from stvg.synthesis.teachers.local import LocalTeacher

    policy_config = {
        **to_dict(config.local),
        "answer_format": spec.answer_format,
        "coords": spec.coords,
        "fps": spec.fps,
        "template": template,
    }
    return LocalTeacher(policy_config)


def contract_spec(config: SynthesisConfig) -> ContractSpec:
    """The run's :class:`ContractSpec` (contract section + the env's ``fps``)."""
    c = config.contract
    return ContractSpec(c.answer_format, c.coords, config.env.fps, c.model_geometry)


def template_sha256(template: str) -> str:
    """sha256 of the template file (a shipped name or a path)."""
    from stvg.policies.vlm.prompt import template_path

    return hashlib.sha256(template_path(template).read_bytes()).hexdigest()


def _write_records(path: Path, records: list[dict[str, Any]]) -> None:
    """Replace ``records.jsonl`` with ``records`` (written beside it, then renamed)."""
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    tmp.replace(path)


def is_failure(record: dict[str, Any]) -> bool:
    """Whether a record's teacher gave no usable answer (the manifest's ``failed``)."""
    return not record.get("parsed")


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of ``records.jsonl`` (a torn last line from an interrupted run is
    dropped and the file rewritten without it)."""
    if not path.is_file():
        return []
    records, torn = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            torn = True
    if torn:
        _write_records(path, records)
    return records


@dataclass
class SynthesisResult:
    """What a run wrote.

    Attributes:
        out_dir: the output folder.
        manifest: the manifest (as written to ``manifest.json``).
        new_records: records written by this run (the rest were already there).
        retried: of those, samples whose earlier attempt had failed.
        first_failure: the first record (in ``records.jsonl``) without a usable teacher
            answer, as ``{sample_id, reason, detail}``; ``None`` when none failed.
    """

    out_dir: Path
    manifest: dict[str, Any]
    new_records: int
    retried: int = 0
    first_failure: dict[str, Any] | None = None

    def summary(self) -> list[str]:
        """The lines ``stvg synth-cot`` prints: the counts, the first failure's reason,
        the teacher's metrics before replacement."""
        counts, metrics = self.manifest["counts"], self.manifest["teacher_metrics"]
        retried = f", {self.retried} of them retried" if self.retried else ""
        lines = [
            f"wrote {self.new_records} new records{retried} ({counts['written']} in all): "
            f"kept {counts['kept']}, dropped {_reasons(counts['dropped'])}, failed "
            f"{_reasons(counts['failed'])}"
        ]
        if self.first_failure is not None:
            first = self.first_failure
            lines.append(
                f"first failure: sample {first['sample_id']}: {first['reason']}"
                + (f" ({first['detail']})" if first["detail"] else "")
            )
        parsed = metrics["over_parsed"]
        if parsed["n"]:
            lines.append(
                f"teacher before replacement (over {parsed['n']} parsed): m_tIoU "
                f"{parsed['m_tIoU']:.4f} m_vIoU {parsed['m_vIoU']:.4f}"
            )
        return lines

    def check_kept(self) -> None:
        """Refuse a run that kept no target (SFT would have nothing to learn from).

        Raises:
            CommandError: no record was kept; the message gives the counts, the first
                failure's reason and how to go on.
        """
        counts = self.manifest["counts"]
        if counts["kept"]:
            return
        if not counts["written"]:
            raise CommandError(
                f"synthesis wrote no record in {self.out_dir}: the split has no sample "
                "(check env.root and env.split)"
            )
        why = f"failed {_reasons(counts['failed'])}, dropped {_reasons(counts['dropped'])}"
        first = ""
        if self.first_failure is not None:
            f = self.first_failure
            first = f"; first failure: sample {f['sample_id']}: {f['reason']}"
            first += f" ({f['detail']})" if f["detail"] else ""
        raise CommandError(
            f"synthesis kept no target of {counts['written']} in {self.out_dir} ({why}){first}. "
            "Fix the teacher (is its server running? see records.jsonl) or loosen keep, then "
            "run again: failed samples are retried"
        )


def _reasons(counter: dict[str, int]) -> str:
    """``{'teacher_error': 2}`` as ``2 (teacher_error 2)``; ``0`` when empty."""
    total = sum(counter.values())
    if not total:
        return "0"
    return f"{total} (" + ", ".join(f"{k} {v}" for k, v in counter.items()) + ")"


class _Prompter:
    """Builds the teacher's prompt from the contract and the template (the policy's)."""

    def __init__(self, template: str, spec: ContractSpec) -> None:
        from stvg.policies.vlm.prompt import load_template

        self.template = load_template(template)
        self.spec = spec

    def request(self, obs: dict[str, Any], env: Any) -> TeacherRequest:
        from stvg.policies.vlm.prompt import contract_prompt

        contract, sample = env.contract, env.sample
        ctx = contract.frame
        system, user = contract_prompt(
            self.template,
            self.spec,
            query=sample.query,
            timestamps_s=ctx.timestamps_s,
            shown_size=ctx.shown_size,
            native_fps=ctx.native_fps,
        )
        n = int(np.asarray(obs["frame_mask"]).sum())
        w, h = ctx.shown_size
        return TeacherRequest(
            sample_id=sample.sample_id,
            query=sample.query,
            prompt=user,
            system=system,
            frames=np.asarray(obs["frames"][:n, :h, :w]),
            timestamps_s=ctx.timestamps_s.copy(),
            extras={
                "sample": sample,
                "scene": sample.meta.get("scene"),
                "contract": contract,
                "observation": obs,
            },
        )


def _batches(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def synthesize(config: SynthesisConfig, *, teacher: Teacher | None = None) -> SynthesisResult:
    """Run synthesis per ``config`` (see the module doc); resumes from ``records.jsonl``.

    Args:
        config: the run config.
        teacher: a teacher to use instead of building ``config.teacher`` (tests, custom
            teachers); its ``settings()`` go into the manifest.
    """
    from stvg.envs.grounding import GroundingEnv
    from stvg.progress import progress

    spec = contract_spec(config)
    if teacher is None:
        teacher = build_teacher(config.teacher, spec, config.template)
    teacher_spec = getattr(teacher, "answer_spec", None)
    if isinstance(teacher_spec, ContractSpec):
        if spec.geometry is None:
            spec = ContractSpec(spec.answer_format, spec.coords, spec.fps, teacher_spec.geometry)
        check_agreement(spec, teacher_spec, env_name="synthesis contract", policy_name="teacher")
    env = GroundingEnv(
        {
            **config.env.env_kwargs(),
            "action_format": "text",
            "answer_format": spec.answer_format,
            "coords": spec.coords,
            "model_geometry": None if spec.geometry is None else spec.geometry.to_dict(),
        }
    )
    prompter = _Prompter(config.template, spec)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    records_path = out / RECORDS_FILE
    earlier = read_records(records_path)
    failed_before = set()
    if config.retry_failed:
        failed_before = {r.get("sample_id") for r in earlier if is_failure(r)}
        if failed_before:  # their records are replaced by the new attempt's
            earlier = [r for r in earlier if not is_failure(r)]
            _write_records(records_path, earlier)
    done = {r.get("sample_id") for r in earlier}
    count = len(env.samples) if config.limit is None else min(config.limit, len(env.samples))
    todo = [i for i in range(count) if env.samples[i].sample_id not in done]
    written = retried = 0
    with (
        records_path.open("a", encoding="utf-8") as handle,
        progress(
            len(todo), f"synth-cot {teacher.name}", enabled=config.progress, unit="samples"
        ) as bar,
    ):
        for batch in _batches(todo, config.teacher.batch_size):
            requests, episodes = [], []
            for index in batch:
                obs, _ = env.reset(options={"index": index})
                requests.append(prompter.request(obs, env))
                episodes.append((env.contract, env.sample))
            replies = teacher.generate(requests)
            if len(replies) != len(requests):
                raise RuntimeError(
                    f"teacher {teacher.name!r} returned {len(replies)} replies for "
                    f"{len(requests)} requests"
                )
            for request, reply, (contract, sample) in zip(requests, replies, episodes, strict=True):
                outcome = replace_with_gt(
                    reply.text,
                    contract,
                    sample,
                    env.verifier,
                    keep=config.keep,
                    min_box_iou=config.min_box_iou,
                    teacher_error=reply.error,
                )
                record = _record(request, contract, spec, reply, outcome)
                handle.write(json.dumps(record) + "\n")
                written += 1
                retried += sample.sample_id in failed_before
            handle.flush()
            bar.update(len(batch))
    records = read_records(records_path)
    write_targets(
        out / TARGETS_FILE, [(r["sample_id"], r["target"]) for r in records if r.get("kept")]
    )
    manifest = _manifest(config, spec, teacher, records)
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    first = next((r for r in records if is_failure(r)), None)
    if first is not None:
        first = {
            "sample_id": first.get("sample_id"),
            "reason": first.get("drop_reason"),
            "detail": first.get("detail"),
        }
    return SynthesisResult(out, manifest, written, retried, first)


def _record(
    request: TeacherRequest, contract: Any, spec: ContractSpec, reply: Any, outcome: Any
) -> dict[str, Any]:
    ctx = contract.frame
    return {
        "sample_id": request.sample_id,
        "prompt": {
            "query": request.query,
            "timestamps_s": [round(float(t), 6) for t in ctx.timestamps_s],
            "shown_size": list(ctx.shown_size),
            "model_size": None if ctx.model_size is None else list(ctx.model_size),
            "fps": spec.fps,
        },
        "target": outcome.target,
        "teacher_text": reply.text,
        # a custom teacher's error text may quote a server's reply: no credentials stored
        "teacher_error": None if reply.error is None else redact(reply.error),
        "teacher_model": reply.model,
        "replacements": outcome.replacements,
        "teacher_t_iou": outcome.teacher_t_iou,
        "teacher_v_iou": outcome.teacher_v_iou,
        "teacher_box_iou": outcome.teacher_box_iou,
        "parsed": outcome.parsed,
        "kept": outcome.kept,
        "drop_reason": outcome.drop_reason,
        "detail": None if outcome.detail is None else redact(outcome.detail),
    }


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def teacher_metrics(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The teacher's m_tIoU / m_vIoU before replacement: ``over_parsed`` (samples with a
    parsable teacher answer) and ``over_all`` (every record; a failure counts 0)."""
    parsed = [r for r in records if r.get("parsed")]
    t_all = [(r["teacher_t_iou"] or 0.0) if r.get("parsed") else 0.0 for r in records]
    v_all = [(r["teacher_v_iou"] or 0.0) if r.get("parsed") else 0.0 for r in records]
    return {
        "over_parsed": {
            "n": len(parsed),
            "m_tIoU": _mean([r["teacher_t_iou"] for r in parsed]),
            "m_vIoU": _mean([r["teacher_v_iou"] for r in parsed]),
        },
        "over_all": {"n": len(records), "m_tIoU": _mean(t_all), "m_vIoU": _mean(v_all)},
    }


def _manifest(
    config: SynthesisConfig, spec: ContractSpec, teacher: Teacher, records: list[dict[str, Any]]
) -> dict[str, Any]:
    failed = Counter(r["drop_reason"] for r in records if is_failure(r))
    dropped = Counter(r["drop_reason"] for r in records if r.get("parsed") and not r["kept"])
    return {
        "teacher": teacher.settings(),
        "sampling": {k: getattr(config.env, k) for k in SAMPLING_KEYS} | {"limit": config.limit},
        "contract": spec.to_dict(),
        "template": {"name": config.template, "sha256": template_sha256(config.template)},
        "keep": config.keep,
        "min_box_iou": config.min_box_iou,
        "counts": {
            "written": len(records),
            "kept": sum(1 for r in records if r.get("kept")),
            "dropped": dict(sorted(dropped.items())),
            "failed": dict(sorted(failed.items())),
            "replacements": sum(len(r.get("replacements") or []) for r in records),
        },
        "teacher_metrics": teacher_metrics(records),
        "files": {"records": RECORDS_FILE, "targets": TARGETS_FILE},
    }


__all__ = [
    "MANIFEST_FILE",
    "RECORDS_FILE",
    "TARGETS_FILE",
    "SynthesisResult",
    "build_teacher",
    "contract_spec",
    "is_failure",
    "read_records",
    "synthesize",
    "teacher_metrics",
    "template_sha256",
]
