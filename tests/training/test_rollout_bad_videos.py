"""A corrupt video in RL (issue 14.4): with the env's ``on_bad_video: skip`` a rollout plays
the next sample instead and the iteration's log has the share of replaced prompts
(``charts/bad_video_frac``); with the
default ``error`` the run stops naming the sample and the file."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from rl_helpers import build, env_kwargs, grounding_config, make_native_checkpoint, make_split

from stvg.data.errors import VideoError
from stvg.training.loop import Trainer
from stvg.training.rollout import BAD_VIDEO_KEY, RolloutTask, RolloutWorker
from stvg.training.run_dir import read_metrics

BAD = "train_0001.mp4"  # the second of four samples
NEXT = "train_0002.mp4"  # what plays instead (the next sample in dataset order)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 4-video train split whose second video's bytes are garbage, and a tiny native
    checkpoint."""
    root = make_split(tmp_path_factory.mktemp("bad_rl"))
    checkpoint = make_native_checkpoint(root, root / "init.pt")
    (root / "videos" / BAD).write_bytes(b"\x00garbage\xff" * 50)
    return root, checkpoint


def _worker(root: Path, checkpoint: Path, mode: str) -> RolloutWorker:
    kwargs = {**env_kwargs(root), "on_bad_video": mode}
    return RolloutWorker(
        "stvg/Grounding-v0", kwargs, None, "native", {"checkpoint": str(checkpoint)}
    )


@pytest.mark.parametrize("group_size", [3, 1])  # groups (GRPO) and episodes (PPO)
def test_skip_plays_the_next_sample_and_counts_the_bad_one(data, group_size: int) -> None:
    worker = _worker(*data, "skip")
    task = RolloutTask(index=0, sample_ids=("train_0000.mp4", BAD), group_size=group_size, seed=5)
    with pytest.warns(UserWarning, match=f"skipping sample {BAD!r}"):
        experience = worker.run(task)
    rows = ["train_0000.mp4"] * group_size + [NEXT] * group_size
    assert experience.sample_ids == rows
    assert [e.sample_id for e in experience.episodes] == rows
    flags = [e.metrics[BAD_VIDEO_KEY] for e in experience.episodes]
    assert flags == [0.0] * group_size + [1.0] * group_size  # every answer of the replacement
    # a second meeting does not decode the file again (no warning), and is counted again
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = worker.run(task)
    assert again.sample_ids == rows
    assert [e.metrics[BAD_VIDEO_KEY] for e in again.episodes] == flags


def test_error_names_the_sample_and_the_file(data) -> None:
    worker = _worker(*data, "error")
    with pytest.raises(VideoError, match=rf"sample {BAD!r}: .*\(file .*videos/{BAD}\)"):
        worker.run(RolloutTask(index=0, sample_ids=(BAD,), group_size=2, seed=0))


def test_training_with_skip_keeps_running_and_logs_the_count(data, tmp_path: Path) -> None:
    root, checkpoint = data
    overrides = {
        "iterations": 2,
        "batch_size": 2,  # 2 iterations x 2 prompts = the 4 samples once
        "grpo": {"group_size": 2},
        "env": {**env_kwargs(root), "on_bad_video": "skip"},
    }
    config = build(grounding_config(root, checkpoint, tmp_path / "runs", **overrides))
    trainer = Trainer.create(config, tensorboard=False)
    try:
        with pytest.warns(UserWarning, match=f"skipping sample {BAD!r}"):
            result = trainer.train()
    finally:
        trainer.close()
    assert result.iterations == 2
    lines = read_metrics(result.run_dir)
    assert [line["charts/episodes"] for line in lines] == [4.0, 4.0]
    # the bad sample was scheduled once in the two iterations: one of that iteration's two
    # prompts (2 of its 4 answers) replaced it
    assert sorted(line["charts/bad_video_frac"] for line in lines) == [0.0, 0.5]
