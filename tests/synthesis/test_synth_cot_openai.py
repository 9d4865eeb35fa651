"""``stvg synth-cot --teacher openai`` against a real OpenAI-compatible server on localhost.

The server answers each sample (recognised by its query in the prompt) with a canned
teacher answer: wrong spans and boxes, times and boxes inside the reasoning, in the run's
answer format; one sample gets a malformed answer and one an HTTP 500 on every try. Teacher
spans are chosen so that the teacher metrics are computed by hand: the first parsed sample's
span is the first half of the ground-truth span (tIoU = floor(L / 2) / L for a span of L
frames), the second's lies after it (tIoU 0), and every teacher box is a 1-unit box in the
frame's corner that overlaps no target (vIoU 0).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from chat_server import ChatServer, user_text

from stvg.cli import main
from stvg.data import load_dataset
from stvg.envs.grounding import GroundingEnv
from stvg.verifiers.formats import ContractSpec, ModelGeometry

SPLIT = "train"
GEOMETRY = {"family": "qwen2.5-vl", "min_pixels": 3136}


@pytest.fixture(scope="module")
def split_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stvg.data.synthetic import generate_split

    root = tmp_path_factory.mktemp("synth_openai")
    generate_split(root, SPLIT, 4, 5, duration_s=6.0, fps=5.0, size=64)
    return root


def _contracts(root: Path, answer_format: str, coords: str) -> dict:
    """The answer contract of every sample, as the synthesis run builds it."""
    spec = ContractSpec(answer_format, coords, 1.0, ModelGeometry(**GEOMETRY))
    env = GroundingEnv(
        dataset="synthetic",
        root=str(root),
        split=SPLIT,
        max_side=64,
        answer_format=answer_format,
        coords=coords,
        model_geometry=GEOMETRY,
    )
    assert env.answer_spec == spec
    out = {}
    for index in range(len(env.samples)):
        env.reset(options={"index": index})
        out[env.sample.sample_id] = (env.sample, env.contract)
    return out


def _canned(sample, contract, kind: str, answer_format: str) -> tuple[int, str]:
    fps = sample.native_fps
    gs, ge = sample.gt_span
    if kind == "half":
        span = (gs / fps, (gs + (ge - gs + 1) // 2 - 1) / fps)
    else:  # after the ground truth (the videos are 30 frames; GT spans end before)
        span = ((ge + 1) / fps, (sample.num_frames - 1) / fps)
    times = contract.frame.timestamps_s
    inside = [t for t in times if span[0] <= t <= span[1]] or [times[-1]]
    corner = "[0, 0, 1, 1]"
    reasoning = (
        f"The object appears at {span[0]:.1f} s and is gone after {span[1]:.1f}s. "
        f"At {inside[0]:g} s it is at {corner}."
    )
    if answer_format == "json-v1":
        boxes = ", ".join(f'"{t:g}": {corner}' for t in inside)
        answer = f'<answer>{{"span": [{span[0]:g}, {span[1]:g}], "boxes": {{{boxes}}}}}</answer>'
    else:
        boxes = ", ".join(f"{t:g}: {corner}" for t in inside)
        answer = f"<time>{span[0]:g} - {span[1]:g}</time><boxes>{boxes}</boxes>"
    return 200, f"<think>{reasoning}</think>\n{answer}"


@pytest.mark.parametrize(
    ("answer_format", "coords"), [("json-v1", "pixels"), ("tagged", "norm1000")]
)
def test_synth_cot_openai_replaces_every_span_and_box(
    split_root: Path, tmp_path: Path, answer_format: str, coords: str
) -> None:
    contracts = _contracts(split_root, answer_format, coords)
    ids = list(contracts)
    queries = {contracts[sid][0].query: sid for sid in ids}
    assert len(queries) == len(ids), "the test needs one query per sample"
    kinds = dict(zip(ids, ["half", "after", "malformed", "error"], strict=True))

    def respond(body):
        text = user_text(body)
        sid = next(sid for query, sid in queries.items() if query in text)
        if kinds[sid] == "error":
            return 500, "the model crashed"
        if kinds[sid] == "malformed":
            return 200, '<think>at 2 s</think><answer>{"span": [1, </answer>'
        sample, contract = contracts[sid]
        return _canned(sample, contract, kinds[sid], answer_format)

    config = {
        "teacher": {"name": "scene", "openai": {"model": "fake-vlm", "max_retries": 1}},
        "env": {"dataset": "synthetic", "split": SPLIT, "root": str(split_root), "max_side": 64},
        "contract": {"answer_format": answer_format, "coords": coords, "model_geometry": GEOMETRY},
        "keep": "all",
        "out": str(tmp_path / "out"),
        "progress": False,
    }
    path = tmp_path / "synth.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    with ChatServer(respond) as server:
        config["teacher"]["openai"]["base_url"] = server.url
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        assert main(["synth-cot", "--config", str(path), "--teacher", "openai"]) == 0
    out = tmp_path / "out"
    records = {r["sample_id"]: r for r in map(json.loads, (out / "records.jsonl").open())}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["teacher"]["teacher"] == "openai"

    # Failures are counted with their reason, never a crash.
    assert records[ids[2]]["target"] is None and records[ids[3]]["target"] is None
    assert records[ids[3]]["drop_reason"] == "teacher_error"
    assert "HTTP 500" in records[ids[3]]["teacher_error"]
    assert sum(manifest["counts"]["failed"].values()) == 2

    # Every span and box of the kept targets is the ground truth, in the reasoning too.
    targets = [json.loads(line) for line in (out / "targets.jsonl").open()]
    assert sorted(t["sample_id"] for t in targets) == sorted(ids[:2])
    for target in targets:
        sample, contract = contracts[target["sample_id"]]
        text = target["target"]
        gt = contract.gt_answer(sample)
        assert contract.render(gt) in text  # the answer block, rewritten from the GT
        reasoning = text[: text.index(contract.render(gt))]
        assert "[0, 0, 1, 1]" not in reasoning and "0, 0, 1, 1" not in text
        parsed = contract.parse(text)
        assert parsed.format_ok
        np.testing.assert_allclose(parsed.answer.span_s, gt.span_s, atol=1e-3)
        log = records[target["sample_id"]]["replacements"]
        assert {entry["kind"] for entry in log} >= {"time", "box"}
        # A teacher time may already be right (the "half" span starts on the GT start);
        # a wrong one is replaced, and every corner box is.
        assert any(e["teacher"] != e["replaced_by"] for e in log if e["kind"] == "time")
        boxes = [e for e in log if e["kind"] == "box"]
        assert boxes and all(e["replaced_by"] != "[0, 0, 1, 1]" for e in boxes)
        assert not re.search(r"\b1, 1\]", reasoning)

    # Teacher metrics before replacement, by hand.
    sample = contracts[ids[0]][0]
    length = sample.gt_span[1] - sample.gt_span[0] + 1
    half = (length // 2) / length
    metrics = manifest["teacher_metrics"]
    assert metrics["over_parsed"]["n"] == 2
    assert metrics["over_parsed"]["m_tIoU"] == pytest.approx((half + 0.0) / 2)
    assert metrics["over_parsed"]["m_vIoU"] == pytest.approx(0.0)
    assert metrics["over_all"]["m_tIoU"] == pytest.approx((half + 0.0) / 4)
    assert records[ids[0]]["teacher_t_iou"] == pytest.approx(half)
    assert records[ids[1]]["teacher_t_iou"] == 0.0


def test_every_sample_has_a_gt_span_before_the_end(split_root: Path) -> None:
    # The canned "after" answers need room after the GT span.
    for sample in load_dataset("synthetic", root=split_root, split=SPLIT):
        assert sample.gt_span[1] < sample.num_frames - 1


def _closed_port() -> int:
    """A localhost port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_no_server_fails_loudly_and_a_rerun_retries_the_failures(
    split_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No server: the counts, the first failure's reason and a non-zero exit; a rerun with
    the server up asks again for every failed sample (their records are replaced), and
    ``--no-retry-failed`` keeps a failed record as it is."""
    contracts = _contracts(split_root, "json-v1", "pixels")
    ids = list(contracts)
    queries = {contracts[sid][0].query: sid for sid in ids}
    out = tmp_path / "out"
    config = {
        "teacher": {
            "name": "openai",
            "openai": {
                "model": "fake-vlm",
                "max_retries": 0,
                "base_url": f"http://127.0.0.1:{_closed_port()}/v1",
            },
        },
        "env": {"dataset": "synthetic", "split": SPLIT, "root": str(split_root), "max_side": 64},
        "contract": {"answer_format": "json-v1", "coords": "pixels", "model_geometry": GEOMETRY},
        "out": str(out),
        "progress": False,
    }
    path = tmp_path / "synth.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["synth-cot", "--config", str(path)]) == 2
    captured = capsys.readouterr()
    assert "kept 0, dropped 0, failed 4 (teacher_error 4)" in captured.out
    assert f"first failure: sample {ids[0]}: teacher_error (APIConnectionError" in captured.out
    err = captured.err.strip()
    assert "\n" not in err and err.startswith("stvg synth-cot: error: synthesis kept no target")
    assert "first failure: sample" in err and "failed samples are retried" in err

    def respond(body):
        sid = next(sid for query, sid in queries.items() if query in user_text(body))
        if sid == ids[3]:
            return 500, "the model crashed"
        sample, contract = contracts[sid]
        return _canned(sample, contract, "half", "json-v1")

    with ChatServer(respond) as server:
        config["teacher"]["openai"]["base_url"] = server.url
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        assert main(["synth-cot", "--config", str(path)]) == 0  # 3 kept, one still failing: exit 0
        assert len(server.requests) == 4
        again = capsys.readouterr().out
        assert "wrote 4 new records, 4 of them retried (4 in all): kept 3" in again
        assert f"first failure: sample {ids[3]}: teacher_error (HTTP 500" in again
        records = [json.loads(line) for line in (out / "records.jsonl").open()]
        assert sorted(r["sample_id"] for r in records) == sorted(ids)  # one record each
        assert [r["sample_id"] for r in records if r["target"] is None] == [ids[3]]
        assert main(["synth-cot", "--config", str(path), "--no-retry-failed"]) == 0
        assert len(server.requests) == 4  # the failed sample was not asked again
        assert "wrote 0 new records (4 in all): kept 3" in capsys.readouterr().out
        assert main(["synth-cot", "--config", str(path)]) == 0  # retried (and failing) again
        assert len(server.requests) == 5
    targets = [json.loads(line) for line in (out / "targets.jsonl").open()]
    assert sorted(t["sample_id"] for t in targets) == sorted(ids[:3])
