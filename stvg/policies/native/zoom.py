"""The native policy's zoom head: where to look closer in the glance-and-zoom env.

On an observation of :class:`~stvg.envs.zoom.ZoomGroundingEnv` where a zoom is still
possible (``zooms_left > 0`` and ``frames_left > 0``), the native policy first decides the
action's **kind** and, for a zoom, its **window**:

* ``kind`` — Bernoulli ``p(zoom) = sigmoid(kind_logit)`` from the masked mean of the
  temporal features (``decide: learned``), or always a zoom (``decide: always``: the kind
  is not sampled and adds nothing to the log-probability);
* ``window`` — ``bins`` equal bins cover ``[0, L]``, the video length the shown frames
  suggest, ``L = t_last + interval`` (the median spacing; the length behind
  :func:`~stvg.policies.native.features.relative_times`). A start bin ``a`` is categorical
  ``softmax(zoom_start_logits)``; the end bin ``b >= a`` is categorical
  ``softmax(zoom_end_logits)`` masked to ``b >= a`` (as the answer's span, never reversed).
  The window is ``[a * L / bins, (b + 1) * L / bins]`` seconds (the env clips it to the
  video; a start after the last shown frame moves back to it, :func:`zoom_window`), asked
  at the fixed rate ``fps`` (``None`` = the env's grid rate). The action carries its bins
  (``zoom_bins``), from which its log-probability is computed.

The logits of bin ``k`` come from the temporal feature of the shown frame nearest to the
bin's centre ``c_k = (k + 0.5) / bins`` (relative time), joined with ``c_k`` and the
offset ``c_k - rel_t`` to that frame, through a small MLP: the head reads the glance frame
by frame, as the span head does.

``log p(zoom action) = log p(kind = zoom) + log p(a) + log p(b | a)``; an answer where a
zoom was possible adds ``log p(kind = answer)`` to the answer's log-probability. With the
zoom head off (``enabled: false``, the default) the policy has no extra weights and
answers as before (a zoom-env answer carries ``kind = 1``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from stvg.config import InvalidField
from stvg.policies.native.features import video_length_s

_NEG = -1e9  # logit of a forbidden bin (finite: a masked softmax never gives NaN)
_BIN_FEATURES = 2  # per bin, besides the nearest frame's temporal feature: c_k, c_k - rel_t

ZoomDecision = Literal["learned", "always"]
"""Whether the policy zooms: ``learned`` (a Bernoulli kind head, trained by SFT and RL) or
``always`` (a zoom whenever one is possible; the window is still learned)."""


@dataclass
class ZoomHeadConfig:
    """The zoom head of the native policy (``model.zoom`` of its config).

    Attributes:
        enabled: build the head and zoom in the glance-and-zoom env (off: no extra weights,
            answers only).
        bins: window bins over the video length the glance suggests (the window's
            resolution is ``L / bins`` seconds).
        fps: the rate every zoom asks for, frames per second (``None`` = the env's grid
            rate).
        decide: ``learned`` or ``always`` (see :data:`ZoomDecision`).
    """

    enabled: bool = False
    bins: int = 10
    fps: float | None = None
    decide: ZoomDecision = "learned"

    def __post_init__(self) -> None:
        if self.bins < 1:
            raise InvalidField("bins", f"must be >= 1, got {self.bins}")
        if self.fps is not None and not (math.isfinite(self.fps) and self.fps > 0):
            raise InvalidField("fps", f"must be a positive rate or null, got {self.fps}")


class ZoomHead(nn.Module):
    """Kind and window logits from the temporal features (see the module docstring).

    Args:
        hidden: size of the temporal features.
        bins: window bins.
    """

    def __init__(self, hidden: int, bins: int) -> None:
        super().__init__()
        self.bins = bins
        self.bin_mlp = nn.Sequential(
            nn.Linear(hidden + _BIN_FEATURES, hidden), nn.ReLU(), nn.Linear(hidden, 2)
        )
        self.kind = nn.Linear(hidden, 1)

    def forward(
        self,
        temporal: torch.Tensor,
        pooled: torch.Tensor,
        rel_time: torch.Tensor,
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(start_logits [B, bins], end_logits [B, bins], kind_logit [B])``.

        Args:
            temporal: float ``[B, T, H]`` per-frame temporal features.
            pooled: float ``[B, H]`` their masked mean.
            rel_time: float ``[B, T]`` relative times of the frames.
            mask: bool ``[B, T]`` real frames.
        """
        centres = (torch.arange(self.bins, dtype=rel_time.dtype, device=rel_time.device) + 0.5) / (
            self.bins
        )
        gap = centres.view(1, -1, 1) - rel_time.unsqueeze(1)  # [B, K, T]
        far = gap.abs().masked_fill(~mask.unsqueeze(1), math.inf)
        nearest = far.argmin(-1)  # [B, K]
        feats = torch.gather(
            temporal, 1, nearest.unsqueeze(-1).expand(-1, -1, temporal.shape[-1])
        )  # [B, K, H]
        offset = torch.gather(gap, 2, nearest.unsqueeze(-1))  # [B, K, 1]
        centre = centres.view(1, -1, 1).expand(offset.shape)
        logits = self.bin_mlp(torch.cat([feats, centre, offset], dim=-1))  # [B, K, 2]
        return logits[..., 0], logits[..., 1], self.kind(pooled).squeeze(-1)


