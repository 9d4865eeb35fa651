"""The ``openai`` teacher against a hostile or broken server on localhost: an error body
that echoes the API key, a reply dripped one byte at a time, malformed replies and a
gzip bomb. Each is a failed request with a reason, in bounded time and memory; the key is
never stored."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from chat_server import ChatServer, RawReply, completion, gzip_bomb

from stvg.cli import main
from stvg.synthesis.teachers import TeacherRequest
from stvg.synthesis.teachers.openai_teacher import (
    MAX_REPLY_BYTES,
    OpenAITeacher,
    OpenAITeacherConfig,
)

KEY = "sk-live-0123456789abcdefSECRET"


def _request(sample_id: str = "a") -> TeacherRequest:
    return TeacherRequest(
        sample_id=sample_id,
        query="the red box",
        prompt="Find: the red box",
        system=None,
        frames=np.zeros((1, 8, 8, 3), dtype=np.uint8),
        timestamps_s=np.asarray([0.0]),
        extras={},
    )


def _teacher(url: str, **overrides) -> OpenAITeacher:
    settings = {
        "base_url": url,
        "model": "fake-vlm",
        "max_retries": 0,
        "timeout_s": 5.0,
        "api_key_env": "HOSTILE_TEST_KEY",
    }
    return OpenAITeacher(OpenAITeacherConfig(**{**settings, **overrides}))


def _echo_headers(status: int):
    def respond(body, headers):
        text = f"bad request; you sent Authorization: {headers.get('Authorization')}"
        if status == 200:
            return 200, f"ok. {text}"
        payload = {"error": {"message": text, "headers": dict(headers.items())}}
        return RawReply(json.dumps(payload).encode(), status)

    return respond


@pytest.mark.parametrize("status", [401, 500, 200])
def test_an_echoed_api_key_is_redacted(monkeypatch, status: int) -> None:
    monkeypatch.setenv("HOSTILE_TEST_KEY", KEY)
    with ChatServer(_echo_headers(status)) as server:
        reply = _teacher(server.url).generate([_request()])[0]
    assert server.authorizations == [f"Bearer {KEY}"]  # the key was really sent
    stored = f"{reply.text} {reply.error}"
    assert KEY not in stored and "0123456789abcdef" not in stored
    assert "Bearer [REDACTED]" in stored
    if status == 200:
        assert reply.text.startswith("ok. bad request") and reply.error is None
    else:
        assert reply.text is None and reply.error.startswith(f"HTTP {status}")


def test_redact_removes_the_key_bearer_tokens_and_key_fields() -> None:
    from stvg.redact import REDACTED, redact

    text = (
        f"Authorization: Bearer abc.DEF-123_x== failed; key={KEY}; "
        '{"api_key": "other-secret-99"} and x-api-key: zz-top-1234'
    )
    out = redact(text, secrets=[KEY])
    assert KEY not in out and "abc.DEF-123_x==" not in out
    assert "other-secret-99" not in out and "zz-top-1234" not in out
    assert out.count(REDACTED) == 4
    assert redact("HTTP 500: model crashed") == "HTTP 500: model crashed"
    assert redact("short key ab", secrets=["ab", ""]) == "short key ab"  # too short to be one


def test_a_reply_dripped_one_byte_at_a_time_is_cut_at_the_deadline() -> None:
    drip = RawReply(json.dumps(completion("x")).encode(), drip_s=0.3, forever=True)
    with ChatServer(lambda body: drip) as server:
        start = time.monotonic()
        reply = _teacher(server.url, timeout_s=1.0, max_retries=1).generate([_request()])[0]
        elapsed = time.monotonic() - start
    assert reply.text is None and "APITimeoutError" in reply.error
    assert "1 s" in reply.error  # the deadline is named
    assert len(server.requests) == 2  # the timeout is retried like any other
    # two attempts of 1 s each and the client's backoff (< 1 s): bounded, not forever
    assert elapsed < 4.0, elapsed


MALFORMED = {
    "not_json": (RawReply(b'{"choices": [{"message": '), "not JSON"),
    "html": (
        RawReply(
            b"<html><body>502 Bad Gateway</body></html>", headers={"Content-Type": "text/html"}
        ),
        "not JSON",
    ),
    "choices_str": (RawReply(b'{"choices": "x"}'), "'choices' is a str, not a list"),
    "top_level_list": (RawReply(b"[null]"), "a list, not an object"),
    "null_choice": (RawReply(b'{"choices": [null]}'), "choices[0] is null, not an object"),
    "no_message": (RawReply(b'{"choices": [{"index": 0}]}'), "choices[0] has no 'message'"),
    "int_content": (RawReply(json.dumps(completion(42)).encode()), "content is an int"),
    "list_content": (
        RawReply(json.dumps(completion([{"type": "text", "text": "hi"}])).encode()),
        "content is a list",
    ),
    "deep": (RawReply(b"[" * 100_000 + b"]" * 100_000), "not JSON"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_reply_is_a_failure_with_a_reason(case: str) -> None:
    raw, reason = MALFORMED[case]
    with ChatServer(lambda body: raw) as server:
        reply = _teacher(server.url).generate([_request()])[0]
    assert reply.text is None
    assert reply.error.startswith("malformed reply: "), reply.error
    assert reason in reply.error, reply.error


def test_a_gzip_bomb_is_cut_at_the_size_cap() -> None:
    bomb = gzip_bomb(200)
    assert len(bomb.body) < 1_000_000  # 200 MB inflated
    with ChatServer(lambda body: bomb) as server:
        start = time.monotonic()
        reply = _teacher(server.url, max_retries=2).generate([_request()])[0]
        elapsed = time.monotonic() - start
    assert reply.text is None
    assert reply.error.startswith("reply too large: ")
    assert f"over {MAX_REPLY_BYTES // 2**20} MiB" in reply.error, reply.error
    assert len(server.requests) == 1  # a too-large reply is not asked again
    assert elapsed < 5.0


def _split(root: Path) -> Path:
    from stvg.data.synthetic import generate_split

    generate_split(root, "train", 4, 5, duration_s=4.0, fps=5.0, size=64)
    return root


def test_synth_cot_counts_malformed_replies_and_never_stores_the_key(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("HOSTILE_TEST_KEY", KEY)
    root = _split(tmp_path / "data")
    replies = iter(
        [
            RawReply(b'{"choices": "x"}'),
            RawReply(b"<html>oops</html>", headers={"Content-Type": "text/html"}),
            RawReply(json.dumps(completion([1, 2])).encode()),
        ]
    )

    def respond(body, headers):
        nxt = next(replies, None)
        if nxt is not None:
            return nxt
        return _echo_headers(500)(body, headers)

    config = {
        "teacher": {
            "name": "openai",
            "batch_size": 1,
            "openai": {"model": "fake-vlm", "max_retries": 0, "api_key_env": "HOSTILE_TEST_KEY"},
        },
        "env": {"dataset": "synthetic", "split": "train", "root": str(root), "max_side": 64},
        "out": str(tmp_path / "out"),
        "progress": False,
    }
    with ChatServer(respond) as server:
        config["teacher"]["openai"]["base_url"] = server.url
        path = tmp_path / "synth.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        # nothing kept: exit 2, with the first failure's (redacted) reason
        assert main(["synth-cot", "--config", str(path)]) == 2
    out = capsys.readouterr()
    assert "first failure: sample" in out.out and "synthesis kept no target" in out.err
    records = [json.loads(line) for line in (tmp_path / "out" / "records.jsonl").open()]
    assert len(records) == 4 and all(r["target"] is None for r in records)
    errors = [r["teacher_error"] for r in records]
    assert [e.split(":")[0] for e in errors[:3]] == ["malformed reply"] * 3
    assert errors[3].startswith("HTTP 500") and "Bearer [REDACTED]" in errors[3]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["counts"]["failed"] == {"teacher_error": 4}
    for name in ("records.jsonl", "manifest.json", "targets.jsonl"):
        assert KEY not in (tmp_path / "out" / name).read_text()
    assert KEY not in out.out + out.err
