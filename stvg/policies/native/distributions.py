"""The native policy's action distribution, with exact log-probabilities.

An action is ``(s, e, boxes)``:

* ``s`` — the start frame, categorical over the shown (real) frames:
  ``p(s) = softmax(start_logits)`` masked to real frames;
* ``e`` — the end frame given the start, categorical over real frames ``e >= s``:
  ``p(e | s) = softmax(end_logits)`` masked to ``{e : e >= s, frame e real}``, so a sampled
  span is never reversed;
* ``boxes`` — one box ``(cx, cy, w, h)`` (normalised to the frame) for each frame of the
  span, independent Gaussians ``N(box_mean[t], exp(box_log_std)^2)`` per coordinate.

We chose a Gaussian over a categorical grid because it is simple, continuous (no
quantisation of the box) and gives exact log-densities; its learned, state-independent
log-std is the exploration scale RL tunes. ``log p(action) = log p(s) + log p(e | s) +
sum_{t in box frames} log N(box_t)``.

With track candidates (the ``track-id`` answer) the action is ``(k, s, e)`` instead: ``k``
the answered candidate, categorical ``softmax(track_logits)`` over the real candidates,
and no boxes (the tube is the track's): ``log p(action) = log p(k) + log p(s) +
log p(e | s)``. Boxes are sampled unbounded; the env clips them to
``[0, 1]`` (the log-density is of the unclipped sample, as in Stable-Baselines3).
"""

from __future__ import annotations

import math

import torch

from stvg.policies.native.model import NativeOutputs

_NEG = -1e9  # logit of a forbidden category (finite, so masked softmax never yields NaN)


def start_log_probs(out: NativeOutputs) -> torch.Tensor:
    """``log p(s)``: float ``[B, T]``, ``-1e9``-ish on padding frames."""
    return torch.log_softmax(out.start_logits.masked_fill(~out.mask, _NEG), dim=-1)


def end_log_probs(out: NativeOutputs) -> torch.Tensor:
    """``log p(e | s)``: float ``[B, T(s), T(e)]``; forbidden ends (``e < s``, padding) ~ -1e9.

    Rows of padding starts allow every real end (they have probability 0 anyway).
    """
    steps = out.mask.shape[1]
    idx = torch.arange(steps, device=out.mask.device)
    after = idx.view(1, steps) >= idx.view(steps, 1)  # [s, e]: e >= s
    allowed = after.unsqueeze(0) & out.mask.unsqueeze(1)  # [B, s, e]
    allowed = allowed | ((~out.mask).unsqueeze(-1) & out.mask.unsqueeze(1))
    logits = out.end_logits.unsqueeze(1).expand(-1, steps, -1)
    return torch.log_softmax(logits.masked_fill(~allowed, _NEG), dim=-1)


def box_std(out: NativeOutputs) -> torch.Tensor:
    """Standard deviation ``[4]`` of the box Gaussian (normalised units)."""
    return out.box_log_std.exp()


def box_log_density(out: NativeOutputs, boxes_cxcywh: torch.Tensor) -> torch.Tensor:
    """``log N(box_t)`` summed over the 4 coordinates: float ``[B, T]`` (every frame)."""
    log_std = out.box_log_std
    z = (boxes_cxcywh - out.box_mean) / log_std.exp()
    per_coord = -0.5 * z.pow(2) - log_std - 0.5 * math.log(2 * math.pi)
    return per_coord.sum(-1)


def span_box_mask(start: torch.Tensor, end: torch.Tensor, steps: int) -> torch.Tensor:
    """bool ``[B, T]``: frames ``start[b] <= t <= end[b]``."""
    idx = torch.arange(steps, device=start.device).unsqueeze(0)
    return (idx >= start.unsqueeze(1)) & (idx <= end.unsqueeze(1))


def track_log_probs(out: NativeOutputs) -> torch.Tensor:
    """``log p(k)``: float ``[B, K]`` over the real track candidates (``-1e9``-ish on
    unused slots).

    Raises:
        ValueError: the outputs have no track candidates.
    """
    if out.track_logits is None or out.track_valid is None:
        raise ValueError(
            "the native model saw no track candidates: give it observations of an env with "
            "the tracks key (track_ids, track_boxes, track_box_mask)"
        )
    return torch.log_softmax(out.track_logits.masked_fill(~out.track_valid, _NEG), dim=-1)


