"""``stvg run CONFIG``: the whole pipeline in one command, from nothing to a report.

1. **data** — generate the synthetic train and test splits (skipped when they exist);
2. **synthesis** (VLM, when the config has a ``synthesis:`` section) — chain-of-thought
   targets for the train split from a teacher, every span and box replaced by the ground
   truth (:func:`stvg.synthesis.run.synthesize`); SFT then trains on them;
3. **SFT** — warm-start the policy: the native policy with
   :func:`stvg.training.sft.train_sft`, the VLM policy with
   :func:`stvg.training.sft_vlm.train_sft_vlm` on ground-truth targets rendered by the
   answer contract (``policy.tiny`` first builds a tiny random checkpoint, for CPU runs);
4. **evaluate SFT** — the SFT checkpoint on the test split
   (:func:`stvg.experiments.evaluate_policy.evaluate_policy`, official HC-STVG metrics);
5. **RL** — GRPO (or any loop trainer) from the SFT checkpoint on the train split, with Ray
   rollout workers (:class:`stvg.training.loop.Trainer`);
6. **evaluate RL** — the final RL policy on the same test split, the same way;
7. **report** — ``report.md`` (before/after-RL metrics, cost, timings, the command) and a
   learning-curve PNG (:mod:`stvg.experiments.report`).

The config (``stvg/experiments/configs/quickstart.yaml``)::

    name: quickstart
    seed: 0
    data: {n_train: 600, n_test: 100, difficulty: easy}
    env: {fps: 1.0, max_frames: 10, max_side: 64, verifier: {terms: [...]}}
    sft: {epochs: 8, ...}            # any SFTConfig key but the ones the runner sets
    rl: {algorithm: grpo, ...}       # any TrainConfig key but the ones the runner sets

``policy`` chooses the policy (``{name: native}`` by default, or ``{name: vlm, config:
{model_path: ..., ...}, tiny: qwen2.5-vl}``; see
``stvg/experiments/configs/vlm_tiny_quickstart.yaml``).

The runner sets, so that every stage sees the same data and frames: ``sft.data``,
``sft.fps``, ``sft.max_frames``, ``sft.max_side``, ``sft.seed``, ``sft.out_dir`` (VLM:
``sft.policy``, ``sft.env``, ``sft.data``, ``sft.seed``, ``sft.out_dir``); ``rl.env``,
``rl.policy``, ``rl.seed``, ``rl.name``, ``rl.out_dir``. Giving one of them is a
:class:`~stvg.config.ConfigError`. ``env.verifier`` is the RL reward; the evaluations
always report the official metrics.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from stvg.config import InvalidField, from_dict, from_yaml, to_dict

SFT_KEYS_SET_BY_RUNNER = ("data", "fps", "max_frames", "max_side", "seed", "out_dir")
VLM_SFT_KEYS_SET_BY_RUNNER = ("policy", "env", "data", "seed", "out_dir")
RL_KEYS_SET_BY_RUNNER = ("env", "policy", "seed", "name", "out_dir")
SYNTHESIS_KEYS_SET_BY_RUNNER = ("env", "contract", "template", "out", "progress")


@dataclass
class DataSection:
    """The synthetic benchmark the pipeline generates.

    Attributes:
        root: folder of the splits; ``null`` = ``data_cache/synthetic-<difficulty>-
            train<n_train>-test<n_test>-seed<seed>`` (reused by later runs).
        n_train, n_test: videos of the train and test splits.
        difficulty: generator difficulty (``easy``, ``medium``, ``hard``).
        seed: generator seed.
    """

    root: str | None = None
    n_train: int = 600
    n_test: int = 100
    difficulty: Literal["easy", "medium", "hard"] = "easy"
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_train", "n_test"):
            if getattr(self, name) < 1:
                raise InvalidField(name, f"must be >= 1, got {getattr(self, name)}")

    def resolved_root(self) -> str:
        """``root`` or its default."""
        if self.root:
            return self.root
        return (
            f"data_cache/synthetic-{self.difficulty}-train{self.n_train}-test{self.n_test}"
            f"-seed{self.seed}"
        )


@dataclass
class PolicySection:
    """The policy the pipeline trains.

    Attributes:
        name: ``native`` (the small torch policy) or ``vlm`` (Qwen2.5-VL / Qwen3-VL through
            transformers).
        config: ``vlm``: :class:`~stvg.policies.vlm.config.VLMPolicyConfig` keys
            (``model_path`` required: the local checkpoint SFT starts from); ``native``:
            unused (the SFT section configures it).
        tiny: ``vlm`` only: build a tiny random checkpoint of this family
            (``qwen2.5-vl`` or ``qwen3-vl``) at ``config.model_path`` when it does not exist
            yet (what ``stvg models tiny`` writes), for runs on a CPU.
    """

    name: Literal["native", "vlm"] = "native"
    config: dict[str, Any] = field(default_factory=dict)
    tiny: Literal["qwen2.5-vl", "qwen3-vl"] | None = None

    def __post_init__(self) -> None:
        if self.name == "vlm" and not self.config.get("model_path"):
            raise InvalidField(
                "config.model_path",
                "policy vlm needs config.model_path (a local checkpoint folder; with tiny: "
                "qwen2.5-vl a tiny random one is built there)",
            )
        if self.name == "native" and (self.config or self.tiny):
            raise InvalidField(
                "config",
                "policy native is configured by the sft section; remove policy.config/tiny",
            )


@dataclass
class EnvSection:
    """How every stage shows the videos, and the RL reward.

    Attributes:
        fps: frames sampled per second of video.
        max_frames: most frames per video (10: the synthetic videos' 10 s at 1 fps;
            ``null`` = room for the longest video, VLM only).
        max_side: longer side of the frames as shown, pixels.
        verifier: the RL reward (``{terms: [...]}``; ``null`` = the verifier's default
            ``t_iou + v_iou``).
    """

    fps: float = 1.0
    max_frames: int | None = 10
    max_side: int = 64
    verifier: dict[str, Any] | None = None


@dataclass
class EvalSection:
    """The evaluations on the test split.

    Attributes:
        batch_size: observations answered per ``act_batch`` call.
        limit: only the first ``limit`` test samples (``null`` = all).
    """

    batch_size: int = 32
    limit: int | None = None


@dataclass
class RunConfig:
    """The whole pipeline (see the module docstring).

    Attributes:
        name: name of the run folder (``out_dir/name``; ``-2``, ``-3`` when taken).
        out_dir: where run folders go.
        seed: seeds SFT and RL.
        data, env, eval: see their classes.
        sft: keys of :class:`stvg.training.sft.SFTConfig` (validated with it).
        rl: keys of :class:`stvg.training.config.TrainConfig` (validated with it).
    """

    name: str = "quickstart"
    out_dir: str = "runs"
    seed: int = 0
    policy: PolicySection = field(default_factory=PolicySection)
    data: DataSection = field(default_factory=DataSection)
    env: EnvSection = field(default_factory=EnvSection)
    eval: EvalSection = field(default_factory=EvalSection)
    sft: dict[str, Any] = field(default_factory=dict)
    rl: dict[str, Any] = field(default_factory=dict)
    synthesis: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.synthesis is not None:
            if self.policy.name != "vlm":
                raise InvalidField(
                    "synthesis", "a synthesis stage writes text targets: it needs policy vlm"
                )
            given = sorted(set(self.synthesis) & set(SYNTHESIS_KEYS_SET_BY_RUNNER))
            if given:
                raise InvalidField(
                    f"synthesis.{given[0]}",
                    f"is set by the runner (keys {list(SYNTHESIS_KEYS_SET_BY_RUNNER)} come "
                    "from data/env/policy so that targets match the policy's prompt): remove it",
                )
        sft_keys = (
            VLM_SFT_KEYS_SET_BY_RUNNER if self.policy.name == "vlm" else SFT_KEYS_SET_BY_RUNNER
        )
        for section, keys in (("sft", sft_keys), ("rl", RL_KEYS_SET_BY_RUNNER)):
            given = sorted(set(getattr(self, section)) & set(keys))
            if given:
                raise InvalidField(
                    f"{section}.{given[0]}",
                    f"is set by the runner (keys {list(keys)} come from data/env/seed so that "
                    "every stage sees the same frames): remove it",
                )
        if self.policy.name == "native" and self.env.max_frames is None:
            raise InvalidField(
                "env.max_frames",
                "the native policy has a fixed number of frame slots: set it (10 fits the "
                "10 s synthetic videos at 1 fps)",
            )


@dataclass
class RunResult:
    """What :func:`run_experiment` produced.

    Attributes:
        run_dir: the run folder.
        summary: the content of ``summary.json`` (metrics before and after RL, cost,
            timings).
        report: path of ``report.md``.
    """

    run_dir: Path
    summary: dict[str, Any]
    report: Path


def load_run_config(path: str | Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read and validate a :class:`RunConfig` YAML file with dotted ``overrides`` (errors
    name the key path)."""
    return from_yaml(RunConfig, path, overrides=overrides)


