"""``stvg run CONFIG``: the whole pipeline in one command, from nothing to a report.

1. **data** — generate the synthetic train and test splits (skipped when they exist);
2. **synthesis** (VLM, when the config has a ``synthesis:`` section) — chain-of-thought
   targets for the train split from a teacher, every span and box replaced by the ground
   truth (:func:`stvg.synthesis.run.synthesize`); SFT then trains on them;
3. **SFT** — warm-start the policy: the native policy with
   :func:`stvg.training.sft.train_sft`, the VLM policy with
   :func:`stvg.training.sft.vlm.train_sft_vlm` on ground-truth targets rendered by the
   answer contract (``policy.tiny`` first builds a tiny random checkpoint, for CPU runs);
4. **evaluate SFT** — the SFT checkpoint on the test split
   (:func:`stvg.evaluation.evaluate_policy`, official HC-STVG metrics);
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
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from stvg.config import ConfigError, InvalidField, from_dict, from_yaml, to_dict
from stvg.experiments.stages import RunFolderStages, StageOutput, Stages
from stvg.tubes import DensifyConfig

SFT_KEYS_SET_BY_RUNNER = ("data", "fps", "max_frames", "max_side", "seed", "out_dir")
VLM_SFT_KEYS_SET_BY_RUNNER = ("policy", "env", "data", "seed", "out_dir")
RL_KEYS_SET_BY_RUNNER = ("env", "policy", "seed", "name", "out_dir")
NATIVE_KEYS_SET_BY_SFT = ("vocab", "model", "max_query_len", "checkpoint")
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
        val_size: native SFT: the last ``val_size`` train videos are held out as a
            validation split; SFT keeps its best checkpoint on them and stops at the
            plateau (``sft.patience``). 0 = no validation (train for ``sft.epochs``).
    """

    root: str | None = None
    n_train: int = 600
    n_test: int = 100
    difficulty: Literal["easy", "medium", "hard"] = "easy"
    seed: int = 0
    val_size: int = 0

    def __post_init__(self) -> None:
        for name in ("n_train", "n_test"):
            if getattr(self, name) < 1:
                raise InvalidField(name, f"must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.val_size < self.n_train:
            raise InvalidField(
                "val_size",
                f"must be >= 0 and < n_train ({self.n_train}), got {self.val_size}",
            )

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
            the RL stage's policy options (``box_temperature``, ``seed``,
            :class:`~stvg.policies.native.policy.NativePolicyConfig`); the network and
            vocabulary come from SFT (the ``sft`` section).
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
        if self.name == "native":
            if self.tiny:
                raise InvalidField("tiny", "tiny builds a VLM checkpoint: remove it for native")
            sft_owned = sorted(set(self.config) & set(NATIVE_KEYS_SET_BY_SFT))
            if sft_owned:
                raise InvalidField(
                    f"config.{sft_owned[0]}",
                    "the native policy's network and vocabulary come from SFT (the sft "
                    "section): remove it from policy.config",
                )
            from stvg.policies.native.policy import NativePolicyConfig

            try:
                from_dict(NativePolicyConfig, {**self.config, "checkpoint": "<sft>"})
            except ConfigError as exc:
                raise InvalidField("config", str(exc)) from None


@dataclass
class EnvSection:
    """How every stage shows the videos, and the RL reward.

    Attributes:
        fps: frames sampled per second of video (``null`` = every frame: frame-level
            grounding, 100 frames for the 10 s synthetic videos at 10 fps).
        max_frames: most frames per video (10: the synthetic videos' 10 s at 1 fps;
            ``null`` = room for the longest video, VLM only).
        max_side: longer side of the frames as shown, pixels.
        verifier: the RL reward (``{terms: [...]}``; ``null`` = the verifier's default
            ``t_iou + v_iou``).
    """

    fps: float | None = 1.0
    max_frames: int | None = 10
    max_side: int = 64
    verifier: dict[str, Any] | None = None


