"""``stvg run CONFIG``: the whole pipeline in one command, from nothing to a report.

1. **data** — generate the synthetic train and test splits (skipped when they exist);
2. **synthesis** (VLM, when the config has a ``synthesis:`` section) — chain-of-thought
   targets for the train split from a teacher, every span and box replaced by the ground
   truth (:func:`stvg.synthesis.run.synthesize`); SFT then trains on them;
3. **SFT** — warm-start the policy (:func:`stvg.training.sft.train_sft`: the native policy
   on ground-truth actions, the VLM on ground-truth targets rendered by the answer contract;
   ``policy.tiny`` first builds a tiny random checkpoint, for CPU runs). A policy without
   SFT (``tracking-mlp``) starts RL from fresh weights;
4. **evaluate the start** — the SFT checkpoint (or the fresh policy) on the test split
   (:func:`stvg.evaluation.evaluate_policy`, official HC-STVG metrics);
5. **RL** — the ``rl`` trainer from that start on the train split, with Ray rollout
   workers (:class:`stvg.training.loop.Trainer`);
6. **evaluate RL** — the final RL policy on the same test split, the same way;
7. **report** — ``report.md`` (before/after-RL metrics, cost, timings, the command) and a
   learning-curve PNG (:mod:`stvg.experiments.report`).

The config (``stvg/experiments/configs/quickstart.yaml``, see
:class:`~stvg.experiments.run_config.RunConfig`)::

    name: quickstart
    seed: 0
    policy: {name: native, config: {box_temperature: 0.3}}
    data: {n_train: 600, n_test: 100, difficulty: easy}
    env: {fps: 1.0, max_frames: 10, max_side: 64, verifier: {terms: [...]}}
    sft: {epochs: 8, ...}            # the SFT config of the policy, less what the run sets
    rl: {algorithm: grpo, ...}       # a TrainConfig, less what the run sets

``env.id`` picks the env (``stvg/Grounding-v0`` by default; ``stvg/Tracking-v0`` runs the
tracking env, ``stvg/experiments/configs/tracking_quickstart.yaml``). How each policy is
trained and loaded is :mod:`stvg.experiments.pipeline_policies`'s table. ``env.verifier`` is
the RL reward; its answer format and densify rule (or ``eval.densify``) score the
evaluations, which always report the official metrics.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stvg.config import to_dict
from stvg.experiments.pipeline_policies import pipeline_policy
from stvg.experiments.run_config import (
    DataSection,
    EvalSection,
    PolicySection,
    RunConfig,
    load_run_config,
)
from stvg.experiments.stage_configs import (
    eval_config,
    eval_inputs,
    rl_config,
    sft_config,
    synthesis_config,
)
from stvg.experiments.stage_runs import (
    ensure_data,
    ensure_tiny,
    evaluation_stage,
    rl_policy,
    rl_stage,
    sft_stage,
    start_policy,
    synthesis_stage,
    zoom_rule_policy,
)
from stvg.experiments.stages import RunFolderStages, StageOutput, Stages


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


# ------------------------------------------------------------------ the pipeline


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
    from stvg.experiments.report import write_report

    log = say or (lambda _line: None)
    started = time.perf_counter()
    run_dir = Path(run_dir if run_dir is not None else _unique(Path(config.out_dir) / config.name))
    if (run_dir / "summary.json").exists():
        raise FileExistsError(f"{run_dir} already holds a finished run (summary.json)")
    run_dir.mkdir(parents=True, exist_ok=True)
    store: Stages = stages if stages is not None else RunFolderStages(run_dir)
    (run_dir / "config.yaml").write_text(
        yaml.safe_dump(config.user_dict(), sort_keys=False), encoding="utf-8"
    )
    treatment = pipeline_policy(config.policy.name)
    timings: dict[str, float] = {}
    built: dict[str, StageOutput] = {}
    log(f"run folder: {run_dir}")
    total = 6 - (not treatment.sft) + (config.synthesis is not None) + len(config.eval.zoom_rules)
    counter = iter(range(1, total + 1))

    def run_stage(name: str, inputs: dict[str, Any], build: Callable[[Path], dict]) -> dict:
        tick = time.perf_counter()
        built[name] = store.run(name, inputs, build)
        timings[f"{name}_s"] = time.perf_counter() - tick
        return built[name].record

    def line(text: str, name: str) -> None:
        out = built[name]
        reused = f" (reused {out.folder})" if out.reused else ""
        log(f"[{next(counter)}/{total}] {text} {timings[f'{name}_s']:.1f}s{reused}")

    # 1. data
    tick = time.perf_counter()
    root = config.data.resolved_root()
    made = ensure_data(config.data, root, progress=config.progress)
    timings["data_s"] = time.perf_counter() - tick
    what = "generated " + ", ".join(made) if made else "already there"
    log(f"[{next(counter)}/{total}] data: {root} ({what}) {timings['data_s']:.1f}s")
    sft_policy = config.policy if treatment.sft_reads_policy else PolicySection()
    upstream: dict[str, Any] = {
        "data": {"data": to_dict(config.data), "root": root},
        "policy": to_dict(sft_policy),
    }

    # 2. synthesis
    targets, synthesis_summary = None, None
    if config.synthesis is not None:
        ensure_tiny(config.policy, config.seed)
        record = run_stage(
            "synthesis",
            {
                **upstream,
                "synthesis": _without(
                    to_dict(synthesis_config(config, run_dir)), "out", "progress"
                ),
            },
            lambda folder: synthesis_stage(config, folder),
        )
        synthesis_summary = {
            k: record[k] for k in ("teacher", "counts", "teacher_metrics", "targets")
        }
        targets = Path(record["targets"])
        upstream["synthesis"] = built["synthesis"].key
        counts = record["counts"]
        line(
            f"synthesis ({record['teacher']['teacher']}): {counts['kept']} of "
            f"{counts['written']} kept, {counts['replacements']} replacements",
            "synthesis",
        )

    # 3. SFT warm start (a policy without SFT starts from fresh weights)
    sft_checkpoint: Path | None = None
    start_key = ""
    if treatment.sft:
        sft_inputs = {
            **upstream,
            # where the metrics are shown is no input: report_to never changes a stage's key
            "sft": _without(to_dict(sft_config(config, run_dir, targets)), "out_dir", "report_to"),
        }
        record = run_stage("sft", sft_inputs, lambda folder: sft_stage(config, folder, targets))
        sft_checkpoint = Path(record["checkpoint"])
        start_key = built["sft"].key
        line(f"SFT: {sft_checkpoint}", "sft")

    # 4. evaluate the start
    start_name = "eval_sft" if treatment.sft else "eval_start"
    before = run_stage(
        start_name,
        {"policy": start_key or upstream, "eval": eval_inputs(config)},
        lambda folder: evaluation_stage(
            config, start_policy(config, sft_checkpoint), folder, "sft"
        ),
    )
    what = "SFT" if treatment.sft else "start"
    line(f"{what} on test: {_headline(before)}", start_name)

    # 5. RL from the start
    rl_inputs = {
        "sft": start_key,
        # the display is no input: a run with --no-progress reuses the stage
        "rl": _without(
            to_dict(rl_config(config, Path("<sft>"), run_dir)),
            "out_dir",
            "progress_bar",
            "report_to",
        ),
    }
    trained = run_stage("rl", rl_inputs, lambda folder: rl_stage(config, sft_checkpoint, folder))
    line(f"RL ({trained['algorithm']}): {trained['run_dir']}", "rl")

    # 6. evaluate the RL policy
    after = run_stage(
        "eval_rl",
        {"policy": built["rl"].key, "eval": eval_inputs(config)},
        lambda folder: evaluation_stage(config, rl_policy(config, trained), folder, "rl"),
    )
    line(f"RL on test: {_headline(after)}", "eval_rl")

    # 6b. the RL policy as the answerer of scripted zoom rules (glance-and-zoom env)
    zoom_rules: dict[str, Any] = {}
    for rule in config.eval.zoom_rules:
        name = f"eval_zoom_{rule}"
        zoom_rules[rule] = run_stage(
            name,
            {
                "policy": built["rl"].key,
                "eval": eval_inputs(config),
                "rule": rule,
                "margin_s": config.eval.zoom_margin_s,
            },
            lambda folder, rule=rule: evaluation_stage(
                config, zoom_rule_policy(config, trained, rule), folder, f"zoom-{rule}"
            ),
        )
        line(f"zoom rule {rule} with the RL answerer: {_headline(zoom_rules[rule])}", name)

    # 7. report
    timings["total_s"] = time.perf_counter() - started
    summary = _summary(config, command, root, sft_checkpoint, built, trained, before, after)
    summary.update(synthesis=synthesis_summary, timings_s=timings)
    if zoom_rules:
        summary["zoom_rules"] = {
            rule: _without(record, "dir", "build_s") for rule, record in zoom_rules.items()
        }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    report = write_report(run_dir, summary, trained["run_dir"])
    log(f"[{next(counter)}/{total}] report: {report} (total {timings['total_s']:.1f}s)")
    return RunResult(run_dir, summary, report)


def _summary(
    config: RunConfig,
    command: str,
    root: str,
    sft_checkpoint: Path | None,
    built: Mapping[str, StageOutput],
    trained: Mapping[str, Any],
    before: Mapping[str, Any],
    after: Mapping[str, Any],
) -> dict[str, Any]:
    """``summary.json`` (less the synthesis and the timings)."""
    sft = built.get("sft")
    start_dir = before["dir"]
    return {
        "name": config.name,
        "seed": config.seed,
        "policy": config.policy.name,
        "env": config.env.id,
        "command": command,
        "data_root": root,
        "sft_checkpoint": None if sft_checkpoint is None else str(sft_checkpoint),
        "sft_selection": {}
        if sft is None
        else {k: v for k, v in sft.record.items() if k not in ("checkpoint", "build_s", "threads")},
        "threads": {
            "sft": None if sft is None else sft.record.get("threads"),
            "rl_learner": (trained.get("threads") or {}).get("learner"),
            "rl_workers": trained["num_workers"],
            "rl_threads_per_worker": (trained.get("threads") or {}).get("per_worker"),
        },
        "rl_run_dir": trained["run_dir"],
        "rl_checkpoint": trained["checkpoint"],
        "rl_algorithm": trained["algorithm"],
        "rl_iterations": trained["iterations"],
        "rl_num_workers": trained["num_workers"],
        "reward": _reward(config),
        "before_rl": _without(before, "dir", "build_s"),
        "after_rl": _without(after, "dir", "build_s"),
        "eval_dirs": {"sft": start_dir, "rl": after["dir"]},
        "stages": {
            name: {"folder": str(out.folder), "key": out.key, "reused": out.reused}
            for name, out in built.items()
        },
    }


def _reward(config: RunConfig) -> dict[str, Any]:
    """The RL reward of the run: its formula and the range of its total (``None`` where a
    term declares no range), what the report's reward curve is labelled with."""
    from stvg.verifiers import Verifier

    verifier = Verifier.from_config(config.env.verifier)
    bounds = verifier.total_range()
    return {
        "formula": verifier.formula(),
        "min": None if bounds is None else bounds[0],
        "max": None if bounds is None else bounds[1],
    }


def _headline(record: Mapping[str, Any]) -> str:
    metrics = record["metrics"]
    return f"m_tIoU {metrics['m_tIoU']:.4f} m_vIoU {metrics['m_vIoU']:.4f}"


def _unique(path: Path) -> Path:
    candidate, k = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.name}-{k}")
        k += 1
    return candidate


def _without(mapping: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k not in keys}


__all__ = [
    "DataSection",
    "EvalSection",
    "PolicySection",
    "RunConfig",
    "RunResult",
    "eval_config",
    "load_run_config",
    "rl_config",
    "run_experiment",
    "sft_config",
    "synthesis_config",
]
