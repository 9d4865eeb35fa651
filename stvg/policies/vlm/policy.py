"""``VLMPolicy``: a Qwen2.5-VL / Qwen3-VL text policy on transformers (registered as ``vlm``).

One observation becomes one chat prompt: the shown frames as ONE video (at the env's
sampling rate, with the shown timestamps), and the query, rate, timestamps and answer-format
instructions filled into a YAML template (:mod:`stvg.policies.vlm.prompt`). The video
inputs are built by :mod:`stvg.policies.vlm.video`, which reproduces the transformers video
processors without frame resampling, so the model sees exactly the frames, and (Qwen3-VL)
the per-patch timestamps, of the observation.

RL interface (:class:`~stvg.policies.base.TrainablePolicy`):

* :meth:`VLMPolicy.sample` generates ``n`` completions per observation and returns their
  token ids and per-token log-probabilities (prompt tokens are never scored);
* :meth:`VLMPolicy.log_prob` recomputes those log-probabilities **with gradients** under
  the current weights, for ratio-based losses (GRPO, PPO).

Log-probabilities are those of ``softmax(logits / temperature)``, the distribution that
``sample`` draws from before ``top_p`` truncation. The checkpoint's own sampling defaults
(``top_k``, ``repetition_penalty`` in Qwen's ``generation_config.json``) are switched off so
that sampling and scoring agree.

Cost per call: every :class:`~stvg.policies.base.TextCompletion` carries its visual and
output token counts, and :attr:`VLMPolicy.last_cost` holds the figures of the last call
(``frames_shown``, ``visual_tokens`` per family, ``output_tokens``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from stvg.policies.base import Observation, Rollouts, TextCompletion
from stvg.policies.vlm.checkpoint import (
    check_model_path,
    detect_family,
    load_model,
    load_tokenizer,
    resolve_device,
    resolve_dtype,
)
from stvg.policies.vlm.config import FAMILY_COORDS, VLMPolicyConfig
from stvg.policies.vlm.observation import context_from_reset, read_observation
from stvg.policies.vlm.prompt import chat_messages, load_template, prompt_values
from stvg.policies.vlm.video import (
    VIDEO_PAD,
    VISION_END,
    VISION_START,
    EncodedVideo,
    encode_video,
    load_video_settings,
)
from stvg.verifiers.formats import FrameContext, ParseResult, get_format

IMAGE_PAD = "<|image_pad|>"


@dataclass
class PreparedPrompt:
    """Model inputs of one observation (batch of one), on the CPU.

    Attributes:
        text: the chat prompt before the video placeholder is expanded (for inspection).
        input_ids: long ``[1, P]`` prompt tokens (video placeholder expanded).
        mm_token_type_ids: int ``[1, P]``: 0 text, 1 image, 2 video token.
        video: the encoded clip (pixel patches, grid, timing).
        frames_shown: real frames in the observation.
        shown_size: ``(width, height)`` of the shown frames, pixels.
    """

    text: str
    input_ids: Any
    mm_token_type_ids: Any
    video: EncodedVideo
    frames_shown: int
    shown_size: tuple[int, int]

    @property
    def visual_tokens(self) -> int:
        """``<|video_pad|>`` tokens in the prompt."""
        return self.video.num_tokens

    @property
    def prompt_tokens(self) -> int:
        """All prompt tokens (text and visual)."""
        return int(self.input_ids.shape[1])


@dataclass(frozen=True)
class ParsedGeneration:
    """What :meth:`VLMPolicy.generate_and_parse` returns.

    Attributes:
        text: the generated answer text.
        parse: the answer format's :class:`~stvg.verifiers.formats.ParseResult`.
        completion: the completion with its token ids and token counts.
    """

    text: str
    parse: ParseResult
    completion: TextCompletion


class VLMPolicy:
    """A Qwen2.5-VL / Qwen3-VL policy that answers in an answer format's text.

    Args:
        model_path: LOCAL checkpoint directory (``local_files_only``; nothing is downloaded).
        **options: any other field of :class:`VLMPolicyConfig` (``family``, ``answer_format``,
            ``coords``, ``template``, ``fps``, ``max_new_tokens``, ``temperature``,
            ``top_p``, ``do_sample``, ``device``, ``dtype``, ...).

    Attributes:
        config: the :class:`VLMPolicyConfig` (saved with checkpoints).
        family: ``qwen2.5-vl`` or ``qwen3-vl``.
        coords: the coordinate system the model is asked to answer in.
        model, tokenizer: the transformers model and tokenizer.
        last_cost: cost figures of the last ``act``/``generate`` call.
    """

    config_class = VLMPolicyConfig

    def __init__(self, model_path: str, **options: Any) -> None:
        self._setup(VLMPolicyConfig(model_path=str(model_path), **options))

    @classmethod
    def from_config(cls, config: VLMPolicyConfig) -> VLMPolicy:
        """Build the policy from a validated :class:`VLMPolicyConfig`."""
        policy = cls.__new__(cls)
        policy._setup(config)
        return policy

    def _setup(self, config: VLMPolicyConfig) -> None:
        import torch

        self.config = config
        path = check_model_path(config.model_path)
        detected = detect_family(path)
        if config.family != "auto" and config.family != detected:
            raise ValueError(
                f"family={config.family!r} but {path}/config.json is a {detected} checkpoint; "
                "set family to 'auto' or to the checkpoint's family"
            )
        self.family = detected
        self.coords = FAMILY_COORDS[detected] if config.coords == "auto" else config.coords
        self.answer_format = get_format(config.answer_format, self.coords)
        self.template = load_template(config.template)
        self.video_settings = load_video_settings(
            path,
            detected,
            min_pixels=config.min_pixels,
            max_pixels=config.max_pixels,
            cap_pixels_per_frame=config.cap_pixels_per_frame,
        )
        self.device = resolve_device(config.device)
        self.dtype = resolve_dtype(config.dtype, self.device)
        self.tokenizer = load_tokenizer(path)
        self.model = load_model(
            path,
            device=self.device,
            dtype=self.dtype,
            attn_implementation=config.attn_implementation,
        )
        self._token_ids = self._special_token_ids()
        generation = self.model.generation_config
        eos = (
            generation.eos_token_id
            if generation.eos_token_id is not None
            else self.tokenizer.eos_token_id
        )
        self._eos_ids = {
            int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos]) if e is not None
        }
        pad = (
            generation.pad_token_id
            if generation.pad_token_id is not None
            else self.tokenizer.pad_token_id
        )
        self._pad_id = int(pad if pad is not None else min(self._eos_ids))
        self.last_cost: dict[str, Any] | None = None
        if config.seed is not None:
            torch.manual_seed(config.seed)

    def _special_token_ids(self) -> dict[str, int]:
        ids: dict[str, int] = {}
        for token in (VIDEO_PAD, IMAGE_PAD, VISION_START, VISION_END):
            token_id = self.tokenizer.convert_tokens_to_ids(token)
            if token_id is None or token_id == self.tokenizer.unk_token_id:
                raise ValueError(
                    f"the tokenizer of {self.config.model_path} has no {token} token; "
                    "is this a Qwen VL checkpoint?"
                )
            ids[token] = int(token_id)
        expected = getattr(self.model.config, "video_token_id", None)
        if expected is not None and int(expected) != ids[VIDEO_PAD]:
            raise ValueError(
                f"{self.config.model_path}: tokenizer id of {VIDEO_PAD} is {ids[VIDEO_PAD]} but "
                f"config.video_token_id is {expected}; the tokenizer does not match the model"
            )
        return ids

    # ------------------------------------------------------------------ prompts

    def prepare(self, obs: Observation, ctx: FrameContext | None = None) -> PreparedPrompt:
        """Build the model inputs of one observation.

        Args:
            obs: a GroundingEnv observation.
            ctx: what was shown (for the answer format's instructions); optional.
        """
        import torch

        frames, times, query, shown_size = read_observation(obs)
        video = encode_video(frames, times, self.video_settings, fps=self.config.fps)
        values = prompt_values(
            query=query,
            fps=self.config.fps,
            timestamps_s=times,
            width=shown_size[0],
            height=shown_size[1],
            format_instructions=self.answer_format.instructions(ctx),
        )
        text = self.tokenizer.apply_chat_template(
            chat_messages(self.template, values), tokenize=False, add_generation_prompt=True
        )
        if text.count(VIDEO_PAD) != 1:
            raise ValueError(
                f"the chat template of {self.config.model_path} rendered {text.count(VIDEO_PAD)} "
                f"{VIDEO_PAD} placeholders for one video; it must render video content as one"
            )
        expanded = text.replace(VIDEO_PAD, video.placeholder)
        input_ids = self.tokenizer(expanded, return_tensors="pt")["input_ids"]
        found = int((input_ids == self._token_ids[VIDEO_PAD]).sum())
        if found != video.num_tokens:
            raise ValueError(
                f"prompt holds {found} {VIDEO_PAD} tokens but the video has {video.num_tokens}: "
                "the prompt text itself contains video tokens"
            )
        types = torch.zeros_like(input_ids)
        types[input_ids == self._token_ids[IMAGE_PAD]] = 1
        types[input_ids == self._token_ids[VIDEO_PAD]] = 2
        return PreparedPrompt(text, input_ids, types, video, len(frames), shown_size)

    def model_inputs(
        self, prep: PreparedPrompt, rows: int = 1, completion: Any = None
    ) -> dict[str, Any]:
        """Keyword inputs of ``self.model`` for ``rows`` copies of ``prep``, on the device.

        Args:
            prep: from :meth:`prepare`.
            rows: batch size (identical prompts, e.g. ``n`` samples of one observation).
            completion: optional ``(ids, mask)`` long/bool ``[rows, L]`` appended after the
                prompt (right-padded completions; ``mask`` is ``False`` on padding).
        """
        import torch

        input_ids = prep.input_ids.repeat(rows, 1)
        types = prep.mm_token_type_ids.repeat(rows, 1)
        attention = torch.ones_like(input_ids)
        if completion is not None:
            ids, mask = completion
            input_ids = torch.cat([input_ids, ids], dim=1)
            types = torch.cat([types, torch.zeros_like(ids)], dim=1)
            attention = torch.cat([attention, mask.to(attention.dtype)], dim=1)
        inputs: dict[str, Any] = {
            "input_ids": input_ids,
            "attention_mask": attention,
            "mm_token_type_ids": types,
            "pixel_values_videos": prep.video.pixel_values.repeat(rows, 1).to(self.dtype),
            "video_grid_thw": torch.tensor([prep.video.grid_thw] * rows, dtype=torch.long),
        }
        if self.family == "qwen2.5-vl":
            inputs["second_per_grid_ts"] = torch.tensor(
                [prep.video.second_per_grid_t] * rows, dtype=torch.float32
            )
        return {k: v.to(self.device) for k, v in inputs.items()}

    # ------------------------------------------------------------------ generation

    def generate(
        self,
        obs: Observation,
        ctx: FrameContext | None = None,
        *,
        n: int = 1,
        do_sample: bool | None = None,
    ) -> list[TextCompletion]:
        """Generate ``n`` completions for one observation (no gradients).

        ``do_sample=None`` follows the config; sampling uses ``temperature`` and ``top_p``.
        """
        prep = self.prepare(obs, ctx)
        completions = self._generate(
            prep, n, self.config.do_sample if do_sample is None else do_sample
        )
        self.last_cost = self._cost(prep, completions)
        return completions

    def _generate(self, prep: PreparedPrompt, n: int, do_sample: bool) -> list[TextCompletion]:
        import torch

        if n < 1:
            raise ValueError(f"n must be >= 1 completions per observation, got {n}")
        inputs = self.model_inputs(prep, n)
        # Every sampling knob is set explicitly: transformers fills unset ones from the
        # checkpoint's generation_config (Qwen ships top_k, repetition_penalty, ...), which
        # would make the sampling distribution differ from the one log_prob scores.
        options: dict[str, Any] = {
            "max_new_tokens": self.config.max_new_tokens,
            "do_sample": do_sample,
            "temperature": self.config.temperature if do_sample else 1.0,
            "top_p": self.config.top_p if do_sample else 1.0,
            "top_k": 0,  # off
            "repetition_penalty": 1.0,  # off
            "pad_token_id": self._pad_id,
            "eos_token_id": sorted(self._eos_ids),
            # A generated vision token would desynchronise the prompt's video features.
            "suppress_tokens": sorted(self._token_ids.values()),
        }
        with torch.no_grad():
            output = self.model.generate(**inputs, **options)
        generated = output[:, prep.prompt_tokens :].tolist()
        return [self._completion(ids, prep) for ids in generated]

    def _completion(self, ids: list[int], prep: PreparedPrompt) -> TextCompletion:
        kept: list[int] = []
        for token in ids:
            kept.append(int(token))
            if token in self._eos_ids:
                break
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        return TextCompletion(text, tuple(kept), prep.visual_tokens, prep.prompt_tokens)

    def _cost(self, prep: PreparedPrompt, completions: Sequence[TextCompletion]) -> dict[str, Any]:
        return {
            "frames_shown": prep.frames_shown,
            "visual_tokens": {self.family: prep.visual_tokens},
            "output_tokens": int(sum(c.output_tokens for c in completions)),
        }

    def act(self, obs: Observation, ctx: FrameContext | None = None) -> str:
        """The answer text for one observation (sampled or greedy, per ``do_sample``)."""
        return self.generate(obs, ctx, n=1)[0].text

    def act_batch(
        self, obs_list: Sequence[Observation], ctxs: Sequence[FrameContext | None] | None = None
    ) -> list[str]:
        """Answer texts for several observations, one prompt at a time."""
        ctxs = list(ctxs) if ctxs is not None else [None] * len(obs_list)
        return [self.act(obs, ctx) for obs, ctx in zip(obs_list, ctxs, strict=True)]

    def generate_and_parse(
        self, obs: Observation, ctx: FrameContext | Mapping[str, Any]
    ) -> ParsedGeneration:
        """Generate one answer and parse it with the answer format (never raises on bad text).

        Args:
            obs: a GroundingEnv observation.
            ctx: the episode's :class:`FrameContext` (``env.frame_context``), or the ``info``
                dict of ``GroundingEnv.reset`` to build it from.
        """
        if not isinstance(ctx, FrameContext):
            ctx = context_from_reset(obs, ctx, self.config.fps)
        completion = self.generate(obs, ctx, n=1)[0]
        return ParsedGeneration(
            completion.text, self.answer_format.parse(completion.text, ctx), completion
        )

    # ------------------------------------------------------------------ RL interface

    def sample(
        self,
        obs_batch: Sequence[Observation],
        n: int,
        ctxs: Sequence[FrameContext | None] | None = None,
    ) -> Rollouts:
        """Sample ``n`` completions per observation, with per-token log-probs (no gradients).

        Returns:
            :class:`Rollouts` whose ``actions`` are :class:`TextCompletion` objects,
            ``token_ids``/``log_probs``/``mask`` ``[B * n, L]`` right-padded, and
            ``extras`` with per-row ``frames_shown``, ``visual_tokens``, ``output_tokens``.
        """
        import torch

        ctxs = list(ctxs) if ctxs is not None else [None] * len(obs_batch)
        preps = [self.prepare(obs, ctx) for obs, ctx in zip(obs_batch, ctxs, strict=True)]
        completions: list[TextCompletion] = []
        obs_index: list[int] = []
        for i, prep in enumerate(preps):
            completions.extend(self._generate(prep, n, do_sample=True))
            obs_index.extend([i] * n)
        with torch.no_grad():
            log_probs, mask, token_ids = self._score(preps, completions, obs_index)
        self.last_cost = {
            "frames_shown": sum(p.frames_shown for p in preps),
            "visual_tokens": {self.family: sum(p.visual_tokens for p in preps)},
            "output_tokens": int(sum(c.output_tokens for c in completions)),
        }
        return Rollouts(
            actions=list(completions),
            obs_index=obs_index,
            log_probs=log_probs.detach(),
            mask=mask,
            token_ids=token_ids,
            extras={
                "frames_shown": [preps[i].frames_shown for i in obs_index],
                "visual_tokens": [c.visual_tokens for c in completions],
                "output_tokens": [c.output_tokens for c in completions],
            },
        )

    def log_prob(
        self,
        obs_batch: Sequence[Observation],
        actions: Rollouts | Sequence[TextCompletion | str],
        ctxs: Sequence[FrameContext | None] | None = None,
    ) -> Any:
        """Per-token log-probabilities ``[B * n, L]`` of completions, WITH gradients.

        Args:
            obs_batch: the ``B`` observations the completions answer.
            actions: :class:`Rollouts` from :meth:`sample` (rows grouped by ``obs_index``)
                or ``B * n`` completions in observation-major order; plain strings are
                tokenized (which may differ from the ids a model sampled).
            ctxs: the contexts used when sampling (they change the prompt's instructions).

        Returns:
            float32 tensor aligned with ``actions.mask`` (0 on padding); prompt tokens are
            never scored.
        """
        if isinstance(actions, Rollouts):
            completions, obs_index = list(actions.actions), list(actions.obs_index)
            width = int(actions.mask.shape[1])
        else:
            completions = [self._as_completion(a) for a in actions]
            if not obs_batch or len(completions) % len(obs_batch):
                raise ValueError(
                    f"{len(completions)} completions do not split evenly over "
                    f"{len(obs_batch)} observations; pass Rollouts or B * n completions"
                )
            group = len(completions) // len(obs_batch)
            obs_index = [row // group for row in range(len(completions))]
            width = None
        ctxs = list(ctxs) if ctxs is not None else [None] * len(obs_batch)
        preps = [self.prepare(obs, ctx) for obs, ctx in zip(obs_batch, ctxs, strict=True)]
        log_probs, _, _ = self._score(preps, completions, obs_index, width)
        return log_probs

    def _as_completion(self, action: TextCompletion | str) -> TextCompletion:
        if isinstance(action, TextCompletion):
            return action
        if isinstance(action, str):
            ids = self.tokenizer(action, add_special_tokens=False)["input_ids"]
            return TextCompletion(action, tuple(int(i) for i in ids))
        raise TypeError(f"completions must be TextCompletion or str, got {type(action).__name__}")

    def _score(
        self,
        preps: Sequence[PreparedPrompt],
        completions: Sequence[TextCompletion],
        obs_index: Sequence[int],
        width: int | None = None,
    ) -> tuple[Any, Any, Any]:
        """Log-probs, mask and ids ``[N, width]`` of ``completions`` (grad follows the caller)."""
        import torch

        lengths = [len(c.token_ids) for c in completions]
        width = max([1, *lengths]) if width is None else width
        if max(lengths, default=0) > width:
            raise ValueError(f"a completion has {max(lengths)} tokens, more than width={width}")
        vision_ids = set(self._token_ids.values())
        for row, comp in enumerate(completions):
            if vision_ids.intersection(comp.token_ids):
                raise ValueError(f"completion {row} contains vision tokens; it cannot be scored")
        token_ids = torch.full((len(completions), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(completions), width), dtype=torch.bool)
        for row, comp in enumerate(completions):
            token_ids[row, : lengths[row]] = torch.tensor(comp.token_ids, dtype=torch.long)
            mask[row, : lengths[row]] = True
        rows_out: list[Any] = [None] * len(completions)
        for i, prep in enumerate(preps):
            rows = [r for r, o in enumerate(obs_index) if o == i]
            if not rows:
                continue
            longest = max(1, max(lengths[r] for r in rows))
            ids, row_mask = token_ids[rows, :longest], mask[rows, :longest]
            inputs = self.model_inputs(prep, len(rows), (ids, row_mask))
            logits = self.model(**inputs, use_cache=False, logits_to_keep=longest + 1).logits
            logits = logits[:, :-1, :].float() / self.config.temperature
            picked = torch.log_softmax(logits, dim=-1).gather(
                -1, ids.to(logits.device).unsqueeze(-1)
            )
            picked = picked.squeeze(-1) * row_mask.to(logits.device)
            padded = torch.nn.functional.pad(picked, (0, width - longest))
            for j, row in enumerate(rows):
                rows_out[row] = padded[j]
        missing = [r for r, v in enumerate(rows_out) if v is None]
        if missing:
            raise ValueError(f"completions {missing} point to no observation (obs_index)")
        return torch.stack(rows_out), mask, token_ids

    # ------------------------------------------------------------------ torch plumbing

    def parameters(self) -> Iterator[Any]:
        """The model's parameters."""
        return self.model.parameters()

    def state_dict(self) -> dict[str, Any]:
        """The model's weights."""
        return self.model.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> Any:
        """Load weights saved by :meth:`state_dict`."""
        return self.model.load_state_dict(state)

    def train(self, mode: bool = True) -> VLMPolicy:
        """Put the model in training (``True``) or evaluation mode; returns ``self``."""
        self.model.train(mode)
        return self

    def eval(self) -> VLMPolicy:
        """Put the model in evaluation mode; returns ``self``."""
        return self.train(False)

    def config_dict(self) -> dict[str, Any]:
        """The constructor configuration as a plain dict (what checkpoints save)."""
        return asdict(self.config)


__all__ = ["ParsedGeneration", "PreparedPrompt", "VLMPolicy"]
