"""Policy protocols and the rollout record that trainers consume.

A *policy* maps an observation of the single-turn ``GroundingEnv`` to an action. The
observation is a dict:

================  ===========================  =========================================
key               shape / type                 meaning
================  ===========================  =========================================
``frames``        uint8 ``[max_frames, H, W, 3]``  sampled RGB frames, zero-padded
``frame_mask``    int8 ``[max_frames]``        1 = real frame, 0 = padding
``timestamps``    float32 ``[max_frames]``     time of each frame, seconds (0 on padding)
``query``         ``str``                      the natural-language query
================  ===========================  =========================================

A text policy's action is the answer string (see ``stvg.verifiers.formats``); a structured
policy's action is whatever the env's ``"struct"`` action space holds.

:class:`TrainablePolicy` adds what RL trainers need: sampling ``n`` actions per observation
with their log-probabilities (:class:`Rollouts`), recomputing log-probabilities with
gradients, parameters and a state dict, and the constructor ``config`` saved beside the
weights so a checkpoint reloads by itself.

``torch`` is imported only for type checking here, so importing the protocols stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

Observation = Mapping[str, Any]


@runtime_checkable
class Policy(Protocol):
    """Anything that answers observations: ``act`` one, ``act_batch`` several.

    One signature for every policy (native, baselines, VLM, tracking): ``act(obs, info=None)``
    and ``act_batch(obs_list, infos=None)``, where ``info`` is the dict the env's ``reset``
    returned with ``obs`` (``infos``: one per observation, in order). A policy that needs
    more than the observation (the ``oracle`` baseline reads the ground truth of
    ``info["sample_id"]``; text-mode baselines read ``frame_idx`` and ``original_size``)
    reads it there; the others accept and ignore it, so a caller that has the infos always
    passes them.
    """

    def act(self, obs: Observation, info: Mapping[str, Any] | None = None) -> Any:
        """The action for one observation (a text policy returns the answer string)."""
        ...

    def act_batch(
        self,
        obs_list: Sequence[Observation],
        infos: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> list[Any]:
        """The actions for several observations, in order."""
        ...


@dataclass(frozen=True)
class TextCompletion:
    """One sampled text answer of a token-level policy.

    Attributes:
        text: the decoded answer (special tokens removed).
        token_ids: generated token ids, end-of-sequence token included when produced,
            no padding.
        visual_tokens: visual tokens in the prompt that produced it.
        prompt_tokens: tokens of the whole prompt (text + visual).
        finished: whether generation stopped at an end-of-sequence token (``False``: cut
            by the ``max_new_tokens`` budget, TRL's "clipped" completion; ``None``: unknown).
        error: why there is no text (a served model's failed request: ``HTTP 500 after
            retries: ...``); ``None`` when the policy answered.
        reported_output_tokens: generated tokens as a server reports them (its
            ``completion_tokens``) when the token ids are not known; ``None`` otherwise.
    """

    text: str
    token_ids: tuple[int, ...]
    visual_tokens: int = 0
    prompt_tokens: int = 0
    finished: bool | None = None
    error: str | None = None
    reported_output_tokens: int | None = None

    @property
    def output_tokens(self) -> int:
        """Number of generated tokens (the output-token cost): the server's count when
        reported, else the number of token ids."""
        if self.reported_output_tokens is not None:
            return int(self.reported_output_tokens)
        return len(self.token_ids)

    def __str__(self) -> str:
        return self.text


@runtime_checkable
class TextGenerator(Protocol):
    """A text policy that also returns its completions' token counts (the VLM policy):
    ``generate_batch(obs_list, ctxs, *, do_sample=None)`` gives one :class:`TextCompletion`
    per observation; ``ctxs`` are the episodes' :class:`~stvg.verifiers.formats.FrameContext`
    objects, checked against the prompt; ``do_sample`` is ``True`` (sample), ``False``
    (greedy) or ``None`` (the policy's own setting), so a caller that needs greedy answers
    asks for them without knowing the policy."""

    def generate_batch(
        self,
        obs_list: Sequence[Observation],
        ctxs: Sequence[Any] | None = None,
        *,
        do_sample: bool | None = None,
    ) -> list[TextCompletion]:
        """One completion per observation, in order."""
        ...


@dataclass
class Rollouts:
    """``n`` sampled actions for each of ``B`` observations, with what learners need.

    Rows are observation-major: row ``i * n + j`` is the ``j``-th sample for observation
    ``i`` (``obs_index[row] == i``), which is the grouping GRPO/RLOO use.

    Attributes:
        actions: ``B * n`` actions (for text policies :class:`TextCompletion` objects, whose
            ``str()`` is the answer text).
        obs_index: ``B * n`` index of each row's observation in the batch.
        log_probs: float ``[B * n, L]`` log-probability of each sampled action token under
            the sampling policy, 0 on padding (``L = 1`` for single-token actions).
        mask: bool ``[B * n, L]``, ``True`` where ``log_probs`` holds a real action token.
        token_ids: long ``[B * n, L]`` sampled token ids (pad 0), or ``None`` for
            non-token policies.
        values: float ``[B * n]`` critic values, or ``None`` without a critic.
        extras: anything else a policy records (cost figures, timings, ...).
    """

    actions: list[Any]
    obs_index: list[int]
    log_probs: torch.Tensor
    mask: torch.Tensor
    token_ids: torch.Tensor | None = None
    values: torch.Tensor | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rows = len(self.actions)
        if len(self.obs_index) != rows:
            raise ValueError(
                f"Rollouts needs one obs_index per action, got {len(self.obs_index)} "
                f"indices for {rows} actions"
            )
        for name in ("log_probs", "mask", "token_ids"):
            tensor = getattr(self, name)
            if tensor is not None and int(tensor.shape[0]) != rows:
                raise ValueError(
                    f"Rollouts.{name} has {int(tensor.shape[0])} rows for {rows} actions"
                )
        if tuple(self.log_probs.shape) != tuple(self.mask.shape):
            raise ValueError(
                f"Rollouts.log_probs.shape={tuple(self.log_probs.shape)} must equal "
                f"mask.shape={tuple(self.mask.shape)}"
            )

    def __len__(self) -> int:
        return len(self.actions)

    @property
    def group_size(self) -> int:
        """Samples per observation ``n`` (rows divided by distinct observations)."""
        groups = len(set(self.obs_index))
        return len(self.actions) // groups if groups else 0


@runtime_checkable
class TrainablePolicy(Policy, Protocol):
    """A policy that RL trainers can optimise.

    Attributes:
        config: the constructor configuration (a dataclass), saved with checkpoints so that
            ``type(policy)(**to_dict(config))`` or the registry rebuilds the same policy.
    """

    config: Any

    def sample(self, obs_batch: Sequence[Observation], n: int) -> Rollouts:
        """Sample ``n`` actions per observation with their log-probabilities (no grad)."""
        ...

    def log_prob(self, obs_batch: Sequence[Observation], actions: Rollouts) -> torch.Tensor:
        """Log-probabilities ``[B * n, L]`` of ``actions`` under the current parameters.

        Differentiable; aligned with ``actions.mask`` (0 where the mask is ``False``).
        """
        ...

    def parameters(self) -> Iterator[torch.nn.Parameter]:
        """The trainable parameters."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """The weights (and any other learnt state)."""
        ...

    def load_state_dict(self, state: Mapping[str, Any]) -> Any:
        """Restore weights saved by :meth:`state_dict`."""
        ...


@runtime_checkable
class ActorCriticPolicy(TrainablePolicy, Protocol):
    """A trainable policy with a critic, for PPO-style actor-critic training."""

    def value(self, obs_batch: Sequence[Observation]) -> torch.Tensor:
        """State values ``[B]`` of the observations (differentiable)."""
        ...


# ---------------------------------------------------------------- optional capabilities
# What a policy may offer besides the protocols above. Each is declared by the policy
# having the method or attribute; the trainer checks the ones its algorithm needs once,
# when it is built (:func:`stvg.policies.capabilities.require`), and reads the optional
# ones through these protocols, never by probing attribute names.


@runtime_checkable
class ActionEvaluator(Protocol):
    """A policy that gives values, log-probabilities and entropies of given actions in one
    pass (Stable-Baselines3's ``evaluate_actions``), used instead of ``log_prob`` and
    ``value`` when present."""

    def evaluate_actions(
        self, obs_batch: Sequence[Observation], actions: Rollouts
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(values [B*n], log_probs [B*n, L], entropy [B*n])``."""
        ...


@runtime_checkable
class ValueHead(Protocol):
    """A policy with a critic: ``value(obs_batch)`` gives state values ``[B]``."""

    def value(self, obs_batch: Sequence[Observation]) -> torch.Tensor:
        """State values ``[B]`` (differentiable)."""
        ...


@runtime_checkable
class SeededSampler(Protocol):
    """A policy that samples from its own ``torch.Generator`` (``generator``): rollout
    tasks reseed it, the greedy probe saves and restores it."""

    generator: Any


@runtime_checkable
class Diagnostics(Protocol):
    """A policy with scalars of its own to log (``policy/...``, e.g. the native policy's
    box spread)."""

    def diagnostics(self) -> Mapping[str, float]:
        """``{name: value}`` to log."""
        ...


@runtime_checkable
class Checkpointable(Protocol):
    """A policy that writes a self-contained checkpoint file (``policy.pt``) with
    ``save(path)``."""

    def save(self, path: Any, extra: Mapping[str, Any] | None = None) -> Any:
        """Write the checkpoint; returns its path."""
        ...


@runtime_checkable
class HFExportable(Protocol):
    """A policy that exports itself as a Hugging Face folder (``save_pretrained(dir)``):
    the VLM."""

    def save_pretrained(self, out_dir: Any) -> Any:
        """Write the folder."""
        ...


@runtime_checkable
class GradientCheckpointing(Protocol):
    """A policy that turns on activation checkpointing itself."""

    def enable_gradient_checkpointing(self) -> None:
        """Recompute activations in the backward pass."""
        ...


@runtime_checkable
class SampleBound(Protocol):
    """A policy that reads the evaluated samples (the ``oracle`` baseline's ground
    truth): ``bind_samples(samples)`` is called once with the env's samples."""

    def bind_samples(self, samples: Sequence[Any]) -> None:
        """Remember ``samples``."""
        ...


@runtime_checkable
class EnvConfigured(Protocol):
    """A policy class that completes its config from the env's spaces
    (``tracking-mlp`` reads its input size from the observation space)."""

    def config_from_env(
        self, observation_space: Any, action_space: Any, config: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        """The config with what the spaces say filled in."""
        ...


@runtime_checkable
class DeclaresLearningRate(Protocol):
    """A policy class with its own default Adam step size (``default_learning_rate``: the
    VLMs' 1e-6), used when the RL config leaves ``learning_rate`` unset."""

    default_learning_rate: float


@runtime_checkable
class TokenBudget(Protocol):
    """A text policy with a generation budget (``max_new_tokens``, TRL's
    ``max_completion_length``): Dr. GRPO's constant normaliser."""

    max_new_tokens: int


@runtime_checkable
class WrapsModel(Protocol):
    """A policy around one transformers model (``model``), whose own methods (gradient
    checkpointing, ``save_pretrained``) the trainer may call."""

    model: Any


def action_format(policy: Any) -> str:
    """The env ``action_format`` a policy's actions fit: its ``action_format`` attribute
    (``struct`` for the native policy, ``tracking`` for ``tracking-mlp``), else
    ``text``."""
    value = getattr(policy, "action_format", "text")
    return str(value)


def env_action(action: Any) -> Any:
    """What an env's ``step`` takes for a policy's action: a :class:`TextCompletion`'s
    text, any other action (a string, a struct action) as it is."""
    return action.text if isinstance(action, TextCompletion) else action


__all__ = [
    "ActionEvaluator",
    "ActorCriticPolicy",
    "Checkpointable",
    "DeclaresLearningRate",
    "Diagnostics",
    "EnvConfigured",
    "GradientCheckpointing",
    "HFExportable",
    "SampleBound",
    "SeededSampler",
    "ValueHead",
    "action_format",
    "Observation",
    "Policy",
    "Rollouts",
    "TextCompletion",
    "TextGenerator",
    "TrainablePolicy",
    "env_action",
]
