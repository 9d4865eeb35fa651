"""CoT synthesis: scene teacher, ground-truth replacement, keep/drop, resume, CLI."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from stvg.cli import main
from stvg.data.synthetic import generate_split
from stvg.data.types import Sample
from stvg.envs.grounding import GroundingEnv
from stvg.synthesis import load_synthesis_config, replace_with_gt, synthesize
from stvg.synthesis.targets import read_targets
from stvg.synthesis.teachers import Teacher, TeacherReply, TeacherRequest
from stvg.verifiers import Verifier
from stvg.verifiers.formats import ContractSpec, FrameContext
from stvg.verifiers.formats.coords import from_original, render_coord

N = 6
GEOMETRY = {"family": "qwen2.5-vl"}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    generate_split(out, "train", N, 0, duration_s=6.0, fps=5.0, size=64)
    return out


def config(root: Path, out: Path, **overrides: object) -> object:
    data = {
        "env": {"root": str(root), "split": "train"},
        "contract": {"answer_format": "json-v1", "coords": "pixels", "model_geometry": GEOMETRY},
        "out": str(out),
        "progress": False,
    }
    for key, value in overrides.items():
        node = data
        *parents, last = key.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return load_synthesis_config(data)


def gt_numbers(root: Path, contract: dict) -> dict[str, tuple[list[float], dict[str, list]]]:
    """Span and rendered GT boxes of each sample, from the env's contract."""
    geometry = contract.get("model_geometry")
    env = GroundingEnv(
        root=str(root),
        split="train",
        answer_format=contract["answer_format"],
        coords=contract["coords"],
        model_geometry=geometry,
    )
    out = {}
    for i in range(len(env.samples)):
        env.reset(options={"index": i})
        ctx, sample = env.contract.frame, env.sample
        gt = env.contract.gt_answer(sample)
        boxes = from_original(gt.boxes_xyxy, contract["coords"], ctx)
        out[sample.sample_id] = (
            [round(v, 3) for v in gt.span_s],
            {
                round(float(t), 3): [render_coord(v, contract["coords"]) for v in box]
                for t, box in zip(gt.times_s, boxes, strict=True)
            },
        )
    return out


def parse_json_v1(target: str) -> tuple[list[float], dict[float, list]]:
    payload = json.loads(re.search(r"<answer>(.*)</answer>", target, re.S).group(1))
    return payload["span"], {round(float(k), 3): v for k, v in payload["boxes"].items()}


def parse_tagged(target: str) -> tuple[list[float], dict[float, list]]:
    span = re.search(r"<time>(.*)</time>", target, re.S).group(1)
    start, end = (float(v) for v in span.split(" - "))
    entries = re.search(r"<boxes>(.*)</boxes>", target, re.S).group(1)
    boxes = {
        round(float(t), 3): [int(v) for v in values.split(", ")]
        for t, values in re.findall(r"([\d.]+): \[([^\]]*)\]", entries)
    }
    return [start, end], boxes


def parse_draft_final(target: str) -> tuple[list[float], dict[float, list]]:
    """The span and the final list of a draft-final target, whose draft list (the ground
    truth too) must be the same entries."""
    span = re.search(r"<time>\[(.*)\]</time>", target, re.S).group(1)
    start, end = (float(v) for v in span.split(", "))
    final = re.search(r"<pred bbox>(.*)</pred bbox>", target, re.S).group(1)
    draft = re.search(r"<think bbox>(.*)</think bbox>", target, re.S).group(1)
    assert draft == final
    _, boxes = parse_tagged(f"<time>{start} - {end}</time><boxes>{final}</boxes>")
    return [start, end], boxes


@pytest.mark.parametrize(
    ("contract", "parser"),
    [
        ({"answer_format": "json-v1", "coords": "pixels", "model_geometry": GEOMETRY}, "json"),
        ({"answer_format": "tagged", "coords": "norm1000", "model_geometry": None}, "tagged"),
        ({"answer_format": "draft-final", "coords": "pixels", "model_geometry": None}, "draft"),
    ],
)
def test_scene_teacher_targets_are_the_ground_truth(root, tmp_path, contract, parser):
    cfg = config(
        root,
        tmp_path,
        contract=contract,
        teacher__scene={"span_noise_s": 1.0, "box_noise": 0.3},
    )
    result = synthesize(cfg)
    targets = read_targets(tmp_path / "targets.jsonl")
    assert len(targets) == N and result.manifest["counts"]["kept"] == N
    expected = gt_numbers(root, contract)
    parse = {"json": parse_json_v1, "tagged": parse_tagged, "draft": parse_draft_final}[parser]
    for sample_id, target in targets.items():
        span, boxes = parse(target)
        gt_span, gt_boxes = expected[sample_id]
        assert [round(v, 3) for v in span] == gt_span
        assert boxes == gt_boxes
        # every box in the reasoning is a GT box of a shown frame
        think = re.search(r"<think>(.*)</think>", target, re.S).group(1)
        for box in re.findall(r"\[([^\]]*)\]", think):
            assert [int(v) for v in box.split(", ")] in gt_boxes.values()
    # the noisy teacher's own answers were not the GT (scored before replacement)
    assert result.manifest["teacher_metrics"]["over_parsed"]["m_vIoU"] < 0.95


