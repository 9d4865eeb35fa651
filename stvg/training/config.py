"""Typed config of an RL run (``stvg train CONFIG``), built with :mod:`stvg.config`.

One YAML file is one run::

    algorithm: grpo
    seed: 0
    iterations: 40
    batch_size: 8            # prompts per iteration (x group_size answers each)
    learning_rate: 1.0e-4    # null = the policy's default (1e-6 for VLMs)
    env: {id: stvg/Synthetic-v0, action_format: struct, max_side: 64}
    policy: {name: native, config: {checkpoint: runs/sft/policy.pt}}
    grpo: {group_size: 8, loss_type: grpo, beta: 0.0}
    rollout: {num_workers: 2}

A VLM on a GPU typically adds ``micro_batch_size: 4`` (rows per forward/backward, gradients
accumulated), ``gradient_checkpointing: true``, ``keep_last: 2`` and leaves
``learning_rate`` and ``mixed_precision`` to their policy-derived defaults (1e-6, bf16
autocast over float32 master weights).

An unknown key or a wrong type is a :class:`~stvg.config.ConfigError` naming its key path;
settings that do not fit together are reported by ``__post_init__`` with what, why and
how to fix.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from stvg.config import InvalidField, set_by
from stvg.envs.config import EnvConfig, as_env_config
from stvg.policies.spec import PolicySpec
from stvg.training.trackers import Reporter, check_report_to

#: The default env of an RL run: the cached synthetic split, built on first use.
SYNTHETIC_ID = "stvg/Synthetic-v0"

#: The env section's old name (an :class:`~stvg.envs.config.EnvConfig`).
EnvSpec = EnvConfig

#: Adam step size when neither the config nor the policy class names one. A policy class
#: sets its own with a ``default_learning_rate`` class attribute (VLMs: 1e-6).
DEFAULT_LEARNING_RATE = 1e-4

MixedPrecision = Literal["auto", "no", "bf16", "fp16"]
"""Forward-pass precision of the learner (its parameters are float32 master weights
whatever the policy was loaded in):

* ``auto`` — the dtype the policy was loaded in: ``bf16`` for a bfloat16 model (e.g. a VLM
  on a GPU), ``fp16`` for a float16 one, ``no`` for float32.
* ``no`` — float32 forward and backward passes.
* ``bf16`` — ``torch.autocast(dtype=torch.bfloat16)``: matmuls in bfloat16, reductions and
  the float32 master weights' updates in float32 (Micikevicius et al., 2018, arXiv
  1710.03740; bfloat16 needs no loss scaling).
* ``fp16`` — ``torch.autocast(dtype=torch.float16)`` with dynamic loss scaling
  (``torch.amp.GradScaler``), for GPUs without bfloat16.
"""

HFExport = Literal["every", "final", "never"]
"""When a policy with ``save_pretrained(dir)`` (the VLM) is exported in Hugging Face format
to ``checkpoints/iter_<N>/hf/`` (loadable by ``AutoModelForImageTextToText`` and vLLM):

* ``every`` — with every checkpoint (each checkpoint folder is self-contained; prune old
  ones with ``keep_last``).
* ``final`` — only with the checkpoint of the run's last iteration.
* ``never`` — no export (``trainer.pt`` still holds the weights).
"""

WorkerPlacement = Literal["spread", "default"]
"""Where Ray puts the rollout actors of a run:

- ``spread``: Ray's ``SPREAD`` scheduling strategy, actors spread over the cluster's nodes
  as evenly as their resources allow (best effort: a node that lacks the CPUs/GPUs is
  skipped, several actors share a node when there are more actors than nodes). On one
  machine it is the same as ``default``.
- ``default``: Ray's default (hybrid) policy, which fills one node until about half of
  its resources are in use before using others (two 1-CPU workers on two 4-CPU nodes
  both land on one).
"""

AlgorithmName = Literal["grpo", "rloo", "ppo", "rllib_ppo"]
"""Which trainer runs:

* ``grpo`` — Group Relative Policy Optimization (Shao et al., 2024, arXiv 2402.03300): a
  group of answers per prompt, advantages normalised within the group, no critic; the
  method of the STVG paper. Variants in ``grpo.loss_type``. On a multi-step env (glance
  and zoom) a group is ``group_size`` whole episodes, and each trajectory's advantage
  applies to every action of it.
