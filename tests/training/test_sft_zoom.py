"""Supervised warm start of the zoom head: the target window and the frames the answer is
learned on for a known sample, worked out by hand, and a tiny SFT run end to end.

The toy sample is the zoom env tests' 12 s video: 120 frames at 10 fps (64x48), the target
box [8, 8, 40, 32] on frames 40..79 (4.0 s .. 7.9 s). On the 1 fps grid the positions are
seconds 0..11; the 0.25 fps glance shows seconds 0, 4, 8, so the head's video length is
8 + 4 = 12 s and 12 bins are 1 s each.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rl_helpers import SPLIT, TINY_ZOOM_MODEL, make_split

from stvg.config import ConfigError, from_dict
from stvg.data.types import Sample
from stvg.envs.config import ZoomEnvConfig
from stvg.policies.native import NativePolicy
from stvg.policies.native.zoom import ZoomHeadConfig
from stvg.training.sft import SFTConfig
from stvg.training.sft.native import train_sft_native
from stvg.training.sft.native_zoom import ZoomEpisodes

BOX = [8.0, 8.0, 40.0, 32.0]
TOY = Sample(
    "toy", "toy.mp4", "the white box", 10.0, 120, 64, 48, (40, 79), {f: BOX for f in range(40, 80)}
)
GRID_IDX = np.arange(0, 120, 10)  # native frames of the 1 fps grid
GRID_S = GRID_IDX / 10.0


def _episodes(**env) -> ZoomEpisodes:
    config = ZoomEnvConfig(fps=1.0, max_frames=None, glance_fps=0.25, **env)
    return ZoomEpisodes(config, ZoomHeadConfig(enabled=True, bins=12), [TOY])


def test_zoom_target_is_the_padded_span_on_the_bins_and_the_answer_on_what_it_shows() -> None:
    episodes = _episodes()  # max_zooms 2, 16 frames per zoom: budget min(3 + 32, 12) = 12
    target = episodes.target(TOY, GRID_IDX, GRID_S, (0.5, 1.0))
    # GT 4.0 .. 7.9 s padded to [3.5, 8.9] s: bins floor(3.5) = 3 .. ceil(8.9) - 1 = 8
    assert target.window_bins == (3, 8)
    assert target.window_s == (3.0, 9.0)
    # the window shows seconds 3..9 but 4 and 8 are the glance's: new 3, 5, 6, 7, 9
    assert target.shown == [0, 3, 4, 5, 6, 7, 8, 9]
    # the answer on native frames 0, 30, 40, ..., 90: frame 40 is slot 2, 79 is nearest 80,
    # slot 6; the box normalised: centre (24 / 64, 20 / 48), size (32 / 64, 24 / 48)
    assert (target.answer.start, target.answer.end) == (2, 6)
    np.testing.assert_allclose(target.answer.boxes_cxcywh[2], [0.375, 20 / 48, 0.5, 0.5], rtol=1e-6)
    assert not target.answer.boxes_cxcywh[1].any()  # outside the span: no box


def test_zoom_target_follows_the_envs_caps() -> None:
    # one zoom of at most 4 new frames: 3, 5, 6, 7, 9 thinned evenly (first and last kept)
    episodes = _episodes(max_zooms=1, max_frames_per_zoom=4)
    target = episodes.target(TOY, GRID_IDX, GRID_S, (0.5, 1.0))
    assert target.shown == [0, 3, 4, 5, 7, 8, 9]
    plan = episodes.plan(12)
    assert plan.glance == [0, 4, 8] and plan.limit == 4 and not plan.can_zoom_after
    # a margin past the video's end is clipped to the last bin
    assert episodes.target(TOY, GRID_IDX, GRID_S, (0.0, 20.0)).window_bins == (4, 11)


def test_sft_config_pairs_the_zoom_head_with_the_zoom_env() -> None:
    zoom_env = {"id": "stvg/ZoomGrounding-v0", "dataset": "synthetic", "max_frames": None}
    with pytest.raises(ConfigError, match="model.zoom.enabled"):
        from_dict(SFTConfig, {"env": zoom_env})
    with pytest.raises(ConfigError, match="model.zoom.enabled"):
        from_dict(SFTConfig, {"model": {"zoom": {"enabled": True}}})
    with pytest.raises(ConfigError, match="zoom_margin_s"):
        from_dict(
            SFTConfig, {"env": zoom_env, "model": {"zoom": {"enabled": True}}, "zoom_margin_s": -1}
        )


def test_a_tiny_zoom_sft_run_trains_the_head_and_reports_the_zoom_rate(tmp_path: Path) -> None:
    root = make_split(tmp_path / "data")
    config = from_dict(
        SFTConfig,
        {
            "data": {"train_split": SPLIT, "eval_split": SPLIT, "generate": False},
            "env": {
                "id": "stvg/ZoomGrounding-v0",
                "dataset": "synthetic",
                "root": str(root),
                "fps": 1.0,
                "max_frames": None,
                "glance_fps": 0.5,
                "max_zooms": 1,
                "max_frames_per_zoom": 2,
                "max_side": 32,
            },
            "model": TINY_ZOOM_MODEL,
            "epochs": 2,
            "batch_size": 2,
            "eval_every": 1,
            "threads": 1,
            "out_dir": str(tmp_path / "sft"),
        },
    )
    result = train_sft_native(config, progress=False, log=None)
    epochs = [line for line in result.history if "losses/zoom_nll" in line]
    assert len(epochs) == 2 and all(line["losses/zoom_nll"] > 0 for line in epochs)
    # 4 s videos on a 1 fps grid: glance seconds 0 and 2, a zoom adds at most 2 frames
    assert 0.0 <= result.eval_metrics["zoom_rate"] <= 1.0
    assert 2.0 <= result.eval_metrics["frames_per_query"] <= 4.0
    assert any("eval/zoom_rate" in line for line in result.history)
    policy = NativePolicy.load(result.checkpoint)
    assert policy.zoom_enabled and policy.model.zoom_head is not None