def hand_case() -> tuple[Sample, object]:
    sample = Sample(
        "s", "", "the dog", 10.0, 50, 100, 100, (10, 29), {f: [0, 0, 50, 50] for f in range(10, 30)}
    )
    ctx = FrameContext.from_sample(sample, fps=1.0)  # frames 0, 10, ..., 40 at 0..4 s
    return sample, ContractSpec("json-v1", "pixels", 1.0).contract(ctx)


TEACHER_TEXT = (
    "<think>It happens from 2 to 4 seconds. At 2 s it is at [0, 0, 50, 25]. It ends at 4 s."
    "</think>\n"
    '<answer>{"span": [2, 4], "boxes": {"2": [0, 0, 50, 25], "3": [0, 0, 50, 25], '
    '"4": [0, 0, 50, 25]}}</answer>'
)


def test_replacement_of_a_hand_made_teacher_answer():
    sample, contract = hand_case()
    outcome = replace_with_gt(TEACHER_TEXT, contract, sample, Verifier())
    # pred frames 20..40 (21), GT 10..29 (20): 10 shared of 31; box IoU 0.5 on shared frames
    assert outcome.teacher_t_iou == pytest.approx(10 / 31)
    assert outcome.teacher_v_iou == pytest.approx(10 * 0.5 / 31)
    assert outcome.teacher_box_iou == pytest.approx(0.5)  # only the 2 s box is in the GT span
    assert outcome.replacements == [
        {"kind": "time", "teacher": "2 to 4 seconds", "replaced_by": "1 to 2.9 seconds"},
        {"kind": "time", "teacher": "2 s", "replaced_by": "2 s"},
        {"kind": "box", "teacher": "[0, 0, 50, 25]", "replaced_by": "[0, 0, 50, 50]"},
        {"kind": "time", "teacher": "4 s", "replaced_by": "2.9 s"},
    ]
    assert outcome.reasoning == (
        "It happens from 1 to 2.9 seconds. At 2 s it is at [0, 0, 50, 50]. It ends at 2.9 s."
    )
    assert outcome.kept and outcome.target is not None
    assert parse_json_v1(outcome.target) == ([1.0, 2.9], {1.0: [0, 0, 50, 50], 2.0: [0, 0, 50, 50]})
    strict = replace_with_gt(
        TEACHER_TEXT, contract, sample, Verifier(), keep="consistent", min_box_iou=0.6
    )
    assert (strict.kept, strict.target, strict.drop_reason) == (False, None, "boxes_off_target")
    missed = TEACHER_TEXT.replace('"span": [2, 4]', '"span": [3.5, 4]')
    outcome = replace_with_gt(missed, contract, sample, Verifier(), keep="consistent")
    assert outcome.drop_reason == "span_misses_gt" and outcome.teacher_t_iou == 0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (None, "teacher_error"),
        ("  ", "empty"),
        ("I'm sorry, I can't help with that.", "refusal"),
        ('<think>at 2 s</think><answer>{"span": [2, 4], "boxes": {"2": [0, 0', "truncated"),
        ("The dog is there from 2 to 4 s.", "no_answer_block"),
        ("<answer>{span: 2}</answer>", "unparsable"),
    ],
)
def test_bad_teacher_output_is_a_counted_failure(text, reason):
    sample, contract = hand_case()
    outcome = replace_with_gt(text, contract, sample, Verifier(), teacher_error="HTTP 500")
    assert (outcome.target, outcome.kept, outcome.parsed) == (None, False, False)
    assert outcome.drop_reason == reason


class CannedTeacher(Teacher):
    """Replies from a list, cycling; counts the requests it saw."""

    name = "canned"

    def __init__(self, replies: Sequence[TeacherReply]) -> None:
        self.replies, self.seen = list(replies), []

    def generate(self, requests: Sequence[TeacherRequest]) -> list[TeacherReply]:
        out = []
        for request in requests:
            self.seen.append(request.sample_id)
            out.append(self.replies[(len(self.seen) - 1) % len(self.replies)])
        return out


def test_bad_outputs_are_counted_in_the_manifest(root, tmp_path):
    replies = [
        TeacherReply(None, "HTTP 503 after 3 retries"),
        TeacherReply(""),
        TeacherReply("I cannot help with that."),
        TeacherReply('<answer>{"span": [1, 2], '),
        TeacherReply("no answer here"),
        TeacherReply("<answer>[1, 2]</answer>"),
    ]
    result = synthesize(config(root, tmp_path), teacher=CannedTeacher(replies))
    counts = result.manifest["counts"]
    assert counts["written"] == N and counts["kept"] == 0
    assert counts["failed"] == {
        "empty": 1,
        "no_answer_block": 1,
        "refusal": 1,
        "teacher_error": 1,
        "truncated": 1,
        "unparsable": 1,
    }
    assert read_targets(tmp_path / "targets.jsonl") == {}
    metrics = result.manifest["teacher_metrics"]
    assert metrics["over_parsed"] == {"n": 0, "m_tIoU": None, "m_vIoU": None}
    assert metrics["over_all"] == {"n": N, "m_tIoU": 0.0, "m_vIoU": 0.0}
    records = [json.loads(line) for line in (tmp_path / "records.jsonl").open()]
    assert records[0]["teacher_error"] == "HTTP 503 after 3 retries"
    assert all(r["target"] is None for r in records)


