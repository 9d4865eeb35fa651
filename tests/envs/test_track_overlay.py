"""Track overlays: the frames a track-id policy sees are the same in an env step, in the
evaluation path (``stvg evaluate --policy``) and in the verl export, and every drawn ID
label sits on its track's box in the track's colour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stvg.envs.grounding import GroundingEnv
from stvg.render.tracks import LABEL_HEIGHT, shown_box, track_colour

TRACKS = {"source": "synthetic", "seed": 0, "noise": {"jitter": 0.05, "false_tracks": 1}}


def _shown(obs: dict) -> np.ndarray:
    count = int(obs["frame_mask"].sum())
    width, height = (int(v) for v in obs["shown_size"])
    return obs["frames"][:count, :height, :width].copy()


@pytest.fixture(scope="module")
def env_kwargs(small_split_kwargs: dict) -> dict:
    return {**small_split_kwargs, "max_side": 64, "tracks": TRACKS}


def test_every_drawn_id_label_sits_on_its_track_box(env_kwargs: dict) -> None:
    env = GroundingEnv({**env_kwargs, "answer_format": "track-id"})
    checked = 0
    for index in range(len(env.samples)):
        obs, info = env.reset(options={"index": index})
        frames, ctx = _shown(obs), env.contract.frame
        width, height = ctx.shown_size
        for t, frame in enumerate(ctx.frame_idx.tolist()):
            boxes = ctx.tracks.boxes_at(frame)
            for track_id, box in boxes:
                x1, y1, x2, y2 = shown_box(box, ctx.original_size, ctx.shown_size)
                # the label's bottom-left pixel: just above the box corner, or inside its top
                label_y = y1 - 1 if y1 - LABEL_HEIGHT >= 0 else y1 + LABEL_HEIGHT - 1
                later = [b for k, b in boxes if k > track_id]  # drawn over it
                if later or label_y >= height:
                    continue
                assert tuple(frames[t, label_y, min(x1, width - 1)]) == track_colour(track_id)
                checked += 1
    assert checked >= 10


def test_overlays_are_deterministic_and_depend_on_the_seed(env_kwargs: dict) -> None:
    def first_frames(tracks: dict) -> np.ndarray:
        env = GroundingEnv({**env_kwargs, "tracks": tracks})
        return _shown(env.reset(options={"index": 0})[0])

    a, b = first_frames(TRACKS), first_frames(TRACKS)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, first_frames({**TRACKS, "seed": 1}))
    plain = GroundingEnv({k: v for k, v in env_kwargs.items() if k != "tracks"})
    assert not np.array_equal(a, _shown(plain.reset(options={"index": 0})[0]))


def test_env_evaluation_and_verl_export_show_identical_frames(
    env_kwargs: dict, tmp_path: Path
) -> None:
    from stvg.config import from_dict
    from stvg.envs.config import as_env_config
    from stvg.evaluation import evaluate_policy
    from stvg.evaluation.config import PolicyEvalConfig
    from stvg.exports.samples import build_export_env, decode_data_uri, export_samples
    from stvg.exports.verl import verl_row
    from stvg.policies.baselines import OraclePolicy
    from stvg.policies.vlm.config import VLMPolicyConfig
    from stvg.policies.vlm.prompter import VLMPrompter
    from stvg.policies.vlm.tiny import build_tiny_checkpoint

    env = GroundingEnv({**env_kwargs, "answer_format": "track-id"})
    n = len(env.samples)
    stepped = []
    for index in range(n):
        obs, _ = env.reset(options={"index": index})
        text = env.contract.render(env.contract.gt_answer(env.sample))
        info = env.step(text)[4]
        assert info["format_ok"] and info["t_iou"] == 1.0
        stepped.append(_shown(obs))

    class Recording(OraclePolicy):
        seen: list[np.ndarray] = []

        def act(self, obs, info=None):
            Recording.seen.append(_shown(obs))
            return super().act(obs, info)

    policy = Recording(action_format="text", answer_format="json-v1")
    config = from_dict(
        PolicyEvalConfig,
        {"policy": {"name": "oracle"}, "env": {**env_kwargs, "id": "stvg/Grounding-v0"}},
    )
    evaluate_policy(config, policy=policy)
    assert len(Recording.seen) == n

    checkpoint = build_tiny_checkpoint("qwen2.5-vl", tmp_path / "tiny")
    prompter = VLMPrompter(VLMPolicyConfig(model_path=str(checkpoint), answer_format="track-id"))
    export_env = build_export_env(
        prompter, as_env_config({**env_kwargs, "id": "stvg/Grounding-v0"})
    )
    exported = []
    for sample in export_samples(prompter, export_env):
        row = verl_row(sample, dataset="synthetic", split="test", family="qwen2.5-vl")
        exported.append(np.stack([decode_data_uri(u) for u in row["videos"][0]["video"]]))
        assert "Target ID: K, Time range: START to END" in row["prompt"][-1]["content"]
        assert '"tracks"' in row["reward_model"]["ground_truth"]
    assert len(exported) == n
    for a, b, c in zip(stepped, Recording.seen, exported, strict=True):
        assert a.tobytes() == b.tobytes() == c.tobytes()