def _sft_data(config: RunConfig) -> dict[str, Any]:
    """The SFT data keys both SFT stages share: train on the generated train split."""
    return {
        "train_split": "train",
        "eval_split": None,
        "generate": True,
        "n_train": config.data.n_train,
        "n_eval": config.data.n_test,
        "difficulty": config.data.difficulty,
        "seed": config.data.seed,
    }


def sft_config(config: RunConfig, root: str, out_dir: Path) -> Any:
    """The :class:`~stvg.training.sft.SFTConfig` of the SFT stage."""
    from stvg.training.sft import SFTConfig

    data = {"dataset": "synthetic", "root": root, **_sft_data(config)}
    merged = {
        **config.sft,
        "data": data,
        "fps": config.env.fps,
        "max_frames": config.env.max_frames,
        "max_side": config.env.max_side,
        "seed": config.seed,
        "out_dir": str(out_dir),
    }
    return from_dict(SFTConfig, merged, path="sft")


def synthesis_config(config: RunConfig, root: str, out_dir: Path) -> Any:
    """The :class:`~stvg.synthesis.config.SynthesisConfig` of the synthesis stage: the train
    split shown as every stage shows it, in the policy's answer contract."""
    from stvg.policies.vlm.config import VLMPolicyConfig
    from stvg.policies.vlm.policy import checkpoint_contract
    from stvg.synthesis.config import load_synthesis_config

    policy = from_dict(VLMPolicyConfig, dict(config.policy.config), path="policy.config")
    _, spec = checkpoint_contract(policy)
    env = {k: v for k, v in env_kwargs(config, root, "train").items()}
    merged = {
        **(config.synthesis or {}),
        "env": env,
        "contract": {
            "answer_format": spec.answer_format,
            "coords": spec.coords,
            "model_geometry": None if spec.geometry is None else spec.geometry.to_dict(),
        },
        "template": policy.template,
        "out": str(out_dir),
        "progress": False,
    }
    return load_synthesis_config(merged)


