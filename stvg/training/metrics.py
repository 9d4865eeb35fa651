"""Per-iteration summaries of played episodes, under the run's metric names.

=================================  ==========================================================
name                               meaning
=================================  ==========================================================
``charts/episodic_return``         mean undiscounted return of the episodes played
``charts/episodic_length``         mean steps per episode
``charts/episodes``                episodes played this iteration
``rewards/total/mean``             mean verifier total (``info["reward"]``) at episode end
``rewards/<term>/mean``            mean of each reward term (``info["reward/<term>"]``)
``charts/t_iou``, ``charts/v_iou``  mean temporal and video IoU of the final answers
``charts/parse_ok``                share of answers that parsed (text policies)
``cost/<figure>``                  mean cost figure per episode (frames, visual tokens)
``completions/mean_length``        mean generated tokens per answer (text policies)
``completions/clipped_ratio``      share of answers cut by the ``max_new_tokens`` budget
``data/bad_videos``                samples whose video could not be decoded, replaced by
                                   another (env ``on_bad_video: skip``): a sum, not a mean
=================================  ==========================================================
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from stvg.training.batch import EpisodeRecord


def metric_name(info_key: str) -> str:
    """The logged name of an episode ``info`` figure.

    >>> metric_name("reward/t_iou"), metric_name("v_iou"), metric_name("reward")
    ('rewards/t_iou/mean', 'charts/v_iou', 'rewards/total/mean')
    """
    if info_key == "reward":
        return "rewards/total/mean"
    if info_key.startswith("reward/"):
        return f"rewards/{info_key[len('reward/') :]}/mean"
    if info_key.startswith(("cost/", "completions/", "data/")):
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
    # data/ figures are counts of the iteration (summed); the others are means
    out.update(
        {
            k: float(np.sum(v) if k.startswith("data/") else np.mean(v))
            for k, v in sorted(values.items())
        }
    )
    return out


__all__ = ["episode_summary", "metric_name"]
