"""The native policy's network: a small CNN, a query GRU, FiLM fusion, a temporal GRU, heads.

Per frame (``S x S`` RGB plus two coordinate channels):

1. **CNN** — three 3x3 conv stages (``channels``; the first two stride 2) with GroupNorm and
   ReLU give a ``[C, S/4, S/4]`` feature map.
2. **FiLM** — the query vector ``q`` scales and shifts every channel
   (``h * (1 + gamma(q)) + beta(q)``, Perez et al. 2018, arXiv 1709.07871), so the map
   highlights what the query names.
3. **Attention** — a 1x1 conv scores every cell; the softmax over cells is the target
   heatmap. Another 1x1 conv predicts, per cell, a box (CenterNet style, Zhou et al. 2019,
   arXiv 1904.07850): the centre as the cell centre plus an offset of up to one cell
   (``tanh``) and the size through a sigmoid. The heatmap-weighted mean of the cell boxes
   is the frame's box ``(cx, cy, w, h)``, and ``logsumexp`` of the scores says how
   present the target is.
4. **Temporal** — per-frame vectors (box, presence, relative time, centre motion to the
   neighbouring frames, ``q``) go through an MLP, a 1-D conv and a bidirectional GRU over
   the shown frames. Only these few "physical" features reach the temporal model, so it
   learns events from the target's trajectory rather than memorising frame appearance.
5. **Heads** — start and end logits per frame, a box correction per frame (added to the
   attention box, initialised to zero), a state-independent learned log-std of the box
   Gaussian, and a value (critic) from the masked mean of the temporal features.
6. **Track ID head** (only when the batch carries track candidates, the env's ``tracks``
   key) — per candidate and shown frame: its box ``(cx, cy, w, h)``, the heatmap mass
   inside the box (the softmax of step 3 summed over the cells whose centre lies in the
   box) and its log; an MLP embeds each, the mean over the frames where the candidate has
   a box is joined with ``q``, and an MLP gives the candidate's logit. The softmax over
   the real candidates is the distribution of the answered track.
7. **Zoom head** (only with ``zoom.enabled``) — the kind (zoom or answer) and the window
   of a zoom in the glance-and-zoom env, from the temporal features
   (:mod:`stvg.policies.native.zoom`).

The query is encoded by word embeddings and a bidirectional GRU (final states of both
directions). See :mod:`stvg.policies.native.distributions` for the action distribution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from stvg.config import InvalidField
from stvg.policies.native.features import NativeBatch
from stvg.policies.native.zoom import ZoomHead, ZoomHeadConfig

_GROUPS = 4  # GroupNorm groups; every channel count must be a multiple of it
_MOTION = 4  # motion features: centre change to the previous and to the next frame (x, y)
_PHYSICAL = 4 + 1 + 1 + _MOTION  # per-frame temporal input: box, presence, time, motion
_MOTION_SCALE = 5.0  # motion features are centre changes (frame fractions) times this
_TRACK_FEATURES = 4 + 1 + 1  # per candidate and frame: box, heat mass inside, its log
_MASS_FLOOR = 1e-4  # added to the heat mass before its log


@dataclass
class NativeModelConfig:
    """Sizes of :class:`NativeModel`.

    Attributes:
        frame_size: side of the square input frames, pixels (a multiple of 4).
        channels: output channels of the three conv stages (multiples of 4).
        word_dim: word embedding size.
        query_dim: query vector size (even: two GRU directions of ``query_dim / 2``).
        hidden: per-frame and temporal feature size (even: two GRU directions).
        dropout: dropout rate of the temporal features during training.
        init_log_std: initial log standard deviation of the box Gaussian (normalised units;
            -2 gives std 0.135, a fifth of the frame).
        min_log_std, max_log_std: bounds the learned log-std is clamped to.
        track_id: build the track ID head (step 6) and answer ``track-id`` struct actions
            (``{track, span}``) instead of boxes; needs observations with track
            candidates (the env's ``tracks`` key).
        zoom: the zoom head (step 7, :mod:`stvg.policies.native.zoom`); off by default.
    """

    frame_size: int = 64
    channels: list[int] = field(default_factory=lambda: [16, 32, 64])
    word_dim: int = 32
    query_dim: int = 64
    hidden: int = 64
    dropout: float = 0.1
    init_log_std: float = -2.0
    min_log_std: float = -5.0
    max_log_std: float = 1.0
    track_id: bool = False
    zoom: ZoomHeadConfig = field(default_factory=ZoomHeadConfig)

    def __post_init__(self) -> None:
        if self.zoom.enabled and self.track_id:
            raise InvalidField(
                "zoom.enabled",
                "the zoom head answers with boxes, not track ids: set track_id: false or "
                "zoom.enabled: false",
            )
        if self.frame_size < 8 or self.frame_size % 4:
            raise InvalidField(
                "frame_size", f"must be a multiple of 4 and >= 8 pixels, got {self.frame_size}"
            )
        if len(self.channels) != 3 or any(c <= 0 or c % _GROUPS for c in self.channels):
            raise InvalidField(
                "channels",
                f"must be three positive multiples of {_GROUPS} (GroupNorm groups), got "
                f"{self.channels}",
            )
        for name in ("query_dim", "hidden"):
            value = getattr(self, name)
            if value < 2 or value % 2:
                raise InvalidField(
                    name, f"must be an even number >= 2 (two GRU directions), got {value}"
                )
        if not 0.0 <= self.dropout < 1.0:
            raise InvalidField("dropout", f"must be in [0, 1), got {self.dropout}")
        if self.word_dim < 1:
            raise InvalidField("word_dim", f"must be positive, got {self.word_dim}")
        if not self.min_log_std <= self.init_log_std <= self.max_log_std:
            raise InvalidField(
                "init_log_std",
                f"must lie in [min_log_std, max_log_std] = [{self.min_log_std}, "
                f"{self.max_log_std}], got {self.init_log_std}",
            )


@dataclass
class NativeOutputs:
    """What :class:`NativeModel` predicts for a batch.

    Attributes:
        start_logits, end_logits: float ``[B, T]`` (unmasked; see the distributions).
        box_mean: float ``[B, T, 4]`` Gaussian mean of ``(cx, cy, w, h)``, normalised.
        box_log_std: float ``[4]`` Gaussian log standard deviation (shared by all frames).
        value: float ``[B]`` critic value.
        mask: bool ``[B, T]``, ``True`` on real frames.
        heat_logits: float ``[B, T, G * G]`` target scores of the feature-map cells
            (row-major, ``G = frame_size / 4``); SFT supervises them with the box centre.
        track_logits: float ``[B, K]`` logits of the track candidates (unmasked), or
            ``None`` when the batch has no candidates.
        track_valid: bool ``[B, K]``, ``True`` on real candidates, or ``None``.
        zoom_start_logits, zoom_end_logits: float ``[B, bins]`` window-bin logits of the
            zoom head, or ``None`` without it.
        zoom_kind_logit: float ``[B]`` logit of ``p(zoom)``, or ``None`` without the head.
    """

    start_logits: torch.Tensor
    end_logits: torch.Tensor
    box_mean: torch.Tensor
    box_log_std: torch.Tensor
    value: torch.Tensor
    mask: torch.Tensor
    heat_logits: torch.Tensor | None = None
    track_logits: torch.Tensor | None = None
    track_valid: torch.Tensor | None = None
    zoom_start_logits: torch.Tensor | None = None
    zoom_end_logits: torch.Tensor | None = None
    zoom_kind_logit: torch.Tensor | None = None


def _conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1),
        nn.GroupNorm(_GROUPS, cout),
        nn.ReLU(inplace=True),
    )


class NativeModel(nn.Module):
    """The network of the native policy (see the module docstring).

    Args:
        config: the sizes.
        vocab_size: number of query word ids (including ``<pad>`` and ``<unk>``).
    """

    def __init__(self, config: NativeModelConfig, vocab_size: int) -> None:
        super().__init__()
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be >= 2 (<pad>, <unk>), got {vocab_size}")
        self.config = cfg = config
        c1, c2, c3 = cfg.channels
        self.cnn = nn.Sequential(_conv(5, c1, 2), _conv(c1, c2, 2), _conv(c2, c3, 1))
        self.embed = nn.Embedding(vocab_size, cfg.word_dim, padding_idx=0)
        self.query_rnn = nn.GRU(
            cfg.word_dim, cfg.query_dim // 2, batch_first=True, bidirectional=True
        )
        self.film = nn.Linear(cfg.query_dim, 2 * c3)
        self.fused = _conv(c3, c3, 1)
        self.heat = nn.Conv2d(c3, 1, 1)
        self.cell_box = nn.Conv2d(c3, 4, 1)  # per cell: centre offset (x, y), size (w, h)
        self.frame_proj = nn.Sequential(
            nn.Linear(_PHYSICAL + cfg.query_dim, cfg.hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, cfg.hidden),
            nn.ReLU(inplace=True),
        )
        self.temporal_conv = nn.Conv1d(cfg.hidden, cfg.hidden, 3, padding=1)
        self.temporal_rnn = nn.GRU(
            cfg.hidden, cfg.hidden // 2, batch_first=True, bidirectional=True
        )
        self.temporal_dropout = nn.Dropout(cfg.dropout)
        self.start_head = nn.Linear(cfg.hidden, 1)
        self.end_head = nn.Linear(cfg.hidden, 1)
        self.box_delta = nn.Linear(cfg.hidden, 4)
        self.value_head = nn.Sequential(
            nn.Linear(cfg.hidden, cfg.hidden), nn.ReLU(inplace=True), nn.Linear(cfg.hidden, 1)
        )
        self.box_log_std = nn.Parameter(torch.full((4,), float(cfg.init_log_std)))
        self.track_frame: nn.Module | None = None
        self.track_head: nn.Module | None = None
        if cfg.track_id:
            self.track_frame = nn.Sequential(nn.Linear(_TRACK_FEATURES, cfg.hidden), nn.ReLU())
            self.track_head = nn.Sequential(
                nn.Linear(cfg.hidden + cfg.query_dim, cfg.hidden),
                nn.ReLU(),
                nn.Linear(cfg.hidden, 1),
            )
        self.zoom_head: ZoomHead | None = None
        if cfg.zoom.enabled:
            self.zoom_head = ZoomHead(cfg.hidden, cfg.zoom.bins)
        for layer in (self.box_delta, self.film):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        side = cfg.frame_size
        lin = (torch.arange(side, dtype=torch.float32) + 0.5) / side
        grid = torch.stack(torch.meshgrid(lin, lin, indexing="xy"))  # [2, S, S]: x, y
        self.register_buffer("pixel_coords", grid * 2 - 1, persistent=False)
        cells = side // 4
        centres = (torch.arange(cells, dtype=torch.float32) + 0.5) / cells
        cell_x, cell_y = torch.meshgrid(centres, centres, indexing="xy")
        self.register_buffer(
            "cell_xy", torch.stack([cell_x.flatten(), cell_y.flatten()], -1), persistent=False
        )
        self.cell_size = 1.0 / cells  # side of one feature-map cell, fraction of the frame

    def clamped_box_log_std(self) -> torch.Tensor:
        """The box Gaussian's log standard deviation ``[4]`` the outputs carry: the learned
        ``box_log_std`` clamped to ``[min_log_std, max_log_std]`` (normalised units)."""
        return self.box_log_std.clamp(self.config.min_log_std, self.config.max_log_std)

    def encode_query(self, tokens: torch.Tensor) -> torch.Tensor:
        """Query vectors ``[B, query_dim]`` from word ids ``[B, L]`` (0 = padding)."""
        lengths = (tokens != 0).sum(dim=1).clamp(min=1).cpu()
        packed = pack_padded_sequence(
            self.embed(tokens), lengths, batch_first=True, enforce_sorted=False
        )
        _, last = self.query_rnn(packed)  # [2, B, query_dim / 2]
        return torch.cat([last[0], last[1]], dim=-1)

    def locate(
        self, frames: torch.Tensor, q_frames: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Find the queried target in frames ``[N, 3, S, S]`` given query vectors ``[N, Q]``.

        Returns ``(scores [N, G*G], box [N, 4], presence [N, 1])``: the cell scores, the
        attention-weighted box ``(cx, cy, w, h)`` (cell centre + offset of up to one cell,
        sigmoid size) and the log mean exp of the scores.
        """
        coords = self.pixel_coords.unsqueeze(0).expand(frames.shape[0], -1, -1, -1)
        feats = self.cnn(torch.cat([frames, coords], dim=1))  # [N, C, G, G]
        gamma, beta = self.film(q_frames).chunk(2, dim=-1)
        feats = torch.relu(feats * (1 + gamma[..., None, None]) + beta[..., None, None])
        feats = self.fused(feats)
        scores = self.heat(feats).flatten(1)  # [N, G*G]
        attn = torch.softmax(scores, dim=-1)
        cell = self.cell_box(feats).flatten(2)  # [N, 4, G*G]
        centres = self.cell_xy.T.unsqueeze(0) + torch.tanh(cell[:, :2]) * self.cell_size
        sizes = torch.sigmoid(cell[:, 2:])
        box = torch.einsum("nkg,ng->nk", torch.cat([centres, sizes], dim=1), attn)
        presence = torch.logsumexp(scores, dim=-1, keepdim=True) - math.log(scores.shape[1])
        return scores, box, presence

    def forward(self, batch: NativeBatch) -> NativeOutputs:
        """Predict the action distribution's parameters and the value for ``batch``."""
        cfg = self.config
        bsz, steps = batch.mask.shape
        query = self.encode_query(batch.tokens)
        rows, cols = torch.nonzero(batch.mask, as_tuple=True)
        q_frames = query[rows]
        scores, box, presence = self.locate(batch.frames[rows, cols], q_frames)
        rel = batch.rel_time[rows, cols].unsqueeze(-1)
        motion = _motion(box[:, :2], rows, cols, batch.mask)
        frame_vec = torch.cat([box, presence, rel, motion, q_frames], dim=-1)
        per_frame = box.new_zeros(bsz, steps, cfg.hidden)
        per_frame[rows, cols] = self.frame_proj(frame_vec)
        box_base = box.new_zeros(bsz, steps, 4)
        box_base[rows, cols] = box
        heat = scores.new_zeros(bsz, steps, scores.shape[1])
        heat[rows, cols] = scores
        temporal = torch.relu(self.temporal_conv(per_frame.transpose(1, 2))).transpose(1, 2)
        temporal = self.temporal_dropout(temporal) * batch.mask.unsqueeze(-1)
        lengths = batch.mask.sum(dim=1).clamp(min=1).cpu()
        packed = pack_padded_sequence(temporal, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.temporal_rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=steps)
        weights = batch.mask.unsqueeze(-1).to(out.dtype)
        pooled = (out * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        log_std = self.clamped_box_log_std()
        track_logits = None
        if self.track_head is not None:
            if batch.track_boxes is None:
                raise ValueError(
                    "the native model has a track ID head (model.track_id: true) but the "
                    "observations carry no track candidates: set the env's tracks key"
                )
            track_logits = self.track_scores(batch, heat, query)
        zoom: tuple[torch.Tensor | None, ...] = (None, None, None)
        if self.zoom_head is not None:
            zoom = self.zoom_head(out, pooled, batch.rel_time, batch.mask)
        return NativeOutputs(
            start_logits=self.start_head(out).squeeze(-1),
            end_logits=self.end_head(out).squeeze(-1),
            box_mean=box_base + self.box_delta(out),
            box_log_std=log_std,
            value=self.value_head(pooled).squeeze(-1),
            mask=batch.mask,
            heat_logits=heat,
            track_logits=track_logits,
            track_valid=batch.track_valid,
            zoom_start_logits=zoom[0],
            zoom_end_logits=zoom[1],
            zoom_kind_logit=zoom[2],
        )

    def track_scores(
        self, batch: NativeBatch, heat: torch.Tensor, query: torch.Tensor
    ) -> torch.Tensor:
        """Logits ``[B, K]`` of the batch's track candidates (module doc, step 6).

        Args:
            batch: with ``track_boxes``, ``track_mask`` and ``track_valid``.
            heat: float ``[B, T, G * G]`` cell scores (zeros on padding frames).
            query: float ``[B, query_dim]`` query vectors.
        """
        assert batch.track_boxes is not None and batch.track_mask is not None
        assert self.track_frame is not None and self.track_head is not None
        boxes = batch.track_boxes  # [B, K, T, 4] cxcywh
        attn = torch.softmax(heat, dim=-1) * batch.mask.unsqueeze(-1)  # [B, T, G*G]
        low = boxes[..., :2] - boxes[..., 2:] / 2
        high = boxes[..., :2] + boxes[..., 2:] / 2
        cells = self.cell_xy.view(1, 1, 1, -1, 2)  # [1, 1, 1, G*G, 2]
        inside = ((cells >= low.unsqueeze(-2)) & (cells <= high.unsqueeze(-2))).all(-1)
        mass = torch.einsum("bktg,btg->bkt", inside.to(attn.dtype), attn).unsqueeze(-1)
        feats = torch.cat([boxes, mass, torch.log(mass + _MASS_FLOOR)], dim=-1)
        weights = batch.track_mask.unsqueeze(-1).to(attn.dtype)
        pooled = (self.track_frame(feats) * weights).sum(2) / weights.sum(2).clamp(min=1.0)
        joined = torch.cat([pooled, query.unsqueeze(1).expand(-1, pooled.shape[1], -1)], -1)
        return self.track_head(joined).squeeze(-1)


def _motion(
    centre: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Centre change to the previous and to the next real frame, ``[N, 4]`` (0 at the
    ends), times ``_MOTION_SCALE``; ``centre`` is ``[N, 2]`` for the frames ``(rows, cols)``."""
    bsz, steps = mask.shape
    grid = centre.new_zeros(bsz, steps, 2)
    grid[rows, cols] = centre
    valid = mask.unsqueeze(-1).to(centre.dtype)
    diff = (grid[:, 1:] - grid[:, :-1]) * valid[:, 1:] * valid[:, :-1]  # [B, T-1, 2]
    pad = centre.new_zeros(bsz, 1, 2)
    before = torch.cat([pad, diff], dim=1)
    after = torch.cat([diff, pad], dim=1)
    return torch.cat([before, after], dim=-1)[rows, cols] * _MOTION_SCALE


def count_parameters(module: nn.Module) -> int:
    """Number of trainable scalars of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


__all__ = ["NativeModel", "NativeModelConfig", "NativeOutputs", "count_parameters"]