@dataclass
class EvalSection:
    """The evaluations on the test split.

    Attributes:
        batch_size: observations answered per ``act_batch`` call.
        limit: only the first ``limit`` test samples (``null`` = all).
        densify: how the evaluations densify the per-second answers into frame-level
            tubes (``{method: pchip}``; ``null`` = as the RL reward does,
            ``env.verifier.densify`` or the default ``linear``). Only the evaluations
            change, so a sweep over it evaluates the same trained policies.
        on_bad_video: a test video that cannot be decoded stops the run naming it
            (``error``, default; the evaluation's partial results are written) or is
            left out of both evaluations and listed in ``summary.json`` (``skip``).
    """

    batch_size: int = 32
    limit: int | None = None
    densify: DensifyConfig | None = None
    on_bad_video: Literal["error", "skip"] = "error"

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise InvalidField("batch_size", f"must be >= 1, got {self.batch_size}")
        if self.limit is not None and self.limit < 1:
            raise InvalidField("limit", f"must be >= 1 or null (all samples), got {self.limit}")


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
        if not self.name or re.search(r"[/\\]", self.name) or self.name in (".", ".."):
            raise InvalidField(
                "name",
                f"{self.name!r} is not a folder name (the run folder is out_dir/name): no "
                "'/', '\\', '.' or '..'",
            )
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
        if self.policy.name == "vlm" and self.data.val_size:
            raise InvalidField(
                "data.val_size",
                "validation early stopping is implemented for the native policy's SFT; "
                "set it to 0 for policy vlm",
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
    if config.data.val_size:
        data["val_size"] = config.data.val_size
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
    """The :class:`~stvg.training.sft.vlm.VLMSFTConfig` of the SFT stage (VLM policy):
    ground-truth targets, or the synthesis stage's ``targets``."""
    from stvg.training.sft.vlm import VLMSFTConfig

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
        policy = {
            "name": "native",
            "config": {**config.policy.config, "checkpoint": str(checkpoint)},
        }
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
    from stvg.evaluation import PolicyEvalConfig, PolicySpec, evaluate_policy

    eval_config = PolicyEvalConfig(
        policy=PolicySpec(name=label),
        env=_eval_env(config, root),
        batch_size=config.eval.batch_size,
        limit=config.eval.limit,
        on_bad_video=config.eval.on_bad_video,
        progress=False,
    )
    return evaluate_policy(eval_config, policy=policy, out_dir=out_dir)


def _eval_env(config: RunConfig, root: str) -> dict[str, Any]:
    """``GroundingEnv`` keyword arguments of the evaluations: the test split, the RL
    verifier's answer format and coordinates, ``eval.densify`` when set."""
    env = env_kwargs(config, root, "test")
    if config.env.verifier is not None:  # the same answer format and coordinates as RL
        env["verifier"] = config.env.verifier
    if config.eval.densify is not None:
        env["densify"] = to_dict(config.eval.densify)
    return env


def _sft_stage_config(config: RunConfig, root: str, out_dir: Path) -> Any:
    """The SFT stage's config: :func:`vlm_sft_config` or :func:`sft_config`."""
    if config.policy.name == "vlm":
        return vlm_sft_config(config, root, out_dir)
    return sft_config(config, root, out_dir)


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
    run_dir: Path | None = None,
    stages: Stages | None = None,
) -> RunResult:
    """Run the pipeline of the module docstring.

    Args:
        config: the pipeline config.
        command: the command line, quoted in the report.
        say: called with one line per stage (``None`` = silent).
        run_dir: the run folder (``None`` = ``out_dir/name``, ``-2``, ``-3`` when taken); it
            is created and must not hold an earlier run's summary.
        stages: where the stages are built (``None`` = sub-folders of the run folder; a
            :class:`~stvg.experiments.stages.StageStore` shares stages between the runs of
            a sweep).

    Returns:
        A :class:`RunResult`.
    """
    import torch

    from stvg.experiments.report import write_report

    check_stage_configs(config)
    log = say or (lambda _line: None)
    started = time.perf_counter()
    if run_dir is None:
        run_dir = _unique(Path(config.out_dir) / config.name)
    run_dir = Path(run_dir)
    if (run_dir / "summary.json").exists():
        raise FileExistsError(f"{run_dir} already holds a finished run (summary.json)")
    run_dir.mkdir(parents=True, exist_ok=True)
    store: Stages = stages if stages is not None else RunFolderStages(run_dir)
    (run_dir / "config.yaml").write_text(
        yaml.safe_dump(to_dict(config), sort_keys=False), encoding="utf-8"
    )
    timings: dict[str, float] = {}
    built: dict[str, StageOutput] = {}
    log(f"run folder: {run_dir}")
    total_stages = 7 if config.synthesis is not None else 6
    done = iter(range(1, total_stages + 1))

    def stage() -> str:
        return f"[{next(done)}/{total_stages}]"

    def reused(name: str) -> str:
        return f" (reused {built[name].folder})" if built[name].reused else ""

    # 1. data
    tick = time.perf_counter()
    root = config.data.resolved_root()
    made = _ensure_data(config, root)
    timings["data_s"] = time.perf_counter() - tick
    log(
        f"{stage()} data: {root} ({'generated ' + ', '.join(made) if made else 'already there'}) {timings['data_s']:.1f}s"
    )
    data_inputs = {"data": to_dict(config.data), "root": root}

    # 2. synthesis
    targets = None
    synthesis_summary = None
    # The native policy's options act in RL only; SFT does not depend on them.
    sft_policy = config.policy if config.policy.name == "vlm" else PolicySection()
    upstream = {"data": data_inputs, "policy": to_dict(sft_policy)}
    if config.synthesis is not None:
        from stvg.synthesis.run import TARGETS_FILE, synthesize

        tick = time.perf_counter()
        _ensure_tiny(config)

        def build_synthesis(folder: Path) -> dict[str, Any]:
            manifest = synthesize(synthesis_config(config, root, folder)).manifest
            return {
                "teacher": manifest["teacher"],
                "counts": manifest["counts"],
                "teacher_metrics": manifest["teacher_metrics"],
                "targets": str(folder / TARGETS_FILE),
            }

        synthesis_inputs = {
            **upstream,
            "synthesis": _without(to_dict(synthesis_config(config, root, run_dir)), "out"),
        }
        built["synthesis"] = store.run("synthesis", synthesis_inputs, build_synthesis)
        synthesis_summary = {
            k: built["synthesis"].record[k]
            for k in ("teacher", "counts", "teacher_metrics", "targets")
        }
        targets = Path(synthesis_summary["targets"])
        upstream = {**upstream, "synthesis": built["synthesis"].key}
        timings["synthesis_s"] = time.perf_counter() - tick
        counts = synthesis_summary["counts"]
        log(
            f"{stage()} synthesis ({synthesis_summary['teacher']['teacher']}): {counts['kept']} of "
            f"{counts['written']} kept, {counts['replacements']} replacements "
            f"{timings['synthesis_s']:.1f}s{reused('synthesis')}"
        )

    # 3. SFT warm start
    tick = time.perf_counter()

    def build_sft(folder: Path) -> dict[str, Any]:
        threads = torch.get_num_threads()
        try:
            sft = _train_sft(config, root, folder, targets)
        finally:
            torch.set_num_threads(threads)
        return {"checkpoint": str(sft.checkpoint), **_sft_selection(sft)}

    sft_inputs = {
        **upstream,
        "sft": _without(to_dict(_sft_stage_config(config, root, run_dir)), "out_dir"),
    }
    built["sft"] = store.run("sft", sft_inputs, build_sft)
    sft_checkpoint = Path(built["sft"].record["checkpoint"])
    timings["sft_s"] = time.perf_counter() - tick
    log(f"{stage()} SFT: {sft_checkpoint} {timings['sft_s']:.1f}s{reused('sft')}")

    # 4. evaluate the SFT checkpoint
    tick = time.perf_counter()
    built["eval_sft"] = store.run(
        "eval_sft",
        {"policy": built["sft"].key, "eval": _eval_inputs(config, root)},
        lambda folder: _evaluate_record(
            config, root, _sft_policy(config, sft_checkpoint), folder, "sft"
        ),
    )
    before = built["eval_sft"].record
    timings["eval_sft_s"] = time.perf_counter() - tick
    log(
        f"{stage()} SFT on test: m_tIoU {before['metrics']['m_tIoU']:.4f} "
        f"m_vIoU {before['metrics']['m_vIoU']:.4f}{reused('eval_sft')}"
    )

    # 5. RL from the SFT checkpoint
    tick = time.perf_counter()
    rl_inputs = {
        "sft": built["sft"].key,
        "rl": _without(to_dict(rl_config(config, root, Path("<sft>"), run_dir)), "out_dir"),
    }
    built["rl"] = store.run(
        "rl", rl_inputs, lambda folder: _train_rl(config, root, sft_checkpoint, folder)
    )
    trained = built["rl"].record
    timings["rl_s"] = time.perf_counter() - tick
    log(
        f"{stage()} RL ({trained['algorithm']}): {trained['run_dir']} {timings['rl_s']:.1f}s"
        f"{reused('rl')}"
    )

    # 6. evaluate the RL policy
    tick = time.perf_counter()
    built["eval_rl"] = store.run(
        "eval_rl",
        {"policy": built["rl"].key, "eval": _eval_inputs(config, root)},
        lambda folder: _evaluate_record(
            config, root, _rl_policy(config, trained["checkpoint"]), folder, "rl"
        ),
    )
    after = built["eval_rl"].record
    timings["eval_rl_s"] = time.perf_counter() - tick
    log(
        f"{stage()} RL on test: m_tIoU {after['metrics']['m_tIoU']:.4f} "
        f"m_vIoU {after['metrics']['m_vIoU']:.4f}{reused('eval_rl')}"
    )

    # 7. report
    timings["total_s"] = time.perf_counter() - started
    summary = {
        "name": config.name,
        "seed": config.seed,
        "policy": config.policy.name,
        "command": command,
        "data_root": root,
        "sft_checkpoint": str(sft_checkpoint),
        "sft_selection": {
            k: v for k, v in built["sft"].record.items() if k not in ("checkpoint", "build_s")
        },
        "rl_run_dir": trained["run_dir"],
        "rl_checkpoint": trained["checkpoint"],
        "rl_algorithm": trained["algorithm"],
        "rl_iterations": trained["iterations"],
        "rl_num_workers": trained["num_workers"],
        "before_rl": _without(before, "dir", "build_s"),
        "after_rl": _without(after, "dir", "build_s"),
        "eval_dirs": {"sft": before["dir"], "rl": after["dir"]},
        "synthesis": synthesis_summary,
        "stages": {
            name: {"folder": str(out.folder), "key": out.key, "reused": out.reused}
            for name, out in built.items()
        },
        "timings_s": timings,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    report = write_report(run_dir, summary, trained["run_dir"])
    log(f"{stage()} report: {report} (total {timings['total_s']:.1f}s)")
    return RunResult(run_dir, summary, report)


def _ensure_data(config: RunConfig, root: str) -> list[str]:
    """Generate the missing synthetic splits (under a file lock: the trials of a sweep may
    ask at once); returns the splits generated."""
    from filelock import FileLock

    from stvg.data.synthetic import ensure_synthetic_split

    Path(root).parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(Path(root)) + ".lock"):
        return [
            split
            for split, n in (("train", config.data.n_train), ("test", config.data.n_test))
            if ensure_synthetic_split(root, split, n, config.data.seed, config.data.difficulty)
        ]


