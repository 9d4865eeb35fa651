"""The shipped verl launch script composes with verl 0.9.1's own Hydra config.

verl's trainer needs GPUs and vLLM, so it is not run here; what can go wrong on a laptop is
tested: every override names a real key of verl's ``ppo_trainer`` config with a value its
config accepts, and the reward function and dataset class it names load through verl.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "verl" / "run_grpo_qwen2_5_vl_7b.sh"


def _overrides(**env: str) -> list[str]:
    out = subprocess.run(
        ["bash", str(SCRIPT)],
        env={**os.environ, "PRINT_OVERRIDES": "1", **env},
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.splitlines()


def test_launch_script_composes_with_verls_config(tmp_path: Path) -> None:
    import verl
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    overrides = _overrides(MODEL="/models/qwen7b", DATA=str(tmp_path), NGPUS="4", NNODES="2")
    config_dir = Path(verl.__file__).parent / "trainer" / "config"
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        config = compose(config_name="ppo_trainer", overrides=overrides)
    assert config.algorithm.adv_estimator == "grpo"
    assert config.data.train_files == f"{tmp_path}/train.parquet"
    assert config.data.custom_cls.name == "StvgRLHFDataset"
    assert config.actor_rollout_ref.model.path == "/models/qwen7b"
    assert config.actor_rollout_ref.rollout.n == 8
    assert config.reward.custom_reward_function.path == "pkg://stvg.verifiers.adapters.verl"
    assert (config.trainer.n_gpus_per_node, config.trainer.nnodes) == (4, 2)
    assert list(config.trainer.logger) == ["console", "tensorboard"]


def test_a_misspelt_key_would_be_refused() -> None:
    """The composition above is a real check: verl's config rejects unknown keys."""
    import verl
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import ConfigCompositionException

    config_dir = Path(verl.__file__).parent / "trainer" / "config"
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        with pytest.raises(ConfigCompositionException):
            compose(config_name="ppo_trainer", overrides=["actor_rollout_ref.rollout.nn=8"])
