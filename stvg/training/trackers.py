"""Where a run's metrics go besides ``metrics.jsonl``: ``report_to``, TRL's convention.

``report_to: [tensorboard, wandb, mlflow]`` (any of them, or ``[]``) in an RL config
(default ``[tensorboard]``), an SFT config (default ``[]``) or a sweep config (default
``[]``):

* ``tensorboard``: scalars in ``<run>/tb/`` (``torch.utils.tensorboard``; ``tensorboard
  --logdir runs``);
* ``wandb``: a Weights & Biases run named after the run folder, in the project
  ``$WANDB_PROJECT`` (default ``stvg``), its files under the run folder; ``WANDB_MODE=
  offline`` keeps it on disk (``wandb sync`` uploads it later). A resumed run continues
  the same W&B run (its id is kept in ``<run>/wandb_run_id``);
* ``mlflow``: an MLflow run in the experiment ``$MLFLOW_EXPERIMENT_NAME`` (default
  ``stvg``) at ``$MLFLOW_TRACKING_URI``; without it, a local file store ``./mlruns``. A
  resumed run continues the same MLflow run (``<run>/mlflow_run_id``). Metric names keep
  the characters MLflow accepts; others become ``_`` (``vIoU@0.3`` -> ``vIoU_0.3``).

The run's resolved config goes with it (W&B ``config``, MLflow parameters). wandb and
mlflow are optional: ``pip install -c constraints.txt -e '.[tracking]'``; naming one that
is not installed stops the run before it starts, with that command.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

#: The reporters ``report_to`` may name.
REPORTERS = ("tensorboard", "wandb", "mlflow")
Reporter = Literal["tensorboard", "wandb", "mlflow"]
INSTALL_HINT = "pip install -c constraints.txt -e '.[tracking]'"
WANDB_ID_FILE = "wandb_run_id"
MLFLOW_ID_FILE = "mlflow_run_id"
_MLFLOW_NAME = re.compile(r"[^A-Za-z0-9_\-. /]")


def check_report_to(report_to: Sequence[str]) -> list[str]:
    """``report_to`` as a list of known reporters, each once.

    Raises:
        ValueError: an unknown name or one given twice (the message lists the known ones).
    """
    seen: list[str] = []
    for name in report_to:
        if name not in REPORTERS:
            raise ValueError(f"unknown reporter {name!r}; report_to takes {list(REPORTERS)}")
        if name in seen:
            raise ValueError(f"{name!r} is listed twice")
        seen.append(name)
    return seen


def _numbers(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers of ``metrics`` (booleans, strings, NaN left out)."""
    out = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if math.isfinite(float(value)):
            out[key] = float(value)
    return out


def _flat(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"rl": {"lr": 1}}`` -> ``{"rl.lr": 1}`` (lists as JSON)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(_flat(value, f"{name}."))
        elif isinstance(value, (list, tuple, Mapping)):
            out[name] = json.dumps(value, default=str)
        else:
            out[name] = value
    return out


class TensorBoardTracker:
    """Scalars in ``folder/tb`` (``purge_after``: a resumed run drops later events)."""

    def __init__(self, folder: Path, purge_after: int | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        purge = None if purge_after is None else purge_after + 1
        self.writer = SummaryWriter(log_dir=str(folder / "tb"), purge_step=purge)

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        for key, value in _numbers(metrics).items():
            self.writer.add_scalar(key, value, global_step=int(step))
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def _run_id(folder: Path, name: str) -> str | None:
    path = folder / name
    return path.read_text(encoding="utf-8").strip() or None if path.is_file() else None


class WandbTracker:
    """A W&B run (see the module docstring)."""

    def __init__(self, folder: Path, run_name: str, config: Mapping[str, Any]) -> None:
        import wandb

        known = _run_id(folder, WANDB_ID_FILE)
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "stvg"),
            name=run_name,
            dir=str(folder),
            config=dict(config),
            id=known,
            resume="allow" if known else None,
            reinit="create_new",
        )
        (folder / WANDB_ID_FILE).write_text(self.run.id, encoding="utf-8")

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        self.run.log(_numbers(metrics), step=int(step))

    def close(self) -> None:
        self.run.finish()


class MLflowTracker:
    """An MLflow run (see the module docstring)."""

    def __init__(self, folder: Path, run_name: str, config: Mapping[str, Any]) -> None:
        import mlflow

        if not os.environ.get("MLFLOW_TRACKING_URI"):
            # MLflow's file store, by default beside the runs; it refuses it unless allowed
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            mlflow.set_tracking_uri(Path("mlruns").resolve().as_uri())
        self.client = mlflow.MlflowClient()
        known = _run_id(folder, MLFLOW_ID_FILE)
        if known is None:
            name = os.environ.get("MLFLOW_EXPERIMENT_NAME", "stvg")
            experiment = self.client.get_experiment_by_name(name)
            experiment_id = (
                experiment.experiment_id if experiment else self.client.create_experiment(name)
            )
            run = self.client.create_run(experiment_id, run_name=run_name)
            self.run_id = run.info.run_id
            (folder / MLFLOW_ID_FILE).write_text(self.run_id, encoding="utf-8")
            params = {k: str(v)[:500] for k, v in _flat(config).items()}
            items = list(params.items())
            for lo in range(0, len(items), 100):  # MLflow takes at most 100 per batch
                from mlflow.entities import Param

                self.client.log_batch(
                    self.run_id, params=[Param(k, v) for k, v in items[lo : lo + 100]]
                )
        else:
            self.run_id = known
            self.client.update_run(self.run_id, status="RUNNING")

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [
            Metric(_MLFLOW_NAME.sub("_", key), value, now, int(step))
            for key, value in _numbers(metrics).items()
        ]
        for lo in range(0, len(batch), 1000):
            self.client.log_batch(self.run_id, metrics=batch[lo : lo + 1000])

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


class Trackers:
    """The trackers of one run; :meth:`log` and :meth:`close` go to each of them."""

    def __init__(self, trackers: Iterable[Any] = ()) -> None:
        self.trackers = list(trackers)

    def log(self, step: int, metrics: Mapping[str, Any]) -> None:
        for tracker in self.trackers:
            tracker.log(step, metrics)

    def close(self) -> None:
        for tracker in self.trackers:
            tracker.close()
        self.trackers = []


def open_trackers(
    report_to: Sequence[str],
    folder: str | Path,
    *,
    run_name: str | None = None,
    config: Mapping[str, Any] | None = None,
    purge_after: int | None = None,
) -> Trackers:
    """The trackers ``report_to`` names for the run in ``folder`` (see the module doc).

    Raises:
        ImportError: wandb or mlflow is named but not installed (the message says how to
            install them).
    """
    folder = Path(folder)
    name = run_name or folder.name
    opened = []
    try:
        for reporter in check_report_to(report_to):
            if reporter == "tensorboard":
                opened.append(TensorBoardTracker(folder, purge_after))
                continue
            try:
                __import__(reporter)
            except ImportError:
                raise ImportError(
                    f"report_to names {reporter}, which is not installed: {INSTALL_HINT} "
                    f"(or take {reporter} out of report_to)"
                ) from None
            tracker = WandbTracker if reporter == "wandb" else MLflowTracker
            opened.append(tracker(folder, name, config or {}))
    except BaseException:
        Trackers(opened).close()
        raise
    return Trackers(opened)


__all__ = [
    "INSTALL_HINT",
    "REPORTERS",
    "Reporter",
    "Trackers",
    "check_report_to",
    "open_trackers",
]