def vlm_sft_config(config: RunConfig, root: str, out_dir: Path, targets: Path | None = None) -> Any:
    """The :class:`~stvg.training.sft_vlm.VLMSFTConfig` of the SFT stage (VLM policy):
    ground-truth targets, or the synthesis stage's ``targets``."""
    from stvg.training.sft_vlm import VLMSFTConfig

    env = {k: v for k, v in env_kwargs(config, root, "train").items() if k != "split"}
    merged = {
        **config.sft,
        "policy": {"name": "vlm", "config": dict(config.policy.config)},
        "env": env,
        "data": {**_sft_data(config), "targets": None if targets is None else str(targets)},
        "seed": config.seed,
        "out_dir": str(out_dir),
    }
    return from_dict(VLMSFTConfig, merged, path="sft")


def env_kwargs(config: RunConfig, root: str, split: str) -> dict[str, Any]:
    """``GroundingEnv`` keyword arguments of a split (no ``action_format``)."""
    kwargs: dict[str, Any] = {
        "dataset": "synthetic",
        "root": root,
        "split": split,
        "fps": config.env.fps,
        "max_frames": config.env.max_frames,
        "max_side": config.env.max_side,
    }
    return kwargs


def rl_config(config: RunConfig, root: str, checkpoint: Path, out_dir: Path) -> Any:
    """The :class:`~stvg.training.config.TrainConfig` of the RL stage."""
    from stvg.training.config import TrainConfig

    vlm = config.policy.name == "vlm"
    kwargs = {**env_kwargs(config, root, "train"), "action_format": "text" if vlm else "struct"}
    if config.env.verifier is not None:
        kwargs["verifier"] = config.env.verifier
    algorithm = config.rl.get("algorithm", "grpo")
    if vlm:
        policy = {"name": "vlm", "config": {**config.policy.config, "model_path": str(checkpoint)}}
    else:
        policy = {"name": "native", "config": {"checkpoint": str(checkpoint)}}
    merged = {
        **config.rl,
        "env": {"id": "stvg/Grounding-v0", "kwargs": kwargs},
        "policy": policy,
        "seed": config.seed,
        "name": f"Grounding-v0__{algorithm}__seed{config.seed}",
        "out_dir": str(out_dir),
    }
    return from_dict(TrainConfig, merged, path="rl")