* ``rloo`` — REINFORCE Leave-One-Out (Ahmadian et al., 2024, arXiv 2402.14740): a group of
  answers, each baselined by the mean reward of the others; unbiased, no critic.
* ``ppo`` — Proximal Policy Optimization (Schulman et al., 2017, arXiv 1707.06347) with a
  value head and GAE; works on the multi-step ``TrackingEnv`` and on single-turn envs.
* ``rllib_ppo`` — RLlib's PPO on the flat tracking env (its own model catalog), logged
  in the same run-directory format.
"""


def _positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise InvalidField(name, f"must be a positive number, got {value}")


def _fraction(name: str, value: float, *, upper: float = 1.0) -> None:
    if not (math.isfinite(value) and 0.0 <= value <= upper):
        raise InvalidField(name, f"must be in [0, {upper}], got {value}")


@dataclass
class GRPOConfig:
    """GRPO settings.

    Attributes:
        group_size: answers sampled per prompt (``G``); the group is the baseline.
        loss_type: the loss variant:

            * ``grpo`` — the original (Shao et al., 2024): advantages over the group's std,
              per-answer mean over its tokens, then mean over answers.
            * ``dr_grpo`` — "GRPO Done Right" (Liu et al., 2025, arXiv 2503.20783): no std
              division and a constant normaliser (answers x token slots), removing the
              length and difficulty biases of ``grpo``.
            * ``dapo`` — DAPO (Yu et al., 2025, arXiv 2503.14476): clip-higher
              (``clip_coef_high > clip_coef``), token-level mean over the whole batch, and
              dynamic sampling of groups whose rewards are not all equal.
        clip_coef: PPO clip range ``eps`` (lower range ``eps_low`` for ``dapo``).
        clip_coef_high: upper clip range ``eps_high``; ``null`` = ``clip_coef`` (``0.28``
            for ``dapo``, the DAPO paper's value).
        beta: weight of the ``k3`` KL penalty to the frozen reference policy (the starting
            policy); 0 = no reference (DAPO and Dr. GRPO drop it).
        dynamic_sampling: keep sampling prompts until ``batch_size`` groups with non-zero
            reward variance are found (groups of equal rewards have zero advantage and
            teach nothing); ``null`` = on for ``dapo`` only.
        max_sampling_rounds: most rollout rounds per iteration with dynamic sampling; the
            update then uses the informative groups found so far.
    """

    group_size: int = 8
    loss_type: Literal["grpo", "dr_grpo", "dapo"] = "grpo"
    clip_coef: float = 0.2
    clip_coef_high: float | None = None
    beta: float = 0.0
    dynamic_sampling: bool | None = None
    max_sampling_rounds: int = 3

    def __post_init__(self) -> None:
        if self.group_size < 2:
            raise InvalidField(
                "group_size",
                f"must be >= 2 (GRPO normalises rewards within a group), got {self.group_size}",
            )
        _fraction("clip_coef", self.clip_coef)
        if self.clip_coef_high is not None:
            _fraction("clip_coef_high", self.clip_coef_high, upper=10.0)
        if not (math.isfinite(self.beta) and self.beta >= 0):
            raise InvalidField("beta", f"must be >= 0 (0 = no KL penalty), got {self.beta}")
        if self.max_sampling_rounds < 1:
            raise InvalidField(
                "max_sampling_rounds", f"must be >= 1, got {self.max_sampling_rounds}"
            )

    @property
    def eps_high(self) -> float:
        """The upper clip range in effect."""
        if self.clip_coef_high is not None:
            return self.clip_coef_high
        return 0.28 if self.loss_type == "dapo" else self.clip_coef

    @property
    def uses_dynamic_sampling(self) -> bool:
        """Whether dynamic sampling is on (explicit, or ``dapo``'s default)."""
        if self.dynamic_sampling is not None:
            return self.dynamic_sampling
        return self.loss_type == "dapo"


@dataclass
class RLOOConfig:
    """RLOO settings.

    Attributes:
        group_size: answers per prompt ``k`` (>= 2: the others are the baseline).
        clip_coef: clip range of the importance ratio for ``update_epochs > 1`` (with one
            epoch and one minibatch the ratio is 1 and the update is plain REINFORCE).
        beta: weight of the KL penalty folded into the reward, ``r - beta * log(pi /
            pi_ref)`` of the whole answer (the RLOO paper's setup); 0 = none.
    """

    group_size: int = 4
    clip_coef: float = 0.2
    beta: float = 0.0

    def __post_init__(self) -> None:
        if self.group_size < 2:
            raise InvalidField(
                "group_size", f"must be >= 2 (a leave-one-out baseline), got {self.group_size}"
            )
        _fraction("clip_coef", self.clip_coef)
        if not (math.isfinite(self.beta) and self.beta >= 0):
            raise InvalidField("beta", f"must be >= 0, got {self.beta}")


@dataclass
class PPOConfig:
    """PPO settings (names as in CleanRL's ``ppo.py``).

    Attributes:
        gamma: discount factor.
        gae_lambda: GAE's lambda.
        clip_coef: clip range of the policy ratio.
        clip_vloss: clip the value update too (PPO2 implementation detail).
        vf_coef: weight of the value loss.
        ent_coef: weight of the entropy bonus (needs a policy with ``evaluate_actions``).
        norm_adv: normalise advantages per minibatch.
        target_kl: stop the epochs of an iteration once ``approx_kl`` exceeds it; ``null``
            = never.
    """

    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_coef: float = 0.2
    clip_vloss: bool = True
    vf_coef: float = 0.5
    ent_coef: float = 0.0
    norm_adv: bool = True
    target_kl: float | None = None

    def __post_init__(self) -> None:
        _fraction("gamma", self.gamma)
        _fraction("gae_lambda", self.gae_lambda)
        _fraction("clip_coef", self.clip_coef)
        if not (math.isfinite(self.vf_coef) and self.vf_coef >= 0):
            raise InvalidField("vf_coef", f"must be >= 0, got {self.vf_coef}")
        if not (math.isfinite(self.ent_coef) and self.ent_coef >= 0):
            raise InvalidField("ent_coef", f"must be >= 0, got {self.ent_coef}")
        if self.target_kl is not None:
            _positive("target_kl", self.target_kl)


@dataclass
class RLlibConfig:
    """Settings of ``algorithm: rllib_ppo`` (RLlib's PPO, new API stack).

    Attributes:
        train_batch_size: env steps per training iteration (all env runners together).
        minibatch_size: SGD minibatch size.
        num_epochs: passes over each train batch.
        gamma, lambda_: discount and GAE lambda.
        clip_param: PPO clip range.
        entropy_coeff, vf_loss_coeff: loss weights.
        fcnet_hiddens: hidden layer sizes of RLlib's default MLP encoder.
        num_envs_per_env_runner: vectorised envs per runner.
    """

    train_batch_size: int = 256
    minibatch_size: int = 64
    num_epochs: int = 4
    gamma: float = 0.99
    lambda_: float = 0.95
    clip_param: float = 0.2
    entropy_coeff: float = 0.0
    vf_loss_coeff: float = 0.5
    fcnet_hiddens: list[int] = field(default_factory=lambda: [64, 64])
    num_envs_per_env_runner: int = 1

    def __post_init__(self) -> None:
        if self.train_batch_size < 1 or self.minibatch_size < 1 or self.num_epochs < 1:
            raise InvalidField(
                "train_batch_size",
                "train_batch_size, minibatch_size and num_epochs must be positive, got "
                f"{self.train_batch_size}, {self.minibatch_size}, {self.num_epochs}",
            )
        if self.minibatch_size > self.train_batch_size:
            raise InvalidField(
                "minibatch_size",
                f"({self.minibatch_size}) must not exceed train_batch_size "
                f"({self.train_batch_size}): lower minibatch_size",
            )


@dataclass
class RolloutConfig:
    """Where rollouts run.

    Attributes:
        num_workers: Ray rollout actors; 0 = in this process (no Ray).
        num_cpus_per_worker: CPUs Ray reserves per actor (also its torch threads).
        num_gpus_per_worker: GPUs (or fractions) Ray reserves per actor; the policy picks its
            device itself (e.g. the VLM policy's ``device: auto`` takes the GPU Ray gives
            the actor). Weights travel on the CPU, so learner and workers may differ.
        task_size: prompts (single-turn envs) or episodes (multi-step envs) per rollout
            task. Tasks are cut and seeded the same way whatever ``num_workers`` is, so a
            run's results do not depend on how many workers play them.
        max_worker_restarts: dead workers replaced over the whole run before giving up.
        placement: where Ray puts the actors (see :data:`WorkerPlacement`); ignored inside
            a placement group (a ``stvg sweep`` trial's), which places them itself.
    """

    num_workers: int = 0
    num_cpus_per_worker: float = 1.0
    num_gpus_per_worker: float = 0.0
    task_size: int = 2
    max_worker_restarts: int = 8
    placement: WorkerPlacement = "spread"

    def __post_init__(self) -> None:
        if self.num_workers < 0:
            raise InvalidField(
                "num_workers", f"must be >= 0 (0 = in-process), got {self.num_workers}"
            )
        if not (math.isfinite(self.num_cpus_per_worker) and self.num_cpus_per_worker >= 0):
            raise InvalidField(
                "num_cpus_per_worker", f"must be >= 0, got {self.num_cpus_per_worker}"
            )
        if not (math.isfinite(self.num_gpus_per_worker) and self.num_gpus_per_worker >= 0):
            raise InvalidField(
                "num_gpus_per_worker", f"must be >= 0, got {self.num_gpus_per_worker}"
            )
        if self.task_size < 1:
            raise InvalidField("task_size", f"must be >= 1, got {self.task_size}")
        if self.max_worker_restarts < 0:
            raise InvalidField(
                "max_worker_restarts", f"must be >= 0, got {self.max_worker_restarts}"
            )


@dataclass
class RayConfig:
    """How to reach Ray.

    Attributes:
        address: ``null`` starts a local Ray instance (``ray.init()``); ``host:port`` (the
            head's GCS port, 6379 unless ``ray start --head --port`` said otherwise),
            ``auto`` (the cluster this machine is a node of, or ``RAY_ADDRESS``) or
            ``ray://host:10001`` (Ray Client) joins an existing cluster (docs/cluster.md).
        num_cpus: CPUs of a local instance (``null`` = all of the machine's).
        include_dashboard: start Ray's dashboard with a local instance.
        connect_timeout_s: seconds to wait for a TCP answer from a ``host:port`` or
            ``ray://`` address before failing with an error naming it (Ray itself
            retries an unreachable address for minutes).
    """

    address: str | None = None
    num_cpus: int | None = None
    include_dashboard: bool = False
    connect_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if self.num_cpus is not None and self.num_cpus < 1:
            raise InvalidField("num_cpus", f"must be >= 1 or null, got {self.num_cpus}")
        if self.address is not None and not self.address.strip():
            raise InvalidField("address", "is empty: give host:port, auto, ray://host:port or null")
        if not (math.isfinite(self.connect_timeout_s) and self.connect_timeout_s > 0):
            raise InvalidField(
                "connect_timeout_s",
                f"must be a number of seconds > 0, got {self.connect_timeout_s}",
            )


@dataclass
class TrainConfig:
    """One RL run.

    Attributes:
        algorithm: the trainer (see :data:`AlgorithmName` for each choice and its paper).
        seed: seeds the sample order, every rollout task and the minibatch shuffles.
        name: run name; ``null`` = ``<env>__<algorithm>__seed<seed>__<time>``.
        out_dir: folder that holds run directories.
        iterations: training iterations (rollout + update each).
        batch_size: per iteration, prompts (GRPO and RLOO: each gets ``group_size``
            answers on a single-turn env, ``group_size`` whole episodes on a multi-step
            env such as the glance-and-zoom env) or episodes (PPO).
        update_epochs: passes over each iteration's batch.
        num_minibatches: minibatches per pass (rows shuffled each pass).
        micro_batch_size: rows per forward/backward pass inside a minibatch, gradients
            accumulated over them before the optimizer step (the losses are normalised by
            the whole minibatch, so the gradient is the minibatch's whatever this is);
            ``null`` = the whole minibatch in one pass. Lower it when the policy's
            activations do not fit in memory.
        learning_rate: Adam step size; ``null`` = the policy class's
            ``default_learning_rate`` (1e-6 for VLMs), else 1e-4. The resolved value is
            saved in the run's ``config.yaml``.
        adam_eps: Adam's epsilon (CleanRL uses 1e-5).
        max_grad_norm: global gradient-norm clip.
        anneal_lr: decay the learning rate linearly, from ``learning_rate`` at iteration 1
            to 0 after iteration ``lr_anneal_iterations``.
        lr_anneal_iterations: the horizon of ``anneal_lr``; ``null`` = ``iterations`` when
            the run is created (saved resolved, so resuming with more ``iterations`` keeps
            the schedule). ``iterations`` may not exceed it.
        mixed_precision: forward-pass precision of the learner (see
            :data:`MixedPrecision`); its parameters are float32 master weights and the
            weights sent to rollout workers are cast back to the dtype the policy was
            loaded in.
        gradient_checkpointing: recompute activations in the backward pass instead of
            keeping them (less memory, about a third more compute): calls the policy's
            ``enable_gradient_checkpointing()``, or ``policy.model.gradient_checkpointing_
            enable(use_reentrant=False)`` for a transformers model.
        checkpoint_every: save a checkpoint every this many iterations (the last
            iteration is always saved).
        keep_last: keep only the newest this many checkpoints (older ones are deleted as
            new ones are written; the newest is never deleted); ``null`` = keep all.
        hf_export: when to write a Hugging Face export of a policy that has
            ``save_pretrained`` (see :data:`HFExport`).
        greedy_every: at iteration 1 and every this many iterations, also play the
            policy's deterministic answer (``act_batch``, what evaluation scores) to the
            iteration's prompts, before the update, and log its reward,
            ``rewards/greedy/{total,t_iou,v_iou}``, next to the sampled answers'
            ``rewards/sampled/...``; 0 = never. It draws on no random generator of the
            run and trains nothing, so it does not change the run's results; it costs one
            forward pass per prompt (GRPO, RLOO and PPO; not ``rllib_ppo``).
        progress_bar: show the run's progress on stderr (iteration, reward, the greedy
            vIoU, ETA; :mod:`stvg.progress`: a bar on a terminal, a line every 30 s
            elsewhere).
        report_to: where the metrics go besides ``metrics.jsonl``: any of
            ``tensorboard``, ``wandb``, ``mlflow`` (:mod:`stvg.training.trackers`; ``[]``:
            none).
        torch_threads: torch intra-op threads of the learner process (``null`` = chosen
            from the free cores, less the rollout workers' CPUs:
            :mod:`stvg.training.threads`).
        env: the env (:class:`~stvg.envs.config.EnvConfig`: its id and keys; default
            ``stvg/Synthetic-v0``).
        policy: the policy.
        grpo, rloo, ppo, rllib: per-algorithm settings (only the chosen one is read).
        rollout: rollout workers.
        ray: Ray connection.
    """

    algorithm: AlgorithmName = "grpo"
    seed: int = set_by("stvg run", 0)
    name: str | None = set_by("stvg run", None)
    out_dir: str = set_by("stvg run", "runs")
    iterations: int = 10
    batch_size: int = 8
    update_epochs: int = 1
    num_minibatches: int = 1
    micro_batch_size: int | None = None
    learning_rate: float | None = None
    adam_eps: float = 1e-5
    max_grad_norm: float = 1.0
    anneal_lr: bool = False
    lr_anneal_iterations: int | None = None
    mixed_precision: MixedPrecision = "auto"
    gradient_checkpointing: bool = False
    checkpoint_every: int = 10
    keep_last: int | None = None
    hf_export: HFExport = "every"
    greedy_every: int = 10
    progress_bar: bool = True
    torch_threads: int | None = None
    report_to: list[Reporter] = field(default_factory=lambda: ["tensorboard"])
    env: EnvConfig = set_by("stvg run", default_factory=lambda: EnvConfig(id=SYNTHETIC_ID))
    policy: PolicySpec = set_by("stvg run", default_factory=PolicySpec)
    grpo: GRPOConfig = field(default_factory=GRPOConfig)
    rloo: RLOOConfig = field(default_factory=RLOOConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    rllib: RLlibConfig = field(default_factory=RLlibConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    ray: RayConfig = field(default_factory=RayConfig)

    def __post_init__(self) -> None:
        self.env = as_env_config(self.env)  # a mapping given in code is validated here
        try:
            check_report_to(self.report_to)
        except ValueError as exc:
            raise InvalidField("report_to", str(exc)) from None
        if self.seed < 0:
            raise InvalidField("seed", f"must be >= 0, got {self.seed}")
        for name in (
            "iterations",
            "batch_size",
            "update_epochs",
            "num_minibatches",
            "checkpoint_every",
        ):
            if getattr(self, name) < 1:
                raise InvalidField(name, f"must be >= 1, got {getattr(self, name)}")
        if self.greedy_every < 0:
            raise InvalidField(
                "greedy_every", f"must be >= 0 (0 = no greedy rewards), got {self.greedy_every}"
            )
        for name in ("torch_threads", "micro_batch_size", "keep_last", "lr_anneal_iterations"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InvalidField(name, f"must be >= 1 or null, got {value}")
        if self.learning_rate is None and self.algorithm == "rllib_ppo":
            self.learning_rate = DEFAULT_LEARNING_RATE  # RLlib's own model, no policy class
        if self.learning_rate is not None:
            _positive("learning_rate", self.learning_rate)
        if self.lr_anneal_iterations is not None:
            if not self.anneal_lr:
                raise InvalidField(
                    "lr_anneal_iterations",
                    f"is set ({self.lr_anneal_iterations}) but anneal_lr is false: set "
                    "anneal_lr: true, or remove lr_anneal_iterations",
                )
            if self.iterations > self.lr_anneal_iterations:
                raise InvalidField(
                    "iterations",
                    f"({self.iterations}) exceeds lr_anneal_iterations "
                    f"({self.lr_anneal_iterations}): the annealed learning rate is 0 after "
                    f"iteration {self.lr_anneal_iterations}. Start a new run with a longer "
                    "schedule, or train at most lr_anneal_iterations iterations",
                )
        _positive("adam_eps", self.adam_eps)
        _positive("max_grad_norm", self.max_grad_norm)
        rows = self.batch_size * self.group_size
        if self.algorithm in ("grpo", "rloo") and self.num_minibatches > rows:
            raise InvalidField(
                "num_minibatches",
                f"({self.num_minibatches}) exceeds the rows of a batch, batch_size x group_size "
                f"= {self.batch_size} x {self.group_size} = {rows}: lower num_minibatches",
            )

    def resolved(self, default_learning_rate: float = DEFAULT_LEARNING_RATE) -> TrainConfig:
        """A copy with the keys that default to something the run decides filled in:
        ``learning_rate`` (``null`` -> ``default_learning_rate``, the policy class's) and
        ``lr_anneal_iterations`` (``null`` -> ``iterations``, with ``anneal_lr``). This is
        what a run saves, so that a resumed run keeps them."""
        changes: dict[str, Any] = {}
        if self.learning_rate is None:
            changes["learning_rate"] = float(default_learning_rate)
        if self.anneal_lr and self.lr_anneal_iterations is None:
            changes["lr_anneal_iterations"] = self.iterations
        return dataclasses.replace(self, **changes) if changes else self

    @property
    def group_size(self) -> int:
        """Answers per prompt of the chosen algorithm (1 for PPO)."""
        if self.algorithm == "grpo":
            return self.grpo.group_size
        if self.algorithm == "rloo":
            return self.rloo.group_size
        return 1

    def run_name(self, timestamp: str) -> str:
        """``name``, or ``<env>__<algorithm>__seed<seed>__<timestamp>`` (env id without its
        ``stvg/`` namespace, ``/`` replaced)."""
        if self.name:
            return self.name
        env = self.env.id.split("/", 1)[-1].replace("/", "-")
        return f"{env}__{self.algorithm}__seed{self.seed}__{timestamp}"


__all__ = [
    "DEFAULT_LEARNING_RATE",
    "AlgorithmName",
    "EnvSpec",
    "GRPOConfig",
    "HFExport",
    "MixedPrecision",
    "PPOConfig",
    "PolicySpec",
    "RLOOConfig",
    "RLlibConfig",
    "RayConfig",
    "RolloutConfig",
    "TrainConfig",
]
