"""Configs that ask for too much: alias bombs, self-reference, deep nesting, huge values
quoted in messages, and sizes past the bounds of ``stvg.limits``. Each is refused up front
with a ConfigError (exit status 2, one bounded line), never a late traceback."""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import pytest

from stvg.cli import main
from stvg.config import ConfigError, from_dict, load_yaml, parse_overrides, parse_yaml
from stvg.limits import MAX_CONFIG_VALUES, short_repr
from stvg.training.config import TrainConfig

LEVELS = "abcdefghi"


def alias_bomb(levels: int, key: str = "seed") -> str:
    """A "billion laughs" YAML: 9**levels strings under ``key``, anchors under env.kwargs."""
    lines = ["env:", "  id: stvg/Grounding-v0", "  kwargs:"]
    lines.append(
        f'    {LEVELS[0]}: &{LEVELS[0]} ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'
    )
    for i in range(1, levels):
        prev, name = LEVELS[i - 1], LEVELS[i]
        lines.append(f"    {name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    lines.append(f"{key}: [{', '.join(['*' + LEVELS[levels - 1]] * 9)}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    # 9**9 = 387,420,489 strings once expanded; before: the validation error quoted the
    # whole value (minutes, gigabytes, MemoryError)
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(8))
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=f"more than {MAX_CONFIG_VALUES:,} values") as info:
        load_yaml(path)
    assert time.perf_counter() - start < 2.0
    assert str(path) in str(info.value) and len(str(info.value)) < 300


def test_the_cli_refuses_an_alias_bomb_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(8))
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "alias bomb" in err


def test_a_value_under_the_bound_is_quoted_short() -> None:
    # 9**4 = 6,561 strings under `seed`: accepted by the parser, refused by the type check,
    # and the message quotes a few items (before: all 6,561, ~45 kB)
    data = parse_yaml(alias_bomb(4))
    with pytest.raises(ConfigError, match="config key seed: expected an integer") as info:
        from_dict(TrainConfig, data)
    assert len(str(info.value)) < 400 and "..." in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &a [*a]\n", "contains itself"),
        ("x: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply to parse"),
        ("x: " + "[" * 70 + "]" * 70 + "\n", "nested more than 64 levels"),
    ],
)
def test_self_reference_and_deep_nesting(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_yaml(text)


def test_an_override_with_a_bomb_names_the_override() -> None:
    bomb = "[" + ", ".join(["&x [1, 2, 3, 4, 5, 6, 7, 8, 9]"] + ["*x"] * 20_000) + "]"
    with pytest.raises(ConfigError, match="override 'seed=") as info:
        parse_overrides([f"seed={bomb}"])
    assert len(str(info.value)) < 500


def test_short_repr_is_bounded() -> None:
    nested: list = []
    nested.append(nested)
    assert short_repr(nested) == "[[[[[...]]]]]"
    assert short_repr(list(range(10**6))) == "[0, 1, 2, 3, 4, 5, 6, 7, ...]"
    assert short_repr(10**10_000) == "<an integer of 33220 bits>"  # repr() would raise
    assert short_repr("y" * 10**6, limit=12) == "'yyyyyyyy..."
    assert short_repr({"a": 1.5, "b": None}) == "{'a': 1.5, 'b': None}"


# ----------------------------------------------------------------- sizes (stvg.limits)


def test_a_seed_past_64_bits_is_refused_up_front() -> None:
    # before: accepted, then torch.manual_seed raised "Overflow when unpacking long long"
    for value in (10**20, 2**63):
        with pytest.raises(ConfigError, match=f"config key seed: {value} does not fit in 64 bits"):
            from_dict(TrainConfig, parse_overrides([f"seed={value}"]))
    with pytest.raises(ConfigError, match=r"config key seed: must be at least 0 \(a seed\)"):
        from_dict(TrainConfig, {"seed": -1})
    assert from_dict(TrainConfig, {"seed": 2**63 - 1}).seed == 2**63 - 1


def test_every_seed_field_has_the_same_bounds() -> None:
    from stvg.policies.baselines import RandomConfig

    with pytest.raises(ConfigError, match="config key seed: must be at least 0"):
        from_dict(RandomConfig, {"seed": -5})  # before: numpy's ValueError at the first act


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("max_frames", 10**8, "must be at most 10,000,000 (frames of one video)"),
        ("max_side", 10**6, "must be at most 16,384 (pixels of a frame side)"),
        ("fps", 1e9, "must be at most 1,000 (frames per second)"),
        ("max_query_length", 10**12, "must be at most 10,000,000 (characters)"),
    ],
)
def test_env_sizes_are_bounded(key: str, value: float, message: str) -> None:
    from stvg.envs.config import GroundingEnvConfig, resolve_config

    with pytest.raises(ConfigError, match=rf"config key env\.{key}: {re.escape(message)}"):
        resolve_config(GroundingEnvConfig, {key: value})


