"""``stvg sweep CONFIG``: a grid of ``stvg run`` pipelines on Ray Tune, with statistics.

A sweep config names a base run config (:class:`~stvg.experiments.run.RunConfig`), dotted
overrides for every trial, and a ``grid``::

    name: algorithms
    base: ../quickstart.yaml          # relative to this file, or an inline mapping
    set: {rl.iterations: 60, rl.rollout.num_workers: 0}
    grid:
      algorithm:                      # a named axis of variants: label -> dotted keys
        grpo: {rl.algorithm: grpo, rl.grpo.loss_type: grpo}
        rloo: {rl.algorithm: rloo}
      seed: [0, 1, 2]                 # a dotted key of the run config -> its values
      rl.learning_rate: {loguniform: [1.0e-5, 1.0e-3]}   # drawn (with samples: N)
    samples: 1                        # Ray Tune's num_samples (repeats of the grid)
    resources: {cpu: 1, gpu: 0}       # per trial (Ray rollout workers get their own)
    max_concurrent_trials: 2
    report: {baseline: "algorithm=grpo", metrics: [m_vIoU, m_tIoU], plots: [bars, curves]}

Each grid combination is one Ray Tune trial (:class:`ray.tune.Tuner`, grid axes as
``tune.grid_search``, drawn axes as Tune's distributions, ``max_concurrent_trials`` and
per-trial placement groups from Tune) that runs :func:`~stvg.experiments.run.run_experiment`
in ``<out_dir>/<name>/trials/<trial>/``. Stages are shared through a
:class:`~stvg.experiments.stages.StageStore` in ``<out_dir>/<name>/stages/`` (or
``stages_dir``, which several sweeps may share): data, SFT,
RL and evaluations are keyed by their inputs, so trials that differ only in RL settings
start from one SFT checkpoint, and trials that differ only in ``eval.densify`` evaluate
one trained policy.

Running the same command again resumes (``Tuner.restore``): finished trials are not run
again (Tune knows them, and each finished trial's ``row.json`` is kept besides), errored and
unfinished ones are restarted, and the stages they had finished are reused.

The sweep folder: ``sweep.yaml`` (the resolved sweep), ``results.csv`` (one row per trial:
swept values, metrics, cost per query, wall time), ``report.md`` with plots
(:mod:`stvg.experiments.sweep_report`), ``trials/``, ``stages/`` and ``tune/`` (Tune's
experiment state).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from ray.tune import Callback

from stvg.cli_errors import Interrupted
from stvg.config import (
    ConfigError,
    InvalidField,
    apply_overrides,
    from_dict,
    load_yaml,
    to_dict,
)
from stvg.experiments.sweep_report import SweepReportConfig
from stvg.training.config import RayConfig
from stvg.training.trackers import Reporter, check_report_to, open_trackers

DISTRIBUTIONS = ("choice", "uniform", "loguniform", "randint")
ROW_FILE = "row.json"
LOG_FILE = "log.txt"
SWEEP_FILE = "sweep.yaml"


@dataclass
class TrialResources:
    """What Ray reserves for one trial's driver process (its SFT, learner and
    evaluations); RL rollout workers (``rl.rollout.num_workers``) get a bundle each on top
    (``num_cpus_per_worker`` / ``num_gpus_per_worker``).

    Attributes:
        cpu: CPUs per trial.
        gpu: GPUs (or fractions) per trial.
    """

    cpu: float = 1.0
    gpu: float = 0.0

    def __post_init__(self) -> None:
        for name in ("cpu", "gpu"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InvalidField(name, f"must be a number >= 0, got {value}")


@dataclass
class SweepConfig:
    """A sweep (see the module docstring).

    Attributes:
        name: the sweep folder's name (``out_dir/name``).
        out_dir: where sweep folders go.
        base: the base run config: a path (relative to the sweep file) or a mapping.
        set: dotted overrides of the base config for every trial.
        grid: the axes: ``dotted.key: [values]`` (grid), ``dotted.key: {choice|uniform|
            loguniform|randint: [...]}`` (drawn) or ``axis_name: {label: {dotted.key:
            value, ...}, ...}`` (named variants).
        samples: Ray Tune's ``num_samples``: the grid is run this many times, drawn axes
            drawn anew each time.
        seed_key: the axis whose values are seeds: cells are the combinations of the other
            axes, and statistics are across seeds.
        search_seed: seed of the draws of drawn axes.
        stages_dir: the stage store (``null`` = ``<sweep folder>/stages``); several sweeps
            naming one folder share their stages (the shipped sweeps share their SFT
            checkpoints this way).
        resources: per trial (see :class:`TrialResources`).
        max_concurrent_trials: trials running at once (``null`` = as many as fit).
        ray: the Ray cluster (``address: null`` starts a local one).
        report: what ``report.md`` shows (:class:`~stvg.experiments.sweep_report.
            SweepReportConfig`).
        report_to: also send each trial's results row (its axis values as the run's
            config; its metrics, costs and wall time) to ``tensorboard``, ``wandb`` or
            ``mlflow`` (:mod:`stvg.training.trackers`), one tracker run per trial in
            ``<sweep folder>/trackers/<trial>/``. Each trial's own RL run reports where
            its ``rl.report_to`` says.
    """

    name: str = "sweep"
    out_dir: str = "sweeps"
    base: Any = None
    set: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, Any] = field(default_factory=dict)
    samples: int = 1
    seed_key: str = "seed"
    search_seed: int = 0
    stages_dir: str | None = None
    resources: TrialResources = field(default_factory=TrialResources)
    max_concurrent_trials: int | None = None
    ray: RayConfig = field(default_factory=RayConfig)
    report: SweepReportConfig = field(default_factory=SweepReportConfig)
    report_to: list[Reporter] = field(default_factory=list)

    def __post_init__(self) -> None:
        try:
            check_report_to(self.report_to)
        except ValueError as exc:
            raise InvalidField("report_to", str(exc)) from None
        if self.base is None or not isinstance(self.base, (str, Mapping)):
            raise InvalidField(
                "base", "needs the base run config: a YAML path or a mapping of run keys"
            )
        if self.samples < 1:
            raise InvalidField("samples", f"must be >= 1, got {self.samples}")
        if self.max_concurrent_trials is not None and self.max_concurrent_trials < 1:
            raise InvalidField(
                "max_concurrent_trials",
                f"must be >= 1 or null, got {self.max_concurrent_trials}",
            )
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.name):
            raise InvalidField("name", f"must be a folder name ([A-Za-z0-9_.-]), got {self.name!r}")
        for name, value in self.grid.items():
            parse_axis(name, value)


def flatten_dotted(overrides: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted overrides with nested mappings spelled out as dotted keys, later keys winning.

    ``set: {rl.iterations: 60}`` overridden on the command line with
    ``--set set.rl.iterations=5`` holds both ``rl.iterations`` and ``rl: {iterations: 5}``;
    flattened, the second replaces the first instead of replacing the whole ``rl`` section.

    >>> flatten_dotted({"rl.iterations": 60, "rl": {"iterations": 5, "grpo": {"beta": 0.1}}})
    {'rl.iterations': 5, 'rl.grpo.beta': 0.1}
    """
    flat: dict[str, Any] = {}
    for key, value in overrides.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_dotted(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


@dataclass(frozen=True)
class Axis:
    """One axis of the grid.

    Attributes:
        name: the dotted config key, or the name of a variant axis.
        kind: ``grid`` (values), ``drawn`` (a distribution) or ``variants`` (labels).
        values: ``grid``: the values; ``variants``: the labels.
        distribution: ``drawn``: ``(kind, arguments)``, e.g. ``("uniform", [0, 1])``.
        variants: ``variants``: label -> dotted overrides.
    """

    name: str
    kind: str
    values: tuple[Any, ...] = ()
    distribution: tuple[str, Any] | None = None
    variants: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def overrides(self, value: Any) -> dict[str, Any]:
        """The dotted overrides of this axis at ``value`` (a variant's label)."""
        if self.kind == "variants":
            return dict(self.variants[value])
        return {self.name: value}


def parse_axis(name: str, value: Any) -> Axis:
    """An :class:`Axis` from one ``grid`` entry (see :class:`SweepConfig`).

    Raises:
        InvalidField: an entry of none of the three forms, naming ``grid.<name>``.
    """
    where = f"grid.{name}"
    if isinstance(value, list):
        if not value:
            raise InvalidField(where, "needs at least one value")
        return Axis(name, "grid", values=tuple(value))
    if isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in DISTRIBUTIONS:
        kind, args = next(iter(value.items()))
        if kind == "choice":
            if not isinstance(args, list) or not args:
                raise InvalidField(where, f"choice needs a list of values, got {args!r}")
        elif not (
            isinstance(args, list)
            and len(args) == 2
            and all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)
            and args[0] < args[1]
        ):
            raise InvalidField(where, f"{kind} needs [low, high] with low < high, got {args!r}")
        elif kind == "loguniform" and args[0] <= 0:
            raise InvalidField(where, f"loguniform needs low > 0, got {args!r}")
        return Axis(name, "drawn", distribution=(kind, list(args)))
    if isinstance(value, Mapping) and value and all(isinstance(v, Mapping) for v in value.values()):
        variants = {str(label): flatten_dotted(v) for label, v in value.items()}
        return Axis(name, "variants", values=tuple(variants), variants=variants)
    raise InvalidField(
        where,
        "must be a list of values (grid), {choice|uniform|loguniform|randint: [...]} (drawn) "
        f"or {{label: {{dotted.key: value}}}} (named variants), got {value!r}",
    )


