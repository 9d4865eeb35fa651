"""``stvg evaluate --policy``: a policy over a split through GroundingEnv, metrics and cost."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from stvg.cli import main
from stvg.config import ConfigError, from_dict
from stvg.data import load_dataset
from stvg.envs.cost import cost_figures
from stvg.evaluation import PolicyEvalConfig, evaluate_policy
from stvg.experiments.commands import parse_fps
from stvg.policies.native import NativePolicy
from stvg.training.sft import evaluate_cached
from stvg.training.sft.native_data import load_cached_frames
from stvg.verifiers.evaluation import evaluate
from stvg.verifiers.predictions import read_predictions
from stvg.verifiers.verifier import Verifier

TINY_MODEL = {"frame_size": 32, "channels": [8, 8, 8], "word_dim": 8, "query_dim": 8, "hidden": 8}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 synthetic videos (4 s at 5 fps = 20 frames, 64x64), split ``test``."""
    from stvg.data.synthetic import generate_split

    path = tmp_path_factory.mktemp("evaluate_policy")
    generate_split(path, "test", 4, 5, duration_s=4.0, fps=5.0, size=64)
    return path


def _config(root: Path, policy: dict, **env) -> PolicyEvalConfig:
    env = {"dataset": "synthetic", "split": "test", "root": str(root), "max_side": 64, **env}
    return from_dict(PolicyEvalConfig, {"policy": policy, "env": env, "progress": False})


def test_oracle_scores_one_through_env_and_evaluator(root, tmp_path):
    config = _config(root, {"name": "oracle"}, fps=None, max_frames=None)
    result = evaluate_policy(config, out_dir=tmp_path)
    assert result.metrics["n"] == 4
    assert result.metrics["m_tIoU"] == 1.0
    assert result.metrics["m_vIoU"] == pytest.approx(1.0, abs=1e-5)
    assert result.metrics["vIoU@0.5"] == 1.0
    assert [s["v_iou"] for s in result.per_sample] == pytest.approx([1.0] * 4, abs=1e-5)
    assert result.rewards["reward/t_iou"] == 1.0
    assert result.rewards["reward/v_iou"] == pytest.approx(1.0, abs=1e-5)
    # every native frame shown: 20 frames of 64 x 64
    figures = cost_figures(20, 64, 64)
    assert result.cost["frames_shown"] == 20
    for family, tokens in figures["visual_tokens"].items():
        assert result.cost[f"visual_tokens/{family}"] == tokens
    assert result.cost["policy_seconds"] > 0
    # the written predictions score the same through the predictions-file evaluator
    samples = list(load_dataset("synthetic", split="test", root=root))
    report = evaluate(samples, read_predictions(tmp_path / "predictions.json"))
    assert report.metrics["m_vIoU"] == pytest.approx(result.metrics["m_vIoU"], abs=1e-9)
    summary = json.loads((tmp_path / "metrics.json").read_text())
    assert summary["m_tIoU"] == 1.0 and summary["n_parse_errors"] == 0
    assert len((tmp_path / "per_sample.jsonl").read_text().splitlines()) == 4


def test_native_policy_scores_as_the_sft_evaluation(root, tmp_path):
    samples = list(load_dataset("synthetic", split="test", root=root))
    policy = NativePolicy.from_samples(samples, model=TINY_MODEL, seed=1)
    checkpoint = policy.save(tmp_path / "policy.pt")
    config = _config(
        root, {"name": "native", "config": {"checkpoint": str(checkpoint)}}, fps=1.0, max_frames=8
    )
    result = evaluate_policy(config)
    cache = load_cached_frames(
        samples, fps=1.0, max_frames=8, max_side=64, frame_size=32, cache_dir=tmp_path, name="t"
    )
    # the same densify rule (the env's verifier) scores both
    verifier = Verifier.from_config(config.env.verifier)
    assert result.metrics == evaluate_cached(policy, samples, cache, fps=1.0, verifier=verifier)
    assert result.action_format == "struct" and result.cost["frames_shown"] == 4