def test_the_frames_of_one_episode_are_bounded() -> None:
    # 10**7 frames of 32x32 pixels: 28.6 GiB of frames (before: gymnasium's Box allocated
    # 8 bytes per pixel for its bounds first, 245 GB)
    from stvg.data.types import Sample
    from stvg.envs.grounding import GroundingEnv

    toy_sample = Sample("s", "s.mp4", "q", 10.0, 30, 64, 48, (10, 19), {10: [8.0, 8.0, 40.0, 32.0]})
    with pytest.raises(
        ConfigError, match=r"10,000,000 frames of up to 32x32 pixels need 28\.6 GiB"
    ):
        GroundingEnv(samples=[toy_sample], max_frames=10**7, max_side=32)
    env = GroundingEnv(samples=[toy_sample], max_frames=30, max_side=32)
    assert env.observation_space["frames"].shape == (30, 32, 32, 3)


def test_model_widths_and_token_counts_are_bounded() -> None:
    from stvg.policies.native.model import NativeModelConfig
    from stvg.policies.vlm.config import VLMPolicyConfig

    with pytest.raises(ConfigError, match=r"config key channels: must be at most 65,536"):
        from_dict(NativeModelConfig, {"channels": [16, 10**9]})
    with pytest.raises(ConfigError, match="config key max_new_tokens: must be at most 1,048,576"):
        from_dict(VLMPolicyConfig, {"model_path": "m", "max_new_tokens": 10**9})


def test_sampling_far_above_the_native_rate_takes_every_frame_at_once() -> None:
    # before: 1e9 fps over a 20 s clip built a 2e10-point grid (160 GB)
    from stvg.data.timing import sample_frame_indices

    start = time.perf_counter()
    assert sample_frame_indices(30.0, 600, 1e9).tolist() == list(range(600))
    assert time.perf_counter() - start < 0.1
    # at or above the native rate the grid hits every frame: the shortcut changes nothing
    import numpy as np

    for native, n, fps in [(30.0, 600, 30.0), (29.97, 601, 30.0), (25.0, 77, 31.3), (5.0, 9, 7.0)]:
        k_max = int(np.floor((n - 0.5) * fps / native - 1e-9))
        grid = np.unique(np.clip(np.floor(np.arange(k_max + 1) / fps * native + 0.5), 0, n - 1))
        assert sample_frame_indices(native, n, fps).tolist() == grid.astype(int).tolist()


def test_cli_sizes_are_bounded(capsys: pytest.CaptureFixture[str]) -> None:
    from stvg.cli_args import parse_fps

    with pytest.raises(argparse.ArgumentTypeError, match="--fps must be at most 1000"):
        parse_fps("1e9")
    for argv in (
        [
            "evaluate",
            "--policy",
            "p.yaml",
            "--dataset",
            "synthetic",
            "--split",
            "t",
            "--fps",
            "1e9",
        ],
        [
            "render",
            "--annotations",
            "a.json",
            "--format",
            "hcstvg2",
            "--sample",
            "s",
            "--out",
            "x.png",
            "--tile-width",
            "100000",
        ],
        ["data", "synth", "--out", "o", "--split", "t", "--n", str(10**9), "--seed", "0"],
    ):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        assert "at most" in capsys.readouterr().err


def test_synthetic_videos_asked_for_are_bounded() -> None:
    from stvg.data.synthetic.generate import SyntheticConfig

    with pytest.raises(ValueError, match="more than the 10,000,000 frames"):
        SyntheticConfig(split="t", n=1, seed=0, duration_s=1e308)  # before: OverflowError
    with pytest.raises(ValueError, match="width 100000 is outside"):
        SyntheticConfig(split="t", n=1, seed=0, size=100_000)