@dataclass(frozen=True)
class TrialSpec:
    """What every trial of one sweep shares (handed to Ray Tune's trainable).

    Attributes:
        base: the base run config mapping, with ``set`` applied.
        source: where the base came from (for error messages).
        axes: the grid's axes.
        seed_key: see :class:`SweepConfig`.
        sweep_dir: the sweep folder (absolute).
        stages_dir: the stage store (absolute).
        cwd: the working directory the command ran in (relative paths of the base config
            are relative to it, as for ``stvg run``).
    """

    base: Mapping[str, Any]
    source: str
    axes: tuple[Axis, ...]
    seed_key: str
    sweep_dir: str
    stages_dir: str
    cwd: str

    def overrides(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The dotted overrides of a trial whose axes take ``values``."""
        merged: dict[str, Any] = {}
        for axis in self.axes:
            merged.update(axis.overrides(values[axis.name]))
        return merged

    def run_config(self, values: Mapping[str, Any]) -> Any:
        """The trial's :class:`~stvg.experiments.run_config.RunConfig` (validated, its
        stage configs too)."""
        from stvg.experiments.run_config import RunConfig

        label = trial_name(values)
        data = apply_overrides(self.base, self.overrides(values))
        return from_dict(RunConfig, data, source=f"{self.source}, trial {label}")

    def cell(self, values: Mapping[str, Any]) -> str:
        """The trial's cell: the values of every axis but the seed axis."""
        return cell_label({k: v for k, v in values.items() if k != self.seed_key})


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def cell_label(values: Mapping[str, Any]) -> str:
    """``key=value,key=value`` in axis order (``base`` for no axes).

    >>> cell_label({"env.fps": 0.5, "algorithm": "dapo"})
    'env.fps=0.5,algorithm=dapo'
    """
    if not values:
        return "base"
    return ",".join(f"{k}={_format_value(v)}" for k, v in values.items())


