"""Every shipped config validates key by key, down to the policy's and the env's own keys;
the shipped configs as they were before the env section became one typed
:class:`~stvg.envs.config.EnvConfig` (``tests/experiments/legacy_configs/``) still load,
with a deprecation warning, into the same configs.

The GPU configs (HC-STVG v2 with Qwen2.5-VL-7B / Qwen3-VL-8B) cannot run here; loading
them validates every key they set: an unknown or mistyped key anywhere is a ConfigError.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from stvg.config import DeprecatedKey, from_dict, from_yaml, to_dict
from stvg.envs.config import EnvConfig, GroundingEnvConfig, ZoomEnvConfig
from stvg.evaluation import load_policy_eval_config
from stvg.experiments.run import load_run_config, rl_config, sft_config
from stvg.policies.registry import policy_class
from stvg.training.config import TrainConfig
from stvg.training.sft import load_sft_config

CONFIGS = Path(__file__).resolve().parents[2] / "stvg" / "experiments" / "configs"


def _kind(path: Path) -> str:
    name = path.stem
    if name.endswith("quickstart") or name == "zoom_native":
        return "run"
    if path.parent.name == "recipes" and not name.startswith("hcstvg2_"):
        return "run"  # the synthetic recipe configs of `stvg run`
    if name.startswith("sft_") or name.endswith("_sft"):
        return "sft"
    if name.endswith("_grpo") or name.startswith("grpo_"):
        return "train"
    if name.startswith("eval_"):
        return "eval"
    if name.startswith("synth_"):
        return "synthesis"
    return "unknown"


def _check_policy(name: str, config: dict) -> None:
    """The policy's own config class validates its keys (no model is loaded)."""
    cls = policy_class(name)
    config_class = getattr(cls, "config_class", None)
    if config_class is not None:
        from_dict(config_class, dict(config), path="policy.config")


def _check_env(env: EnvConfig) -> None:
    """The env's keyword arguments build the id's own config."""
    assert isinstance(env, EnvConfig)
    if env.kind == "grounding":
        from_dict(GroundingEnvConfig, env.env_kwargs(), path="env")
    if env.kind == "zoom":
        from_dict(ZoomEnvConfig, env.env_kwargs(), path="env")


RECIPES = CONFIGS / "recipes"
ALL = sorted(CONFIGS.glob("*.yaml")) + sorted(RECIPES.glob("*.yaml"))


def test_every_shipped_config_has_a_known_kind() -> None:
    unknown = [p.name for p in ALL if _kind(p) == "unknown"]
    assert unknown == [], f"add a rule for {unknown} in _kind"
    names = {p.name for p in ALL}
    for expected in (
        "hcstvg2_qwen25vl7b_sft.yaml",
        "hcstvg2_qwen25vl7b_grpo.yaml",
        "hcstvg2_qwen3vl8b_sft.yaml",
        "hcstvg2_qwen3vl8b_grpo.yaml",
        "vlm_tiny_quickstart.yaml",
    ):
        assert expected in names


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_shipped_config_validates(path: Path) -> None:
    kind = _kind(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecatedKey)  # shipped configs use today's spelling
        _validate(path, kind)


def _validate(path: Path, kind: str) -> None:
    if kind == "run":
        config = load_run_config(path)
        if config.policy.name == "vlm":
            _check_policy("vlm", config.policy.config)
        if config.sft is not None:
            _check_env(sft_config(config, Path("runs/x/sft")).env)
        rl = rl_config(config, Path("runs/x/sft/ckpt"), Path("runs/x"))
        _check_env(rl.env)
        _check_policy(rl.policy.name, rl.policy.config)
    elif kind == "sft":
        config = load_sft_config(path)
        _check_env(config.env)
    elif kind == "train":
        config = from_yaml(TrainConfig, path)
        assert config.env.id == "stvg/Grounding-v0"
        _check_env(config.env)
        _check_policy(config.policy.name, config.policy.config)
    elif kind == "synthesis":
        from stvg.synthesis.config import load_synthesis_config
        from stvg.synthesis.teachers.openai_teacher import OpenAITeacherConfig

        config = load_synthesis_config(path)
        assert isinstance(config.teacher.openai, OpenAITeacherConfig)  # typed, validated
        assert config.teacher.local is None
    else:
        config = load_policy_eval_config(path)
        _check_policy(config.policy.name, config.policy.config)


