"""The ``openai`` policy against a real OpenAI-compatible server on localhost, through
``stvg.evaluation.evaluate_policy``.

The hand-made sample: 50 frames at 10 fps (5 s), 64x48; the target is the box
[8, 12, 40, 36] on frames 10..29 (1.0 s .. 2.9 s). The env samples 1 fps (frames at 0, 1,
2, 3, 4 s) and shows them at 32x24 (``max_side: 32``), so a pixel answer's box is
[4, 6, 20, 18]; in norm1000 it is [125, 250, 625, 750], in norm1 [0.125, 0.25, 0.625, 0.75].
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from chat_server import ChatServer, RawReply, completion, user_text

from stvg.config import ConfigError, from_dict
from stvg.data.types import Sample
from stvg.evaluation import PolicyEvalConfig, evaluate_policy
from stvg.policies.base import TextCompletion, TextGenerator
from stvg.policies.registry import make
from stvg.policies.served.policy import OpenAIPolicy
from stvg.verifiers.formats import ContractError, ContractSpec

WIDTH, HEIGHT, FPS, FRAMES = 64, 48, 10.0, 50
SPAN = (10, 29)
BOX = [8.0, 12.0, 40.0, 36.0]
#: The target's box in each coordinate system, on the 32x24 frames sent.
PERFECT = {
    "pixels": [4, 6, 20, 18],
    "norm1000": [125, 250, 625, 750],
    "norm1": [0.125, 0.25, 0.625, 0.75],
}
KEY = "sk-served-0123456789abcdefSECRET"


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("served") / "toy.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    for i in range(FRAMES):
        frame = np.full((HEIGHT, WIDTH, 3), 40, dtype=np.uint8)
        if SPAN[0] <= i <= SPAN[1]:
            x1, y1, x2, y2 = (int(v) for v in BOX)
            frame[y1:y2, x1:x2] = (0, 0, 255)  # red in BGR
        writer.write(frame)
    writer.release()
    return str(path)


def _sample(video: str, sample_id: str = "toy", query: str = "the red box") -> Sample:
    return Sample(
        sample_id=sample_id,
        video_path=video,
        query=query,
        native_fps=FPS,
        num_frames=FRAMES,
        width=WIDTH,
        height=HEIGHT,
        gt_span=SPAN,
        gt_boxes={f: list(BOX) for f in range(SPAN[0], SPAN[1] + 1)},
        meta={"dataset": "toy"},
    )


def _answer(span: tuple[float, float], box: list[float], times=(1, 2)) -> str:
    boxes = {str(t): box for t in times}
    return "<answer>" + json.dumps({"span": list(span), "boxes": boxes}) + "</answer>"


def _config(url: str, **policy) -> PolicyEvalConfig:
    settings = {"base_url": url, "model": "fake-vlm", "max_retries": 0, "timeout_s": 5.0}
    return from_dict(
        PolicyEvalConfig,
        {
            "policy": {"name": "openai", "config": {**settings, **policy}},
            "env": {"max_side": 32, "max_frames": None},
            "progress": False,
        },
    )


@pytest.mark.parametrize("coords", ["pixels", "norm1000", "norm1"])
def test_a_perfect_answer_in_each_coordinate_system_scores_one(video, coords) -> None:
    answer = _answer((1, 2.9), PERFECT[coords])
    with ChatServer(lambda body: (200, answer)) as server:
        result = evaluate_policy(_config(server.url, coords=coords), samples=[_sample(video)])
    record = result.per_sample[0]
    assert record["parse_error"] is None and "policy_error" not in record
    assert record["t_iou"] == 1.0
    assert record["v_iou"] == pytest.approx(1.0, abs=1e-6)
    assert result.metrics["m_vIoU"] == pytest.approx(1.0, abs=1e-6)
    # the prompt told the model the contract's coordinate system
    told = user_text(server.requests[0])
    assert {"pixels": "32x24", "norm1000": "1000", "norm1": "normalised to 0-1"}[coords] in told


@pytest.mark.parametrize(
    ("answer", "t_iou", "v_iou"),
    [
        # half the box's width on every frame of the right span: IoU 0.5 on each frame
        (_answer((1, 2.9), [4, 6, 12, 18]), 1.0, 0.5),
        # the right box on frames 10..19 only: 10 of the 20 ground-truth frames
        (_answer((1, 1.9), PERFECT["pixels"], times=(1,)), 0.5, 0.5),
    ],
)
def test_imperfect_pixel_answers_score_the_hand_computed_values(
    video, answer, t_iou, v_iou
) -> None:
    with ChatServer(lambda body: (200, answer)) as server:
        result = evaluate_policy(_config(server.url), samples=[_sample(video)])
    assert result.per_sample[0]["t_iou"] == pytest.approx(t_iou, abs=1e-6)
    assert result.per_sample[0]["v_iou"] == pytest.approx(v_iou, abs=1e-6)


def test_the_request_carries_the_frames_their_times_and_the_contract_prompt(video) -> None:
    from stvg.envs.grounding import GroundingEnv
    from stvg.policies.vlm.prompt import contract_prompt, load_template
    from stvg.synthesis.run import _Prompter

    with ChatServer(lambda body: (200, _answer((1, 2.9), PERFECT["norm1000"]))) as server:
        evaluate_policy(_config(server.url, coords="norm1000"), samples=[_sample(video)])
    body = server.requests[0]
    assert body["model"] == "fake-vlm" and body["temperature"] == 0.0
    system, user = body["messages"]
    parts = user["content"]
    texts = [p["text"] for p in parts if p["type"] == "text"]
    assert texts[:5] == [f"Frame at {t} s:" for t in range(5)]
    images = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert len(images) == 5  # one per shown frame, each after its label
    assert [p["type"] for p in parts[:4]] == ["text", "image_url", "text", "image_url"]
    decoded = [
        cv2.imdecode(np.frombuffer(base64.b64decode(u.split(",", 1)[1]), np.uint8), 1)
        for u in images
    ]
    assert all(d.shape == (24, 32, 3) for d in decoded)  # the shown size
    red = [bool(d[9:15, 6:18, 2].mean() > 150) for d in decoded]  # BGR: red channel
    assert red == [False, True, True, False, False]  # the target at 1 s and 2 s only
    # the prompt is the contract's, the one the synthesis teachers get
    spec = ContractSpec("json-v1", "norm1000", 1.0)
    template = load_template("default")
    expected_system, expected_user = contract_prompt(
        template,
        spec,
        query="the red box",
        timestamps_s=[0, 1, 2, 3, 4],
        shown_size=(32, 24),
        native_fps=FPS,
    )
    assert texts[5] == expected_user and system["content"] == expected_system
    env = GroundingEnv(
        {"max_side": 32, "max_frames": None, "coords": "norm1000"}, samples=[_sample(video)]
    )
    obs, _ = env.reset(options={"index": 0})
    assert _Prompter("default", spec).request(obs, env).prompt == expected_user


def test_a_failing_and_a_slow_server_score_zero_with_the_reason(video) -> None:
    samples = [
        _sample(video, "ok", "the red box"),
        _sample(video, "broken", "the broken box"),
        _sample(video, "slow", "the slow box"),
    ]
    attempts: dict[str, int] = {}

    def respond(body):
        query = user_text(body).split('"')[1]
        attempts[query] = attempts.get(query, 0) + 1
        if query == "the broken box":
            return 500, "model crashed"
        if query == "the slow box":
            return RawReply(json.dumps(completion("late")).encode(), drip_s=0.5)
        return 200, _answer((1, 2.9), PERFECT["pixels"])

    with ChatServer(respond) as server:
        result = evaluate_policy(_config(server.url, timeout_s=1.0, max_retries=1), samples=samples)
    by_id = {r["sample_id"]: r for r in result.per_sample}
    assert result.metrics["n"] == 3
    assert by_id["ok"]["v_iou"] == pytest.approx(1.0, abs=1e-6)
    assert "policy_error" not in by_id["ok"]
    for sid in ("broken", "slow"):
        assert by_id[sid]["v_iou"] == 0.0 and by_id[sid]["t_iou"] == 0.0
        assert by_id[sid]["answer_text"] == ""
    assert by_id["broken"]["policy_error"].startswith("HTTP 500 after retries")
    assert "model crashed" in by_id["broken"]["policy_error"]
    assert by_id["slow"]["policy_error"].startswith("APITimeoutError after retries")
    assert "timeout_s" in by_id["slow"]["policy_error"]
    assert attempts["the broken box"] == 2  # one try + one retry
    summary = result.summary()
    assert summary["n_policy_errors"] == 2
    reasons = summary["answers"]["failure_reasons"]
    assert any(k.startswith("policy: HTTP N after retries") for k in reasons), reasons
    assert any(k.startswith("policy: APITimeoutError after retries") for k in reasons), reasons
    assert summary["answers"]["first_failure"]["policy_error"].startswith("HTTP 500")
    assert result.metrics["m_vIoU"] == pytest.approx(1 / 3, abs=1e-6)


def test_the_servers_token_usage_is_the_cost(video) -> None:
    usage = {
        "the red box": {"prompt_tokens": 1200, "completion_tokens": 40, "total_tokens": 1240},
        "the blue box": {"prompt_tokens": 1000, "completion_tokens": 60, "total_tokens": 1060},
    }

    def respond(body):
        query = user_text(body).split('"')[1]
        payload = {**completion(_answer((1, 2.9), PERFECT["pixels"])), "usage": usage[query]}
        return RawReply(json.dumps(payload).encode())

    samples = [_sample(video, "a", "the red box"), _sample(video, "b", "the blue box")]
    with ChatServer(respond) as server:
        result = evaluate_policy(_config(server.url), samples=samples)
    by_id = {r["sample_id"]: r for r in result.per_sample}
    assert by_id["a"]["cost/prompt_tokens"] == 1200 and by_id["a"]["cost/output_tokens"] == 40
    assert by_id["b"]["cost/prompt_tokens"] == 1000 and by_id["b"]["cost/output_tokens"] == 60
    assert result.cost["prompt_tokens"] == 1100 and result.cost["output_tokens"] == 50


def test_the_key_is_the_bearer_token_and_is_written_nowhere(
    video, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("MY_SERVED_KEY", KEY)

    def respond(body, headers):  # one error body echoes the key back
        if "echo" in user_text(body):
            return 500, f"bad request with header {headers.get('Authorization')} key={KEY}"
        return 200, _answer((1, 2.9), PERFECT["pixels"])

    samples = [_sample(video, "a"), _sample(video, "b", "the echo box")]
    out = tmp_path / "eval"
    with ChatServer(respond) as server:
        result = evaluate_policy(
            _config(server.url, api_key_env="MY_SERVED_KEY"), samples=samples, out_dir=out
        )
    assert server.authorizations == [f"Bearer {KEY}", f"Bearer {KEY}"]
    assert "HTTP 500" in result.per_sample[1]["policy_error"]
    assert "REDACTED" in result.per_sample[1]["policy_error"]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"config.yaml", "per_sample.jsonl", "metrics.json"}
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert KEY not in text and "0123456789abcdef" not in text, path.name
    assert "MY_SERVED_KEY" in (out / "config.yaml").read_text(encoding="utf-8")


def test_registry_config_and_answer_spec(video) -> None:
    policy = make("openai", base_url="http://127.0.0.1:9/v1", coords="norm1000", fps=2.0)
    assert isinstance(policy, OpenAIPolicy) and isinstance(policy, TextGenerator)
    assert policy.action_format == "text" and policy.config.temperature == 0.0
    assert policy.answer_spec == ContractSpec("json-v1", "norm1000", 2.0, None)
    assert "api_key_env" in policy.settings() and policy.settings()["coords"] == "norm1000"
    with pytest.raises(ConfigError, match=r"policy\.coords.*unknown coordinate system"):
        make("openai", coords="pixel")
    with pytest.raises(ConfigError, match=r"policy\.api_key_env"):
        make("openai", api_key_env="OPENAI_API_KEY=sk-abc")
    with pytest.raises(ConfigError, match=r"policy\.fps"):
        make("openai", fps=0.0)
    # an env that scores in another coordinate system is refused, naming both
    config = from_dict(
        PolicyEvalConfig,
        {
            "policy": {"name": "openai", "config": {"coords": "norm1000"}},
            "env": {"max_side": 32, "coords": "pixels"},
            "progress": False,
        },
    )
    with pytest.raises(ContractError, match="coords: evaluation env has 'pixels'"):
        evaluate_policy(config, samples=[_sample(video)])


def test_act_sampling_and_the_completion_fields(video) -> None:
    from stvg.envs.grounding import GroundingEnv

    answer = _answer((1, 2.9), PERFECT["pixels"])
    env = GroundingEnv({"max_side": 32, "max_frames": None}, samples=[_sample(video)])
    obs, info = env.reset(options={"index": 0})
    with ChatServer(lambda body: (200, answer)) as server:
        policy = OpenAIPolicy(base_url=server.url, model="m", max_retries=0)
        assert policy.act(obs, info) == answer
        assert policy.act_batch([obs, obs]) == [answer, answer]
        sampled = policy.generate_batch([obs], [env.unwrapped.frame_context], do_sample=True)
        greedy = OpenAIPolicy(base_url=server.url, temperature=0.8).generate_batch(
            [obs], do_sample=False
        )
    assert [r["temperature"] for r in server.requests] == [0.0, 0.0, 0.0, 1.0, 0.0]
    assert sampled[0].text == answer and sampled[0].finished is True
    assert sampled[0].prompt_tokens == 1 and sampled[0].output_tokens == 1  # chat_server's
    assert greedy[0].error is None
    # a frame context of another episode is refused
    other = env.unwrapped.frame_context
    shifted = type(other)(
        frame_idx=other.frame_idx + 1,
        timestamps_s=other.timestamps_s + 0.1,
        shown_size=other.shown_size,
        original_size=other.original_size,
        native_fps=other.native_fps,
        num_frames=other.num_frames,
    )
    with pytest.raises(ValueError, match="timestamps_s .* differ"):
        policy.request(obs, shifted)


def test_text_completion_token_counts_keep_their_old_meaning() -> None:
    assert TextCompletion("a", (1, 2, 3)).output_tokens == 3
    assert TextCompletion("a", (1, 2, 3)).error is None
    assert TextCompletion("", (), reported_output_tokens=7).output_tokens == 7
