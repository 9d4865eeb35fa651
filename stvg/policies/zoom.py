"""Scripted zoom decisions around an answering policy: the baselines of the glance-and-zoom
env (:class:`~stvg.envs.zoom.ZoomGroundingEnv`).

``ZoomController`` decides *where to look* by a fixed rule and lets another registered
policy (the *answerer*: ``native``, ``prior``, ``oracle``, ...) answer on the frames shown
so far. It is the bound and the controls of a learned zoom decision:

* ``none`` — answer on the glance alone (no zoom);
* ``oracle`` — one zoom on the ground-truth span padded by ``margin_s`` seconds on each
  side (the upper bound of the mechanism: the best window a zoom could choose);
* ``random`` — one zoom on a window of the oracle's width placed uniformly at random in the
  video (seeded per sample: the same window whatever the batch order) — the control that
  shows whether *where* the zoom looks matters, at the oracle's frame cost;
* ``center`` — one zoom on a window of the oracle's width centred in the video.

Every rule zooms at ``zoom_fps`` (``None`` = the env's grid rate) and answers at the next
turn. The controller's actions are the zoom env's: ``struct`` (``kind``, ``window``,
``zoom_fps`` / the answerer's ``span``, ``boxes``, ``box_mask``) when the answerer gives
struct answers, else text (``<zoom>...</zoom>`` / the answerer's answer text).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from stvg.config import InvalidField, from_dict, to_dict
from stvg.data.types import Sample
from stvg.policies.base import Observation
from stvg.policies.spec import PolicySpec
from stvg.verifiers.formats.zoom_calls import ZoomCall, render_zoom_call

ZoomRule = Literal["none", "oracle", "random", "center"]
#: The rules that need the ground truth (their window's width comes from the GT span).
GROUND_TRUTH_RULES = ("oracle", "random", "center")


@dataclass
class ZoomControllerConfig:
    """Config of :class:`ZoomController`.

    Attributes:
        rule: ``none``, ``oracle``, ``random`` or ``center`` (see the module docstring).
        answerer: the registered policy that answers (``{name: native, config:
            {checkpoint: PATH}}``); its action format is the controller's.
        zoom_fps: the rate each zoom asks for (``None`` = the env's grid rate).
        margin_s: seconds added on each side of the ground-truth span (``oracle``; the
            width of the ``random`` and ``center`` windows).
        seed: seed of the ``random`` windows (one generator per sample id and seed).
    """

    rule: ZoomRule = "oracle"
    answerer: PolicySpec = field(default_factory=lambda: PolicySpec("prior"))
    zoom_fps: float | None = None
    margin_s: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.zoom_fps is not None and not self.zoom_fps > 0:
            raise InvalidField("zoom_fps", f"must be a positive rate or null, got {self.zoom_fps}")
        if not self.margin_s >= 0:
            raise InvalidField("margin_s", f"must be >= 0 seconds, got {self.margin_s}")
        if self.answerer.name == "zoom":
            raise InvalidField("answerer.name", "a zoom controller cannot answer for another")


class ZoomController:
    """Zoom by a fixed rule, then let the answerer answer (see the module docstring).

    Args:
        samples: the ground truth of the rules that need it (else :meth:`bind_samples`,
            which the evaluation calls with the env's samples).
        answerer_policy: a policy object to answer with (see :meth:`around`); ``None``
            builds ``config["answerer"]``.
        **config: fields of :class:`ZoomControllerConfig` (``answerer`` as a mapping or a
            :class:`~stvg.policies.spec.PolicySpec`).
    """

    config_class = ZoomControllerConfig

    def __init__(
        self,
        samples: Sequence[Sample] | None = None,
        *,
        answerer_policy: Any = None,
        **config: Any,
    ) -> None:
        from stvg.policies.registry import make

        self.config = from_dict(ZoomControllerConfig, config, path="policy.config")
        if answerer_policy is not None:
            self.answerer = answerer_policy
        else:
            self.answerer = make(self.config.answerer.name, **self.config.answerer.config)
        self.samples: dict[str, Sample] = {}
        if samples is not None:
            self.bind_samples(samples)

    @classmethod
    def around(cls, answerer: Any, **config: Any) -> ZoomController:
        """A controller whose answerer is the policy object ``answerer`` (a trained policy
        already in memory) instead of one built from ``config["answerer"]``; the other
        keys are :class:`ZoomControllerConfig`'s."""
        return cls(answerer_policy=answerer, **config)

    @classmethod
    def from_config(cls, config: ZoomControllerConfig) -> ZoomController:
        """Build from a validated config."""
        return cls(**to_dict(config))

    @property
    def action_format(self) -> str:
        """The answerer's action format (``struct`` or ``text``)."""
        return str(getattr(self.answerer, "action_format", "struct"))

    def bind_samples(self, samples: Sequence[Sample]) -> None:
        """Use ``samples`` as the ground truth (and hand them to the answerer if it reads
        them too)."""
        self.samples = {s.sample_id: s for s in samples}
        bind = getattr(self.answerer, "bind_samples", None)
        if callable(bind):
            bind(samples)

    def act(self, obs: Observation, info: Mapping[str, Any] | None = None) -> Any:
        """The action for one observation of the zoom env."""
        return self.act_batch([obs], [info])[0]

    def act_batch(
        self,
        obs_list: Sequence[Observation],
        infos: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> list[Any]:
        """Zoom where the rule says on turn 0, else the answerer's answers (in one call)."""
        infos = list(infos) if infos is not None else [None] * len(obs_list)
        out: list[Any] = [None] * len(obs_list)
        answer_rows = []
        for row, (obs, info) in enumerate(zip(obs_list, infos, strict=True)):
            call = self.zoom_call(obs, info)
            if call is None:
                answer_rows.append(row)
            else:
                out[row] = self._zoom_action(call)
        if answer_rows:
            # an answerer that can zoom itself (the native policy's zoom head) answers
            answer = getattr(self.answerer, "answer_batch", None) or self.answerer.act_batch
            answers = answer([obs_list[r] for r in answer_rows], [infos[r] for r in answer_rows])
            for row, answer in zip(answer_rows, answers, strict=True):
                out[row] = {"kind": 1, **answer} if isinstance(answer, Mapping) else answer
        return out

    def zoom_call(self, obs: Observation, info: Mapping[str, Any] | None) -> ZoomCall | None:
        """The zoom of the rule at turn 0 (``None``: answer now)."""
        cfg = self.config
        turn = int(np.asarray(obs.get("turn", [0])).reshape(-1)[0])
        if cfg.rule == "none" or turn > 0:
            return None
        sample = self._sample(info)
        first, last = sample.gt_span
        start = first / sample.native_fps - cfg.margin_s
        end = last / sample.native_fps + cfg.margin_s
        if cfg.rule == "oracle":
            return ZoomCall(start, end, cfg.zoom_fps)
        duration = (sample.num_frames - 1) / sample.native_fps
        width = min(end - start, duration)
        if cfg.rule == "center":
            begin = (duration - width) / 2
        else:
            key = zlib.crc32(sample.sample_id.encode("utf-8"))
            rng = np.random.default_rng([int(cfg.seed), key])
            begin = float(rng.uniform(0.0, max(duration - width, 0.0)))
        return ZoomCall(begin, begin + width, cfg.zoom_fps)

    def _zoom_action(self, call: ZoomCall) -> Any:
        if self.action_format == "text":
            return render_zoom_call(call)
        rate = 0.0 if call.fps is None else float(call.fps)
        return {
            "kind": 0,
            "window": np.array([call.start_s, call.end_s], dtype=np.float32),
            "zoom_fps": np.array([rate], dtype=np.float32),
        }

    def _sample(self, info: Mapping[str, Any] | None) -> Sample:
        if info is None or "sample_id" not in info:
            raise ValueError(
                f"the {self.config.rule!r} zoom rule needs the env's reset info with "
                "sample_id: call act_batch(obs_list, infos)"
            )
        sample = self.samples.get(str(info["sample_id"]))
        if sample is None:
            raise KeyError(
                f"zoom controller has no ground truth for sample {info['sample_id']!r} "
                f"({len(self.samples)} samples bound): pass the env's samples with "
                "bind_samples(env.samples)"
            )
        return sample


__all__ = ["GROUND_TRUTH_RULES", "ZoomController", "ZoomControllerConfig", "ZoomRule"]
