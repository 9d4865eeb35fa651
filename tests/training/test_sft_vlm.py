"""SFT of the VLM policy: targets JSONL, ground-truth targets in the model's frame, the
masked token loss, a tiny-budget run through the CLI, memorisation, config errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml
from transformers import AutoProcessor

from stvg.cli import main
from stvg.config import ConfigError, from_dict
from stvg.data import DataError, load_dataset
from stvg.data.types import Sample
from stvg.envs.contract import bind_env_kwargs
from stvg.envs.grounding import GroundingEnv
from stvg.policies.vlm.policy import VLMPolicy
from stvg.synthesis.targets import gt_targets, read_targets, write_gt_targets, write_targets
from stvg.training.sft import SFTConfig, load_sft_config, train_sft
from stvg.training.sft.vlm import (
    VLMSFTConfig,
    build_env,
    episode,
    sft_vlm_loss,
    target_completion,
)

try:
    from stvg.policies.vlm.tiny import build_tiny_checkpoint
except ImportError:  # before the tiny builder moved into the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "policies"))
    from tiny_vlm import build_qwen25_vl

    def build_tiny_checkpoint(family: str, out_dir: Path, seed: int = 0) -> Path:
        return build_qwen25_vl(Path(out_dir), seed=seed)


SPLIT = "train"


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2.5-VL checkpoint (real processor, byte-level tokenizer)."""
    return build_tiny_checkpoint("qwen2.5-vl", tmp_path_factory.mktemp("tiny") / "ckpt", seed=0)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two synthetic videos (4 s at 5 fps, 64x64) in split ``train``."""
    from stvg.data.synthetic import generate_split

    root = tmp_path_factory.mktemp("synthetic")
    generate_split(root, SPLIT, 2, 1, duration_s=4.0, fps=5.0, size=64)
    return root


@pytest.fixture(scope="module")
def policy(tiny_checkpoint: Path) -> VLMPolicy:
    return VLMPolicy(str(tiny_checkpoint), max_new_tokens=48, device="cpu", seed=0)


def _config(checkpoint: Path, root: Path, out_dir: Path, **changes) -> dict:
    config = {
        "policy": {"name": "vlm", "config": {"model_path": str(checkpoint), "max_new_tokens": 8}},
        "env": {"dataset": "synthetic", "root": str(root), "fps": 1.0, "max_side": 64},
        "data": {"train_split": SPLIT, "eval_split": SPLIT, "generate": False, "limit_eval": 1},
        "epochs": 8,
        "batch_size": 2,
        "micro_batch_size": 1,
        "lr": 0.01,
        "threads": 1,
        "out_dir": str(out_dir),
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


# --------------------------------------------------------------------------- targets


def test_targets_jsonl_round_trip_and_errors(tmp_path: Path):
    path = tmp_path / "t.jsonl"
    targets = {
        "a.mp4": '<think>the "red" one</think><answer>{"span": [1.0, 2.0]}</answer>',
        "b": "<answer>é</answer>",
    }
    assert write_targets(path, targets) == 2
    assert read_targets(path) == targets
    assert [json.loads(line)["sample_id"] for line in path.read_text().splitlines()] == [
        "a.mp4",
        "b",
    ]
    bad = {
        "not json\n": "line 1 is not JSON",
        '["a", "b"]\n': "line 1 must be a JSON object",
        '{"target": "x"}\n': "line 1 needs a non-empty string sample_id",
        '{"sample_id": "a", "target": ""}\n': "line 1 needs a non-empty string target",
        '{"sample_id": "a", "target": "x"}\n\n{"sample_id": "a", "target": "y"}\n': (
            "line 3 repeats a sample id"
        ),
    }
    for text, message in bad.items():
        path.write_text(text)
        with pytest.raises(DataError, match=message):
            read_targets(path)
    with pytest.raises(DataError, match="targets file not found"):
        read_targets(tmp_path / "missing.jsonl")


@pytest.fixture(scope="module")
def toy_sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    """30 frames at 10 fps, 64x48; the target is the box [8, 8, 40, 32] on frames 10..19."""
    path = tmp_path_factory.mktemp("toy") / "toy.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    for i in range(30):
        frame = np.full((48, 64, 3), 40, dtype=np.uint8)
        if 10 <= i <= 19:
            frame[8:32, 8:40] = (0, 0, 255)
        writer.write(frame)
    writer.release()
    boxes = {f: [8.0, 8.0, 40.0, 32.0] for f in range(10, 20)}
    return Sample("toy", str(path), "the red box", 10.0, 30, 64, 48, (10, 19), boxes)


def test_gt_target_is_rendered_in_the_frame_the_model_sees(
    toy_sample: Sample, policy: VLMPolicy, tmp_path: Path
):
    # Shown at 1 fps: frames 0, 10, 20 (0, 1, 2 s) of 64x48. The answer contract's ground
    # truth: the span in seconds, frames 10..19 at 10 fps -> [1.0, 1.9]; a box on each shown
    # frame inside it: frame 10 only (1.0 s). Qwen2.5-VL's processor resizes 64x48 frames to
    # 392x280 (smart_resize up to min_pixels = 128 * 28 * 28: scale sqrt(100352 / 3072) =
    # 5.7155, then up to multiples of 28: ceil(64 * 5.7155 / 28) * 28 = 392, ceil(48 * 5.7155
    # / 28) * 28 = 280), and pixel answers are pixels of that frame: x * 392 / 64 = 6.125 x,
    # y * 280 / 48 = 5.833 y: [8, 8, 40, 32] -> [49, 46.67, 245, 186.67] -> [49, 47, 245, 187].
    kwargs = {"fps": 1.0, "max_side": 64, "action_format": "text"}
    env = GroundingEnv({**kwargs, "model_geometry": {"family": "qwen2.5-vl"}}, samples=[toy_sample])
    expected = '<answer>{"span": [1.0, 1.9], "boxes": {"1.0": [49, 47, 245, 187]}}</answer>'
    assert gt_targets(env) == {"toy": expected}
    assert env.frame_context.model_size == (392, 280)
    # the policy's own answer contract binds the same geometry into an env left unset
    bound = GroundingEnv(bind_env_kwargs(policy, kwargs), samples=[toy_sample])
    assert bound.answer_spec == env.answer_spec
    with_reasoning = gt_targets(bound, reasoning="it is red")["toy"]
    assert with_reasoning.startswith("<think>") and with_reasoning.endswith("</think>\n" + expected)
    assert "it is red" in with_reasoning
    # the target scores what the ground truth on the shown frames scores, through the env
    env.reset(options={"index": 0})
    _, reward, _, _, info = env.step(expected)
    assert info.get("parse_error") is None
    assert info["t_iou"] == pytest.approx(1.0)  # [1.0, 1.9] s is frames 10..19 exactly
    assert info["v_iou"] == pytest.approx(1.0, abs=0.01)  # up to the pixel rounding
    assert write_gt_targets(env, tmp_path / "gt.jsonl") == 1
    assert read_targets(tmp_path / "gt.jsonl") == {"toy": expected}


# --------------------------------------------------------------------------- the loss


def test_loss_scores_only_target_tokens_and_accumulates_exactly(
    policy: VLMPolicy, data_root: Path, tiny_checkpoint: Path, tmp_path: Path
):
    env = build_env({"dataset": "synthetic", "root": str(data_root), "max_side": 64}, policy, SPLIT)
    texts = ['<answer>{"span": [1.0, 3.0]}</answer>', "<answer>{}</answer>"]
    completions = [target_completion(policy, t) for t in texts]
    eos = policy.tokenizer.convert_tokens_to_ids("<|im_end|>")
    for text, completion in zip(texts, completions, strict=True):
        assert completion.token_ids[-1] == eos
        assert policy.tokenizer.decode(list(completion.token_ids[:-1])) == text
    lengths = [len(c.token_ids) for c in completions]
    # the byte-level tokenizer: one token per character, <answer>/</answer> one each, + eos
    assert lengths == [len(texts[0]) - 17 + 2 + 1, len(texts[1]) - 17 + 2 + 1]
    observations, contexts = zip(*(episode(env, i) for i in range(2)), strict=True)

    log_probs = policy.log_prob(list(observations), completions, list(contexts))
    # one column per target token of the longest target: no prompt token is scored
    assert tuple(log_probs.shape) == (2, max(lengths))
    assert torch.all(log_probs[1, lengths[1] :] == 0)  # padding
    assert torch.all(log_probs[0, : lengths[0]] < 0) and torch.all(log_probs[1, : lengths[1]] < 0)
    by_hand = -(log_probs[0, : lengths[0]].sum() + log_probs[1, : lengths[1]].sum()) / sum(lengths)

    # Teacher forcing by hand: the prompt's inputs, the target appended; the logits at the
    # last prompt position and after predict the target tokens, nothing before is scored.
    prep = policy.prepare(observations[0], contexts[0])
    inputs = policy.model_inputs([prep])
    target = torch.tensor([completions[0].token_ids])
    inputs["input_ids"] = torch.cat([inputs["input_ids"], target], dim=1)
    inputs["attention_mask"] = torch.cat([inputs["attention_mask"], torch.ones_like(target)], 1)
    inputs["mm_token_type_ids"] = torch.cat(
        [inputs["mm_token_type_ids"], torch.zeros_like(target)], dim=1
    )
    with torch.no_grad():
        logits = policy.model(**inputs, use_cache=False).logits[0].float()
    start = prep.prompt_tokens - 1
    picked = torch.log_softmax(logits[start : start + lengths[0]], dim=-1)
    teacher = picked.gather(-1, target[0].unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(log_probs[0, : lengths[0]].detach(), teacher, atol=1e-4)

    loss, tokens = sft_vlm_loss(policy, observations, completions, contexts)
    assert tokens == sum(lengths)
    assert float(loss.detach()) == pytest.approx(float(by_hand.detach()), rel=1e-6)

    # micro-batches of 1 over the batch's token count give the gradient of the whole batch
    params = [p for p in policy.parameters() if p.requires_grad]
    policy.model.zero_grad()
    loss.backward()
    whole = [p.grad.clone() for p in params]
    policy.model.zero_grad()
    for i in range(2):
        part, _ = sft_vlm_loss(
            policy, observations[i : i + 1], completions[i : i + 1], contexts[i : i + 1], tokens
        )
        part.backward()
    for a, p in zip(whole, params, strict=True):
        assert torch.allclose(a, p.grad, rtol=1e-4, atol=1e-7)
    policy.model.zero_grad()


# --------------------------------------------------------------------------- runs


@pytest.fixture(scope="module")
def cli_run(tiny_checkpoint: Path, data_root: Path, tmp_path_factory: pytest.TempPathFactory):
    """``stvg train-sft --config`` on a tiny VLM config: 2 samples, 8 steps, GT targets."""
    base = tmp_path_factory.mktemp("sft_vlm")
    config_path = base / "sft_vlm.yaml"
    config_path.write_text(yaml.safe_dump(_config(tiny_checkpoint, data_root, base / "run")))
    code = main(["train-sft", "--config", str(config_path), "--no-progress"])
    return code, config_path, base / "run"


def test_cli_tiny_run_lowers_the_loss_and_exports_a_loadable_model(
    cli_run, tiny_checkpoint: Path, data_root: Path, capsys
):
    code, config_path, run_dir = cli_run
    assert code == 0
    for name in ("config.yaml", "metrics.jsonl", "targets.jsonl", "eval.json", "hf/config.json"):
        assert (run_dir / name).is_file(), name
    source = {p.name for p in tiny_checkpoint.iterdir()}
    assert source <= {p.name for p in (run_dir / "hf").iterdir()}  # processor files too
    processor = AutoProcessor.from_pretrained(run_dir / "hf")
    assert type(processor).__name__ == "Qwen2_5_VLProcessor"
    config = load_sft_config(run_dir / "config.yaml")
    assert isinstance(config, VLMSFTConfig) and config == load_sft_config(config_path)
    lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [line for line in lines if "losses/nll" in line]
    assert [line["step"] for line in steps] == list(range(1, 9))  # one batch of 2 per epoch
    assert steps[-1]["losses/nll"] < 0.7 * steps[0]["losses/nll"]
    assert lines[-1]["step"] == 8 and "eval/m_vIoU" in lines[-1]

    # The first step's loss is the NLL of both targets under the untrained checkpoint;
    # the exported folder loads as a policy whose NLL is lower.
    targets = read_targets(run_dir / "targets.jsonl")
    samples = list(load_dataset("synthetic", split=SPLIT, root=data_root))
    assert sorted(targets) == sorted(s.sample_id for s in samples)

    def nll(model_path: Path) -> float:
        policy = VLMPolicy(str(model_path), device="cpu")
        env = build_env(config.env, policy, SPLIT)
        observations, contexts = zip(*(episode(env, i) for i in range(2)), strict=True)
        completions = [target_completion(policy, targets[s.sample_id]) for s in env.samples]
        with torch.no_grad():
            return float(sft_vlm_loss(policy, observations, completions, contexts)[0])

    assert nll(tiny_checkpoint) == pytest.approx(steps[0]["losses/nll"], rel=1e-4)
    assert nll(run_dir / "hf") < 0.7 * steps[0]["losses/nll"]


def test_same_seed_same_losses(tiny_checkpoint: Path, data_root: Path, tmp_path: Path):
    def losses(out: str) -> list[float]:
        changes = {"epochs": 2, "data": {"eval_split": None}, "micro_batch_size": 2}
        config = from_dict(
            VLMSFTConfig, _config(tiny_checkpoint, data_root, tmp_path / out, **changes)
        )
        result = train_sft(config, log=None)
        return [line["losses/nll"] for line in result.history]

    first = losses("a")
    assert len(first) == 2 and first == losses("b")


def test_bf16_checkpoint_trains_in_float32_masters_and_exports_bf16(
    tiny_checkpoint: Path, data_root: Path, tmp_path: Path
):
    # bf16 weights take Adam's updates in float32 master copies under autocast; the run
    # evaluates mid-way (float32 masters, autocast) and at the end (cast back to bf16), and
    # exports bf16 weights.
    from safetensors.torch import load_file

    policy = {"name": "vlm", "config": {"model_path": str(tiny_checkpoint), "dtype": "bfloat16"}}
    changes = {"epochs": 4, "eval_every": 2, "policy": policy}
    config = from_dict(
        VLMSFTConfig, _config(tiny_checkpoint, data_root, tmp_path / "run", **changes)
    )
    result = train_sft(config, log=None)
    losses = [line["losses/nll"] for line in result.history if "losses/nll" in line]
    evals = [line["epoch"] for line in result.history if "eval/m_vIoU" in line]
    assert evals == [2, 4] and losses == sorted(losses, reverse=True)
    assert losses[-1] < 0.9 * losses[0]
    weights = load_file(result.checkpoint / "model.safetensors")
    assert {str(w.dtype) for w in weights.values()} == {"torch.bfloat16"}


def _memorise(checkpoint: Path, root: Path, out_dir: Path, **changes):
    config = from_dict(VLMSFTConfig, _config(checkpoint, root, out_dir, **changes))
    result = train_sft(config, log=None)
    trained = VLMPolicy(str(result.checkpoint), max_new_tokens=160, device="cpu")
    env = build_env(config.env, trained, SPLIT)
    targets = read_targets(config.data.targets or (out_dir / "targets.jsonl"))
    n = config.data.limit_train or len(env.samples)
    answers = {}
    for i in range(n):
        obs, ctx = episode(env, i)
        answers[env.samples[i].sample_id] = trained.generate(obs, ctx, do_sample=False)[0].text
    return result, targets, answers


def test_one_sample_is_memorised_exactly(tiny_checkpoint: Path, data_root: Path, tmp_path: Path):
    # A short JSONL target, learnt in 60 steps: greedy decoding of the exported model
    # reproduces it exactly and stops at the end-of-turn token.
    sample = list(load_dataset("synthetic", split=SPLIT, root=data_root))[0]
    target = '<answer>{"span": [1.0, 3.0], "boxes": {}}</answer>'
    write_targets(tmp_path / "t.jsonl", {sample.sample_id: target})
    data = {"targets": str(tmp_path / "t.jsonl"), "eval_split": None, "limit_train": 1}
    _, _, answers = _memorise(
        tiny_checkpoint, data_root, tmp_path / "run", data=data, epochs=60, batch_size=1, lr=0.02
    )
    assert answers == {sample.sample_id: target}


@pytest.mark.slow
def test_ground_truth_of_two_samples_is_memorised(
    tiny_checkpoint: Path, data_root: Path, tmp_path: Path
):
    # Two different ground-truth answers (~90 tokens each): after 100 steps greedy decoding
    # tells the samples apart and writes each target exactly; through the env each scores
    # what its ground-truth target scores.
    changes = {"epochs": 100, "data": {"limit_eval": None}}
    changes["policy"] = {
        "name": "vlm",
        "config": {"model_path": str(tiny_checkpoint), "max_new_tokens": 160},
    }
    result, targets, answers = _memorise(tiny_checkpoint, data_root, tmp_path / "run", **changes)
    assert answers == targets and len(set(targets.values())) == 2
    per_sample = [
        json.loads(x) for x in (tmp_path / "run/eval/per_sample.jsonl").read_text().splitlines()
    ]
    env = build_env(
        {"dataset": "synthetic", "root": str(data_root), "max_side": 64},
        VLMPolicy(str(result.checkpoint), device="cpu"),
        SPLIT,
    )
    for i, record in enumerate(per_sample):
        env.reset(options={"index": i})
        _, reward, _, _, info = env.step(targets[record["sample_id"]])
        assert record["parse_error"] is None
        assert record["reward"] == pytest.approx(reward)
        assert record["v_iou"] == pytest.approx(info["v_iou"])


# --------------------------------------------------------------------------- config


def test_shipped_config_validates():
    path = Path(__file__).resolve().parents[2] / "stvg/experiments/configs/sft_vlm_tiny.yaml"
    config = load_sft_config(path)
    assert isinstance(config, VLMSFTConfig)
    assert config.policy.config.model_path == "data_cache/tiny-qwen2.5-vl"
    assert (config.data.limit_train, config.batch_size, config.micro_batch_size) == (8, 2, 1)


def test_config_dispatch_and_errors(tiny_checkpoint: Path, data_root: Path, tmp_path: Path, capsys):
    good = _config(tiny_checkpoint, data_root, tmp_path / "run")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(good))
    assert isinstance(load_sft_config(path), VLMSFTConfig)
    path.write_text(yaml.safe_dump({"epochs": 2}))
    assert isinstance(load_sft_config(path), SFTConfig)
    cases = {
        "policy.config.modle_path": _config(
            tiny_checkpoint,
            data_root,
            tmp_path,
            policy={"name": "vlm", "config": {"modle_path": "x"}},
        ),
        "policy.name": _config(
            tiny_checkpoint,
            data_root,
            tmp_path,
            policy={"name": "native", "config": {"model_path": "x"}},
        ),
        "env.fsp": _config(tiny_checkpoint, data_root, tmp_path, env={"fsp": 2.0}),
        "env.split": _config(tiny_checkpoint, data_root, tmp_path, env={"split": "test"}),
        "micro_batch_size": _config(tiny_checkpoint, data_root, tmp_path, micro_batch_size=3),
        "data.limit_train": _config(tiny_checkpoint, data_root, tmp_path, data={"limit_train": 0}),
    }
    for key, config in cases.items():
        with pytest.raises(ConfigError, match=f"config key {key}"):
            from_dict(VLMSFTConfig, config)
    with pytest.raises(ConfigError, match="must be divisible by micro_batch_size"):
        from_dict(VLMSFTConfig, cases["micro_batch_size"])
    path.write_text(yaml.safe_dump(cases["env.fsp"]))
    assert main(["train-sft", "--config", str(path)]) == 2
    assert "unknown config key env.fsp" in capsys.readouterr().err
    # --write-targets writes the GT targets of the config's train split and trains nothing
    path.write_text(yaml.safe_dump(good))
    out = tmp_path / "gt.jsonl"
    assert main(["train-sft", "--config", str(path), "--write-targets", str(out)]) == 0
    assert len(read_targets(out)) == 2 and not (tmp_path / "run").exists()
    path.write_text(yaml.safe_dump({"epochs": 2}))
    assert main(["train-sft", "--config", str(path), "--write-targets", str(out)]) == 2
    assert "--write-targets needs a VLM config" in capsys.readouterr().err


# --------------------------------------------------------------------------- greedy eval


def test_greedy_evaluation_asks_the_policy_for_greedy_answers_by_keyword() -> None:
    """The evaluation wrapper calls the one ``generate_batch(obs_list, ctxs, *, do_sample)``
    signature with ``do_sample=False``, whatever the policy's own setting."""
    from stvg.evaluation.greedy import Greedy
    from stvg.policies.base import TextCompletion, TextGenerator

    calls = []

    class Sampler:
        def generate_batch(self, obs_list, ctxs=None, *, do_sample=None):
            calls.append((list(obs_list), ctxs, do_sample))
            return [TextCompletion("a", (1,)) for _ in obs_list]

    greedy = Greedy(Sampler())
    assert isinstance(greedy, TextGenerator)
    completions = greedy.generate_batch([{"o": 0}, {"o": 1}], ["c0", "c1"])
    assert [c.text for c in completions] == ["a", "a"]
    assert calls == [([{"o": 0}, {"o": 1}], ["c0", "c1"], False)]
