"""Native SFT with a validation hold-out: membership, checkpoint selection, early stopping,
config errors, and the unchanged run without validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

import stvg.training.sft.native as sft
from stvg.cli import main
from stvg.config import ConfigError, from_dict
from stvg.data import load_dataset
from stvg.policies.native import NativePolicy
from stvg.training.sft import SFTConfig, evaluate_cached, select_value, train_sft
from stvg.training.sft.native_data import load_cached_frames
from stvg.verifiers.verifier import Verifier

TINY_MODEL = {"frame_size": 32, "channels": [8, 8, 8], "word_dim": 8, "query_dim": 8, "hidden": 8}
TRAIN_IDS = [f"train_{i:04d}.mp4" for i in range(8)]  # the synthetic split's order


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 train + 3 test synthetic videos, generated once for the module."""
    root = tmp_path_factory.mktemp("sft_val") / "data"
    from stvg.data.synthetic import ensure_synthetic_split

    ensure_synthetic_split(root, "train", 8, 2)
    ensure_synthetic_split(root, "test", 3, 2)
    return root


def _config(root: Path, out_dir: Path, val_size: int = 3, **changes) -> SFTConfig:
    config = {
        "data": {"n_train": 8, "n_eval": 3, "seed": 2, "val_size": val_size},
        "env": {"root": str(root), "fps": 1.0, "max_frames": 10, "max_side": 64},
        "model": TINY_MODEL,
        "epochs": 10,
        "batch_size": 3,
        "lr": 0.01,
        "warmup_steps": 0,
        "eval_every": 1,
        "threads": 1,
        "out_dir": str(out_dir),
    }
    config.update(changes)
    return from_dict(SFTConfig, config)


def _lines(result, prefix: str) -> list[dict]:
    return [line for line in result.history if f"{prefix}/m_vIoU" in line]


def test_hold_out_is_the_last_val_size_samples_whatever_the_seed(data_root, tmp_path, monkeypatch):
    trained: dict[int, set[str]] = {}
    evaluated: list[list[str]] = []

    class SpyBatcher(sft._Batcher):
        def batch(self, index):
            trained.setdefault(seed, set()).update(self.samples[i].sample_id for i in index)
            return super().batch(index)

    def spy_evaluate(policy, samples, cache, fps, batch_size=64, *, verifier):
        assert cache.sample_ids == [s.sample_id for s in samples]  # rows match the samples
        evaluated.append([s.sample_id for s in samples])
        return evaluate_cached(policy, samples, cache, fps, batch_size, verifier=verifier)

    monkeypatch.setattr(sft, "_Batcher", SpyBatcher)
    monkeypatch.setattr(sft, "evaluate_cached", spy_evaluate)
    for seed in (0, 1):
        train_sft(
            _config(data_root, tmp_path / f"s{seed}", epochs=1, seed=seed), progress=False, log=None
        )
    # trained on train_0000..0004; train_0005..0007 held out, whatever the seed
    assert trained == {0: set(TRAIN_IDS[:5]), 1: set(TRAIN_IDS[:5])}
    val_ids = TRAIN_IDS[5:]
    test_ids = [f"test_{i:04d}.mp4" for i in range(3)]
    assert evaluated == [val_ids, test_ids] * 2  # validation after epoch 1, then the test split
    # limit_train applies first: the last 2 of the first 6 are held out
    trained.clear()
    evaluated.clear()
    seed = 0
    train_sft(
        _config(
            data_root,
            tmp_path / "limited",
            epochs=1,
            data={"n_train": 8, "seed": 2, "val_size": 2, "limit_train": 6},
        ),
        progress=False,
        log=None,
    )
    assert trained == {0: set(TRAIN_IDS[:4])}
    assert evaluated[0] == TRAIN_IDS[4:6]
    # the held-out rows come from the train split's one cache file (decoded once): one file
    # for all 8 samples and one for the first 6, whatever val_size
    assert len(sorted((data_root / "native_cache").glob("train-*.npz"))) == 2


# validation metrics by evaluation, scripted so the selection can be computed by hand
V_IOU = [0.10, 0.30, 0.20, 0.30, 0.25, 0.28, 0.29, 0.27, 0.26, 0.25]
T_IOU = [0.50, 0.20, 0.60, 0.30, 0.30, 0.30, 0.30, 0.30, 0.30, 0.30]


