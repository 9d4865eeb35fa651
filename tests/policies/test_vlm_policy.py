"""VLMPolicy on tiny random Qwen2.5-VL and Qwen3-VL checkpoints built locally (no downloads)."""

from __future__ import annotations

import dataclasses
import importlib.util
import re

import numpy as np
import pytest
import torch
from tiny_vlm import build_qwen3_vl, build_qwen25_vl
from transformers import AutoModelForImageTextToText, AutoProcessor

from stvg.config import ConfigError
from stvg.envs.cost import visual_tokens
from stvg.policies import Rollouts, TextCompletion, TrainablePolicy, make
from stvg.policies.vlm import ParsedGeneration, VLMPolicy, VLMPolicyConfig
from stvg.verifiers.formats import ContractSpec, FrameContext, ModelGeometry, ParseResult

FAMILIES = ("qwen2.5-vl", "qwen3-vl")
QUERY = "the man in the red hat waves"
FPS = 0.5  # frames per second: the frames are 2 s apart
#: (width, height) the processors resize 4 frames of 224x126 to: Qwen2.5-VL per frame
#: (min 100_352 px: 448x252), Qwen3-VL over the clip (min 131_072 px: 256x160).
MODEL_SIZE = {"qwen2.5-vl": (448, 252), "qwen3-vl": (256, 160)}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Both tiny checkpoints, saved once per module."""
    root = tmp_path_factory.mktemp("tiny_vlm")
    return {
        "qwen2.5-vl": str(build_qwen25_vl(root / "qwen25")),
        "qwen3-vl": str(build_qwen3_vl(root / "qwen3")),
    }


@pytest.fixture(scope="module")
def policies(checkpoints):
    """One policy per family, loaded through ``model_path`` as a user would."""
    return {
        family: VLMPolicy(path, fps=FPS, max_new_tokens=6, device="cpu", seed=0)
        for family, path in checkpoints.items()
    }


def make_obs(shown=(224, 126), canvas=224, slots=6, frames=4, seed=0, query=QUERY):
    """A GroundingEnv-style observation: ``frames`` real frames top-left on a padded canvas."""
    width, height = shown
    rng = np.random.default_rng(seed)
    canvas_frames = np.zeros((slots, canvas, canvas, 3), dtype=np.uint8)
    canvas_frames[:frames, :height, :width] = rng.integers(0, 256, (frames, height, width, 3))
    mask = np.zeros(slots, dtype=np.int8)
    mask[:frames] = 1
    times = np.zeros(slots, dtype=np.float32)
    times[:frames] = np.arange(frames) / FPS
    return {
        "frames": canvas_frames,
        "frame_mask": mask,
        "timestamps": times,
        "shown_size": np.array([width, height], dtype=np.int64),
        "query": query,
    }


def make_ctx(obs, model_size):
    """The FrameContext of ``make_obs``: a 25 fps, 200-frame 448x252 video sampled at 0.5 fps."""
    times = obs["timestamps"][obs["frame_mask"] == 1].astype(np.float64)
    return FrameContext(
        frame_idx=np.round(times * 25).astype(np.int64),
        timestamps_s=times,
        shown_size=tuple(int(v) for v in obs["shown_size"]),
        original_size=(448, 252),
        native_fps=25.0,
        num_frames=200,
        fps=FPS,
        model_size=model_size,
    )


def observations():
    """Four observations of different lengths, sizes and content (prompts differ in length)."""
    return [
        make_obs(seed=1),
        make_obs(frames=3, seed=2, shown=(160, 90)),
        make_obs(frames=1, seed=3),
        make_obs(frames=5, seed=4, shown=(100, 200), query="a dog"),
    ]


@pytest.mark.parametrize("family", FAMILIES)
def test_family_coords_and_answer_spec_come_from_the_checkpoint(policies, family):
    policy = policies[family]
    assert policy.family == family
    assert policy.coords == {"qwen2.5-vl": "pixels", "qwen3-vl": "norm1000"}[family]
    assert isinstance(policy, TrainablePolicy)
    spec = policy.answer_spec
    bounds = {"qwen2.5-vl": (100_352, 602_112), "qwen3-vl": (131_072, 786_432)}[family]
    assert spec == ContractSpec("json-v1", policy.coords, FPS, ModelGeometry(family, *bounds))
    assert spec.geometry.model_size(4, (224, 126)) == MODEL_SIZE[family]


@pytest.mark.parametrize("family", FAMILIES)
def test_prompt_tells_query_rate_timestamps_and_the_model_size(policies, family):
    policy = policies[family]
    prep = policy.prepare(make_obs())
    text = policy.tokenizer.decode(prep.input_ids[0])
    width, height = MODEL_SIZE[family]
    assert prep.model_size == (width, height) and prep.shown_size == (224, 126)
    assert QUERY in text
    assert "sampled at 0.5 frames per second" in text
    assert "shown at these times (seconds): 0, 2, 4, 6." in text
    # The size the model sees, not the env's 224x126.
    assert f"4 frames of {width}x{height} pixels" in text
    assert "json-v1" in text  # the answer format's instructions
    markers = re.findall(r"<(\d+\.\d) seconds>", text)
    if family == "qwen3-vl":
        # One marker per temporal patch: mean of frames (0 s, 2 s) and (4 s, 6 s).
        assert markers == ["1.0", "5.0"]
    else:
        assert markers == []
        assert f"pixels of the frames as shown to you ({width}x{height}: x from 0 to {width}" in (
            text
        )
        # Qwen2.5-VL gets the time between temporal patches: 2 frames * 2 s.
        assert prep.second_per_grid_ts.tolist() == [4.0]


@pytest.mark.parametrize(
    "family, expected",
    # 224x126 -> Qwen2.5-VL 448x252: 2 * 18 * 32 / 4 = 288; Qwen3-VL 256x160: 2 * 10 * 16 / 4.
    [("qwen2.5-vl", 288), ("qwen3-vl", 80)],
)
def test_visual_tokens_in_prompt_equal_the_cost_formula(policies, family, expected):
    policy = policies[family]
    prep = policy.prepare(make_obs())
    in_prompt = int((prep.input_ids == policy.model.config.video_token_id).sum())
    assert in_prompt == visual_tokens(family, 4, 126, 224) == expected
    assert prep.visual_tokens == expected
    assert int((prep.mm_token_type_ids == 2).sum()) == expected


@pytest.mark.parametrize("family", FAMILIES)
def test_canvas_is_cropped_to_the_shown_size(policies, family):
    policy = policies[family]
    prep = policy.prepare(make_obs(shown=(56, 40), frames=3))
    assert prep.shown_size == (56, 40)
    assert prep.frames_shown == 3
    assert prep.visual_tokens == visual_tokens(family, 3, 40, 56)


@pytest.mark.parametrize("family", FAMILIES)
def test_prompt_is_byte_identical_with_and_without_the_env_context(policies, family):
    """Rollouts prepare without a context, evaluation with one: the same prompt."""
    policy = policies[family]
    obs = make_obs()
    alone = policy.prepare(obs)
    with_ctx = policy.prepare(obs, make_ctx(obs, MODEL_SIZE[family]))
    assert with_ctx.text.encode() == alone.text.encode()
    assert torch.equal(with_ctx.input_ids, alone.input_ids)
    assert torch.equal(with_ctx.pixel_values_videos, alone.pixel_values_videos)


def test_a_context_in_another_frame_size_or_time_raises(policies):
    policy = policies["qwen2.5-vl"]
    obs = make_obs()
    # An env that scores pixels in the shown 224x126 while the model sees 448x252.
    with pytest.raises(ValueError, match=r"coord_size is \(224, 126\).*resized the frames to "):
        policy.prepare(obs, make_ctx(obs, None))
    with pytest.raises(ValueError, match=r"\(448, 252\) \(width, height\)"):
        policy.generate_and_parse(obs, make_ctx(obs, (224, 126)))
    shifted = make_obs()
    shifted["timestamps"][:4] += 1.0
    with pytest.raises(ValueError, match=r"timestamps_s \[1\.0, 3\.0, 5\.0, 7\.0\] differ .* "):
        policy.prepare(obs, make_ctx(shifted, (448, 252)))
    # Normalised coordinates do not depend on the size: Qwen3-VL accepts the shown size.
    qwen3 = policies["qwen3-vl"]
    assert qwen3.prepare(obs, make_ctx(obs, None)).model_size == (256, 160)


@pytest.mark.parametrize("family", FAMILIES)
def test_generate_and_parse_never_raises(policies, family):
    policy = policies[family]
    obs = make_obs()
    result = policy.generate_and_parse(obs, make_ctx(obs, MODEL_SIZE[family]))
    assert isinstance(result, ParsedGeneration)
    assert isinstance(result.parse, ParseResult)
    # A random model writes at most 6 tokens of garbage, far from a json-v1 answer: no
    # answer, a reason saying why, and the same result as parsing its text again.
    assert not result.parse.ok
    assert isinstance(result.parse.error, str) and result.parse.error
    assert result.text == result.completion.text and result.ctx is not None
    again = policy.answer_format.parse(result.text, result.ctx)
    assert (again.answer, again.error, again.repairs) == (
        None,
        result.parse.error,
        result.parse.repairs,
    )
    assert 1 <= result.completion.output_tokens <= 6
    assert policy.last_cost == {
        "frames_shown": 4,
        "visual_tokens": {family: visual_tokens(family, 4, 126, 224)},
        "output_tokens": result.completion.output_tokens,
    }
    # The reset ``info`` of GroundingEnv works in place of a FrameContext; the context built
    # from it carries the processor's frame size.
    info = {
        "frame_idx": [0, 50, 100, 150],
        "original_size": (448, 252),
        "native_fps": 25.0,
        "num_frames": 200,
    }
    from_info = policy.generate_and_parse(obs, info)
    assert isinstance(from_info.parse, ParseResult)
    assert from_info.ctx.model_size == MODEL_SIZE[family]


@pytest.mark.parametrize("family", FAMILIES)
def test_act_is_greedy_by_default_and_sample_samples(policies, family):
    policy = policies[family]
    assert policy.config.do_sample is False
    obs = make_obs()
    torch.manual_seed(1)
    first = policy.act(obs)
    torch.manual_seed(2)
    assert policy.act(obs) == first
    rollouts = policy.sample([obs], n=4)
    # The checkpoint's generation_config says top_k=1; the policy samples the full softmax.
    assert len({c.token_ids for c in rollouts.actions}) > 1


@pytest.mark.parametrize("family", FAMILIES)
def test_log_prob_matches_the_generation_logits(policies, family):
    """Greedy generation's own logits give the same per-token log-probs (prompt masked)."""
    policy = policies[family]
    obs = make_obs()
    prep = policy.prepare(obs)
    with torch.no_grad():
        out = policy.model.generate(
            **policy.model_inputs([prep]),
            max_new_tokens=5,
            min_new_tokens=5,
            do_sample=False,
            output_logits=True,
            return_dict_in_generate=True,
            suppress_tokens=sorted(policy._token_ids.values()),
            pad_token_id=policy.tokenizer.pad_token_id,
        )
    ids = out.sequences[0, prep.prompt_tokens :].tolist()
    logits = torch.stack(out.logits, dim=1)[0].float()
    expected = torch.log_softmax(logits, dim=-1).gather(-1, torch.tensor(ids)[:, None])[:, 0]
    with torch.no_grad():
        got = policy.log_prob([obs], [TextCompletion("", tuple(ids))])
    assert got.shape == (1, 5)
    torch.testing.assert_close(got[0], expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_batched_rollouts_equal_one_prompt_at_a_time(checkpoints, family):
    """Left padding and micro-batches change nothing: log-probs and greedy answers match."""
    policy = VLMPolicy(
        checkpoints[family], fps=FPS, max_new_tokens=8, device="cpu", seed=0, micro_batch_size=3
    )
    obs = observations()
    rollouts = policy.sample(obs, n=2)
    assert rollouts.obs_index == [0, 0, 1, 1, 2, 2, 3, 3]
    width = rollouts.log_probs.shape[1]
    singles = []
    with torch.no_grad():
        for row, action in enumerate(rollouts.actions):
            alone = policy.log_prob([obs[row // 2]], [action])[0]
            singles.append(torch.nn.functional.pad(alone, (0, width - alone.shape[0])))
    torch.testing.assert_close(rollouts.log_probs, torch.stack(singles), atol=1e-4, rtol=0)

    batched = policy.act_batch(obs)
    alone = [policy.act(o) for o in obs]
    assert batched == alone
    # The greedy scores agree too, not only their argmax.
    preps = [policy.prepare(o) for o in obs]
    options = {"max_new_tokens": 4, "do_sample": False, "output_logits": True}
    options.update(return_dict_in_generate=True, pad_token_id=policy.tokenizer.pad_token_id)
    with torch.no_grad():
        together = policy.model.generate(**policy.model_inputs(preps), **options).logits
        for i, prep in enumerate(preps):
            one = policy.model.generate(**policy.model_inputs([prep]), **options).logits
            for step in range(4):
                torch.testing.assert_close(together[step][i], one[step][0], atol=1e-4, rtol=0)
    # ... and they are not the same for every observation (the test is not vacuous).
    assert (together[0][0] - together[0][3]).abs().max() > 1e-3


@pytest.mark.parametrize("family", FAMILIES)
def test_shared_prefill_samples_what_num_return_sequences_samples(policies, family):
    """One prefill per prompt, its cache repeated n times: the same draws as transformers'
    num_return_sequences (which runs the language model over each prompt n times)."""
    policy = policies[family]
    preps = [policy.prepare(o) for o in observations()]
    torch.manual_seed(5)
    shared = policy._generate(preps, 3, True)
    torch.manual_seed(5)
    plain = policy._generate(preps, 3, True, share_prefill=False)
    assert [c.token_ids for c in shared] == [c.token_ids for c in plain]
    assert len({c.token_ids for c in shared}) == 12  # 4 prompts x 3 different samples
    # Greedy decoding of n > 1 answers decodes once: n equal answers.
    assert len({c.text for c in policy.generate(make_obs(), n=3)}) == 1


@pytest.mark.parametrize("top_p", [1.0, 0.5])
def test_recorded_log_probs_equal_a_rescoring_pass(checkpoints, top_p):
    """The sampling steps' own log-probs are those of the full softmax (before top-p)."""
    obs = observations()[:2]
    results = {}
    for mode in ("generation", "rescore"):
        policy = VLMPolicy(
            checkpoints["qwen2.5-vl"],
            fps=FPS,
            max_new_tokens=6,
            device="cpu",
            temperature=0.7,
            top_p=top_p,
            rollout_log_probs=mode,
        )
        torch.manual_seed(3)
        results[mode] = policy.sample(obs, n=3)
        with torch.no_grad():
            scored = policy.log_prob(obs, results[mode])
        torch.testing.assert_close(results[mode].log_probs, scored, atol=1e-5, rtol=0)
    generation, rescore = results["generation"], results["rescore"]
    assert [c.token_ids for c in generation.actions] == [c.token_ids for c in rescore.actions]
    torch.testing.assert_close(generation.log_probs, rescore.log_probs, atol=1e-5, rtol=0)
    assert torch.all(generation.log_probs[~generation.mask] == 0)


def test_log_prob_rows_and_micro_batches(checkpoints):
    policy = VLMPolicy(
        checkpoints["qwen2.5-vl"], fps=FPS, max_new_tokens=5, device="cpu", micro_batch_size=3
    )
    obs = observations()[:3]
    rollouts = policy.sample(obs, n=3)
    assert policy.micro_batches(len(rollouts)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert policy.micro_batches([8, 2, 5, 1]) == [[8, 2, 5], [1]]
    subset = policy.log_prob(obs, rollouts, rows=[7, 1])
    assert subset.shape == (2, rollouts.log_probs.shape[1]) and subset.requires_grad
    torch.testing.assert_close(subset.detach(), rollouts.log_probs[[7, 1]], atol=1e-5, rtol=0)
    # Gradient accumulation over micro-batches equals one backward pass over all rows.
    weights = torch.linspace(-1, 1, len(rollouts))[:, None]
    policy.model.zero_grad(set_to_none=True)
    (policy.log_prob(obs, rollouts) * weights).sum().backward()
    full = [p.grad.clone() for p in policy.parameters() if p.grad is not None]
    policy.model.zero_grad(set_to_none=True)
    for rows in policy.micro_batches(len(rollouts)):
        (policy.log_prob(obs, rollouts, rows=rows) * weights[rows]).sum().backward()
    accumulated = [p.grad for p in policy.parameters() if p.grad is not None]
    assert len(full) == len(accumulated)
    for a, b in zip(full, accumulated, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match=r"rows \[9\] are out of range for 9 completions"):
        policy.log_prob(obs, rollouts, rows=[9])


@pytest.mark.parametrize("family", FAMILIES)
def test_rollouts_rescore_and_backpropagate_to_the_vision_tower(policies, family):
    """Sampled rollouts rescore to their own log-probs and their gradient reaches the
    video. (The GRPO loss itself runs through the trainer in
    tests/training/test_grpo_loss_trainer.py.)"""
    policy = policies[family]
    obs = make_obs()
    rollouts = policy.sample([obs], n=3)
    assert isinstance(rollouts, Rollouts)
    assert len(rollouts) == 3 and rollouts.obs_index == [0, 0, 0] and rollouts.group_size == 3
    lengths = [c.output_tokens for c in rollouts.actions]
    assert rollouts.mask.sum(dim=1).tolist() == lengths
    assert rollouts.extras["visual_tokens"] == [visual_tokens(family, 4, 126, 224)] * 3
    assert not rollouts.log_probs.requires_grad
    assert torch.all(rollouts.log_probs[~rollouts.mask] == 0)
    assert torch.all(rollouts.log_probs[rollouts.mask] < 0)

    policy.model.zero_grad(set_to_none=True)
    new_log_probs = policy.log_prob([obs], rollouts)
    assert new_log_probs.requires_grad
    # Same weights: every ratio starts at 1.
    torch.testing.assert_close(new_log_probs.detach(), rollouts.log_probs, atol=1e-5, rtol=0)

    # a policy-gradient surrogate: each answer's real tokens weighted by its advantage
    advantages = torch.tensor([1.0, 0.0, -1.0])[:, None]
    (-(new_log_probs * advantages * rollouts.mask).sum()).backward()

    grads = {n: p.grad for n, p in policy.model.named_parameters() if p.grad is not None}
    assert grads, "no parameter received a gradient"
    assert all(torch.isfinite(g).all() for g in grads.values())
    assert sum(float(g.abs().sum()) for g in grads.values()) > 0
    # The video reaches the loss: the vision tower's patch embedding gets a gradient.
    vision = [g for n, g in grads.items() if "patch_embed" in n]
    assert vision and any(float(g.abs().sum()) > 0 for g in vision)
    policy.model.zero_grad(set_to_none=True)


def test_gradient_checkpointing_gives_the_same_gradients(checkpoints):
    obs = make_obs()
    grads = []
    for checkpointing in (False, True):
        policy = VLMPolicy(
            checkpoints["qwen3-vl"],
            fps=FPS,
            device="cpu",
            gradient_checkpointing=checkpointing,
        )
        assert policy.model.is_activation_checkpointing is checkpointing
        policy.train()  # transformers checkpoints only in training mode
        completion = TextCompletion("", (40, 41, 42))
        policy.log_prob([obs], [completion]).sum().backward()
        grads.append(
            torch.cat([p.grad.flatten() for p in policy.parameters() if p.grad is not None])
        )
    torch.testing.assert_close(grads[0], grads[1], atol=1e-5, rtol=1e-4)


def test_save_pretrained_exports_a_loadable_checkpoint(checkpoints, tmp_path):
    policy = VLMPolicy(checkpoints["qwen2.5-vl"], fps=FPS, max_new_tokens=4, device="cpu")
    with torch.no_grad():
        policy.model.lm_head.weight.add_(0.5)  # "trained" weights
    out = policy.save_pretrained(tmp_path / "hf")
    model = AutoModelForImageTextToText.from_pretrained(out, local_files_only=True)
    processor = AutoProcessor.from_pretrained(out, local_files_only=True)
    assert torch.equal(model.lm_head.weight, policy.model.lm_head.weight)
    assert type(processor).__name__ == "Qwen2_5_VLProcessor"
    reloaded = VLMPolicy(str(out), fps=FPS, max_new_tokens=4, device="cpu")
    obs = make_obs()
    assert reloaded.prepare(obs).text == policy.prepare(obs).text
    assert reloaded.act(obs) == policy.act(obs)


def test_device_map_goes_to_from_pretrained(checkpoints):
    if importlib.util.find_spec("accelerate") is None:
        with pytest.raises(ValueError, match="needs the accelerate package.*pip install"):
            VLMPolicy(checkpoints["qwen3-vl"], device_map="cpu")
        return
    policy = VLMPolicy(checkpoints["qwen3-vl"], device_map="cpu")
    assert policy.device == "cpu"
    assert isinstance(policy.act(make_obs()), str)


def test_log_prob_of_strings_splits_rows_by_observation(policies):
    policy = policies["qwen2.5-vl"]
    obs_a, obs_b = make_obs(), make_obs(frames=2)
    with torch.no_grad():
        scores = policy.log_prob([obs_a, obs_b], ["ab", "abc", "x", "xyz"])
    assert scores.shape == (4, 3)
    # Byte-level tokenizer: one token per character, padding scored 0.
    assert (scores != 0).sum(dim=1).tolist() == [2, 3, 1, 3]
    with pytest.raises(ValueError, match="do not split evenly"):
        policy.log_prob([obs_a, obs_b], ["a", "b", "c"])


def test_registry_builds_and_validates(checkpoints):
    policy = make("vlm", model_path=checkpoints["qwen3-vl"], max_new_tokens=2, device="cpu")
    assert isinstance(policy, VLMPolicy) and policy.config.max_new_tokens == 2
    with pytest.raises(ConfigError, match=r"policy\.max_new_token"):
        make("vlm", model_path=checkpoints["qwen3-vl"], max_new_token=2)
    with pytest.raises(ConfigError, match=r"policy\.top_p"):
        make("vlm", model_path=checkpoints["qwen3-vl"], top_p=1.5)
    with pytest.raises(ConfigError, match=r"policy\.micro_batch_size.*>= 1"):
        make("vlm", model_path=checkpoints["qwen3-vl"], micro_batch_size=0)
    with pytest.raises(ConfigError, match=r"policy\.device_map.*not both"):
        make("vlm", model_path=checkpoints["qwen3-vl"], device="cpu", device_map="auto")


def test_config_overrides_reach_the_processor(checkpoints):
    config = VLMPolicyConfig(
        model_path=checkpoints["qwen2.5-vl"], device="cpu", min_pixels=4096, max_pixels=20_000
    )
    policy = VLMPolicy.from_config(config)
    assert policy.answer_spec.geometry == ModelGeometry("qwen2.5-vl", 4096, 20_000)
    # 224x126 = 28_224 px > 20_000: beta = 1.188 -> 168x84 (multiples of 28).
    prep = policy.prepare(make_obs())
    assert prep.model_size == (168, 84)
    assert "4 frames of 168x84 pixels" in prep.text


def test_prompt_tells_the_processors_size_when_the_estimate_differs(checkpoints):
    policy = VLMPolicy(checkpoints["qwen2.5-vl"], fps=FPS, device="cpu")
    # A geometry that predicts 168x84 while the processor resizes to 448x252.
    wrong = ModelGeometry("qwen2.5-vl", 4096, 20_000)
    policy._answer_spec = dataclasses.replace(policy.answer_spec, geometry=wrong)
    prep = policy.prepare(make_obs())
    assert prep.model_size == prep.shown.model_size == (448, 252)
    assert "4 frames of 448x252 pixels" in prep.text and "168x84" not in prep.text


def test_bad_model_paths_and_families(checkpoints, tmp_path):
    with pytest.raises(FileNotFoundError, match="not a local directory"):
        VLMPolicy(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="no config.json"):
        VLMPolicy(str(tmp_path))
    with pytest.raises(ValueError, match="is a qwen3-vl checkpoint"):
        VLMPolicy(checkpoints["qwen3-vl"], family="qwen2.5-vl", device="cpu")


def test_observation_errors_name_the_key(policies):
    policy = policies["qwen3-vl"]
    obs = make_obs()
    del obs["query"]
    with pytest.raises(KeyError, match="'query'"):
        policy.prepare(obs)
    obs = make_obs()
    obs["frame_mask"][:] = 0
    with pytest.raises(ValueError, match="marks no real frame"):
        policy.prepare(obs)
    with pytest.raises(ValueError, match="must not contain <\\|video_pad\\|>"):
        policy.prepare(make_obs(query="find <|video_pad|>"))


def test_export_keeps_pixel_overrides_and_the_loaded_dtype(checkpoints, tmp_path):
    # min_pixels 3136 makes 224x126 frames 224x112 (not 448x252): the export must say so.
    policy = VLMPolicy(
        checkpoints["qwen2.5-vl"], fps=FPS, max_new_tokens=4, device="cpu", min_pixels=3136
    )
    assert policy.geometry.model_size(4, (224, 126)) == (224, 112)
    policy.model.float()  # as a trainer's float32 master weights
    out = policy.save_pretrained(tmp_path / "hf")
    reloaded = VLMPolicy(str(out), fps=FPS, max_new_tokens=4, device="cpu")
    assert reloaded.geometry == policy.geometry
    assert reloaded.answer_spec == policy.answer_spec
    obs = make_obs()
    assert reloaded.prepare(obs).model_size == (224, 112)

    bf16 = VLMPolicy(checkpoints["qwen2.5-vl"], fps=FPS, device="cpu", dtype="bfloat16")
    bf16.model.float()
    assert bf16.weight_dtype == torch.float32  # pixel inputs follow the weights
    bf16.prepare(obs)
    exported = AutoModelForImageTextToText.from_pretrained(
        bf16.save_pretrained(tmp_path / "bf16"), local_files_only=True, dtype="auto"
    )
    assert next(exported.parameters()).dtype == torch.bfloat16