def test_text_policy_and_limit(root):
    config = _config(root, {"name": "random", "config": {"action_format": "text"}})
    config.limit = 2
    result = evaluate_policy(config)
    assert result.action_format == "text" and result.metrics["n"] == 2
    assert [s["parse_error"] for s in result.per_sample] == [None, None]


def test_cli_policy_mode(root, tmp_path, capsys):
    config_path = tmp_path / "oracle.yaml"
    config_path.write_text(
        yaml.safe_dump({"policy": {"name": "oracle"}, "env": {"max_side": 64, "max_frames": None}})
    )
    out = tmp_path / "out"
    argv = ["evaluate", "--policy", str(config_path), "--dataset", "synthetic", "--split", "test"]
    argv += ["--root", str(root), "--fps", "native", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "100.00" in printed and "frames_shown 20" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["m_tIoU"] == 1.0 and metrics["cost"]["frames_shown"] == 20
    assert yaml.safe_load((out / "config.yaml").read_text())["env"]["fps"] is None
    assert main([*argv[:-3], "--fps", "2", "--limit", "1", "--no-progress"]) == 0
    assert "  1  " in capsys.readouterr().out  # one sample in the table


def test_cli_policy_mode_errors(root, tmp_path, capsys):
    config_path = tmp_path / "bad.yaml"
    config_path.write_text(yaml.safe_dump({"policy": {"name": "oracle", "config": {"noise": 1}}}))
    argv = ["evaluate", "--policy", str(config_path), "--dataset", "synthetic", "--split", "test"]
    assert main([*argv, "--root", str(root), "--no-progress"]) == 2
    assert "unknown config key policy.noise" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--policy", str(config_path), "--dataset", "synthetic"])
    assert "--policy needs --split" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate"])
    assert "nothing to evaluate" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="env.action_format"):
        from_dict(
            PolicyEvalConfig, {"policy": {"name": "random"}, "env": {"action_format": "text"}}
        )
    # --limit 0 and an unknown --dataset: one-line usage errors, before anything is built.
    good = tmp_path / "oracle.yaml"
    good.write_text(yaml.safe_dump({"policy": {"name": "oracle"}}))
    base = ["evaluate", "--policy", str(good), "--split", "test", "--root", str(root)]
    with pytest.raises(SystemExit) as exit_info:
        main([*base, "--dataset", "synthetic", "--limit", "0"])
    assert exit_info.value.code == 2
    assert "--limit: expected an integer >= 1, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*base, "--dataset", "hcstvg3"])
    err = capsys.readouterr().err
    assert "unknown --dataset 'hcstvg3'; choose one of" in err and "'synthetic'" in err
    assert "Traceback" not in err