def trial_name(values: Mapping[str, Any]) -> str:
    """A folder name for a trial: its axis values, made file-name safe (a hash keeps long
    or unsafe names unique)."""
    from stvg.experiments.stages import stage_key

    label = cell_label(values)
    safe = re.sub(r"[^A-Za-z0-9_.=,-]+", "_", label)
    if len(safe) > 80 or safe != label:
        safe = f"{safe[:70]}-{stage_key(dict(values))[:8]}"
    return safe


def grid_combinations(axes: Sequence[Axis]) -> list[dict[str, Any]]:
    """Every combination of the grid and variant axes; drawn axes take their lowest
    value (``choice``: the first) — what the up-front validation builds."""
    choices = []
    for axis in axes:
        if axis.kind == "drawn":
            kind, args = axis.distribution or ("choice", [None])
            choices.append([args[0]])
        else:
            choices.append(list(axis.values))
    return [
        {axis.name: value for axis, value in zip(axes, combo, strict=True)}
        for combo in itertools.product(*choices)
    ]


def load_sweep_config(
    path: str | Path, overrides: Mapping[str, Any] | None = None
) -> tuple[SweepConfig, TrialSpec]:
    """Read a sweep config and build its :class:`TrialSpec`, validating every trial's run
    config up front (an error names the trial and the key).

    Args:
        path: the sweep YAML file.
        overrides: dotted overrides of the sweep config (``report.baseline=...``,
            ``set.rl.iterations=5``, ``max_concurrent_trials=1``).

    Raises:
        ConfigError: the sweep, its base or a trial's run config is invalid.
    """
    path = Path(path)
    data = apply_overrides(load_yaml(path), overrides)
    config = from_dict(SweepConfig, data, source=str(path))
    if isinstance(config.base, str):
        base_path = Path(config.base)
        if not base_path.is_absolute():
            base_path = path.parent / base_path
        if not base_path.is_file():
            raise ConfigError(
                f"base (in {path}): the base run config {base_path} does not exist; give a "
                "path relative to the sweep file"
            )
        base, source = load_yaml(base_path), str(base_path)
    else:
        base, source = dict(config.base), f"{path}: base"
    base = apply_overrides(base, flatten_dotted(config.set))
    axes = tuple(parse_axis(name, value) for name, value in config.grid.items())
    sweep_dir = (Path(config.out_dir) / config.name).resolve()
    spec = TrialSpec(
        base=base,
        source=source,
        axes=axes,
        seed_key=config.seed_key,
        sweep_dir=str(sweep_dir),
        stages_dir=str(
            Path(config.stages_dir).resolve() if config.stages_dir else sweep_dir / "stages"
        ),
        cwd=os.getcwd(),
    )
    for values in grid_combinations(axes):
        try:
            spec.run_config(values)  # every stage's config validated
        except ConfigError as exc:
            message = str(exc)
            if "trial " not in message:
                message = f"{message} (in {path}, trial {trial_name(values)})"
            raise ConfigError(message) from None
    return config, spec