def _train_rl(config: RunConfig, root: str, checkpoint: Path, folder: Path) -> dict[str, Any]:
    """The RL stage: train from ``checkpoint`` into ``folder``; returns its record."""
    from stvg.training.loop import Trainer

    trainer = Trainer.create(rl_config(config, root, checkpoint, folder))
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
    }


def _evaluate_record(
    config: RunConfig, root: str, policy: Any, folder: Path, label: str
) -> dict[str, Any]:
    """An evaluation stage: evaluate ``policy`` into ``folder``; returns its record."""
    return {**_eval_summary(_evaluate(config, root, policy, folder, label)), "dir": str(folder)}


def _eval_inputs(config: RunConfig, root: str) -> dict[str, Any]:
    """What an evaluation's result depends on besides the policy."""
    return {"env": _eval_env(config, root), "eval": to_dict(config.eval)}


def _sft_selection(sft: Any) -> dict[str, Any]:
    """What SFT reports about the checkpoint it kept (validation early stopping)."""
    selection: dict[str, Any] = {
        k: getattr(sft, k)
        for k in ("best_epoch", "epochs_done", "stopped_early")
        if getattr(sft, k, None) is not None
    }
    val = getattr(sft, "val_metrics", None)
    if val:
        keys = ("n", "m_tIoU", "m_vIoU", "vIoU@0.3", "vIoU@0.5")
        selection["val_metrics"] = {k: float(val[k]) for k in keys if k in val}
    return selection


def _without(mapping: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k not in keys}


def check_stage_configs(config: RunConfig) -> None:
    """Validate the SFT and RL sections as their stages will build them, before anything
    runs: a bad ``rl.*`` key (from the YAML or ``--set``) fails at once, not after SFT.

    Raises:
        ConfigError: an unknown or mistyped key, naming its path (``rl.grpo.bogus``,
            ``env.verifier.terms[0].name``).
    """
    from stvg.envs.config import GroundingEnvConfig
    from stvg.verifiers.verifier import VerifierConfig, load_verifier_config

    root, out = config.data.resolved_root(), Path(config.out_dir) / config.name
    verifier = config.env.verifier
    if isinstance(verifier, Mapping):
        from_dict(VerifierConfig, dict(verifier), path="env.verifier")
    elif verifier is not None:
        load_verifier_config(verifier)
    env = {k: v for k, v in _eval_env(config, root).items() if k != "verifier"}
    from_dict(GroundingEnvConfig, env, path="env")
    _sft_stage_config(config, root, out / "sft")
    rl_config(config, root, out / "sft" / "checkpoint", out / "rl")


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
    from stvg.training.sft.vlm import train_sft_vlm

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
        "bad_videos": list(evaluation.bad_videos),
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
