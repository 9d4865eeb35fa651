"""Per-iteration summaries of an RL run, under the run's metric names.

Played episodes (:func:`episode_summary`):

====================================  =======================================================
name                                  meaning
====================================  =======================================================
``charts/episodic_return``            mean undiscounted return of the episodes played
``charts/episodic_length``            mean steps per episode
``charts/episodes``                   episodes played this iteration
``rewards/sampled/total``             mean verifier total (``info["reward"]``) of the sampled
                                      answers, at episode end
``rewards/sampled/t_iou``, ``.../v_iou``  mean temporal and video IoU of the sampled answers
``rewards/<term>/mean``               mean of each (unweighted) reward term
                                      (``info["reward/<term>"]``)
``charts/parse_ok``                   share of answers that parsed (text policies)
``cost/<figure>``                     mean cost figure per episode (frames, visual tokens)
``completions/mean_length``           mean generated tokens per answer (text policies)
``completions/clipped_ratio``         share of answers cut by the ``max_new_tokens`` budget
====================================  =======================================================

Groups of answers to one prompt (:func:`group_summary`, group algorithms only):

====================================  =======================================================
``charts/reward_std``                 mean over groups of the rewards' (unbiased) std
``charts/zero_variance_groups``       share of groups whose rewards are all equal (their
                                      advantages are 0: they teach nothing)
====================================  =======================================================

The deterministic answers to the same prompts (:func:`greedy_summary`, every
``greedy_every`` iterations): ``rewards/greedy/total``, ``rewards/greedy/t_iou``,
``rewards/greedy/v_iou``. The gap between ``rewards/greedy/...`` and
``rewards/sampled/...`` is what exploration costs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

from stvg.training.batch import EpisodeRecord

#: ``info`` keys logged under ``rewards/sampled/`` (and ``rewards/greedy/``).
REWARD_KEYS = {"reward": "total", "t_iou": "t_iou", "v_iou": "v_iou"}
#: Rewards closer than this are "all equal" (:func:`group_summary`).
EQUAL_REWARDS_TOL = 1e-12


def metric_name(info_key: str) -> str:
    """The logged name of an episode ``info`` figure.

    >>> metric_name("reward/t_iou"), metric_name("v_iou"), metric_name("reward")
    ('rewards/t_iou/mean', 'rewards/sampled/v_iou', 'rewards/sampled/total')
    >>> metric_name("parse_ok")
    'charts/parse_ok'
    """
    if info_key in REWARD_KEYS:
        return f"rewards/sampled/{REWARD_KEYS[info_key]}"
    if info_key.startswith("reward/"):
        return f"rewards/{info_key[len('reward/') :]}/mean"
    if info_key.startswith(("cost/", "completions/")):
        return info_key
    return f"charts/{info_key}"


def episode_summary(episodes: Sequence[EpisodeRecord]) -> dict[str, float]:
    """Means over ``episodes`` under the names of the module table (empty input: only
    ``charts/episodes`` = 0)."""
    if not episodes:
        return {"charts/episodes": 0.0}
    out = {
        "charts/episodic_return": float(np.mean([e.episode_return for e in episodes])),
        "charts/episodic_length": float(np.mean([e.length for e in episodes])),
        "charts/episodes": float(len(episodes)),
    }
    values: dict[str, list[float]] = defaultdict(list)
    for episode in episodes:
        for key, value in episode.metrics.items():
            values[metric_name(key)].append(value)
    out.update({k: float(np.mean(v)) for k, v in sorted(values.items())})
    return out


def group_summary(rewards: Sequence[float] | np.ndarray, group_size: int) -> dict[str, float]:
    """``charts/reward_std`` and ``charts/zero_variance_groups`` of rewards laid out in
    contiguous groups (answer ``j`` to prompt ``i`` at ``i * group_size + j``).

    Args:
        rewards: ``[B * G]`` rewards.
        group_size: ``G >= 2``.

    Raises:
        ValueError: ``group_size < 2``, or the rewards are not a whole number of groups.

    >>> group_summary([1, 1, 1, 1, 0, 1, 0, 1], 4)["charts/zero_variance_groups"]
    0.5
    """
    values = np.asarray(rewards, dtype=np.float64).reshape(-1)
    if group_size < 2:
        raise ValueError(f"group_summary needs group_size >= 2, got {group_size}")
    if values.size % group_size:
        raise ValueError(f"{values.size} rewards are not a whole number of groups of {group_size}")
    if values.size == 0:
        return {"charts/reward_std": 0.0, "charts/zero_variance_groups": 0.0}
    grouped = values.reshape(-1, group_size)
    equal = grouped.max(axis=1) - grouped.min(axis=1) <= EQUAL_REWARDS_TOL
    return {
        "charts/reward_std": float(grouped.std(axis=1, ddof=1).mean()),
        "charts/zero_variance_groups": float(equal.mean()),
    }


def greedy_summary(infos: Sequence[Mapping[str, object]]) -> dict[str, float]:
    """``rewards/greedy/{total,t_iou,v_iou}``: means over the final ``info`` of each
    deterministic answer (keys missing from every info are left out).

    >>> greedy_summary([{"reward": 1.0, "t_iou": 0.5}, {"reward": 0.0, "t_iou": 0.25}])
    {'rewards/greedy/total': 0.5, 'rewards/greedy/t_iou': 0.375}
    """
    out: dict[str, float] = {}
    for key, name in REWARD_KEYS.items():
        values = [float(info[key]) for info in infos if key in info]  # type: ignore[arg-type]
        if values:
            out[f"rewards/greedy/{name}"] = float(np.mean(values))
    return out


__all__ = [
    "EQUAL_REWARDS_TOL",
    "REWARD_KEYS",
    "episode_summary",
    "greedy_summary",
    "group_summary",
    "metric_name",
]