def test_keep_consistent_drops_a_teacher_tracking_another_object(root, tmp_path):
    cfg = config(root, tmp_path, keep="consistent", teacher__scene={"track": "distractor"})
    result = synthesize(cfg)
    records = [json.loads(line) for line in (tmp_path / "records.jsonl").open()]
    dropped = result.manifest["counts"]["dropped"]
    assert dropped.get("boxes_off_target", 0) >= N // 2
    for r in records:
        assert r["kept"] == (r["teacher_box_iou"] is not None and r["teacher_box_iou"] >= 0.3)
    good = synthesize(config(root, tmp_path / "good", keep="consistent"))
    assert good.manifest["counts"]["kept"] == N
    assert good.manifest["teacher_metrics"]["over_all"]["m_tIoU"] == pytest.approx(1.0)


def test_rerun_skips_ids_already_written(root, tmp_path):
    scene = synthesize(config(root, tmp_path / "ref"))
    teacher = CannedTeacher([TeacherReply("x")])  # every answer fails: not retried here
    first = synthesize(config(root, tmp_path, limit=2, retry_failed=False), teacher=teacher)
    assert first.new_records == 2 and len(teacher.seen) == 2
    # a torn last line (an interrupted write) is dropped and redone
    with (tmp_path / "records.jsonl").open("a") as handle:
        handle.write('{"sample_id": "tr')
    second = synthesize(config(root, tmp_path, retry_failed=False), teacher=teacher)
    assert second.new_records == N - 2 and len(teacher.seen) == N
    assert sorted(teacher.seen) == sorted(set(teacher.seen))
    third = synthesize(config(root, tmp_path, retry_failed=False), teacher=teacher)
    assert third.new_records == 0 and third.manifest["counts"]["written"] == N
    # retry_failed (the default): every failed sample is asked again, its record replaced
    fourth = synthesize(config(root, tmp_path), teacher=teacher)
    assert fourth.new_records == fourth.retried == N and len(teacher.seen) == 2 * N
    assert fourth.manifest["counts"]["written"] == N
    assert fourth.first_failure == {
        "sample_id": "train_0000.mp4",
        "reason": "no_answer_block",
        "detail": "no <answer> block",
    }
    assert scene.manifest["counts"]["written"] == N


def test_cli_smoke(root, tmp_path, capsys):
    shipped = Path(__file__).resolve().parents[2] / "stvg/experiments/configs/synth_scene.yaml"
    out = tmp_path / "out"
    code = main(
        [
            "synth-cot",
            "--config",
            str(shipped),
            "--root",
            str(root),
            "--out",
            str(out),
            "--limit",
            "3",
            "--no-progress",
        ]
    )
    assert code == 0
    assert "kept 3" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["written"] == 3
    assert manifest["contract"]["geometry"]["family"] == "qwen2.5-vl"
    assert len(manifest["template"]["sha256"]) == 64
    bad = tmp_path / "bad.yaml"
    bad.write_text("teacher: {name: scene, colour: red}\n")
    assert main(["synth-cot", "--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("stvg synth-cot: error:") and "colour" in err and "\n" not in err


def test_openai_teacher_is_built_from_the_teacher_section():
    from stvg.config import ConfigError, from_dict
    from stvg.synthesis import TeacherConfig, build_teacher

    spec = ContractSpec("json-v1", "pixels", 1.0)
    section = {"base_url": "http://127.0.0.1:9/v1", "model": "m", "max_concurrency": 2}
    config = from_dict(TeacherConfig, {"name": "openai", "openai": section}, path="teacher")
    teacher = build_teacher(config, spec, "default")
    assert teacher.name == "openai"
    # the section is typed: a wrong key fails when the config is read, before any teacher
    with pytest.raises(ConfigError, match=r"teacher\.openai\.colour"):
        from_dict(TeacherConfig, {"name": "openai", "openai": {"colour": 1}}, path="teacher")


def test_a_set_override_is_not_undone_by_a_flag_left_out(root, tmp_path):
    """`--set limit=2` without `--limit`: the flag left out (None) used to replace the
    --set value, and every sample was synthesised."""
    shipped = Path(__file__).resolve().parents[2] / "stvg/experiments/configs/synth_scene.yaml"
    out = tmp_path / "out"
    argv = ["synth-cot", str(shipped), "--root", str(root), "--out", str(out)]
    assert main([*argv, "--no-progress", "--set", "limit=2"]) == 0
    assert json.loads((out / "manifest.json").read_text())["counts"]["written"] == 2
    assert main([*argv, "--no-progress", "--set", "limit=2", "--limit", "3"]) == 0  # flag wins
    assert json.loads((out / "manifest.json").read_text())["counts"]["written"] == 3