def test_gpu_configs_use_vlm_learning_numerics() -> None:
    for name in ("hcstvg2_qwen25vl7b_grpo.yaml", "hcstvg2_qwen3vl8b_grpo.yaml"):
        config = from_yaml(TrainConfig, CONFIGS / name)
        assert config.learning_rate == 1e-6
        assert config.mixed_precision == "bf16" and config.gradient_checkpointing
        assert config.policy.config["dtype"] == "bfloat16"
        assert config.env.dataset == "hcstvg2" and config.env.env_kwargs()["dataset"] == "hcstvg2"


def _terms(env: EnvConfig) -> list[tuple[str, float, dict]]:
    return [(t.name, t.weight, t.params) for t in env.verifier.terms]


def test_the_synthetic_recipe_configs_differ_only_in_their_reward() -> None:
    """recipes/{paper,time_r1,gated,stvg_o1}.yaml: the quickstart's pipeline on the recipes
    sweep's budget, each with its recipe's reward (and the quickstart's 3 * L1)."""
    configs = {n: load_run_config(RECIPES / f"{n}.yaml") for n in RECIPE_NAMES}
    rl = {n: rl_config(c, Path("s/p.pt"), Path("runs/x")) for n, c in configs.items()}
    assert {n: _terms(r.env) for n, r in rl.items()} == {
        "paper": [("t_iou", 1.0, {}), ("v_iou", 1.0, {}), ("l1", 3.0, {})],
        "time_r1": [("t_iou_boundary", 1.0, {}), ("v_iou", 1.0, {}), ("l1", 3.0, {})],
        "gated": [
            ("t_iou", 1.0, {}),
            (
                "gate",
                1.0,
                {
                    "term": "v_iou",
                    "when": "t_iou",
                    "threshold": 0.5,
                    "threshold_start": 0.25,
                    "schedule_iterations": 30,
                },
            ),
            ("l1", 3.0, {}),
        ],
        "stvg_o1": [
            ("format", 1.0, {}),
            ("box_consistency", 1.0, {}),
            ("t_iou", 1.0, {}),
            ("spatial", 1.0, {}),
            ("l1", 3.0, {}),
        ],
    }
    assert all(r.iterations == 60 and r.rollout.num_workers == 0 for r in rl.values())

    def rest(value: object) -> object:
        """``value`` without its names and verifier sections, at every depth."""
        if isinstance(value, dict):
            return {k: rest(v) for k, v in value.items() if k not in ("name", "verifier")}
        return value

    assert rest(to_dict(configs["paper"])) != {}

    paper = rest(to_dict(configs["paper"]))
    for name in RECIPE_NAMES:
        assert rest(to_dict(configs[name])) == paper, name
    assert to_dict(configs["paper"].data) == to_dict(
        load_run_config(CONFIGS / "quickstart.yaml").data
    )


RECIPE_NAMES = ("paper", "time_r1", "gated", "stvg_o1")


