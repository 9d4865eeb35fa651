"""``native``: a small trainable torch policy that answers in the env's ``struct`` format.

It reads the frames at whatever rate the env samples them (resized to ``frame_size``), the
query through a vocabulary built from the training split, and predicts a span (start and
end frame among the shown ones) and a box per shown frame of the span (see
:mod:`stvg.policies.native.model` and :mod:`stvg.policies.native.distributions`).

Actions are ``GroundingEnv`` struct actions: ``span`` = the timestamps (seconds) of the
start and end frames, ``boxes`` = normalised ``(x1, y1, x2, y2)`` per frame slot, and
``box_mask`` = 1 on the slots of the span. Deterministic actions (``act``) use the most
likely span and the box means (clipped to ``[0, 1]``); sampled actions (``sample``) keep the
raw Gaussian draws so that their log-probabilities are exact.

With ``model.track_id: true`` (the ``track-id`` answer, env ``tracks`` key and
``action_format: struct``) an action is ``{"track": k, "span": (start, end)}`` instead:
``k`` the answered index among the observation's track candidates (the ID head, see
:mod:`stvg.policies.native.model`), its log-probability ``log p(k) + log p(s) +
log p(e | s)``.

With ``model.zoom.enabled`` (the glance-and-zoom env, ``stvg/ZoomGrounding-v0`` with
``action_format: struct``) an observation where a zoom is still possible gets a zoom action
``{"kind": 0, "window": (start_s, end_s), "zoom_fps": (rate,), "zoom_bins": (a, b)}`` or an answer with
``"kind": 1`` (see :mod:`stvg.policies.native.zoom` for the head and its log-probability);
every zoom-env answer carries ``kind = 1``, so a policy without the head answers on the
glance.

A checkpoint (``save``/``load``) holds the constructor config (vocabulary included), so
``NativePolicy.load(path)`` or ``make("native", checkpoint=path)`` rebuilds it alone.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stvg.checkpoint_files import CorruptCheckpoint, load_checkpoint_file, save_checkpoint_file
from stvg.config import InvalidField, from_dict, to_dict
from stvg.data.types import Sample
from stvg.policies.base import Observation, Rollouts
from stvg.policies.native import distributions as dist
from stvg.policies.native import zoom as zd
from stvg.policies.native.features import (
    NativeBatch,
    VideoInputs,
    collate,
    cxcywh_to_xyxy,
    observation_inputs,
    video_length_s,
    xyxy_to_cxcywh,
)
from stvg.policies.native.model import NativeModel, NativeModelConfig, NativeOutputs
from stvg.policies.native.tokenizer import PAD, UNK, QueryVocab

#: Format tag stored in native-policy checkpoints.
CHECKPOINT_FORMAT = "stvg-native-v1"


@dataclass
class NativePolicyConfig:
    """Constructor config of :class:`NativePolicy` (saved in its checkpoints).

    Attributes:
        vocab: query vocabulary words in id order (``<pad>``, ``<unk>``, then the words);
            build it from the training split with :meth:`NativePolicy.from_samples`.
        model: network sizes.
        max_query_len: query words read (longer queries are truncated).
        deterministic: ``act`` returns the most likely action (else a sample).
        box_temperature: exploration temperature of the box head: sampled boxes (and their
            log-probabilities, so the policy gradient stays exact) use the standard
            deviation ``box_temperature * exp(box_log_std)``. SFT learns ``box_log_std`` as
            the spread of its errors, about 10% of the frame per coordinate and frame, which
            is far more noise than RL needs; 0.3 keeps sampled answers close to the mean box.
            The most likely action (``deterministic``, evaluation) does not depend on it.
        seed: seed of the sampling generator.
        checkpoint: load weights and config from this file (``make("native",
            checkpoint=...)``); ``deterministic`` and ``seed`` given here override the
            saved ones.
    """

    vocab: list[str] = field(default_factory=list)
    model: NativeModelConfig = field(default_factory=NativeModelConfig)
    max_query_len: int = 32
    deterministic: bool = True
    box_temperature: float = 1.0
    seed: int = 0
    checkpoint: str | None = None

    def __post_init__(self) -> None:
        if self.checkpoint is None and self.vocab[:2] != [PAD, UNK]:
            raise InvalidField(
                "vocab",
                f"must start with {[PAD, UNK]} (got {self.vocab[:2]}): give a checkpoint, or "
                "build the policy with NativePolicy.from_samples(training samples)",
            )
        if self.max_query_len <= 0:
            raise InvalidField("max_query_len", f"must be positive, got {self.max_query_len}")
        if not (math.isfinite(self.box_temperature) and self.box_temperature > 0):
            raise InvalidField(
                "box_temperature", f"must be a positive number, got {self.box_temperature}"
            )


def _take(out: NativeOutputs, index: torch.Tensor) -> NativeOutputs:
    """The rows ``index`` of ``out`` (repeating observations for ``n`` samples each)."""
    return NativeOutputs(
        start_logits=out.start_logits[index],
        end_logits=out.end_logits[index],
        box_mean=out.box_mean[index],
        box_log_std=out.box_log_std,
        value=out.value[index],
        mask=out.mask[index],
        track_logits=None if out.track_logits is None else out.track_logits[index],
        track_valid=None if out.track_valid is None else out.track_valid[index],
        zoom_start_logits=_rows_of(out.zoom_start_logits, index),
        zoom_end_logits=_rows_of(out.zoom_end_logits, index),
        zoom_kind_logit=_rows_of(out.zoom_kind_logit, index),
    )


def _rows_of(tensor: torch.Tensor | None, index: torch.Tensor) -> torch.Tensor | None:
    return None if tensor is None else tensor[index]


class NativePolicy:
    """The trainable native policy (``TrainablePolicy`` and ``ActorCriticPolicy``).

    Args:
        **config: the fields of :class:`NativePolicyConfig` (validated; a wrong key or type
            is a ``ConfigError`` naming ``policy.<key>``). With ``checkpoint`` use
            :meth:`from_config` or :meth:`load` instead.

    Attributes:
        config: the resolved :class:`NativePolicyConfig`.
        vocab: the :class:`~stvg.policies.native.tokenizer.QueryVocab`.
        model: the :class:`~stvg.policies.native.model.NativeModel`.
        action_format: ``"struct"``.
    """

    config_class = NativePolicyConfig
    action_format = "struct"

    def __init__(self, **config: Any) -> None:
        cfg = from_dict(NativePolicyConfig, config, path="policy")
        if cfg.checkpoint is not None:
            raise ValueError(
                "NativePolicy(checkpoint=...) does not load weights: use NativePolicy.load(path) "
                "or make('native', checkpoint=path)"
            )
        self.config = cfg
        self.vocab = QueryVocab(cfg.vocab)
        self.model = NativeModel(cfg.model, len(self.vocab))
        self.model.eval()  # acting and RL use no dropout; SFT switches to train() itself
        self.generator = torch.Generator().manual_seed(int(cfg.seed))

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_config(cls, config: NativePolicyConfig) -> NativePolicy:
        """Build from a config: load ``config.checkpoint`` when set, else a fresh model."""
        if config.checkpoint is not None:
            return cls.load(
                config.checkpoint,
                deterministic=config.deterministic,
                box_temperature=config.box_temperature,
                seed=config.seed,
            )
        return cls(**to_dict(config))

    @classmethod
    def from_samples(
        cls, samples: Sequence[Sample], *, min_count: int = 1, **config: Any
    ) -> NativePolicy:
        """A fresh policy whose vocabulary is built from the queries of ``samples``."""
        vocab = QueryVocab.build((s.query for s in samples), min_count=min_count)
        return cls(vocab=vocab.words, **config)

    def save(self, path: str | Path, extra: Mapping[str, Any] | None = None) -> Path:
        """Write a checkpoint: format tag, constructor config, weights and ``extra``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": CHECKPOINT_FORMAT,
            "policy": "native",
            "config": to_dict(self.config),
            "state_dict": self.state_dict(),
            "extra": dict(extra or {}),
        }
        return save_checkpoint_file(payload, path)

    @classmethod
    def load(cls, path: str | Path, **overrides: Any) -> NativePolicy:
        """Rebuild a policy from a checkpoint written by :meth:`save`.

        Args:
            path: the checkpoint file.
            **overrides: config fields to change (``deterministic``, ``box_temperature``,
                ``seed``).

        Raises:
            FileNotFoundError: no such file.
            UnsafeCheckpoint: the file holds objects other than tensors and plain data
                (nothing in it is run; :func:`~stvg.checkpoint_files.load_checkpoint_file`).
            CorruptCheckpoint: the file cannot be read or is not a native-policy checkpoint
                (a ``ValueError``).
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"native policy checkpoint not found: {path} (train one with `stvg train-sft`)"
            )
        payload = load_checkpoint_file(path, "native policy checkpoint")
        if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
            found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
            raise CorruptCheckpoint(
                f"{path} is not a native policy checkpoint (format {found!r}, expected "
                f"{CHECKPOINT_FORMAT!r})"
            )
        if not isinstance(payload.get("config"), dict) or not isinstance(
            payload.get("state_dict"), Mapping
        ):
            raise CorruptCheckpoint(
                f"{path} is a damaged native policy checkpoint: its 'config' and 'state_dict' "
                "must be mappings"
            )
        config = {**payload["config"], **overrides, "checkpoint": None}
        policy = cls(**config)
        try:
            policy.load_state_dict(payload["state_dict"])
        except (RuntimeError, KeyError, TypeError) as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise CorruptCheckpoint(
                f"{path}: the weights do not fit the policy its config builds "
                f"({type(exc).__name__}: {detail[:300]})"
            ) from None
        return policy

    # ----------------------------------------------------------------- torch plumbing
    def parameters(self) -> Iterator[torch.nn.Parameter]:
        """The trainable parameters of the model."""
        return self.model.parameters()

    def state_dict(self) -> dict[str, Any]:
        """The model weights."""
        return self.model.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> Any:
        """Restore weights saved by :meth:`state_dict` (strict)."""
        return self.model.load_state_dict(state)

    def train(self, mode: bool = True) -> NativePolicy:
        """Put the model in training mode (or evaluation mode with ``mode=False``)."""
        self.model.train(mode)
        return self

    def eval(self) -> NativePolicy:
        """Put the model in evaluation mode."""
        return self.train(False)

    # ----------------------------------------------------------------- inputs
    def inputs(self, obs_batch: Sequence[Observation]) -> list[VideoInputs]:
        """The model inputs of each observation (frames cropped and resized)."""
        return [observation_inputs(obs, self.config.model.frame_size) for obs in obs_batch]

    def batch(self, videos: Sequence[VideoInputs]) -> NativeBatch:
        """Collate prepared inputs into a padded batch."""
        return collate(videos, self.vocab, self.config.max_query_len)

    def forward(self, obs_batch: Sequence[Observation]) -> tuple[NativeOutputs, list[VideoInputs]]:
        """Model outputs for observations (with gradients) and their prepared inputs."""
        videos = self.inputs(obs_batch)
        out = self.model(self.batch(videos))
        if self.config.box_temperature != 1.0:
            out = dataclasses.replace(
                out, box_log_std=out.box_log_std + math.log(self.config.box_temperature)
            )
        return out, videos

    def diagnostics(self) -> dict[str, float]:
        """Scalars an RL trainer logs every iteration (``{name: value}``).

        ``policy/box_std``: the mean over the 4 coordinates of the standard deviation of
        the boxes :meth:`sample` draws, in normalised units (fractions of the frame): the
        learned ``exp(box_log_std)`` (clamped as the model clamps it) times
        ``box_temperature``.
        """
        with torch.no_grad():
            log_std = self.model.clamped_box_log_std() + math.log(self.config.box_temperature)
        return {"policy/box_std": float(log_std.exp().mean())}

    # ----------------------------------------------------------------- acting
    def act(self, obs: Observation, info: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
        """The struct action for one observation (``info`` is not needed)."""
        return self.act_batch([obs])[0]

    def act_batch(
        self,
        obs_list: Sequence[Observation],
        infos: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> list[dict[str, np.ndarray]]:
        """Struct actions for several observations: the mode, or a sample when
        ``config.deterministic`` is false."""
        if not obs_list:
            return []
        track = None
        deterministic = self.config.deterministic
        with torch.no_grad():
            out, videos = self.forward(obs_list)
            if deterministic:
                start, end, boxes = dist.mode_actions(out)
                if self.track_id:
                    track = dist.mode_tracks(out)
            else:
                start, end, boxes = dist.sample_actions(out, self.generator)
                if self.track_id:
                    track = dist.sample_tracks(out, self.generator)
            decision = self._zoom_decision(out, videos, deterministic)
        slots = [int(np.asarray(obs["frame_mask"]).shape[0]) for obs in obs_list]
        actions = self.to_actions(videos, slots, start, end, boxes, clip=deterministic, track=track)
        return self._with_kinds(actions, videos, decision)

    def answer_batch(
        self,
        obs_list: Sequence[Observation],
        infos: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> list[dict[str, np.ndarray]]:
        """Answers (never a zoom) for several observations: what a scripted zoom rule
        (:class:`~stvg.policies.zoom.ZoomController`) asks of its answerer."""
        if not obs_list:
            return []
        with torch.no_grad():
            out, videos = self.forward(obs_list)
            if self.config.deterministic:
                start, end, boxes = dist.mode_actions(out)
            else:
                start, end, boxes = dist.sample_actions(out, self.generator)
        slots = [int(np.asarray(obs["frame_mask"]).shape[0]) for obs in obs_list]
        actions = self.to_actions(videos, slots, start, end, boxes, clip=self.config.deterministic)
        return self._with_kinds(actions, videos, None)

    # ----------------------------------------------------------------- zooming
    @property
    def zoom_enabled(self) -> bool:
        """Whether the policy has the zoom head (``model.zoom.enabled``)."""
        return bool(self.config.model.zoom.enabled)

    def _zoom_decision(
        self,
        out: NativeOutputs,
        videos: Sequence[VideoInputs],
        deterministic: bool,
        index: Sequence[int] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """``(kind, can_zoom, a, b)`` per row (``kind`` 0 = zoom, 1 = answer; ``a``,
        ``b`` the window bins), drawn or the mode; ``None`` without the zoom head. Rows of
        ``out`` are ``videos[index[r]]`` (default: one row per video)."""
        if not self.zoom_enabled:
            return None
        assert out.zoom_kind_logit is not None and out.zoom_start_logits is not None
        assert out.zoom_end_logits is not None
        index = list(range(len(videos))) if index is None else list(index)
        can = torch.tensor([videos[i].can_zoom for i in index], dtype=torch.bool)
        if self.config.model.zoom.decide == "always":
            wants = torch.ones_like(can)
        elif deterministic:
            wants = out.zoom_kind_logit > 0
        else:
            wants = torch.bernoulli(torch.sigmoid(out.zoom_kind_logit), generator=self.generator)
            wants = wants.bool()
        if deterministic:
            a, b = zd.mode_window(out.zoom_start_logits, out.zoom_end_logits)
        else:
            a, b = zd.sample_window(out.zoom_start_logits, out.zoom_end_logits, self.generator)
        kind = torch.where(can & wants, 0, 1).long()
        return kind, can, a, b

    def _zoom_log_prob(
        self,
        out: NativeOutputs,
        answer_log_prob: torch.Tensor,
        decision: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None,
    ) -> torch.Tensor:
        """The whole action's ``log p``: a zoom's ``log p(kind) + log p(a) + log p(b |
        a)``, an answer's ``log p(answer)`` plus ``log p(kind = answer)`` where a zoom was
        possible (``decide: learned``)."""
        if decision is None:
            return answer_log_prob
        kind, can, a, b = decision
        assert out.zoom_start_logits is not None and out.zoom_end_logits is not None
        window = zd.window_log_prob(out.zoom_start_logits, out.zoom_end_logits, a, b)
        total = torch.where(kind == 0, window, answer_log_prob)
        if self.config.model.zoom.decide == "learned":
            assert out.zoom_kind_logit is not None
            rows = torch.arange(kind.shape[0])
            lp_kind = zd.kind_log_probs(out.zoom_kind_logit)[rows, kind]
            total = total + torch.where(can, lp_kind, torch.zeros_like(lp_kind))
        return total

    def _zoom_entropy(
        self,
        out: NativeOutputs,
        answer_entropy: torch.Tensor,
        decision: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None,
    ) -> torch.Tensor:
        """Entropy of the taken branch: the window's ``H(a) + H(b | a)`` for a zoom, the
        answer's otherwise, plus the kind's where a zoom was possible (``learned``)."""
        if decision is None:
            return answer_entropy
        kind, can, a, _ = decision
        assert out.zoom_start_logits is not None and out.zoom_end_logits is not None
        window = zd.window_entropy(out.zoom_start_logits, out.zoom_end_logits, a)
        total = torch.where(kind == 0, window, answer_entropy)
        if self.config.model.zoom.decide == "learned":
            assert out.zoom_kind_logit is not None
            lp = zd.kind_log_probs(out.zoom_kind_logit)
            h_kind = -(lp.exp() * lp).sum(-1)
            total = total + torch.where(can, h_kind, torch.zeros_like(h_kind))
        return total

    def _with_kinds(
        self,
        actions: list[dict[str, Any]],
        videos: Sequence[VideoInputs],
        decision: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None,
    ) -> list[dict[str, Any]]:
        """Zoom-env actions: a zoom row becomes ``{kind: 0, window, zoom_fps}``, an answer
        gets ``kind: 1``; other envs' actions are left as they are."""
        rate = self.config.model.zoom.fps
        for row, video in enumerate(videos):
            if not video.zoom_env:
                continue
            if decision is not None and int(decision[0][row]) == 0:
                a, b = int(decision[2][row]), int(decision[3][row])
                start, end = zd.zoom_window(a, b, video.timestamps_s, self.config.model.zoom.bins)
                actions[row] = {
                    "kind": 0,
                    "window": np.array([start, end], dtype=np.float32),
                    "zoom_fps": np.array([0.0 if rate is None else rate], dtype=np.float32),
                    "zoom_bins": np.array([a, b], dtype=np.int64),
                }
            else:
                actions[row] = {"kind": 1, **actions[row]}
        return actions

    @property
    def track_id(self) -> bool:
        """Whether actions name a track candidate (``model.track_id``) instead of boxes."""
        return bool(self.config.model.track_id)

    def to_actions(
        self,
        videos: Sequence[VideoInputs],
        slots: Sequence[int],
        start: torch.Tensor,
        end: torch.Tensor,
        boxes_cxcywh: torch.Tensor,
        *,
        clip: bool,
        track: torch.Tensor | None = None,
    ) -> list[dict[str, np.ndarray]]:
        """Struct actions from frame indices and ``(cx, cy, w, h)`` boxes.

        Args:
            videos: the prepared inputs (their timestamps give the span in seconds).
            slots: frame slots of each observation (the env's ``max_frames``).
            start, end: long ``[B]`` start and end frame indices.
            boxes_cxcywh: float ``[B, T, 4]`` normalised boxes.
            clip: clip the ``(x1, y1, x2, y2)`` boxes to ``[0, 1]`` (deterministic
                actions); sampled actions keep the raw draw so log-probs stay exact.
            track: long ``[B]`` candidate indices: the actions are ``{"track", "span"}``
                (``boxes_cxcywh`` unused); ``None`` = box actions.
        """
        actions: list[dict[str, Any]] = []
        if track is not None:
            for row, video in enumerate(videos):
                s, e = int(start[row]), int(end[row])
                span = np.array([video.timestamps_s[s], video.timestamps_s[e]], dtype=np.float32)
                actions.append({"track": int(track[row]), "span": span})
            return actions
        boxes_np = boxes_cxcywh.detach().cpu().numpy().astype(np.float64)
        for row, (video, max_frames) in enumerate(zip(videos, slots, strict=True)):
            s, e, count = int(start[row]), int(end[row]), len(video)
            boxes = np.zeros((max_frames, 4), dtype=np.float32)
            xyxy = cxcywh_to_xyxy(boxes_np[row, :count])
            boxes[:count] = np.clip(xyxy, 0.0, 1.0) if clip else xyxy
            mask = np.zeros(max_frames, dtype=np.int8)
            mask[s : e + 1] = 1
            span = np.array([video.timestamps_s[s], video.timestamps_s[e]], dtype=np.float32)
            actions.append({"span": span, "boxes": boxes, "box_mask": mask})
        return actions

    # ----------------------------------------------------------------- training API
    def sample(self, obs_batch: Sequence[Observation], n: int) -> Rollouts:
        """``n`` sampled actions per observation with exact log-probabilities and values.

        Rows are observation-major (row ``i * n + j`` is sample ``j`` of observation
        ``i``); ``log_probs`` is ``[B * n, 1]`` (the whole action is one "token") and
        ``extras`` holds ``start``/``end`` (frame indices, long ``[B * n]``) and, for
        track-id actions, ``track`` (candidate indices).
        """
        if n < 1:
            raise ValueError(f"sample needs n >= 1 actions per observation, got {n}")
        with torch.no_grad():
            out, videos = self.forward(obs_batch)
            index = torch.arange(len(obs_batch)).repeat_interleave(n)
            rows = _take(out, index)
            start, end, boxes = dist.sample_actions(rows, self.generator)
            track = dist.sample_tracks(rows, self.generator) if self.track_id else None
            box_mask = dist.span_box_mask(start, end, rows.mask.shape[1])
            if track is not None:
                box_mask = torch.zeros_like(box_mask)
            log_probs = dist.action_log_prob(rows, start, end, boxes, box_mask, track)
            row_videos = [videos[i] for i in index.tolist()]
            decision = self._zoom_decision(rows, row_videos, False)
            log_probs = self._zoom_log_prob(rows, log_probs, decision)
        slots = [int(np.asarray(obs_batch[i]["frame_mask"]).shape[0]) for i in index.tolist()]
        actions = self.to_actions(row_videos, slots, start, end, boxes, clip=False, track=track)
        actions = self._with_kinds(actions, row_videos, decision)
        extras = {"start": start, "end": end}
        if track is not None:
            extras["track"] = track
        return Rollouts(
            actions=actions,
            obs_index=index.tolist(),
            log_probs=log_probs.unsqueeze(-1),
            mask=torch.ones(len(actions), 1, dtype=torch.bool),
            values=rows.value,
            extras=extras,
        )

    def _action_tensors(
        self,
        videos: Sequence[VideoInputs],
        index: Sequence[int],
        actions: Sequence[Mapping[str, Any]],
        steps: int,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Start/end frame indices (nearest shown timestamp to the span ends), cxcywh boxes,
        box masks and (track-id actions) candidate indices of struct actions, as tensors."""
        rows = len(actions)
        track = torch.zeros(rows, dtype=torch.long) if self.track_id else None
        start = torch.zeros(rows, dtype=torch.long)
        end = torch.zeros(rows, dtype=torch.long)
        boxes = torch.zeros(rows, steps, 4, dtype=torch.float32)
        mask = torch.zeros(rows, steps, dtype=torch.bool)
        for row, (i, action) in enumerate(zip(index, actions, strict=True)):
            if _is_zoom(action):
                continue  # no answer: read by _zoom_tensors
            times = videos[i].timestamps_s.astype(np.float64)
            count = len(videos[i])
            span = np.asarray(action["span"], dtype=np.float64).reshape(2)
            start[row] = int(np.argmin(np.abs(times - span[0])))
            end[row] = int(np.argmin(np.abs(times - span[1])))
            if track is not None:
                track[row] = int(action["track"])
                continue
            raw = np.asarray(action["boxes"], dtype=np.float64)[:count]
            boxes[row, :count] = torch.from_numpy(xyxy_to_cxcywh(raw)).float()
            mask[row, :count] = torch.from_numpy(
                np.asarray(action["box_mask"]).reshape(-1)[:count] != 0
            )
        return start, end, boxes, mask, track

    def evaluate_actions(
        self, obs_batch: Sequence[Observation], actions: Rollouts | Sequence[Mapping[str, Any]]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(values [R], log_prob [R], entropy [R])`` of ``actions`` (differentiable).

        ``actions`` is a :class:`Rollouts` (rows mapped to observations by ``obs_index``)
        or a list of struct actions, one per observation. A span end is read as the
        shown frame whose timestamp is nearest.
        """
        if isinstance(actions, Rollouts):
            action_list, index = actions.actions, list(actions.obs_index)
        else:
            action_list, index = list(actions), list(range(len(obs_batch)))
        out, videos = self.forward(obs_batch)
        rows = _take(out, torch.as_tensor(index, dtype=torch.long))
        start, end, boxes, box_mask, track = self._action_tensors(
            videos, index, action_list, rows.mask.shape[1]
        )
        if bool((end < start).any()):
            bad = int(torch.nonzero(end < start)[0, 0])
            raise ValueError(
                f"action {bad} has a reversed span {action_list[bad]['span'].tolist()}"
            )
        log_prob = dist.action_log_prob(rows, start, end, boxes, box_mask, track)
        entropy = dist.action_entropy(rows, start, box_mask)
        if track is not None:
            entropy = entropy + dist.track_entropy(rows)
        decision = self._zoom_tensors(videos, index, action_list)
        log_prob = self._zoom_log_prob(rows, log_prob, decision)
        entropy = self._zoom_entropy(rows, entropy, decision)
        return rows.value, log_prob, entropy

    def _zoom_tensors(
        self,
        videos: Sequence[VideoInputs],
        index: Sequence[int],
        actions: Sequence[Mapping[str, Any]],
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """``(kind, can_zoom, a, b)`` of taken actions (the window's bins: the action's
        ``zoom_bins``, else read back from its seconds,
        :func:`~stvg.policies.native.zoom.window_bins`); ``None`` without the zoom head.

        Raises:
            ValueError: a zoom action where the observation allowed none.
        """
        if not self.zoom_enabled:
            return None
        bins = self.config.model.zoom.bins
        rows = len(actions)
        kind = torch.ones(rows, dtype=torch.long)
        can = torch.zeros(rows, dtype=torch.bool)
        a = torch.zeros(rows, dtype=torch.long)
        b = torch.zeros(rows, dtype=torch.long)
        for row, (i, action) in enumerate(zip(index, actions, strict=True)):
            can[row] = bool(videos[i].can_zoom)
            if not _is_zoom(action):
                continue
            if not can[row]:
                raise ValueError(
                    f"action {row} is a zoom on an observation that allows none (no zoom or "
                    "frame left): it cannot come from this policy"
                )
            kind[row] = 0
            if "zoom_bins" in action:  # what this policy's actions carry
                a[row], b[row] = (int(v) for v in np.asarray(action["zoom_bins"]).reshape(2))
                continue
            window = np.asarray(action["window"], dtype=np.float64).reshape(2)
            length = video_length_s(videos[i].timestamps_s)
            a[row], b[row] = zd.window_bins(float(window[0]), float(window[1]), length, bins)
        return kind, can, a, b

    def log_prob(
        self, obs_batch: Sequence[Observation], actions: Rollouts | Sequence[Mapping[str, Any]]
    ) -> torch.Tensor:
        """Log-probabilities ``[R, 1]`` of ``actions`` under the current weights (with grad)."""
        return self.evaluate_actions(obs_batch, actions)[1].unsqueeze(-1)

    def value(self, obs_batch: Sequence[Observation]) -> torch.Tensor:
        """Critic values ``[B]`` of the observations (with grad)."""
        return self.forward(obs_batch)[0].value


def _is_zoom(action: Mapping[str, Any]) -> bool:
    """Whether a struct action is a zoom-env zoom (``kind`` 0)."""
    return "kind" in action and int(np.asarray(action["kind"]).reshape(-1)[0]) == 0


__all__ = ["CHECKPOINT_FORMAT", "NativePolicy", "NativePolicyConfig"]