@pytest.mark.parametrize(
    ("select_metric", "eval_every", "patience", "best_epoch", "epochs_done", "stopped_early"),
    [
        # m_vIoU 0.30 at evaluation 2; the tie at 4 is no improvement: 3, 4, 5 are stale
        ("m_vIoU", 1, 3, 2, 5, True),
        # sums 0.6 0.5 0.8 0.6 0.55 0.58: best 3, stale 4, 5, 6
        ("m_tIoU+m_vIoU", 1, 3, 3, 6, True),
        # evaluations at epochs 2 4 6 8 10: m_tIoU 0.60 at epoch 6; the 2nd stale one is
        # the last epoch, so this run was not stopped early
        ("m_tIoU", 2, 2, 6, 10, False),
        # no patience: all 10 epochs, still the best of them
        ("m_vIoU", 1, None, 2, 10, False),
    ],
)
def test_best_checkpoint_is_saved_and_training_stops_after_patience(
    data_root,
    tmp_path,
    monkeypatch,
    select_metric,
    eval_every,
    patience,
    best_epoch,
    epochs_done,
    stopped_early,
):
    snapshots: dict[int, dict[str, torch.Tensor]] = {}

    def scripted_evaluate(policy, samples, cache, fps, batch_size=64, *, verifier):
        if not samples[0].sample_id.startswith("train_"):
            return evaluate_cached(  # the test split
                policy, samples, cache, fps, batch_size, verifier=verifier
            )
        k = len(snapshots)
        snapshots[k + 1] = {n: t.clone() for n, t in policy.state_dict().items()}
        return {
            "m_tIoU": T_IOU[k],
            "m_vIoU": V_IOU[k],
            "vIoU@0.3": 0.0,
            "vIoU@0.5": 0.0,
            "n": 3,
        }

    monkeypatch.setattr(sft, "evaluate_cached", scripted_evaluate)
    logged: list[str] = []
    config = _config(
        data_root,
        tmp_path / "run",
        select_metric=select_metric,
        eval_every=eval_every,
        patience=patience,
    )
    result = train_sft(config, progress=False, log=logged.append)

    assert (result.best_epoch, result.epochs_done, result.stopped_early) == (
        best_epoch,
        epochs_done,
        stopped_early,
    )
    k_best = best_epoch // eval_every  # 1-based evaluation index
    assert result.val_metrics["m_vIoU"] == V_IOU[k_best - 1]
    assert result.val_metrics["m_tIoU"] == T_IOU[k_best - 1]
    epochs = [line["epoch"] for line in result.history if "losses/total" in line]
    assert epochs == list(range(1, epochs_done + 1))
    val = _lines(result, "val")
    assert [line["epoch"] for line in val] == list(range(eval_every, epochs_done + 1, eval_every))
    assert [line["val/m_vIoU"] for line in val] == V_IOU[: len(val)]
    # the LR schedule is the one of 10 epochs of 2 steps (5 samples, batch 3), early stop
    # or not: after epoch 5 (step 10 of 20) the cosine is half-way, 0.05 + 0.95 * 0.5
    assert [line for line in result.history if line.get("epoch") == 5][0][
        "charts/lr"
    ] == pytest.approx(0.01 * 0.525)

    # policy.pt holds the weights of the best evaluation, and says so
    payload = torch.load(result.checkpoint, weights_only=False)
    best_state = snapshots[k_best]
    assert all(torch.equal(payload["state_dict"][n], best_state[n]) for n in best_state)
    last_state = snapshots[len(snapshots)]
    if len(snapshots) != k_best:
        assert not all(torch.equal(payload["state_dict"][n], last_state[n]) for n in last_state)
    extra = payload["extra"]["sft"]
    assert extra["best_epoch"] == best_epoch
    assert extra["best_step"] == 2 * best_epoch
    assert extra["epochs_done"] == epochs_done
    assert extra["steps"] == 2 * epochs_done
    assert extra["stopped_early"] is stopped_early
    assert extra["select_metric"] == select_metric
    assert extra["val_size"] == 3
    assert extra["val"]["val/m_vIoU"] == V_IOU[k_best - 1]

    # the test split is evaluated once, on the selected weights
    tests = _lines(result, "eval")
    assert len(tests) == 1 and tests[0]["epoch"] == best_epoch
    samples = list(load_dataset("synthetic", split="test", root=str(data_root)))
    cache = load_cached_frames(
        samples,
        fps=1.0,
        max_frames=10,
        max_side=64,
        frame_size=32,
        cache_dir=data_root / "native_cache",
        name="test",
    )
    again = evaluate_cached(
        NativePolicy.load(result.checkpoint), samples, cache, 1.0, verifier=Verifier()
    )
    assert again["m_vIoU"] == result.eval_metrics["m_vIoU"] == tests[0]["eval/m_vIoU"]
    assert again["m_tIoU"] == result.eval_metrics["m_tIoU"] == extra["eval"]["eval/m_tIoU"]
    summary = json.loads((Path(config.out_dir) / "eval.json").read_text())
    assert summary["best_epoch"] == best_epoch and summary["stopped_early"] is stopped_early
    assert summary["val/m_vIoU"] == V_IOU[k_best - 1]
    metrics_file = Path(config.out_dir) / "metrics.jsonl"
    assert [json.loads(x) for x in metrics_file.read_text().splitlines()] == result.history
    # every case improves at its 1st and one later evaluation (the ties and 0.29 do not)
    assert sum("new best" in line for line in logged) == 2
    assert any("early stop after epoch" in line for line in logged) is stopped_early
    assert result.val_metrics and select_value(result.val_metrics, select_metric) == max(
        select_value({"m_tIoU": t, "m_vIoU": v}, select_metric)
        for t, v in zip(T_IOU[: len(val)], V_IOU[: len(val)], strict=True)
    )


