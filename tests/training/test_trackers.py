"""``report_to: [tensorboard, wandb, mlflow]`` for RL, SFT and sweeps, offline: W&B with
``WANDB_MODE=offline`` (its run file read back here), MLflow on a local file store (read
back with its client), TensorBoard's event files (read back with its reader). Each must
hold the very numbers of ``metrics.jsonl``."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path
from typing import Any

import pytest
from rl_helpers import build, grounding_config, make_native_checkpoint, make_split

from stvg.config import ConfigError, from_dict
from stvg.training.config import TrainConfig
from stvg.training.trainers import trainer_class

wandb = pytest.importorskip("wandb")  # the optional `tracking` extra
mlflow = pytest.importorskip("mlflow")


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """W&B offline, MLflow on a file store in ``tmp_path/mlruns``; returns its URI."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_PROJECT", "stvg-test")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "stvg-test")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)  # the default file store: ./mlruns
    return tmp_path / "mlruns"


def _wandb_records(path: Path) -> list[bytes]:
    """The records of a ``.wandb`` file: a LevelDB-style log (a 7-byte header, 32 KiB
    blocks, each record a checksum, a length and a type, split over blocks when long)."""
    data = path.read_bytes()
    assert data[:4] == b":W&B"
    block, offset, pending, records = 32768, 7, b"", []
    while offset + 7 <= len(data):
        if block - offset % block < 7:  # a block's trailer
            offset += block - offset % block
            continue
        length, kind = struct.unpack("<HB", data[offset + 4 : offset + 7])
        pending += data[offset + 7 : offset + 7 + length]
        offset += 7 + length
        if kind in (1, 4):  # a full record, or the last piece of one
            records.append(pending)
            pending = b""
        elif kind == 0:
            break
    return records


def wandb_history(run_folder: Path) -> tuple[set[str], list[dict[str, Any]], dict[str, Any]]:
    """``(run ids, history rows, config)`` of the offline W&B sessions under
    ``run_folder`` (a resumed run writes one session file more), read from their files."""
    from wandb.proto import wandb_internal_pb2 as pb

    wandb.teardown()  # W&B's service writes the run files in the background: let it finish
    rows, config, run_ids = [], {}, set()
    for path in sorted(run_folder.glob("wandb/offline-run-*/run-*.wandb")):
        for raw in _wandb_records(path):
            record = pb.Record()
            record.ParseFromString(raw)
            what = record.WhichOneof("record_type")
            if what == "history":
                rows.append(
                    {
                        i.key or "/".join(i.nested_key): json.loads(i.value_json)
                        for i in record.history.item
                    }
                )
            elif what == "run":
                run_ids.add(record.run.run_id)
                config.update({i.key: json.loads(i.value_json) for i in record.run.config.update})
    return run_ids, rows, config


def mlflow_history(store: Path, run_id: str, key: str) -> dict[int, float]:
    client = mlflow.MlflowClient(store.as_uri())
    return {m.step: m.value for m in client.get_metric_history(run_id, key)}


def tensorboard_history(folder: Path, key: str) -> dict[int, float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder / "tb"))
    events.Reload()
    return {e.step: e.value for e in events.Scalars(key)}