def test_the_hcstvg2_recipe_configs_are_stvg_o1s_setting_with_each_reward() -> None:
    """Qwen2.5-VL-7B GRPO with 8 answers per prompt, learning rate 1e-6, 2 fps, frames of at
    most 336 px; stvg_o1 answers in draft-final with STVG-o1's five terms, from an SFT
    checkpoint trained on draft-final targets."""
    configs = {n: from_yaml(TrainConfig, RECIPES / f"hcstvg2_{n}_grpo.yaml") for n in RECIPE_NAMES}
    for name, config in configs.items():
        assert config.learning_rate == 1e-6 and config.grpo.group_size == 8, name
        assert config.policy.config["fps"] == 2.0 and config.env.max_side == 336, name
        assert config.env.dataset == "hcstvg2" and config.mixed_precision == "bf16", name
        _check_policy("vlm", config.policy.config)
    o1 = configs["stvg_o1"]
    assert o1.policy.config["answer_format"] == "draft-final"
    assert _terms(o1.env) == [
        ("format", 1.0, {}),
        ("box_consistency", 1.0, {}),
        ("t_iou", 1.0, {}),
        ("spatial", 1.0, {}),
        ("think_gain", 0.5, {}),
        ("v_iou", 0.0, {}),
    ]
    assert {n: c.policy.config["answer_format"] for n, c in configs.items() if n != "stvg_o1"} == {
        "paper": "json-v1",
        "time_r1": "json-v1",
        "gated": "json-v1",
    }
    for name, sft_name in (("stvg_o1", "stvg_o1"), ("paper", "json")):
        sft = load_sft_config(RECIPES / f"hcstvg2_{sft_name}_sft.yaml")  # a typed policy config
        assert sft.policy.config.answer_format == configs[name].policy.config["answer_format"]
        assert sft.policy.config.fps == 2.0 and sft.env.max_side == 336
        assert configs[name].policy.config["model_path"] == f"{sft.out_dir}/hf"


SWEEPS = sorted((CONFIGS / "sweeps").glob("*.yaml"))


def test_the_issue_sweeps_are_shipped() -> None:
    names = {p.stem for p in SWEEPS}
    assert {"fps", "smoothing", "rewards", "algorithms", "quickstart_seeds", "zoom"} <= names


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.name)
def test_shipped_sweep_validates_every_trial(path: Path) -> None:
    """Every grid combination's run config, SFT and RL stage config validate; the report's
    baseline is one of the sweep's cells."""
    from stvg.experiments.sweep import grid_combinations, load_sweep_config

    config, spec = load_sweep_config(path)
    cells = {spec.cell(values) for values in grid_combinations(spec.axes)}
    assert config.report.baseline is None or config.report.baseline in cells
    assert len(cells) >= 1 and config.max_concurrent_trials == 2


LEGACY = sorted((Path(__file__).parent / "legacy_configs").glob("*.yaml"))


@pytest.mark.parametrize("path", LEGACY, ids=lambda p: p.name)
def test_the_old_spelling_of_a_shipped_config_loads_the_same_config(path: Path) -> None:
    """``env: {id, kwargs: {...}}`` and the native SFT's top-level ``fps``/``max_frames``/
    ``max_side`` and ``data.dataset``/``data.root`` are read at their new places."""
    load = {"train": lambda p: from_yaml(TrainConfig, p), "sft": load_sft_config}[_kind(path)]
    with pytest.warns(DeprecatedKey, match="is deprecated: write"):
        old = load(path)
    new = load(CONFIGS / path.name)
    assert to_dict(old) == to_dict(new)


def test_the_native_stvg_r1_recipe_answers_struct_track_ids() -> None:
    """recipes/stvg_r1_native.yaml: the recipes' data and budget, the native policy with its
    ID head, undrawn synthetic tracks, track-id answers and STVG-R1's tIoU + id_match."""
    config = load_run_config(RECIPES / "stvg_r1_native.yaml")
    sft = sft_config(config, Path("runs/x/sft"))
    rl = rl_config(config, Path("s/p.pt"), Path("runs/x"))
    assert sft.model.track_id is True
    for env in (sft.env, rl.env):
        assert env.answer_format == "track-id"
        assert env.tracks.source == "synthetic" and env.tracks.draw is False
        assert env.tracks.max_candidates == 8
    assert _terms(rl.env) == [("t_iou", 1.0, {}), ("id_match", 1.0, {}), ("v_iou", 0.0, {})]
    assert rl.iterations == 60 and rl.rollout.num_workers == 0
    assert to_dict(config.data) == to_dict(load_run_config(RECIPES / "paper.yaml").data)