# ----------------------------------------------------------------------- distributions
def window_start_log_probs(start_logits: torch.Tensor) -> torch.Tensor:
    """``log p(a)``: float ``[B, K]``."""
    return torch.log_softmax(start_logits, dim=-1)


def window_end_log_probs(end_logits: torch.Tensor) -> torch.Tensor:
    """``log p(b | a)``: float ``[B, K(a), K(b)]``, ``b < a`` forbidden (~ -1e9)."""
    bins = end_logits.shape[-1]
    idx = torch.arange(bins, device=end_logits.device)
    allowed = idx.view(1, bins) >= idx.view(bins, 1)  # [a, b]
    logits = end_logits.unsqueeze(1).expand(-1, bins, -1)
    return torch.log_softmax(logits.masked_fill(~allowed.unsqueeze(0), _NEG), dim=-1)


def window_log_prob(
    start_logits: torch.Tensor, end_logits: torch.Tensor, a: torch.Tensor, b: torch.Tensor
) -> torch.Tensor:
    """``log p(a) + log p(b | a)``: float ``[B]``."""
    rows = torch.arange(a.shape[0], device=a.device)
    return (
        window_start_log_probs(start_logits)[rows, a] + window_end_log_probs(end_logits)[rows, a, b]
    )


def window_entropy(
    start_logits: torch.Tensor, end_logits: torch.Tensor, a: torch.Tensor
) -> torch.Tensor:
    """``H(a) + H(b | a)`` at the taken start bin: float ``[B]`` (nats)."""
    rows = torch.arange(a.shape[0], device=a.device)
    lp_a = window_start_log_probs(start_logits)
    lp_b = window_end_log_probs(end_logits)[rows, a]
    return -(lp_a.exp() * lp_a).sum(-1) - (lp_b.exp() * lp_b).sum(-1)


def sample_window(
    start_logits: torch.Tensor, end_logits: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``(a [B], b [B])``."""
    rows = torch.arange(start_logits.shape[0], device=start_logits.device)
    a = torch.multinomial(window_start_log_probs(start_logits).exp(), 1, generator=generator)
    a = a.squeeze(-1)
    p_b = window_end_log_probs(end_logits)[rows, a].exp()
    b = torch.multinomial(p_b, 1, generator=generator).squeeze(-1)
    return a, b


def mode_window(start_logits: torch.Tensor, end_logits: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The most likely window (joint argmax over ``a <= b``): ``(a [B], b [B])``."""
    bins = start_logits.shape[-1]
    joint = window_start_log_probs(start_logits).unsqueeze(-1) + window_end_log_probs(end_logits)
    best = joint.flatten(1).argmax(-1)
    return best // bins, best % bins


def kind_log_probs(kind_logit: torch.Tensor) -> torch.Tensor:
    """``(log p(zoom), log p(answer))``: float ``[B, 2]`` (column 0 = zoom, the env's
    ``kind`` 0)."""
    return torch.stack(
        [nn.functional.logsigmoid(kind_logit), nn.functional.logsigmoid(-kind_logit)], -1
    )


# ----------------------------------------------------------------------- seconds <-> bins
def window_seconds(a: int, b: int, length_s: float, bins: int) -> tuple[float, float]:
    """The window of bins ``a..b`` in seconds.

    >>> window_seconds(2, 4, 12.0, 10)
    (2.4, 6.0)
    """
    step = length_s / bins
    return round(a * step, 6), round((b + 1) * step, 6)


def zoom_window(a: int, b: int, timestamps_s: np.ndarray, bins: int) -> tuple[float, float]:
    """The window a zoom on bins ``a..b`` asks for, seconds: :func:`window_seconds` over
    the length the shown frames suggest, its start moved back to the last shown frame when
    it lies after it (the video may end before the estimated length, and a window past
    the end would be an invalid zoom).

    >>> zoom_window(9, 9, np.array([0.0, 4.0, 8.0]), 10)
    (8.0, 12.0)
    """
    times = np.asarray(timestamps_s, dtype=np.float64)
    start, end = window_seconds(a, b, video_length_s(times), bins)
    return min(start, float(times[-1])), end


def window_bins(start_s: float, end_s: float, length_s: float, bins: int) -> tuple[int, int]:
    """The bins ``(a, b)`` whose window best covers ``[start_s, end_s]`` (the inverse of
    :func:`window_seconds` on its windows): ``a = floor(start / step)``, ``b =
    ceil(end / step) - 1``, clipped to ``0..bins-1`` with ``a <= b``.

    >>> window_bins(2.4, 6.0, 12.0, 10)
    (2, 4)
    >>> window_bins(-1.0, 30.0, 12.0, 10)
    (0, 9)
    """
    step = length_s / bins
    a = int(np.floor(start_s / step + 1e-6))
    b = int(np.ceil(end_s / step - 1e-6)) - 1
    a = min(max(a, 0), bins - 1)
    b = min(max(b, a), bins - 1)
    return a, b


__all__ = [
    "ZoomDecision",
    "ZoomHead",
    "ZoomHeadConfig",
    "kind_log_probs",
    "mode_window",
    "sample_window",
    "window_bins",
    "window_end_log_probs",
    "window_entropy",
    "window_log_prob",
    "window_seconds",
    "window_start_log_probs",
    "zoom_window",
]