def test_parse_fps():
    assert parse_fps("native") is None and parse_fps("2.5") == 2.5
    for bad in ("0", "-1", "fast"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_fps(bad)
    assert np.isclose(parse_fps("0.5"), 0.5)


def test_cli_policy_mode_protocol_all_is_a_usage_error(root, tmp_path, capsys):
    good = tmp_path / "oracle.yaml"
    good.write_text(yaml.safe_dump({"policy": {"name": "oracle"}}))
    argv = ["evaluate", "--policy", str(good), "--dataset", "synthetic", "--split", "test"]
    with pytest.raises(SystemExit):
        main([*argv, "--root", str(root), "--protocol", "all"])
    assert "--protocol all scores a predictions file" in capsys.readouterr().err


def test_written_predictions_score_the_same_under_official_and_span(root, tmp_path):
    # The pipeline densifies every answer onto each frame of its span (none outside it),
    # and the synthetic GT has a box on every frame of its span, so the official HC-STVG
    # evaluator and the span formula of the RL reward agree sample by sample. A noisy
    # oracle at 1 fps gives spans that differ from the GT (tIoU < 1) and boxes that do not
    # match it.
    policy = {"name": "oracle", "config": {"span_noise_s": 0.6, "box_noise": 0.2, "seed": 3}}
    result = evaluate_policy(_config(root, policy, fps=1.0), out_dir=tmp_path)
    samples = list(load_dataset("synthetic", split="test", root=root))
    for sample in samples:
        gs, ge = sample.gt_span
        assert sorted(sample.gt_boxes) == list(range(gs, ge + 1))
    predictions = read_predictions(tmp_path / "predictions.json")
    assert len(predictions) == 4
    for pred in predictions.values():
        first, last = pred.span
        assert pred.tube.frame_idx.tolist() == list(range(first, last + 1))
    official = evaluate(samples, predictions, protocol="official")
    span = evaluate(samples, predictions, protocol="span")
    assert 0 < official.metrics["m_tIoU"] < 1 and 0 < official.metrics["m_vIoU"] < 1
    for a, b in zip(official.scores, span.scores, strict=True):
        assert a.t_iou == pytest.approx(b.t_iou, abs=1e-12)
        assert a.v_iou == pytest.approx(b.v_iou, abs=1e-12)
    # the report's numbers (protocol official) are the RL reward's terms on the same answers
    assert result.metrics["m_tIoU"] == pytest.approx(span.metrics["m_tIoU"], abs=1e-12)
    assert result.rewards["reward/t_iou"] == pytest.approx(span.metrics["m_tIoU"], abs=1e-12)


class _HalfBroken:
    """A text policy: the oracle's json-v1 answer for even samples, a cut-off answer (the
    JSON stops after the span's first number) for odd ones."""

    action_format = "text"

    def __init__(self) -> None:
        from stvg.policies.registry import make

        self.oracle = make("oracle", action_format="text")
        self.calls = 0

    def bind_samples(self, samples):
        self.oracle.bind_samples(samples)

    def act_batch(self, obs_list, infos=None):
        texts = self.oracle.act_batch(obs_list, infos)
        out = []
        for text in texts:
            out.append(text if self.calls % 2 == 0 else '<answer>{"span": [1, </answer>')
            self.calls += 1
        return out


def test_a_text_policy_report_shows_parse_rate_reasons_and_raw_answers(root, tmp_path, capsys):
    """Two of four answers do not parse: metrics.json says so (parse rate 50 %, one reason
    counted twice, the first failure's raw text), every record keeps its raw answer, and
    `stvg evaluate` prints it."""
    config = _config(root, {"name": "oracle"}, fps=1.0)
    result = evaluate_policy(config, policy=_HalfBroken(), out_dir=tmp_path)
    summary = json.loads((tmp_path / "metrics.json").read_text())
    answers = summary["answers"]
    assert (answers["n"], answers["parsed"], answers["parse_rate"]) == (4, 2, 0.5)
    assert answers["well_formed"] == 2 and answers["cut_by_token_budget"] == 0
    [(reason, count)] = answers["failure_reasons"].items()
    assert count == 2 and reason.startswith("invalid JSON at char N")
    records = [json.loads(line) for line in (tmp_path / "per_sample.jsonl").open()]
    assert [r["parse_error"] is None for r in records] == [True, False, True, False]
    assert records[1]["answer_text"] == '<answer>{"span": [1, </answer>'
    assert records[0]["answer_text"].startswith("<answer>") and records[0]["format_ok"] is True
    assert answers["first_failure"] == {
        "sample_id": records[1]["sample_id"],
        "parse_error": records[1]["parse_error"],
        "answer_text": '<answer>{"span": [1, </answer>',
    }
    assert result.metrics["n"] == 4
    from stvg.evaluation.answers import answers_line

    assert answers_line(answers).startswith("answers: 2 of 4 parsed (50.0 %), 2 well-formed")