def test_rl_reports_to_all_three_and_a_resume_continues_the_same_runs(
    tmp_path: Path, offline: Path
) -> None:
    root = make_split(tmp_path / "data")
    checkpoint = make_native_checkpoint(root, tmp_path / "policy.pt")
    report_to = ["tensorboard", "wandb", "mlflow"]
    config = build(grounding_config(root, checkpoint, tmp_path / "runs", report_to=report_to))
    trainer = trainer_class("grpo").create(config)
    try:
        run = trainer.train().run_dir
    finally:
        trainer.close()
    wandb_id = (run / "wandb_run_id").read_text()
    mlflow_id = (run / "mlflow_run_id").read_text()
    resumed = trainer_class("grpo").resume(
        run,
        from_dict(
            TrainConfig,
            {
                **json.loads(
                    json.dumps(
                        grounding_config(root, checkpoint, tmp_path / "runs", report_to=report_to)
                    )
                ),
                "iterations": 3,
            },
        ),
    )
    try:
        resumed.train()
    finally:
        resumed.close()
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [line["iteration"] for line in lines] == [1, 2, 3]
    key = "rewards/sampled/total"
    expected = {line["iteration"]: line[key] for line in lines}
    assert tensorboard_history(run, key) == pytest.approx(expected)
    assert (run / "mlflow_run_id").read_text() == mlflow_id  # the same MLflow run, continued
    assert mlflow_history(offline, mlflow_id, key) == pytest.approx(expected)
    assert mlflow_history(offline, mlflow_id, "losses/grad_norm") == pytest.approx(
        {line["iteration"]: line["losses/grad_norm"] for line in lines}
    )
    assert (run / "wandb_run_id").read_text() == wandb_id
    run_ids, rows, config_logged = wandb_history(run)
    assert run_ids == {wandb_id}  # one W&B run over both sessions
    assert config_logged["algorithm"] == "grpo" and config_logged["seed"] == 3
    logged = {int(r["_step"]): r[key] for r in rows if key in r}
    assert logged == pytest.approx(expected)


def test_sft_and_sweep_rows_report_too(tmp_path: Path, offline: Path) -> None:
    from stvg.experiments.sweep import report_rows
    from stvg.training.sft import SFTConfig, train_sft

    tiny = {"frame_size": 16, "channels": [4, 4, 8], "word_dim": 8, "query_dim": 8, "hidden": 8}
    config = from_dict(
        SFTConfig,
        {
            "data": {"n_train": 4, "n_eval": 2, "seed": 2},
            "env": {"root": str(tmp_path / "data"), "fps": 1.0, "max_frames": 4, "max_side": 32},
            "model": tiny,
            "epochs": 2,
            "batch_size": 2,
            "eval_every": 0,
            "threads": 1,
            "out_dir": str(tmp_path / "sft"),
            "report_to": ["mlflow", "tensorboard"],
        },
    )
    result = train_sft(config, progress=False, log=None)
    run_id = (result.run_dir / "mlflow_run_id").read_text()
    losses = {
        line["step"]: line["losses/total"] for line in result.history if "losses/total" in line
    }
    assert mlflow_history(offline, run_id, "losses/total") == pytest.approx(losses)
    assert tensorboard_history(result.run_dir, "losses/total") == pytest.approx(losses)
    client = mlflow.MlflowClient(offline.as_uri())
    assert client.get_run(run_id).data.params["epochs"] == "2"

    sweep = tmp_path / "sweep"
    rows = [
        {
            "trial": f"env.fps=1,seed={s}",
            "cell": "env.fps=1",
            "seed": s,
            "status": "ok",
            "axis/env.fps": "1",
            "final/m_vIoU": 0.25 + s / 10,
            "final/vIoU@0.3": 0.5,
            "wall_s": 3.0,
        }
        for s in (0, 1)
    ]
    assert report_rows(["mlflow", "wandb"], sweep, rows) == 2
    assert report_rows(["mlflow", "wandb"], sweep, rows) == 0  # already reported
    for seed in (0, 1):
        folder = sweep / "trackers" / f"env.fps=1,seed={seed}"
        trial_run = client.get_run((folder / "mlflow_run_id").read_text())
        assert trial_run.data.params["env.fps"] == "1" and trial_run.data.params["seed"] == str(
            seed
        )
        assert trial_run.data.metrics["final/m_vIoU"] == pytest.approx(0.25 + seed / 10)
        assert trial_run.data.metrics["final/vIoU_0.3"] == 0.5  # MLflow takes no '@'
        _, history, config_logged = wandb_history(folder)
        assert history[0]["final/vIoU@0.3"] == 0.5 and config_logged["cell"] == "env.fps=1"


def test_a_reporter_that_is_not_installed_or_not_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stvg.training.trackers import open_trackers

    with pytest.raises(ConfigError, match=r"report_to\[0\]: 'comet' is not one of"):
        from_dict(TrainConfig, {"report_to": ["comet"]})
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if the extra were not installed
    with pytest.raises(ImportError, match=r"report_to names wandb, which is not installed: pip"):
        open_trackers(["tensorboard", "wandb"], tmp_path)
