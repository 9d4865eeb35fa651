"""Visual-reliance controls of an evaluation: what each sample is shown instead of its own
frames, and how much the policy's score drops under them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from stvg.data.errors import DataError, VideoError

#: The per-sample figures a control comparison pairs, and their dataset names.
CONTROL_METRICS: dict[str, str] = {"v_iou": "m_vIoU", "t_iou": "m_tIoU"}


@dataclass
class ControlView:
    """A visual-reliance control applied to each observation (:mod:`stvg.envs.controls`).

    Attributes:
        name: ``shuffled-video`` or ``blank-video``.
        donors: ``donors[i]`` is the sample whose frames sample ``i`` is shown.
    """

    name: str
    donors: np.ndarray

    @classmethod
    def of(cls, control: str | None, seed: int, n_samples: int) -> ControlView | None:
        """The control ``control`` over ``n_samples`` samples (``None``: no control)."""
        if control is None:
            return None
        from stvg.envs.controls import donor_permutation

        if control == "shuffled-video" and n_samples < 2:
            raise DataError(
                "the shuffled-video control needs at least 2 samples (each is shown another "
                f"sample's frames); the split has {n_samples}"
            )
        return cls(control, donor_permutation(n_samples, seed))

    def observe(self, env: Any, obs: dict[str, Any], index: int) -> dict[str, Any]:
        """``obs`` of sample ``index`` with the control's frames."""
        from stvg.envs.controls import controlled_observation

        if self.name == "blank-video":
            return controlled_observation(obs, self.name)
        return controlled_observation(obs, self.name, self._donor_frames(env, index))

    def _donor_frames(self, env: Any, index: int) -> np.ndarray:
        """The frames of ``index``'s donor; an unreadable donor passes the turn to the next
        sample of the cycle (never ``index`` itself)."""
        donor = int(self.donors[index])
        while donor != index:
            try:
                return env.frame_source.frames(env.samples[donor]).frames
            except VideoError:
                donor = int(self.donors[donor])
        raise DataError(
            f"the shuffled-video control found no readable video to show sample "
            f"{env.samples[index].sample_id!r}: every other video of the split is unreadable"
        )


def compare_control(real: Any, controlled: Any) -> dict[str, Any]:
    """How much a policy's score drops under a visual-reliance control.

    The samples scored in both evaluations (:class:`~stvg.evaluation.evaluate.
    PolicyEvaluation` objects) are paired by id; for vIoU and tIoU the result holds the
    real and controlled means over those samples and their paired drop
    (``real - controlled``, fractions in [-1, 1]) with a 95% bootstrap percentile interval
    (:func:`stvg.stats.paired_difference`, 10,000 resamples, seed 0).

    Returns:
        ``{"control", "n", "m_vIoU": {"real", "control", "drop", "drop_lo", "drop_hi"},
        "m_tIoU": {...}}``.

    Raises:
        ValueError: ``controlled`` ran without a control, or the two share no sample.
    """
    from stvg.stats import paired_difference

    if controlled.control is None:
        raise ValueError("the second evaluation ran without a control (control=None)")
    real_by_id = {r["sample_id"]: r for r in real.per_sample}
    pairs = [
        (real_by_id[r["sample_id"]], r)
        for r in controlled.per_sample
        if r["sample_id"] in real_by_id
    ]
    if not pairs:
        raise ValueError("the real and the controlled evaluation share no sample")
    out: dict[str, Any] = {"control": controlled.control, "n": len(pairs)}
    for key, name in CONTROL_METRICS.items():
        a = [float(p[0][key]) for p in pairs]
        b = [float(p[1][key]) for p in pairs]
        drop = paired_difference(a, b)
        out[name] = {
            "real": float(np.mean(a)),
            "control": float(np.mean(b)),
            "drop": drop.mean,
            "drop_lo": drop.lo,
            "drop_hi": drop.hi,
        }
    return out


def format_control(comparison: dict[str, Any], scale: float = 100.0) -> str:
    """One line: ``shuffled-video: m_vIoU 43.10 -> 2.05 (drop 41.05 [38.20, 43.90]), ...``
    (percent)."""
    parts = []
    for name in CONTROL_METRICS.values():
        m = comparison[name]
        parts.append(
            f"{name} {m['real'] * scale:.2f} -> {m['control'] * scale:.2f} (drop "
            f"{m['drop'] * scale:+.2f} [{m['drop_lo'] * scale:+.2f}, {m['drop_hi'] * scale:+.2f}])"
        )
    return f"{comparison['control']} control (n={comparison['n']}): " + ", ".join(parts)


__all__ = ["CONTROL_METRICS", "ControlView", "compare_control", "format_control"]
