"""How ``stvg run`` builds each stage: the data, the synthesis, SFT, RL and the evaluations,
each returning the record its stage keeps (``stage.json``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stvg.experiments.pipeline_policies import pipeline_policy
from stvg.experiments.run_config import DataSection, PolicySection, RunConfig
from stvg.experiments.stage_configs import eval_config, rl_config, sft_config, synthesis_config
from stvg.verifiers.metrics import headline_metrics


def ensure_data(data: DataSection, root: str, progress: bool = False) -> list[str]:
    """Generate the missing synthetic splits (under a file lock: the trials of a sweep may
    ask at once; ``progress``: show it); returns the splits generated."""
    from filelock import FileLock

    from stvg.data.synthetic import ensure_synthetic_split

    Path(root).parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(Path(root)) + ".lock"):
        return [
            split
            for split, n in (("train", data.n_train), ("test", data.n_test))
            if ensure_synthetic_split(root, split, n, data.seed, data.difficulty, progress=progress)
        ]


def ensure_tiny(policy: PolicySection, seed: int) -> None:
    """Build the tiny checkpoint ``policy.tiny`` asks for, unless it exists."""
    if policy.tiny is None:
        return
    model_path = Path(policy.config["model_path"])
    if not (model_path / "config.json").is_file():
        from stvg.policies.vlm.tiny import build_tiny_checkpoint

        build_tiny_checkpoint(policy.tiny, model_path, seed=seed)


def synthesis_stage(config: RunConfig, folder: Path) -> dict[str, Any]:
    from stvg.synthesis.run import TARGETS_FILE, synthesize

    result = synthesize(synthesis_config(config, folder))
    result.check_kept()  # SFT on no target would fail later, with a less useful message
    manifest = result.manifest
    record = {k: manifest[k] for k in ("teacher", "counts", "teacher_metrics")}
    return {**record, "targets": str(folder / TARGETS_FILE)}


def sft_stage(config: RunConfig, folder: Path, targets: Path | None) -> dict[str, Any]:
    """The SFT stage: train into ``folder``; returns its record (the checkpoint and what
    SFT reports about the one it kept)."""
    import torch

    from stvg.training.sft import train_sft

    ensure_tiny(config.policy, config.seed)
    threads = torch.get_num_threads()
    try:
        sft = train_sft(sft_config(config, folder, targets), progress=config.progress, log=None)
        used = torch.get_num_threads()  # what SFT ran with (given, or chosen)
    finally:
        torch.set_num_threads(threads)
    selection: dict[str, Any] = {
        k: getattr(sft, k)
        for k in ("best_epoch", "epochs_done", "stopped_early")
        if getattr(sft, k) is not None
    }
    if sft.val_metrics:
        selection["val_metrics"] = {
            k: float(v) for k, v in headline_metrics(sft.val_metrics, with_n=True).items()
        }
    return {"checkpoint": str(sft.checkpoint), **selection, "threads": used}


def rl_stage(config: RunConfig, checkpoint: Path | None, folder: Path) -> dict[str, Any]:
    """The RL stage: train from ``checkpoint`` into ``folder``; returns its record."""
    from stvg.training.trainers import create_trainer
    from stvg.training.workers import worker_threads

    trainer = create_trainer(rl_config(config, checkpoint, folder))
    try:
        trained = trainer.train()
    finally:
        trainer.close()
    return {
        "run_dir": str(trained.run_dir),
        "checkpoint": None if trained.checkpoint is None else str(trained.checkpoint),
        "iterations": trained.iterations,
        "algorithm": trainer.config.algorithm,
        "num_workers": trainer.config.rollout.num_workers,
        "threads": {
            "learner": trainer.threads,
            "per_worker": worker_threads(trainer.config.rollout),
        },
    }


def start_policy(config: RunConfig, checkpoint: Path | None) -> Any:
    """The policy RL starts from: the SFT checkpoint's, or the fresh policy."""
    treatment = pipeline_policy(config.policy.name)
    if checkpoint is not None and treatment.load_sft is not None:
        return treatment.load_sft(config.policy.config, checkpoint)
    from stvg.envs.make import make_env
    from stvg.training.loop import resolve_policy_config
    from stvg.training.rollout import make_policy

    rl = config.rl
    probe = make_env(rl.env.id, rl.env.env_kwargs(), rl.env.max_episode_steps)
    try:
        return make_policy(rl.policy.name, resolve_policy_config(rl, probe))
    finally:
        probe.close()


def rl_policy(config: RunConfig, trained: Mapping[str, Any]) -> Any:
    """The policy of the RL run's newest checkpoint."""
    if trained["checkpoint"] is None:
        raise FileNotFoundError("the RL run wrote no checkpoint")
    return pipeline_policy(config.policy.name).load_rl(Path(trained["checkpoint"]))


def zoom_rule_policy(config: RunConfig, trained: Mapping[str, Any], rule: str) -> Any:
    """The RL policy as the answerer of the scripted zoom rule ``rule``
    (:class:`~stvg.policies.zoom.ZoomController`; zooms at the policy's zoom head rate
    when it has one, else at the env's grid rate)."""
    from stvg.policies.zoom import ZoomController

    answerer = rl_policy(config, trained)
    head = getattr(getattr(getattr(answerer, "config", None), "model", None), "zoom", None)
    return ZoomController.around(
        answerer,
        rule=rule,
        margin_s=config.eval.zoom_margin_s,
        zoom_fps=getattr(head, "fps", None),
        seed=config.seed,
    )


def evaluation_stage(config: RunConfig, policy: Any, folder: Path, label: str) -> dict[str, Any]:
    """An evaluation stage: evaluate ``policy`` into ``folder``; returns its record."""
    from stvg.evaluation import evaluate_policy
    from stvg.training.threads import torch_threads

    with torch_threads():  # chosen from the free cores, as SFT's and the learner's
        evaluation = evaluate_policy(eval_config(config, label), policy=policy, out_dir=folder)
    return {
        "metrics": headline_metrics(evaluation.metrics, with_n=True),
        "rewards": dict(evaluation.rewards),
        "cost": dict(evaluation.cost),
        "seconds": evaluation.seconds,
        "bad_videos": list(evaluation.bad_videos),
        "action_format": evaluation.action_format,
        "answers": evaluation.summary()["answers"],
        "dir": str(folder),
    }


__all__ = [
    "ensure_data",
    "ensure_tiny",
    "evaluation_stage",
    "rl_policy",
    "rl_stage",
    "sft_stage",
    "start_policy",
    "synthesis_stage",
    "zoom_rule_policy",
]
