"""Experience: what rollouts return and what learners read, with concatenation and row
selection that keep :class:`~stvg.policies.base.Rollouts` consistent.

Rows are actions taken. For a single-turn env a *group* is the ``G`` answers to one
observation (``rollouts.obs_index`` points each row at its observation); for a multi-step
env every row has its own observation and episodes lie end to end, in step order, and
:attr:`Experience.trajectory` names each row's episode (a group of a multi-step env is
``G`` whole episodes of one sample, consecutive).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from stvg.policies.base import Observation, Rollouts


@dataclass(frozen=True)
class EpisodeRecord:
    """One finished episode.

    Attributes:
        sample_id: the sample it was played on.
        episode_return: sum of its rewards (undiscounted).
        length: number of steps.
        metrics: numeric figures of the final step's ``info``: ``t_iou``, ``v_iou``,
            ``reward/<term>``, ``cost/...`` (missing keys are simply absent).
    """

    sample_id: str
    episode_return: float
    length: int
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class Experience:
    """A batch of experience.

    Attributes:
        observations: the distinct observations that ``rollouts.obs_index`` points into.
        rollouts: one row per action (actions, sampling log-probs, mask, values, extras).
        rewards: float64 ``[N]`` reward of each action.
        terminated: bool ``[N]``, the episode ended by its own rules after this action.
        truncated: bool ``[N]``, a time limit cut the episode after this action.
        next_values: float64 ``[N]``, ``V(s_{t+1})`` where GAE needs it (the next row's
            value inside an episode, the critic's value of the final observation after a
            truncation), 0 elsewhere.
        sample_ids: ``[N]`` sample of each row.
        episodes: one record per finished episode.
        trajectory: int64 ``[N]``, the episode (index into ``episodes``) each row belongs
            to, for experience played episode by episode; ``None`` for single-turn groups
            (each row is its own episode).
    """

    observations: list[Observation]
    rollouts: Rollouts
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    next_values: np.ndarray
    sample_ids: list[str]
    episodes: list[EpisodeRecord] = field(default_factory=list)
    trajectory: np.ndarray | None = None

    def __post_init__(self) -> None:
        rows = len(self.rollouts)
        if self.trajectory is not None:
            self.trajectory = np.asarray(self.trajectory, dtype=np.int64).reshape(-1)
            if len(self.trajectory) != rows:
                raise ValueError(
                    f"Experience.trajectory has {len(self.trajectory)} entries for {rows} rows"
                )
        self.rewards = np.asarray(self.rewards, dtype=np.float64).reshape(-1)
        self.terminated = np.asarray(self.terminated, dtype=bool).reshape(-1)
        self.truncated = np.asarray(self.truncated, dtype=bool).reshape(-1)
        self.next_values = np.asarray(self.next_values, dtype=np.float64).reshape(-1)
        for name in ("rewards", "terminated", "truncated", "next_values", "sample_ids"):
            if len(getattr(self, name)) != rows:
                raise ValueError(
                    f"Experience.{name} has {len(getattr(self, name))} entries for {rows} rows"
                )

    def __len__(self) -> int:
        return len(self.rollouts)

    @property
    def num_groups(self) -> int:
        """Number of distinct observations (groups for single-turn envs)."""
        return len(self.observations)

    def group_rows(self) -> list[np.ndarray]:
        """Row indices of each observation's group, in observation order."""
        obs_index = np.asarray(self.rollouts.obs_index, dtype=np.int64)
        return [np.flatnonzero(obs_index == i) for i in range(len(self.observations))]

    def select(self, rows: Sequence[int] | np.ndarray) -> Experience:
        """The experience of ``rows`` (in the given order), observations re-indexed.

        Episode records are kept whole: they describe everything that was played.
        """
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        observations, rollouts = select_rollouts(self.observations, self.rollouts, rows)
        return Experience(
            observations=observations,
            rollouts=rollouts,
            rewards=self.rewards[rows],
            terminated=self.terminated[rows],
            truncated=self.truncated[rows],
            next_values=self.next_values[rows],
            sample_ids=[self.sample_ids[i] for i in rows],
            episodes=list(self.episodes),
            trajectory=None if self.trajectory is None else self.trajectory[rows],
        )

    @classmethod
    def concat(cls, parts: Sequence[Experience]) -> Experience:
        """One experience of ``parts`` in order (observation indices shifted)."""
        if not parts:
            raise ValueError("Experience.concat needs at least one part")
        observations: list[Observation] = []
        for part in parts:
            observations.extend(part.observations)
        trajectory = None
        if all(p.trajectory is not None for p in parts):
            offsets = np.cumsum([0] + [len(p.episodes) for p in parts[:-1]])
            trajectory = np.concatenate(
                [p.trajectory + off for p, off in zip(parts, offsets, strict=True)]  # type: ignore[operator]
            )
        elif any(p.trajectory is not None for p in parts):
            raise ValueError(
                "Experience.concat: some parts were played episode by episode and some as "
                "single-turn groups; play every part the same way"
            )
        return cls(
            observations=observations,
            rollouts=concat_rollouts(
                [p.rollouts for p in parts], [len(p.observations) for p in parts]
            ),
            rewards=np.concatenate([p.rewards for p in parts]),
            terminated=np.concatenate([p.terminated for p in parts]),
            truncated=np.concatenate([p.truncated for p in parts]),
            next_values=np.concatenate([p.next_values for p in parts]),
            sample_ids=[s for p in parts for s in p.sample_ids],
            episodes=[e for p in parts for e in p.episodes],
            trajectory=trajectory,
        )

    def trajectory_returns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ids, returns, row_of)``: the episodes the rows belong to (increasing), the
        sum of each one's rewards over its rows (undiscounted), and for every row the
        position of its episode in ``ids``.

        Raises:
            ValueError: the experience has no :attr:`trajectory` (single-turn groups).
        """
        if self.trajectory is None:
            raise ValueError("this experience has no trajectories (single-turn groups)")
        ids, row_of = np.unique(self.trajectory, return_inverse=True)
        returns = np.zeros(len(ids), dtype=np.float64)
        np.add.at(returns, row_of, self.rewards)
        return ids, returns, row_of


def group_trajectories(ids: np.ndarray, group_size: int) -> None:
    """Check that trajectory ``ids`` (increasing) come in whole groups: ``group_size``
    consecutive episodes of one sample, ids ``g * group_size ... g * group_size + G - 1``.

    Raises:
        ValueError: they do not (a row selection cut a group).
    """
    ids = np.asarray(ids, dtype=np.int64)
    if len(ids) % group_size or not np.array_equal(
        ids.reshape(-1, group_size) // group_size,
        np.repeat((ids.reshape(-1, group_size) // group_size)[:, :1], group_size, axis=1),
    ):
        raise ValueError(
            f"trajectories {ids.tolist()[:12]} do not form whole groups of group_size="
            f"{group_size}: keep every episode of a group together"
        )


def _is_row_aligned(value: Any, rows: int) -> bool:
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return value.ndim > 0 and int(value.shape[0]) == rows
    return isinstance(value, list) and len(value) == rows


def _take(value: Any, rows: np.ndarray) -> Any:
    if isinstance(value, torch.Tensor):
        return value[torch.as_tensor(rows, dtype=torch.long)]
    if isinstance(value, np.ndarray):
        return value[rows]
    return [value[i] for i in rows]


def select_rollouts(
    observations: Sequence[Observation], rollouts: Rollouts, rows: np.ndarray
) -> tuple[list[Observation], Rollouts]:
    """The rollouts of ``rows`` and the observations they need, ``obs_index`` re-indexed.

    Row-aligned ``extras`` (tensors, arrays or lists with one entry per row) are selected
    too; other extras are copied as they are.

    Returns:
        ``(observations, rollouts)``: observations in order of first use by ``rows``.
    """
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    n = len(rollouts)
    old_index = [rollouts.obs_index[i] for i in rows]
    remap: dict[int, int] = {}
    for i in old_index:
        remap.setdefault(int(i), len(remap))
    index = torch.as_tensor(rows, dtype=torch.long)
    selected = Rollouts(
        actions=[rollouts.actions[i] for i in rows],
        obs_index=[remap[int(i)] for i in old_index],
        log_probs=rollouts.log_probs[index],
        mask=rollouts.mask[index],
        token_ids=None if rollouts.token_ids is None else rollouts.token_ids[index],
        values=None if rollouts.values is None else rollouts.values[index],
        extras={
            k: _take(v, rows) if _is_row_aligned(v, n) else v for k, v in rollouts.extras.items()
        },
    )
    return [observations[i] for i in remap], selected


def _pad_columns(tensor: torch.Tensor, width: int) -> torch.Tensor:
    if tensor.shape[1] == width:
        return tensor
    pad = torch.zeros((tensor.shape[0], width - tensor.shape[1]), dtype=tensor.dtype)
    return torch.cat([tensor, pad], dim=1)


def concat_rollouts(parts: Sequence[Rollouts], num_observations: Sequence[int]) -> Rollouts:
    """Concatenate rollouts whose ``obs_index`` point into consecutive observation lists.

    Args:
        parts: the rollouts, in order.
        num_observations: number of observations of each part (to shift ``obs_index``).

    Returns:
        one :class:`Rollouts`; ``log_probs``, ``mask`` and ``token_ids`` are padded on the
        right to the widest part (``mask`` ``False`` on the padding); row-aligned extras
        are concatenated, other extras taken from the first part that has them.
    """
    if len(parts) != len(num_observations):
        raise ValueError(
            f"concat_rollouts needs one observation count per part, got {len(parts)} parts "
            f"and {len(num_observations)} counts"
        )
    width = max(int(p.log_probs.shape[1]) for p in parts)
    obs_index: list[int] = []
    offset = 0
    for part, count in zip(parts, num_observations, strict=True):
        obs_index.extend(int(i) + offset for i in part.obs_index)
        offset += int(count)
    has_tokens = all(p.token_ids is not None for p in parts)
    has_values = all(p.values is not None for p in parts)
    extras: dict[str, Any] = {}
    for key in dict.fromkeys(k for p in parts for k in p.extras):
        values = [p.extras.get(key) for p in parts]
        if all(_is_row_aligned(v, len(p)) for v, p in zip(values, parts, strict=True)):
            if isinstance(values[0], torch.Tensor):
                extras[key] = torch.cat(values, dim=0)
            elif isinstance(values[0], np.ndarray):
                extras[key] = np.concatenate(values, axis=0)
            else:
                extras[key] = [x for v in values for x in v]
        else:
            extras[key] = next(v for v in values if v is not None)
    return Rollouts(
        actions=[a for p in parts for a in p.actions],
        obs_index=obs_index,
        log_probs=torch.cat([_pad_columns(p.log_probs, width) for p in parts], dim=0),
        mask=torch.cat([_pad_columns(p.mask, width) for p in parts], dim=0),
        token_ids=(
            torch.cat([_pad_columns(p.token_ids, width) for p in parts], dim=0)
            if has_tokens
            else None
        ),
        values=torch.cat([p.values.reshape(-1) for p in parts]) if has_values else None,
        extras=extras,
    )


__all__ = [
    "EpisodeRecord",
    "Experience",
    "concat_rollouts",
    "group_trajectories",
    "select_rollouts",
]