def test_real_validation_run_saves_the_policy_of_its_best_evaluation(data_root, tmp_path):
    config = _config(data_root, tmp_path / "run", epochs=6, patience=2, lr=0.03)
    result = train_sft(config, progress=False, log=None)
    val = _lines(result, "val")
    values = [line["val/m_vIoU"] for line in val]
    best = values.index(max(values))  # the first best: later ties are no improvement
    assert result.best_epoch == val[best]["epoch"]
    if result.stopped_early:
        assert result.epochs_done == result.best_epoch + 2 < 6
    else:
        assert result.epochs_done == 6
    samples = list(load_dataset("synthetic", split="train", root=str(data_root)))[5:]
    kwargs = dict(fps=1.0, max_frames=10, max_side=64, frame_size=32, name="train")
    split = load_cached_frames(
        list(load_dataset("synthetic", split="train", root=str(data_root))),
        cache_dir=data_root / "native_cache",
        **kwargs,
    )
    cache = sft._rows(split, 5, 8)
    assert cache.sample_ids == TRAIN_IDS[5:]
    again = evaluate_cached(
        NativePolicy.load(result.checkpoint), samples, cache, 1.0, verifier=Verifier()
    )
    for key in ("m_tIoU", "m_vIoU", "vIoU@0.3", "vIoU@0.5"):
        assert again[key] == result.val_metrics[key] == val[best][f"val/{key}"]


def test_validation_config_errors(data_root, tmp_path, capsys):
    cases = [
        ({"data": {"val_size": -1}}, r"config key data\.val_size: must be >= 0"),
        (
            {"data": {"val_size": 5, "limit_train": 5}},
            r"config key data\.val_size: holds out 5 of the limit_train=5 .* set val_size below 5",
        ),
        (
            {"data": {"val_size": 2}, "eval_every": 0},
            r"config key eval_every: must be >= 1 with a validation hold-out "
            r"\(data\.val_size=2\), got 0",
        ),
        ({"data": {"val_size": 2}, "patience": 0}, r"config key patience: must be >= 1 or null"),
        ({"patience": 3}, r"config key patience: .*needs a validation hold-out.*data\.val_size"),
        ({"data": {"val_size": 2}, "select_metric": "vIoU"}, r"config key select_metric"),
    ]
    for changes, message in cases:
        with pytest.raises(ConfigError, match=message):
            from_dict(SFTConfig, changes)
    # more held out than the split has: known once the split is read, before any decoding
    config = {
        "data": {"n_train": 8, "seed": 2, "val_size": 8},
        "env": {"root": str(data_root)},
        "out_dir": str(tmp_path / "run"),
    }
    path = tmp_path / "sft.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["train-sft", "--config", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "config key data.val_size: holds out 8 samples" in err
    assert "has 8, leaving none to train on: set data.val_size below 8" in err


def test_without_validation_the_run_is_unchanged(data_root, tmp_path):
    """val_size 0: the test split every eval_every epochs and at the end, the last epoch's
    weights, the checkpoint's extra as before; and with validation the held-out samples
    change nothing in training: the losses equal those of a run on the first 5 only."""
    plain = train_sft(
        _config(data_root, tmp_path / "plain", val_size=0, epochs=4, eval_every=3),
        progress=False,
        log=None,
    )
    assert [line["epoch"] for line in _lines(plain, "eval")] == [3, 4]
    assert _lines(plain, "val") == []
    assert (plain.epochs_done, plain.best_epoch, plain.stopped_early, plain.val_metrics) == (
        4,
        None,
        False,
        {},
    )
    extra = torch.load(plain.checkpoint, weights_only=False)["extra"]["sft"]
    assert sorted(extra) == ["epochs_done", "eval", "steps"]
    summary = json.loads((tmp_path / "plain" / "eval.json").read_text())
    assert sorted(summary) == [
        "gt_vIoU@0.3",
        "gt_vIoU@0.5",
        "m_gt_vIoU",
        "m_tIoU",
        "m_vIoU",
        "n",
        "seconds",
        "vIoU@0.3",
        "vIoU@0.5",
    ]

    held = train_sft(_config(data_root, tmp_path / "held", epochs=4), progress=False, log=None)
    first5 = {"n_train": 8, "seed": 2, "limit_train": 5}
    five = train_sft(
        _config(data_root, tmp_path / "five", val_size=0, epochs=4, data=first5),
        progress=False,
        log=None,
    )
    assert len(_losses(held)) == 4
    assert _losses(held) == _losses(five)


def _losses(result) -> list[tuple]:
    keys = ("step", "losses/total", "losses/span_nll", "losses/box_nll", "charts/lr")
    return [tuple(line[k] for k in keys) for line in result.history if "losses/total" in line]