def _evaluate(config: RunConfig, root: str, policy: Any, out_dir: Path, label: str) -> Any:
    from stvg.experiments.evaluate_policy import PolicyEvalConfig, PolicySpec, evaluate_policy

    env = env_kwargs(config, root, "test")
    if config.env.verifier is not None:  # the same answer format and coordinates as RL
        env["verifier"] = config.env.verifier
    eval_config = PolicyEvalConfig(
        policy=PolicySpec(name=label),
        env=env,
        batch_size=config.eval.batch_size,
        limit=config.eval.limit,
        progress=False,
    )
    return evaluate_policy(eval_config, policy=policy, out_dir=out_dir)


def _unique(path: Path) -> Path:
    candidate, k = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.name}-{k}")
        k += 1
    return candidate


def run_experiment(
    config: RunConfig,
    *,
    command: str = "",
    say: Callable[[str], None] | None = print,
) -> RunResult:
    """Run the pipeline of the module docstring.

    Args:
        config: the pipeline config.
        command: the command line, quoted in the report.
        say: called with one line per stage (``None`` = silent).

    Returns:
        A :class:`RunResult`.
    """
    import torch

    from stvg.experiments.report import write_report
    from stvg.training.loop import Trainer
    from stvg.training.sft_data import ensure_synthetic_split

    check_stage_configs(config)
    log = say or (lambda _line: None)
    started = time.perf_counter()
    run_dir = _unique(Path(config.out_dir) / config.name)
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(
        yaml.safe_dump(to_dict(config), sort_keys=False), encoding="utf-8"
    )
    timings: dict[str, float] = {}
    log(f"run folder: {run_dir}")
    total_stages = 7 if config.synthesis is not None else 6
    done = iter(range(1, total_stages + 1))

    def stage() -> str:
        return f"[{next(done)}/{total_stages}]"

    # 1. data
    tick = time.perf_counter()
    root = config.data.resolved_root()
    made = [
        split
        for split, n in (("train", config.data.n_train), ("test", config.data.n_test))
        if ensure_synthetic_split(root, split, n, config.data.seed, config.data.difficulty)
    ]
    timings["data_s"] = time.perf_counter() - tick
    log(
        f"{stage()} data: {root} ({'generated ' + ', '.join(made) if made else 'already there'}) {timings['data_s']:.1f}s"
    )

    # 2. synthesis
    targets = None
    synthesis_summary = None
    if config.synthesis is not None:
        from stvg.synthesis.run import TARGETS_FILE, synthesize

        tick = time.perf_counter()
        _ensure_tiny(config)
        synthesis = synthesize(synthesis_config(config, root, run_dir / "synthesis"))
        targets = synthesis.out_dir / TARGETS_FILE
        manifest = synthesis.manifest
        synthesis_summary = {
            "teacher": manifest["teacher"],
            "counts": manifest["counts"],
            "teacher_metrics": manifest["teacher_metrics"],
            "targets": str(targets),
        }
        timings["synthesis_s"] = time.perf_counter() - tick
        counts = manifest["counts"]
        log(
            f"{stage()} synthesis ({manifest['teacher']['teacher']}): {counts['kept']} of "
            f"{counts['written']} kept, {counts['replacements']} replacements "
            f"{timings['synthesis_s']:.1f}s"
        )

    # 3. SFT warm start
    tick = time.perf_counter()
    threads = torch.get_num_threads()
    sft = _train_sft(config, root, run_dir / "sft", targets)
    torch.set_num_threads(threads)
    timings["sft_s"] = time.perf_counter() - tick
    log(f"{stage()} SFT: {sft.checkpoint} {timings['sft_s']:.1f}s")

    # 3. evaluate the SFT checkpoint
    tick = time.perf_counter()
    before = _evaluate(
        config, root, _sft_policy(config, sft.checkpoint), run_dir / "eval_sft", "sft"
    )
    timings["eval_sft_s"] = time.perf_counter() - tick
    log(
        f"{stage()} SFT on test: m_tIoU {before.metrics['m_tIoU']:.4f} m_vIoU {before.metrics['m_vIoU']:.4f}"
    )

    # 4. RL from the SFT checkpoint
    tick = time.perf_counter()
    trainer = Trainer.create(rl_config(config, root, sft.checkpoint, run_dir))
    try:
        trained = trainer.train()
    finally:
        trainer.close()
    timings["rl_s"] = time.perf_counter() - tick
    log(f"{stage()} RL ({trainer.config.algorithm}): {trained.run_dir} {timings['rl_s']:.1f}s")

    # 5. evaluate the RL policy
    tick = time.perf_counter()
    after = _evaluate(
        config, root, _rl_policy(config, trained.checkpoint), run_dir / "eval_rl", "rl"
    )
    timings["eval_rl_s"] = time.perf_counter() - tick
    log(
        f"{stage()} RL on test: m_tIoU {after.metrics['m_tIoU']:.4f} m_vIoU {after.metrics['m_vIoU']:.4f}"
    )

    # 6. report
    timings["total_s"] = time.perf_counter() - started
    summary = {
        "name": config.name,
        "seed": config.seed,
        "policy": config.policy.name,
        "command": command,
        "data_root": root,
        "sft_checkpoint": str(sft.checkpoint),
        "rl_run_dir": str(trained.run_dir),
        "rl_checkpoint": str(trained.checkpoint),
        "rl_algorithm": trainer.config.algorithm,
        "rl_iterations": trained.iterations,
        "rl_num_workers": trainer.config.rollout.num_workers,
        "before_rl": _eval_summary(before),
        "after_rl": _eval_summary(after),
        "synthesis": synthesis_summary,
        "timings_s": timings,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    report = write_report(run_dir, summary, trained.run_dir)
    log(f"{stage()} report: {report} (total {timings['total_s']:.1f}s)")
    return RunResult(run_dir, summary, report)


def check_stage_configs(config: RunConfig) -> None:
    """Validate the SFT and RL sections as their stages will build them, before anything
    runs: a bad ``rl.*`` key (from the YAML or ``--set``) fails at once, not after SFT.

    Raises:
        ConfigError: an unknown or mistyped key, naming its path (``rl.grpo.bogus``).
    """
    root, out = config.data.resolved_root(), Path(config.out_dir) / config.name
    if config.policy.name == "vlm":
        vlm_sft_config(config, root, out / "sft")
    else:
        sft_config(config, root, out / "sft")
    rl_config(config, root, out / "sft" / "checkpoint", out)


def _ensure_tiny(config: RunConfig) -> None:
    """Build the tiny checkpoint ``policy.tiny`` asks for, unless it exists."""
    if config.policy.tiny is None:
        return
    model_path = Path(config.policy.config["model_path"])
    if not (model_path / "config.json").is_file():
        from stvg.policies.vlm.tiny import build_tiny_checkpoint

        build_tiny_checkpoint(config.policy.tiny, model_path, seed=config.seed)


def _train_sft(config: RunConfig, root: str, out_dir: Path, targets: Path | None = None) -> Any:
    """The SFT stage of the configured policy (VLM: on ``targets`` when synthesis wrote
    them, else on ground-truth answers)."""
    if config.policy.name == "native":
        from stvg.training.sft import train_sft

        return train_sft(sft_config(config, root, out_dir), progress=False, log=None)
    from stvg.training.sft_vlm import train_sft_vlm

    _ensure_tiny(config)
    return train_sft_vlm(vlm_sft_config(config, root, out_dir, targets), progress=False, log=None)


def _sft_policy(config: RunConfig, checkpoint: Path) -> Any:
    """The policy of the SFT checkpoint (``policy.pt`` of the native policy, the ``hf``
    folder of the VLM)."""
    if config.policy.name == "native":
        from stvg.policies.native import NativePolicy

        return NativePolicy.load(checkpoint)
    from stvg.policies.registry import make

    return make("vlm", **{**config.policy.config, "model_path": str(checkpoint)})


def _rl_policy(config: RunConfig, checkpoint: Path | None) -> Any:
    """The policy of the RL run's newest checkpoint."""
    if checkpoint is None:
        raise FileNotFoundError("the RL run wrote no checkpoint")
    if config.policy.name == "native":
        from stvg.policies.native import NativePolicy
        from stvg.training.run_dir import POLICY_FILE

        return NativePolicy.load(Path(checkpoint) / POLICY_FILE)
    from stvg.training.loop import load_trained_policy

    return load_trained_policy(checkpoint)


def _eval_summary(evaluation: Any) -> dict[str, Any]:
    metrics: Mapping[str, Any] = evaluation.metrics
    keys = ("n", "m_tIoU", "m_vIoU", "vIoU@0.3", "vIoU@0.5")
    return {
        "metrics": {k: metrics[k] for k in keys if k in metrics},
        "rewards": dict(evaluation.rewards),
        "cost": dict(evaluation.cost),
        "seconds": evaluation.seconds,
    }


__all__ = [
    "DataSection",
    "check_stage_configs",
    "EnvSection",
    "EvalSection",
    "PolicySection",
    "RunConfig",
    "RunResult",
    "env_kwargs",
    "load_run_config",
    "rl_config",
    "run_experiment",
    "sft_config",
    "synthesis_config",
    "vlm_sft_config",
]