def sample_tracks(out: NativeOutputs, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw a candidate index ``[B]`` from ``p(k)``."""
    probs = track_log_probs(out).exp()
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def mode_tracks(out: NativeOutputs) -> torch.Tensor:
    """The most likely candidate index ``[B]``."""
    return track_log_probs(out).argmax(-1)


def track_entropy(out: NativeOutputs) -> torch.Tensor:
    """Entropy ``[B]`` of ``p(k)`` (nats)."""
    lp = track_log_probs(out)
    return -(lp.exp() * lp).sum(-1)


def action_log_prob(
    out: NativeOutputs,
    start: torch.Tensor,
    end: torch.Tensor,
    boxes_cxcywh: torch.Tensor,
    box_mask: torch.Tensor,
    track: torch.Tensor | None = None,
) -> torch.Tensor:
    """Exact ``log p(action)``: float ``[B]``.

    Args:
        out: the model outputs for the batch.
        start, end: long ``[B]`` start and end frame indices (``start <= end``).
        boxes_cxcywh: float ``[B, T, 4]`` the boxes (read where ``box_mask``).
        box_mask: bool ``[B, T]`` frames that carry a box (padding is ignored; all false
            for a track-id action).
        track: long ``[B]`` the answered candidate of a track-id action (adds
            ``log p(k)``), or ``None``.
    """
    rows = torch.arange(start.shape[0], device=start.device)
    lp_start = start_log_probs(out)[rows, start]
    lp_end = end_log_probs(out)[rows, start, end]
    boxes = box_log_density(out, boxes_cxcywh) * (box_mask & out.mask)
    total = lp_start + lp_end + boxes.sum(-1)
    if track is not None:
        total = total + track_log_probs(out)[rows, track]
    return total


def sample_actions(
    out: NativeOutputs, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw ``(start [B], end [B], boxes_cxcywh [B, T, 4])`` from the distribution."""
    rows = torch.arange(out.mask.shape[0], device=out.mask.device)
    p_start = start_log_probs(out).exp()
    start = torch.multinomial(p_start, 1, generator=generator).squeeze(-1)
    p_end = end_log_probs(out)[rows, start].exp()
    end = torch.multinomial(p_end, 1, generator=generator).squeeze(-1)
    noise = torch.randn(out.box_mean.shape, generator=generator, device=out.box_mean.device)
    boxes = out.box_mean + noise * box_std(out)
    return start, end, boxes


def mode_actions(out: NativeOutputs) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The most likely span (joint argmax of ``log p(s) + log p(e | s)`` over ``s <= e``)
    and the box means: ``(start [B], end [B], boxes_cxcywh [B, T, 4])``."""
    steps = out.mask.shape[1]
    joint = start_log_probs(out).unsqueeze(-1) + end_log_probs(out)  # [B, s, e]
    idx = torch.arange(steps, device=out.mask.device)
    valid = (idx.view(1, steps) >= idx.view(steps, 1)).unsqueeze(0)
    valid = valid & out.mask.unsqueeze(1) & out.mask.unsqueeze(2)
    best = joint.masked_fill(~valid, -math.inf).flatten(1).argmax(-1)
    return best // steps, best % steps, out.box_mean


def action_entropy(out: NativeOutputs, start: torch.Tensor, box_mask: torch.Tensor) -> torch.Tensor:
    """Entropy ``[B]``: ``H(s) + H(e | s = start) + (boxes in box_mask) * H(box Gaussian)``."""
    rows = torch.arange(start.shape[0], device=start.device)
    lp_start = start_log_probs(out)
    h_start = -(lp_start.exp() * lp_start).sum(-1)
    lp_end = end_log_probs(out)[rows, start]
    h_end = -(lp_end.exp() * lp_end).sum(-1)
    h_box = (out.box_log_std + 0.5 * math.log(2 * math.pi * math.e)).sum()
    return h_start + h_end + (box_mask & out.mask).sum(-1) * h_box


__all__ = [
    "action_entropy",
    "action_log_prob",
    "box_log_density",
    "box_std",
    "end_log_probs",
    "mode_actions",
    "mode_tracks",
    "sample_actions",
    "sample_tracks",
    "span_box_mask",
    "start_log_probs",
    "track_entropy",
    "track_log_probs",
]