def _tune_codes(spec: TrialSpec) -> dict[str, str]:
    """Axis name -> its key in Tune's ``param_space["axes"]``.

    Tune's grid varies the alphabetically first key fastest. The seed axis gets the first
    code and the other axes follow in reverse order, so the grid runs like nested loops over
    the declared axes with the seed innermost: trials running side by side are different
    seeds of one cell, and build their different SFT stages in parallel instead of waiting
    on one shared stage."""
    ordered = [a.name for a in spec.axes if a.name == spec.seed_key]
    ordered += [a.name for a in reversed(spec.axes) if a.name != spec.seed_key]
    return {name: f"a{rank:02d}" for rank, name in enumerate(ordered)}


def decode_axes(spec: TrialSpec, coded: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's axis values by name, in declared order, from Tune's coded config."""
    codes = _tune_codes(spec)
    return {axis.name: coded[codes[axis.name]] for axis in spec.axes}


def _tune_space(spec: TrialSpec) -> dict[str, Any]:
    """Tune's ``param_space["axes"]``: grid axes as ``tune.grid_search``, drawn axes as
    Tune's distributions, keyed by :func:`_tune_codes`."""
    from ray import tune

    codes = _tune_codes(spec)
    space: dict[str, Any] = {}
    for axis in spec.axes:
        code = codes[axis.name]
        if axis.kind == "drawn":
            kind, args = axis.distribution or ("choice", [])
            space[code] = tune.choice(args) if kind == "choice" else getattr(tune, kind)(*args)
        else:
            space[code] = tune.grid_search(list(axis.values))
    return space


def trial_resources(spec: TrialSpec, resources: TrialResources) -> Callable[[dict], Any]:
    """Per trial: a placement group of the trial's bundle plus one bundle per Ray rollout
    worker of its RL stage (Tune puts the workers the trial starts into it)."""

    def bundles(params: dict) -> Any:
        from ray.tune import PlacementGroupFactory

        config = spec.run_config(decode_axes(spec, params["axes"]))
        rollout = config.rl.rollout
        head = {"CPU": resources.cpu, "GPU": resources.gpu}
        worker = {"CPU": rollout.num_cpus_per_worker, "GPU": rollout.num_gpus_per_worker}
        workers = rollout.num_workers
        return PlacementGroupFactory(
            [{k: v for k, v in b.items() if v} or {"CPU": 0.0} for b in [head] + [worker] * workers]
        )

    return bundles


def run_trial(spec: TrialSpec, values: Mapping[str, Any]) -> dict[str, Any]:
    """Run (or, when it finished before, read back) one trial; returns its results row.

    The trial's run folder is ``trials/<trial_name(values)>``; a finished trial left its
    ``row.json`` there and is not run again. An unfinished folder is cleared first. The
    trial's stage lines and warnings go to ``log.txt`` in that folder.
    """
    from stvg.experiments.run import run_experiment
    from stvg.experiments.stages import StageStore

    os.chdir(spec.cwd)
    name = trial_name(values)
    trial_dir = Path(spec.sweep_dir) / "trials" / name
    row_path = trial_dir / ROW_FILE
    if row_path.is_file():
        row = json.loads(row_path.read_text(encoding="utf-8"))
        row["resumed"] = True
        return row
    if trial_dir.exists():
        shutil.rmtree(trial_dir)
    config = spec.run_config(values)
    # trials run side by side, their output in log files: no progress displays
    rl = replace(config.rl, progress_bar=False)
    config = replace(config, name=name, out_dir=str(trial_dir.parent), rl=rl, progress=False)
    started = time.perf_counter()
    started_at = time.time()
    trial_dir.mkdir(parents=True)
    # Trials run side by side: each one's stage lines and warnings go to its own log.
    with (
        (trial_dir / LOG_FILE).open("w", encoding="utf-8", buffering=1) as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        result = run_experiment(
            config,
            command=f"stvg sweep (trial {name})",
            run_dir=trial_dir,
            stages=StageStore(spec.stages_dir),
        )
    row = results_row(spec, values, result.summary, time.perf_counter() - started)
    row["run_dir"] = str(trial_dir)
    row["started_at"], row["finished_at"] = started_at, time.time()
    tmp = row_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(row, indent=2) + "\n", encoding="utf-8")
    tmp.replace(row_path)
    return row


def results_row(
    spec: TrialSpec, values: Mapping[str, Any], summary: Mapping[str, Any], wall_s: float
) -> dict[str, Any]:
    """One ``results.csv`` row from a trial's ``summary.json`` (metrics as fractions)."""
    config = spec.run_config(values)
    row: dict[str, Any] = {
        "trial": trial_name(values),
        "cell": spec.cell(values),
        "seed": int(values.get(spec.seed_key, config.seed)),
        "status": "ok",
        "error": "",
    }
    for axis in spec.axes:
        row[f"axis/{axis.name}"] = _format_value(values[axis.name])
    for stage, key in (("sft", "before_rl"), ("rl", "after_rl")):
        for metric, value in summary[key]["metrics"].items():
            if metric != "n":
                row[f"{stage}/{metric}"] = value
    for metric, value in summary["after_rl"]["metrics"].items():
        if metric != "n":
            row[f"final/{metric}"] = value
    cost = summary["after_rl"]["cost"]
    for key in ("frames_shown", "visual_tokens/qwen2.5-vl", "visual_tokens/qwen3-vl"):
        if key in cost:
            row[f"cost/{key}"] = cost[key]
    if "policy_seconds" in cost:
        row["cost/seconds_per_query"] = cost["policy_seconds"]
    if "densify_seconds" in cost:  # a densify method that reads frames (track)
        row["cost/densify_seconds_per_query"] = cost["densify_seconds"]
    for rule, record in (summary.get("zoom_rules") or {}).items():  # eval.zoom_rules
        for metric, value in record["metrics"].items():
            if metric != "n":
                row[f"zoom_{rule}/{metric}"] = value
        if "frames_shown" in record["cost"]:
            row[f"zoom_{rule}/frames_shown"] = record["cost"]["frames_shown"]
    for key in ("zooms", "turns"):
        if key in cost:
            row[f"cost/{key}"] = cost[key]
    row["n_test"] = summary["after_rl"]["metrics"].get("n")
    row["wall_s"] = wall_s
    row["rl_metrics"] = str(Path(summary["rl_run_dir"]) / "metrics.jsonl")
    row["stages_reused"] = ",".join(
        name for name, stage in summary.get("stages", {}).items() if stage["reused"]
    )
    return row


def _trainable(params: dict[str, Any], spec: TrialSpec) -> None:
    """Ray Tune's function trainable: one trial; reports its numeric results to Tune."""
    from ray import tune

    row = run_trial(spec, decode_axes(spec, params["axes"]))
    tune.report(
        {
            k: float(v)
            for k, v in row.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
    )


def _check_same_sweep(sweep_dir: Path, resolved: dict[str, Any], restart: bool) -> bool:
    """Whether the folder holds this sweep's earlier run (to resume); a different sweep
    there is an error unless ``restart``."""
    path = sweep_dir / SWEEP_FILE
    if not path.is_file():
        return False
    before = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    # resolved_base: the base run config's content, so that an edited base file is caught
    keys = ("base", "resolved_base", "set", "grid", "samples", "seed_key", "search_seed")
    if {k: before.get(k) for k in keys} == {k: resolved.get(k) for k in keys}:
        return not restart
    if not restart:
        changed = [k for k in keys if before.get(k) != resolved.get(k)]
        raise ConfigError(
            f"{sweep_dir} holds a different sweep (changed: {', '.join(changed)}); give the "
            "sweep another name (--set name=...) or pass --restart to discard the old one"
        )
    return False


class SweepInterrupted(Interrupted):
    """The sweep was stopped (Ctrl-C) before every trial ran (the message says how many
    started). Finished trials are kept in the sweep folder: running it again resumes."""


@dataclass
class SweepResult:
    """What :func:`run_sweep` produced.

    Attributes:
        sweep_dir: the sweep folder.
        rows: the ``results.csv`` rows.
        report: path of ``report.md``.
        resumed: the sweep continued an earlier, interrupted run.
    """

    sweep_dir: Path
    rows: list[dict[str, Any]]
    report: Path
    resumed: bool


def run_sweep(
    config: SweepConfig,
    spec: TrialSpec,
    *,
    command: str = "",
    restart: bool = False,
    say: Callable[[str], None] | None = print,
) -> SweepResult:
    """Run (or resume) the sweep of the module docstring on Ray Tune.

    Args:
        config: the sweep, from :func:`load_sweep_config`.
        spec: its trials, from :func:`load_sweep_config`.
        command: the command line, quoted in the report.
        restart: discard an earlier run of a different sweep in the same folder (and of
            this one: start over).
        say: called with progress lines (``None`` = silent).
    """
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    from stvg.experiments.sweep_report import write_results_csv, write_sweep_report
    from stvg.training.workers import init_ray

    log = say or _silent
    sweep_dir = Path(spec.sweep_dir)
    resolved = {**to_dict(config), "resolved_base": dict(spec.base)}
    resume = _check_same_sweep(sweep_dir, resolved, restart)
    if restart and sweep_dir.exists():
        shutil.rmtree(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / SWEEP_FILE).write_text(yaml.safe_dump(resolved, sort_keys=False), "utf-8")
    n_trials = len(grid_combinations(spec.axes)) * config.samples
    tune_dir = sweep_dir / "tune"
    owns_ray = init_ray(config.ray)
    try:
        trainable = tune.with_resources(
            tune.with_parameters(_trainable, spec=spec),
            trial_resources(spec, config.resources),
        )
        if resume and tune.Tuner.can_restore(str(tune_dir)):
            log(f"resuming {sweep_dir} ({n_trials} trials; finished ones are kept)")
            tuner = tune.Tuner.restore(
                str(tune_dir), trainable, resume_unfinished=True, restart_errored=True
            )
        else:
            log(f"sweep {sweep_dir}: {n_trials} trials")
            tuner = tune.Tuner(
                trainable,
                param_space={"axes": _tune_space(spec)},
                # The limit belongs to the variant generator: Tune ignores (with a warning)
                # a TuneConfig.max_concurrent_trials given beside a generator of our own.
                tune_config=tune.TuneConfig(
                    num_samples=config.samples,
                    search_alg=BasicVariantGenerator(
                        random_state=config.search_seed,
                        max_concurrent=config.max_concurrent_trials or 0,
                    ),
                ),
                run_config=tune.RunConfig(
                    storage_path=str(sweep_dir),
                    name="tune",
                    verbose=0,
                    callbacks=[_Progress(spec, log, n_trials)],
                ),
            )
        grid = tuner.fit()
    finally:
        if owns_ray:
            import ray

            ray.shutdown()
    # Tune stopped on Ctrl-C (SIGINT) returns every trial it had: some never generated
    # (no config), others generated but cut before they wrote their row, without an error.
    # Counting only the first kind missed an interrupt once the variant generator had made
    # every trial (a busy machine): a trial that ended has a row or an error. Tune may also
    # return fewer results than trials when the interrupt came before the generator (which
    # limits concurrency) had made the rest: those did not finish either.
    ended = sum(
        1
        for result in grid
        if result.config is not None
        and (result.error is not None or _row_path(sweep_dir, spec, result.config).is_file())
    )
    unfinished = n_trials - ended
    if unfinished:
        raise SweepInterrupted(
            f"sweep {sweep_dir} interrupted: {n_trials - unfinished} of {n_trials} trials finished"
        )
    rows = []
    for result in grid:
        values = decode_axes(spec, result.config["axes"])
        row_path = _row_path(sweep_dir, spec, result.config)
        if result.error is None and row_path.is_file():
            rows.append(json.loads(row_path.read_text(encoding="utf-8")))
        else:
            rows.append(_error_row(spec, values, result.error))
    rows.sort(key=lambda r: (_cell_order(spec, r), r["seed"]))
    write_results_csv(sweep_dir / "results.csv", rows)
    report_rows(config.report_to, sweep_dir, rows)
    report = write_sweep_report(
        sweep_dir, rows, config.report, title=f"Sweep {config.name}", command=command
    )
    ok = sum(1 for r in rows if r["status"] == "ok")
    log(f"{ok} of {len(rows)} trials finished; report: {report}")
    return SweepResult(sweep_dir, rows, report, resume)


TRACKERS_DIR = "trackers"


def report_rows(
    report_to: Sequence[str], sweep_dir: Path, rows: Sequence[Mapping[str, Any]]
) -> int:
    """Send each finished trial's results row to ``report_to`` (see :class:`SweepConfig`);
    a trial reported by an earlier run of the sweep is not sent again. Returns how many
    trials were sent."""
    sent = 0
    for row in rows:
        folder = sweep_dir / TRACKERS_DIR / str(row["trial"])
        if not report_to or row.get("status") != "ok" or folder.exists():
            continue
        folder.mkdir(parents=True)
        config = {
            "sweep": sweep_dir.name,
            "cell": row["cell"],
            "seed": row["seed"],
            **{k.removeprefix("axis/"): v for k, v in row.items() if k.startswith("axis/")},
        }
        trackers = open_trackers(
            report_to, folder, run_name=f"{sweep_dir.name}/{row['trial']}", config=config
        )
        try:
            trackers.log(0, {k: v for k, v in row.items() if not k.startswith("axis/")})
        finally:
            trackers.close()
        sent += 1
    return sent


def _row_path(sweep_dir: Path, spec: TrialSpec, config: Mapping[str, Any]) -> Path:
    """Where the trial of Tune's ``config`` writes its results row."""
    return sweep_dir / "trials" / trial_name(decode_axes(spec, config["axes"])) / ROW_FILE


def _cell_order(spec: TrialSpec, row: Mapping[str, Any]) -> tuple[int, ...]:
    """Grid order of a row: each axis's index of the row's value (seed axis last)."""
    order = []
    for axis in spec.axes:
        if axis.name == spec.seed_key or axis.kind == "drawn":
            continue
        labels = [_format_value(v) for v in axis.values]
        value = row.get(f"axis/{axis.name}")
        order.append(labels.index(value) if value in labels else len(labels))
    return tuple(order)


def _error_row(spec: TrialSpec, values: Mapping[str, Any], error: Any) -> dict[str, Any]:
    seed = values.get(spec.seed_key)
    row: dict[str, Any] = {
        "trial": trial_name(values),
        "cell": spec.cell(values),
        "seed": int(seed) if isinstance(seed, (int, float)) else 0,
        "status": "error",
        "error": f"{_error_text(error)} (log: {Path(spec.sweep_dir) / 'trials' / trial_name(values) / LOG_FILE})",
    }
    for axis in spec.axes:
        row[f"axis/{axis.name}"] = _format_value(values[axis.name])
    return row


def _error_text(error: Any) -> str:
    """The last line of a trial's error (Tune wraps the trial's exception)."""
    if error is None:
        return "the trial finished without a result row"
    cause = getattr(error, "cause", None) or error
    text = str(cause).strip().splitlines()
    return text[-1] if text else type(cause).__name__


class _Progress(Callback):
    """A Tune callback printing one line per finished or failed trial.

    Args:
        spec: the sweep (to name trials).
        log: called with each line; not pickled with Tune's experiment state.
        total: trials in the sweep.
    """

    def __init__(self, spec: TrialSpec, log: Callable[[str], None], total: int) -> None:
        self.spec, self.log, self.total, self.done = spec, log, total, 0

    def __getstate__(self) -> dict[str, Any]:
        return {"spec": self.spec, "total": self.total, "done": self.done}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.log = _silent

    def _line(self, trial: Any, outcome: str) -> None:
        self.done += 1
        name = trial_name(decode_axes(self.spec, trial.config["axes"]))
        self.log(f"[{self.done}/{self.total}] {name} {outcome}")

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        metric = (trial.last_result or {}).get("final/m_vIoU")
        self._line(trial, "done" if metric is None else f"m_vIoU {metric:.4f}")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._line(trial, "failed")


def _silent(_line: str) -> None:
    """A log function that drops its line."""


__all__ = [
    "Axis",
    "SweepConfig",
    "SweepInterrupted",
    "SweepResult",
    "TrialResources",
    "TrialSpec",
    "cell_label",
    "flatten_dotted",
    "grid_combinations",
    "load_sweep_config",
    "parse_axis",
    "report_rows",
    "results_row",
    "run_sweep",
    "run_trial",
    "trial_name",
]
