"""The VLM path end to end: one prompt for rollouts and evaluation, one contract for scoring.

Tiny random Qwen checkpoints (``stvg.policies.vlm.tiny``) on a small synthetic split whose
64x64 shown frames the processors resize to another size (Qwen2.5-VL under
``min_pixels=3136``: 56x56), so a policy and an env that disagreed on the frame geometry
would show up as wrong boxes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stvg.envs.contract import bind_env_kwargs
from stvg.evaluation import PolicyEvalConfig, PolicySpec, evaluate_policy
from stvg.policies.vlm.tiny import build_tiny_checkpoint
from stvg.training.rollout import RolloutTask, RolloutWorker
from stvg.verifiers.formats import ContractError

SPLIT = "test"


@pytest.fixture(scope="module")
def split_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stvg.data.synthetic import generate_split

    root = tmp_path_factory.mktemp("vlm_split")
    generate_split(root, SPLIT, 2, 3, duration_s=4.0, fps=5.0, size=64)
    return root


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_checkpoint("qwen2.5-vl", tmp_path_factory.mktemp("tiny") / "qwen25")


def _env_kwargs(root: Path) -> dict:
    return {"dataset": "synthetic", "root": str(root), "split": SPLIT, "max_side": 64}


def _policy_config(checkpoint: Path) -> dict:
    return {"model_path": str(checkpoint), "min_pixels": 3136, "max_new_tokens": 8, "seed": 0}


def _record_prompts(policy) -> list[str]:
    texts: list[str] = []
    prepare = policy.prepare

    def recording(obs, ctx=None):
        prep = prepare(obs, ctx)
        texts.append(prep.text)
        return prep

    policy.prepare = recording
    return texts


def test_rollout_and_evaluation_prompts_are_byte_identical(
    split_root: Path, checkpoint: Path
) -> None:
    from stvg.policies.registry import make

    config = _policy_config(checkpoint)
    policy = make("vlm", **config)
    env_kwargs = bind_env_kwargs(policy, _env_kwargs(split_root))
    worker = RolloutWorker("stvg/Grounding-v0", env_kwargs, None, "vlm", config)
    sample_id = worker.sample_ids()[0]
    rollout_prompts = _record_prompts(worker.policy)
    experience = worker.run(RolloutTask(0, (sample_id,), group_size=2, seed=0))
    assert len(experience) == 2 and len(rollout_prompts) == 1

    eval_prompts = _record_prompts(policy)
    evaluate_policy(
        PolicyEvalConfig(PolicySpec("vlm", config), env=_env_kwargs(split_root), limit=1),
        policy=policy,
    )
    assert eval_prompts == rollout_prompts
    # The prompt tells the processor's 56x56 frames, not the env's 64x64 ones.
    assert "56x56" in rollout_prompts[0] and "64x64" not in rollout_prompts[0]
    env = worker.env.unwrapped
    assert env.frame_context.shown_size == (64, 64)
    assert env.frame_context.model_size == (56, 56)


def test_an_env_forced_to_other_coordinates_fails_at_construction(
    split_root: Path, checkpoint: Path
) -> None:
    config = _policy_config(checkpoint)
    with pytest.raises(ContractError, match="coords: evaluation env has 'norm1000'"):
        evaluate_policy(
            PolicyEvalConfig(
                PolicySpec("vlm", config), env={**_env_kwargs(split_root), "coords": "norm1000"}
            )
        )
    with pytest.raises(ContractError, match="coords: env stvg/Grounding-v0 has 'norm1000'"):
        RolloutWorker(
            "stvg/Grounding-v0",
            {**_env_kwargs(split_root), "coords": "norm1000"},
            None,
            "vlm",
            config,
        )
