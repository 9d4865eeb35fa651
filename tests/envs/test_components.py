"""The envs' parts: frame cache, sample selection, spaces, tokenizer, answers, registration."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from stvg.data.types import Sample
from stvg.envs import synthetic_cache
from stvg.envs.answers import struct_to_parse, track_to_parse
from stvg.envs.frame_cache import FrameCache, nbytes_of
from stvg.envs.frame_source import pad_frames
from stvg.envs.selection import SampleSelector
from stvg.envs.spaces import text_space
from stvg.envs.tokenizer import hash_tokens
from stvg.envs.wrappers import FlatTrackingObservation
from stvg.verifiers.formats import FrameContext

# ----------------------------------------------------------------------------- frame cache


def test_frame_cache_is_lru_and_bounded() -> None:
    cache: FrameCache[bytes] = FrameCache(10 / 2**20, size_of=len)  # a 10-byte bound
    loads: list[str] = []

    def load(key: str, size: int) -> bytes:
        return cache.get_or_load(key, lambda: loads.append(key) or b"x" * size)

    load("a", 4)
    load("b", 4)
    load("a", 4)  # hit; "b" is now the least recently used
    load("c", 4)  # 12 bytes > 10: evicts "b"
    assert "a" in cache and "c" in cache and "b" not in cache
    assert load("big", 11) == b"x" * 11  # larger than the bound: returned, not kept
    assert "big" not in cache
    assert loads == ["a", "b", "c", "big"]
    assert cache.stats.as_dict() == {
        "hits": 1,
        "misses": 4,
        "evictions": 1,
        "bytes": 8,
        "entries": 2,
    }


def test_frame_cache_off_and_bad_bound() -> None:
    cache: FrameCache[np.ndarray] = FrameCache(0)
    cache.get_or_load("k", lambda: np.zeros(3))
    cache.get_or_load("k", lambda: np.zeros(3))
    assert (cache.stats.hits, cache.stats.misses, len(cache)) == (0, 2, 0)
    with pytest.raises(ValueError, match="max_mb"):
        FrameCache(-1)


def test_nbytes_of_sums_array_fields() -> None:
    class Holder:
        def __init__(self) -> None:
            self.frames = np.zeros((2, 3, 4), dtype=np.uint8)  # 24 bytes
            self.idx = np.zeros(2, dtype=np.int64)  # 16 bytes
            self.name = "x"

    assert nbytes_of(Holder()) == 40
    assert nbytes_of(np.zeros(5, dtype=np.float32)) == 20


def test_pad_frames_top_left() -> None:
    frames = np.full((2, 3, 4, 3), 7, dtype=np.uint8)
    canvas, mask = pad_frames(frames, 4, 5)
    assert canvas.shape == (4, 5, 5, 3) and mask.tolist() == [1, 1, 0, 0]
    assert canvas[:2, :3, :4].min() == 7 and canvas.sum() == 7 * frames.size
    with pytest.raises(ValueError, match="do not fit"):
        pad_frames(frames, 1, 5)


# ------------------------------------------------------------------------ sample selection


def _samples(n: int) -> list[Sample]:
    return [Sample(f"s{i}", "", "q", 10.0, 10, 8, 8, (0, 1), {}) for i in range(n)]


def test_selector_sequential_shuffle_and_options() -> None:
    rng = np.random.default_rng(0)
    sequential = SampleSelector(_samples(3), "sequential")
    assert [sequential.next(rng).sample_id for _ in range(4)] == ["s0", "s1", "s2", "s0"]
    sequential.restart()
    assert sequential.next(rng).sample_id == "s0"
    assert sequential.next(rng, {"index": 2}).sample_id == "s2"
    assert sequential.next(rng).sample_id == "s1"  # an explicit choice does not move the walk
    shuffle = SampleSelector(_samples(4), "shuffle")
    first = [shuffle.next(np.random.default_rng(1)).sample_id]
    order = np.random.default_rng(1).permutation(4)
    assert first == [f"s{order[0]}"]
    with pytest.raises(ValueError, match="unknown reset option"):
        sequential.next(rng, {"idx": 0})
    with pytest.raises(KeyError, match="nope"):
        sequential.next(rng, {"sample_id": "nope"})
    with pytest.raises(ValueError, match="out of range"):
        sequential.next(rng, {"index": 3})


# ---------------------------------------------------------------------------------- spaces


def test_text_space_accepts_typical_answers() -> None:
    space = text_space(65536)
    answer = (
        "<think>L'homme au chapeau — 戴帽子的男人 — appears at 3 s 😀</think>\n"
        '<answer>{"span": [3.0, 7.0], "boxes": {"3.0": [10, 20, 110, 220]}}</answer>\t'
    )
    assert space.contains(answer)
    assert space.contains("")
    assert not space.contains("x" * 65537)
    assert not space.contains(b"bytes")


def test_text_spaces_do_not_share_generators() -> None:
    a, b = text_space(50), text_space(50)
    assert a.np_random is not b.np_random
    a.seed(3)
    b.seed(3)
    assert a.sample() == b.sample()


# ------------------------------------------------------------------------------- tokenizer


def test_hash_tokens() -> None:
    # crc32("the") % 99 + 1 = 49 and crc32("man") % 99 + 1 = 35 (zlib.crc32).
    assert hash_tokens("The MAN, the man!", 6, 100).tolist() == [49, 35, 49, 35, 0, 0]
    assert hash_tokens("the man walks", 2, 100).tolist() == [49, 35]
    assert hash_tokens("", 3, 100).tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="vocab_size"):
        hash_tokens("x", 3, 1)


# --------------------------------------------------------------------------------- answers


def _ctx(times: list[float], size: tuple[int, int]) -> FrameContext:
    """What an episode of a 3 s video at 10 fps showed: frames at ``times`` seconds."""
    frames = np.round(np.asarray(times) * 10).astype(np.int64)
    return FrameContext(frames, np.asarray(times), size, size, 10.0, 30)


def test_struct_to_parse_scales_clips_and_ignores_padding() -> None:
    action = {
        "span": [1.0, 2.0],
        "boxes": [[0.5, 0.5, 1.5, 1.0], [0.1, 0.2, 0.3, 0.4], [9, 9, 9, 9]],
        "box_mask": [1, 0, 1],  # slot 2 is beyond the 2 shown frames: ignored
    }
    parse, reason = struct_to_parse(action, _ctx([1.0, 2.0], (200, 100)))
    assert reason is None and parse.answer is not None
    assert parse.answer.times_s.tolist() == [1.0]
    assert parse.answer.boxes_xyxy.tolist() == [[100.0, 50.0, 200.0, 100.0]]
    assert parse.repairs == ("box clipped to the frame at 1 s",)  # x2 = 1.5 > 1
    parse, reason = struct_to_parse({**action, "boxes": [[0, 0, 1, 1]]}, _ctx([1.0], (2, 2)))
    assert (
        parse.answer is None
        and "'boxes' must have shape [N, 4] with N = len(box_mask) = 3" in reason
    )


def test_track_to_parse() -> None:
    boxes = np.array([[0, 0, 1, 1], [0.5, 0.5, 1.0, 1.0], [0, 0, 0, 0], [0, 0, 0.5, 0.5]])
    parse, reason = track_to_parse([0, 1, 0, 1], boxes, _ctx([0.0, 1, 2, 2.9], (10, 20)))
    assert reason is None and parse.answer is not None and parse.format_ok
    assert parse.answer.span_s == (1.0, 2.9)
    assert parse.answer.times_s.tolist() == [1.0, 2.9]
    assert parse.answer.boxes_xyxy.tolist() == [[5, 10, 10, 20], [0, 0, 5, 10]]
    none, reason = track_to_parse([0, 0], boxes[:2], _ctx([0.0, 1], (10, 20)))
    assert none.answer is None and "never claimed" in reason and none.error == reason


# ------------------------------------------------------------------------- flat wrapper


def test_flat_tracking_observation(small_split_kwargs: dict[str, str]) -> None:
    from stvg.envs.tracking import TrackingEnv

    env = TrackingEnv(**small_split_kwargs, max_side=32, include_prev_box=True)
    flat = FlatTrackingObservation(env, frame_size=4, query_length=5, vocab_size=50)
    dict_env = FlatTrackingObservation(
        TrackingEnv(**small_split_kwargs, max_side=32, include_prev_box=True),
        frame_size=4,
        query_length=5,
        vocab_size=50,
        flatten=False,
    )
    obs, _ = flat.reset(seed=0)
    features, _ = dict_env.reset(seed=0)
    assert flat.observation_space.shape == (4 * 4 * 3 + 1 + 4 + 5,)
    assert obs.dtype == np.float32 and flat.observation_space.contains(obs)
    assert dict_env.observation_space.contains(features)
    query_ids = hash_tokens(env.sample.query, 5, 50)
    np.testing.assert_array_equal(features["query_ids"], query_ids)
    np.testing.assert_array_equal(obs[-5:], query_ids.astype(np.float32))
    np.testing.assert_allclose(obs[:48], features["frame"].ravel())
    assert obs[48] == 0.0 and obs[49:53].tolist() == [0.0] * 4
    obs, *_ = flat.step({"present": 1, "box": np.array([0.1, 0.2, 0.3, 0.4], np.float32)})
    assert obs[48] == pytest.approx(1.0)  # the split is sampled at 1 fps
    np.testing.assert_allclose(obs[49:53], [0.1, 0.2, 0.3, 0.4], rtol=1e-6)


# ------------------------------------------------------------------ synthetic cache, ids


def test_synthetic_root_builds_once_under_parallel_callers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import stvg.data.synthetic as synthetic

    calls: list[int] = []

    def fake_generate(out_dir: Path, split: str, n: int, seed: int, difficulty: str) -> dict:
        calls.append(n)
        time.sleep(0.2)  # both callers are inside synthetic_root meanwhile
        (Path(out_dir) / f"{split}.json").write_text("{}")
        return {}

    monkeypatch.setenv("STVG_CACHE", str(tmp_path))
    monkeypatch.setattr(synthetic, "generate_split", fake_generate)
    roots: list[Path] = []
    threads = [
        threading.Thread(target=lambda: roots.append(synthetic_cache.synthetic_root(n=2, seed=9)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [2]
    assert roots[0] == roots[1] == tmp_path / "synthetic" / "v1-easy-n2-seed9"
    assert (roots[0] / "train.json").is_file()
    assert [p.name for p in (tmp_path / "synthetic").iterdir() if p.is_dir()] == [
        "v1-easy-n2-seed9"
    ]


def test_import_stvg_is_cheap_and_registers_ids() -> None:
    code = (
        "import sys, stvg, gymnasium as gym; "
        "print(sorted(k for k in gym.registry if k.startswith('stvg/'))); "
        "print([m for m in ('torch', 'ray', 'cv2', 'stvg.envs.grounding') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == str(
        sorted(
            [
                "stvg/Grounding-v0",
                "stvg/Synthetic-v0",
                "stvg/SyntheticTracking-v0",
                "stvg/SyntheticZoom-v0",
                "stvg/ZoomGrounding-v0",
                "stvg/SyntheticTrackingFlat-v0",
                "stvg/Tracking-v0",
            ]
        )
    )
    assert out[1] == "[]"
