"""``tracking-mlp``: a small actor-critic for the flat tracking env, trained by PPO.

It reads the flat float vector of :class:`~stvg.envs.wrappers.FlatTrackingObservation`
(``stvg/SyntheticTrackingFlat-v0``) and answers ``TrackingEnv``'s action: ``present``
(categorical over {0, 1}) and ``box`` (xyxy normalised, a diagonal Gaussian around a
sigmoid mean with a learned state-independent log-std; the env clips it to ``[0, 1]``). The
box is drawn only when ``present = 1``, so::

    log pi(a | s) = log p(present) + present * sum_k log N(box_k; mu_k, sigma_k)
    H(pi(. | s))  = H(p) + p(present = 1) * sum_k (log sigma_k + 0.5 * log(2 pi e))

It exists to exercise PPO with GAE on ``TrackingEnv`` and is registered like the other
policies (``stvg.policies.make("tracking-mlp", obs_dim=...)``); it reads observations as
plain arrays and imports nothing of the envs or the trainers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from stvg.config import InvalidField, from_dict, to_dict
from stvg.policies.base import Observation, Rollouts

_LOG_2PI_E = math.log(2 * math.pi * math.e)


@dataclass
class TrackingMLPConfig:
    """Constructor config of :class:`TrackingMLPPolicy`.

    Attributes:
        obs_dim: length of the flat observation; 0 = read from the env by the trainer
            (:meth:`TrackingMLPPolicy.config_from_env`).
        hidden: hidden layer sizes of the shared tanh MLP.
        init_log_std: initial log-std of the box Gaussian (normalised units).
        deterministic: ``act`` returns the mode (else a sample).
        seed: seeds the weights and the sampling generator.
    """

    obs_dim: int = 0
    hidden: list[int] = field(default_factory=lambda: [64, 64])
    init_log_std: float = -1.5
    deterministic: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.obs_dim < 0:
            raise InvalidField("obs_dim", f"must be >= 0 (0 = from the env), got {self.obs_dim}")
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise InvalidField("hidden", f"must be positive layer sizes, got {self.hidden}")


class TrackingMLPPolicy:
    """MLP actor-critic over flat tracking observations (see the module docstring).

    Args:
        **config: fields of :class:`TrackingMLPConfig` (``obs_dim`` must be set).
    """

    config_class = TrackingMLPConfig
    action_format = "tracking"

    def __init__(self, **config: Any) -> None:
        cfg = from_dict(TrackingMLPConfig, config, path="policy")
        if cfg.obs_dim < 1:
            raise ValueError(
                "TrackingMLPPolicy needs obs_dim >= 1: set policy.config.obs_dim or let the "
                "trainer read it from the env (stvg/SyntheticTrackingFlat-v0)"
            )
        self.config = cfg
        init = torch.Generator().manual_seed(int(cfg.seed))
        layers: list[nn.Module] = []
        width = cfg.obs_dim
        for size in cfg.hidden:
            layers += [nn.Linear(width, size), nn.Tanh()]
            width = size
        self.net = nn.ModuleDict(
            {
                "torso": nn.Sequential(*layers),
                "present": nn.Linear(width, 2),
                "box": nn.Linear(width, 4),
                "value": nn.Linear(width, 1),
            }
        )
        with torch.no_grad():
            for param in self.net.parameters():
                if param.dim() > 1:
                    param.copy_(
                        torch.randn(param.shape, generator=init) / math.sqrt(param.shape[1])
                    )
                else:
                    param.zero_()
        self.log_std = nn.Parameter(torch.full((4,), float(cfg.init_log_std)))
        self.generator = torch.Generator().manual_seed(int(cfg.seed))

    @classmethod
    def from_config(cls, config: TrackingMLPConfig) -> TrackingMLPPolicy:
        """Build from a validated config."""
        return cls(**to_dict(config))

    @classmethod
    def config_from_env(
        cls, observation_space: spaces.Space, action_space: spaces.Space, config: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``config`` with ``obs_dim`` read from a flat ``Box`` observation space."""
        if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 1:
            raise ValueError(
                f"tracking-mlp needs a flat Box observation, got {observation_space}: use "
                "stvg/SyntheticTrackingFlat-v0 or wrap the env in FlatTrackingObservation"
            )
        out = dict(config)
        if not out.get("obs_dim"):
            out["obs_dim"] = int(observation_space.shape[0])
        return out

    # ------------------------------------------------------------------ torch plumbing
    def parameters(self) -> Iterator[nn.Parameter]:
        """The trainable parameters."""
        yield from self.net.parameters()
        yield self.log_std

    def state_dict(self) -> dict[str, Any]:
        """The weights."""
        return {**self.net.state_dict(), "log_std": self.log_std.detach().clone()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        state = dict(state)
        with torch.no_grad():
            self.log_std.copy_(state.pop("log_std"))
        self.net.load_state_dict(state)

    def train(self, mode: bool = True) -> TrackingMLPPolicy:
        """Training mode (no effect on this network; kept for the trainer's protocol)."""
        self.net.train(mode)
        return self

    def eval(self) -> TrackingMLPPolicy:
        """Evaluation mode."""
        return self.train(False)

    # ------------------------------------------------------------------ model
    def _heads(
        self, obs_batch: Sequence[Observation]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = torch.as_tensor(np.stack([np.asarray(o, dtype=np.float32) for o in obs_batch]))
        h = self.net["torso"](x)
        return (
            self.net["present"](h),
            torch.sigmoid(self.net["box"](h)),
            self.net["value"](h).squeeze(-1),
        )

    def _log_prob_entropy(
        self, logits: torch.Tensor, box_mean: torch.Tensor, present: torch.Tensor, box: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        log_p = torch.log_softmax(logits, dim=-1)
        lp_present = log_p.gather(1, present.view(-1, 1)).squeeze(1)
        z = (box - box_mean) / self.log_std.exp()
        lp_box = (-0.5 * z.pow(2) - self.log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        h_box = (self.log_std + 0.5 * _LOG_2PI_E).sum()
        entropy = -(log_p.exp() * log_p).sum(-1) + log_p[:, 1].exp() * h_box
        return lp_present + present.to(lp_box.dtype) * lp_box, entropy

    # ------------------------------------------------------------------ acting
    def act(self, obs: Observation, info: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The action for one observation (``info`` is not needed)."""
        return self.act_batch([obs])[0]

    def act_batch(
        self,
        obs_list: Sequence[Observation],
        infos: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> list[dict[str, Any]]:
        """Actions for several observations (the mode when ``deterministic``; ``infos``
        are not needed)."""
        if self.config.deterministic:
            with torch.no_grad():
                logits, box_mean, _ = self._heads(obs_list)
            present = logits.argmax(-1)
            return [_action(int(p), b) for p, b in zip(present, box_mean, strict=True)]
        return list(self.sample(obs_list, 1).actions)

    def sample(self, obs_batch: Sequence[Observation], n: int) -> Rollouts:
        """``n`` sampled actions per observation (rows observation-major), their
        log-probabilities ``[R, 1]`` and the critic's values ``[R]``."""
        with torch.no_grad():
            logits, box_mean, value = self._heads(obs_batch)
            index = torch.arange(len(obs_batch)).repeat_interleave(n)
            logits, box_mean, value = logits[index], box_mean[index], value[index]
            present = torch.multinomial(
                torch.softmax(logits, -1), 1, generator=self.generator
            ).squeeze(1)
            noise = torch.randn(box_mean.shape, generator=self.generator)
            box = box_mean + noise * self.log_std.exp()
            log_prob, _ = self._log_prob_entropy(logits, box_mean, present, box)
        return Rollouts(
            actions=[_action(int(p), b) for p, b in zip(present, box, strict=True)],
            obs_index=index.tolist(),
            log_probs=log_prob.unsqueeze(-1),
            mask=torch.ones(len(index), 1, dtype=torch.bool),
            values=value,
        )

    def evaluate_actions(
        self, obs_batch: Sequence[Observation], actions: Rollouts
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(values [R], log_prob [R], entropy [R])`` of ``actions`` (differentiable)."""
        logits, box_mean, value = self._heads(obs_batch)
        index = torch.as_tensor(actions.obs_index, dtype=torch.long)
        present = torch.as_tensor([int(a["present"]) for a in actions.actions], dtype=torch.long)
        box = torch.as_tensor(
            np.stack([np.asarray(a["box"], dtype=np.float32) for a in actions.actions])
        )
        log_prob, entropy = self._log_prob_entropy(logits[index], box_mean[index], present, box)
        return value[index], log_prob, entropy

    def log_prob(self, obs_batch: Sequence[Observation], actions: Rollouts) -> torch.Tensor:
        """Log-probabilities ``[R, 1]`` of ``actions`` (differentiable)."""
        return self.evaluate_actions(obs_batch, actions)[1].unsqueeze(-1)

    def value(self, obs_batch: Sequence[Observation]) -> torch.Tensor:
        """Critic values ``[B]`` (differentiable)."""
        return self._heads(obs_batch)[2]


def _action(present: int, box: torch.Tensor) -> dict[str, Any]:
    return {"present": int(present), "box": box.detach().numpy().astype(np.float32)}


__all__ = ["TrackingMLPConfig", "TrackingMLPPolicy"]
