"""VLMPolicy on tiny random Qwen2.5-VL and Qwen3-VL checkpoints built locally (no downloads)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from tiny_vlm import build_qwen3_vl, build_qwen25_vl

from stvg.config import ConfigError
from stvg.envs.cost import visual_tokens
from stvg.policies import Rollouts, TextCompletion, TrainablePolicy, make
from stvg.policies.vlm import ParsedGeneration, VLMPolicy
from stvg.verifiers.formats import FrameContext, ParseResult

FAMILIES = ("qwen2.5-vl", "qwen3-vl")
QUERY = "the man in the red hat waves"
FPS = 0.5  # frames per second: the 4 frames are 2 s apart


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


def make_obs(shown=(56, 56), canvas=64, slots=6, frames=4):
    """A GroundingEnv-style observation: ``frames`` real frames top-left on a padded canvas."""
    width, height = shown
    rng = np.random.default_rng(0)
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
        "query": QUERY,
    }


def make_ctx(obs):
    """The FrameContext of ``make_obs``: a 25 fps, 200-frame 112x112 video sampled at 0.5 fps."""
    times = obs["timestamps"][obs["frame_mask"] == 1].astype(np.float64)
    return FrameContext(
        frame_idx=np.round(times * 25).astype(np.int64),
        timestamps_s=times,
        shown_size=tuple(int(v) for v in obs["shown_size"]),
        original_size=(112, 112),
        native_fps=25.0,
        num_frames=200,
        fps=FPS,
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_family_and_coords_come_from_the_checkpoint(policies, family):
    policy = policies[family]
    assert policy.family == family
    assert policy.coords == {"qwen2.5-vl": "pixels", "qwen3-vl": "norm1000"}[family]
    assert isinstance(policy, TrainablePolicy)


@pytest.mark.parametrize("family", FAMILIES)
def test_prompt_tells_query_rate_and_timestamps(policies, family):
    policy = policies[family]
    prep = policy.prepare(make_obs())
    text = policy.tokenizer.decode(prep.input_ids[0])
    assert QUERY in text
    assert "sampled at 0.5 frames per second" in text
    assert "shown at these times (seconds): 0, 2, 4, 6." in text
    assert "4 frames of 56x56 pixels" in text
    assert "json-v1" in text  # the answer format's instructions
    markers = re.findall(r"<(\d+\.\d) seconds>", text)
    if family == "qwen3-vl":
        # One marker per temporal patch: mean of frames (0 s, 2 s) and (4 s, 6 s).
        assert markers == ["1.0", "5.0"]
    else:
        assert markers == []
        # Qwen2.5-VL gets the time between temporal patches: 2 frames * 2 s.
        assert prep.video.second_per_grid_t == pytest.approx(4.0)


@pytest.mark.parametrize(
    "family, expected",
    # 56x56 -> Qwen2.5-VL 336x336 (per-frame min 100_352 px): 2 * 24 * 24 / 4 = 288;
    # Qwen3-VL 192x192 (clip min 131_072 px over 4 frames): 2 * 12 * 12 / 4 = 72.
    [("qwen2.5-vl", 288), ("qwen3-vl", 72)],
)
def test_visual_tokens_in_prompt_equal_the_cost_formula(policies, family, expected):
    policy = policies[family]
    prep = policy.prepare(make_obs())
    video_id = policy.model.config.video_token_id
    in_prompt = int((prep.input_ids == video_id).sum())
    assert in_prompt == visual_tokens(family, 4, 56, 56) == expected
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
def test_generate_and_parse_never_raises(policies, family):
    policy = policies[family]
    obs = make_obs()
    result = policy.generate_and_parse(obs, make_ctx(obs))
    assert isinstance(result, ParsedGeneration)
    assert isinstance(result.parse, ParseResult)
    # A random model writes garbage: no answer, and a reason saying why.
    assert result.parse.ok or result.parse.error
    assert 1 <= result.completion.output_tokens <= 6
    assert policy.last_cost == {
        "frames_shown": 4,
        "visual_tokens": {family: visual_tokens(family, 4, 56, 56)},
        "output_tokens": result.completion.output_tokens,
    }
    # The reset ``info`` of GroundingEnv works in place of a FrameContext.
    info = {
        "frame_idx": [0, 50, 100, 150],
        "original_size": (112, 112),
        "native_fps": 25.0,
        "num_frames": 200,
    }
    assert isinstance(policy.generate_and_parse(obs, info).parse, ParseResult)


@pytest.mark.parametrize("family", FAMILIES)
def test_log_prob_matches_the_generation_logits(policies, family):
    """Greedy generation's own logits give the same per-token log-probs (prompt masked)."""
    policy = policies[family]
    obs = make_obs()
    prep = policy.prepare(obs)
    with torch.no_grad():
        out = policy.model.generate(
            **policy.model_inputs(prep),
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
def test_grpo_loss_backpropagates(policies, family):
    policy = policies[family]
    obs = make_obs()
    rollouts = policy.sample([obs], n=3)
    assert isinstance(rollouts, Rollouts)
    assert len(rollouts) == 3 and rollouts.obs_index == [0, 0, 0] and rollouts.group_size == 3
    # The checkpoint's generation_config says top_k=1; the policy samples the full softmax.
    assert len({c.token_ids for c in rollouts.actions}) > 1
    lengths = [c.output_tokens for c in rollouts.actions]
    assert rollouts.mask.sum(dim=1).tolist() == lengths
    assert rollouts.extras["visual_tokens"] == [visual_tokens(family, 4, 56, 56)] * 3
    assert not rollouts.log_probs.requires_grad
    assert torch.all(rollouts.log_probs[~rollouts.mask] == 0)
    assert torch.all(rollouts.log_probs[rollouts.mask] < 0)

    policy.model.zero_grad(set_to_none=True)
    new_log_probs = policy.log_prob([obs], rollouts)
    assert new_log_probs.requires_grad
    # Same weights: every ratio starts at 1.
    torch.testing.assert_close(new_log_probs.detach(), rollouts.log_probs, atol=1e-5, rtol=0)

    advantages = torch.tensor([1.0, 0.0, -1.0])[:, None]  # group-normalised rewards
    mask = rollouts.mask.float()
    ratio = torch.exp(new_log_probs - rollouts.log_probs)
    clipped = torch.clamp(ratio, 0.8, 1.2)
    per_token = -torch.minimum(ratio * advantages, clipped * advantages)
    loss = (per_token * mask).sum() / mask.sum()
    loss.backward()

    grads = {n: p.grad for n, p in policy.model.named_parameters() if p.grad is not None}
    assert grads, "no parameter received a gradient"
    assert all(torch.isfinite(g).all() for g in grads.values())
    total = sum(float(g.abs().sum()) for g in grads.values())
    assert total > 0
    # The video reaches the loss: the vision tower's patch embedding gets a gradient.
    vision = [g for n, g in grads.items() if "patch_embed" in n]
    assert vision and any(float(g.abs().sum()) > 0 for g in vision)
    policy.model.zero_grad(set_to_none=True)


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
