"""The ``openai`` teacher against a real OpenAI-compatible server on localhost."""

from __future__ import annotations

import base64

import cv2
import numpy as np
import pytest
from chat_server import ChatServer, user_text

from stvg.synthesis.teachers import TeacherRequest
from stvg.synthesis.teachers.openai_teacher import OpenAITeacher, OpenAITeacherConfig


def _request(sample_id: str, times=(0.0, 1.0, 2.0)) -> TeacherRequest:
    frames = np.zeros((len(times), 24, 32, 3), dtype=np.uint8)
    frames[:, :, :, 0] = 200  # red in RGB
    return TeacherRequest(
        sample_id=sample_id,
        query=f"the red box of {sample_id}",
        prompt=f"Find: the red box of {sample_id}",
        system="You ground objects in videos.",
        frames=frames,
        timestamps_s=np.asarray(times),
        extras={},
    )


def _teacher(url: str, **overrides) -> OpenAITeacher:
    settings = {"base_url": url, "model": "fake-vlm", "max_retries": 2, "timeout_s": 5.0}
    return OpenAITeacher(OpenAITeacherConfig(**{**settings, **overrides}))


def test_frames_timestamps_and_prompt_reach_the_endpoint() -> None:
    with ChatServer(lambda body: (200, "<answer>ok</answer>")) as server:
        replies = _teacher(server.url).generate([_request("a", (0.0, 1.5, 3.0))])
    assert replies[0].text == "<answer>ok</answer>" and replies[0].error is None
    assert replies[0].model == "fake-vlm"
    body = server.requests[0]
    assert body["model"] == "fake-vlm" and body["messages"][0]["role"] == "system"
    parts = body["messages"][1]["content"]
    assert [p["text"] for p in parts if p["type"] == "text"] == [
        "Frame at 0 s:",
        "Frame at 1.5 s:",
        "Frame at 3 s:",
        "Find: the red box of a",
    ]
    images = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert len(images) == 3
    jpeg = base64.b64decode(images[0].split(",", 1)[1])
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (24, 32, 3)
    assert decoded[..., 2].mean() > 150 and decoded[..., 0].mean() < 50  # BGR: red channel


def test_concurrency_is_bounded_and_order_kept() -> None:
    def respond(body):
        return 200, user_text(body).split()[-1]

    with ChatServer(respond, delay_s=0.05) as server:
        replies = _teacher(server.url, max_concurrency=3).generate(
            [_request(f"s{i}") for i in range(9)]
        )
    assert [r.text for r in replies] == [f"s{i}" for i in range(9)]
    assert server.max_in_flight <= 3
    assert server.max_in_flight >= 2  # really concurrent


def test_server_errors_are_retried_then_reported_never_raised() -> None:
    attempts: dict[str, int] = {}

    def respond(body):
        sid = user_text(body).split()[-1]
        attempts[sid] = attempts.get(sid, 0) + 1
        if sid == "flaky" and attempts[sid] < 3:
            return 503, "busy"
        if sid == "broken":
            return 500, "model crashed"
        if sid == "bad":
            return 400, "invalid image"
        if sid == "empty":
            return 200, ""
        return 200, "<answer>fine</answer>"

    with ChatServer(respond) as server:
        replies = _teacher(server.url, max_retries=2).generate(
            [_request("flaky"), _request("broken"), _request("bad"), _request("empty")]
        )
    assert replies[0].text == "<answer>fine</answer>" and attempts["flaky"] == 3
    assert replies[1].text is None and replies[1].error.startswith("HTTP 500 after retries")
    assert attempts["broken"] == 3  # one try + two retries
    assert replies[2].error.startswith("HTTP 400") and attempts["bad"] == 1  # not retried
    assert replies[3].text is None and replies[3].error == "empty reply"


def test_unreachable_endpoint_is_a_reason_not_a_crash() -> None:
    teacher = _teacher("http://127.0.0.1:9/v1", max_retries=0, timeout_s=2.0)
    reply = teacher.generate([_request("x")])[0]
    assert reply.text is None and "APIConnectionError" in reply.error


def test_config_is_validated_and_the_key_comes_from_the_environment(monkeypatch) -> None:
    from stvg.config import InvalidField

    with pytest.raises(InvalidField, match="must be >= 1") as caught:
        OpenAITeacherConfig(max_concurrency=0)
    assert caught.value.field == "max_concurrency"
    monkeypatch.setenv("MY_TEACHER_KEY", "sk-test-123")
    with ChatServer(lambda body: (200, "x")) as server:
        teacher = _teacher(server.url, api_key_env="MY_TEACHER_KEY")
        teacher.generate([_request("k")])
    assert server.authorizations == ["Bearer sk-test-123"]
    assert "sk-test" not in str(teacher.settings())
    monkeypatch.delenv("MY_TEACHER_KEY")
    with ChatServer(lambda body: (200, "x")) as server:
        _teacher(server.url, api_key_env="MY_TEACHER_KEY").generate([_request("k")])
    assert server.authorizations == ["Bearer EMPTY"]
