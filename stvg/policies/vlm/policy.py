"""``VLMPolicy``: a text policy on a transformers VLM (registered as ``vlm``).

Everything that differs between model families (Qwen2.5-VL, Qwen3-VL, InternVL, ...) is in
the family's adapter (:mod:`stvg.policies.vlm.families`); this module never branches on a
family name. One observation becomes one chat prompt: the shown frames (as ONE video for the
Qwen families, as one image per frame after a "Frame at t s:" label for image-list
families), and the query,
rate, timestamps, frame size and answer-format instructions filled into a YAML template
(:mod:`stvg.policies.vlm.prompt`). The checkpoint's own processor (``AutoProcessor``) turns
text and frames into model inputs (:mod:`stvg.policies.vlm.video`), so the model sees
exactly the shown frames and their times as the family is told them.

Answer contract. :attr:`VLMPolicy.answer_spec` is the
:class:`~stvg.verifiers.formats.ContractSpec` the policy answers in: its answer format,
coordinate system, sampling rate and the processor's frame geometry. The prompt depends on
the observation and this spec only: for Qwen2.5-VL (absolute pixel coordinates) it tells
the size of the frames *as the processor resized them* (a 224x126 frame becomes 448x252
under the default ``min_pixels``), read back from the processor's output. The text is
written before the processor runs, so the size is first predicted with the spec's
:class:`~stvg.verifiers.formats.ModelGeometry` (tests hold it equal to the processors) and
then checked against the processor's output; should they ever differ, the prompt is
written again with the processor's size. The processor itself expands the video
placeholder (one call with the text and the frames). An env's
:class:`~stvg.verifiers.formats.FrameContext` is never used to write the prompt; when one is
passed it is checked against it (:meth:`VLMPolicy.prepare`), and it is what answers are
parsed with.

RL interface (:class:`~stvg.policies.base.TrainablePolicy`):

* :meth:`VLMPolicy.sample` generates ``n`` completions for every observation in ONE
  left-padded ``generate`` call: one prefill encodes each prompt (video and text) once, its
  KV cache is repeated for the ``n`` rows, and the sampled tokens' log-probabilities are
  recorded from the sampling steps themselves (or, ``rollout_log_probs="rescore"``, from a
  separate no-grad pass);
* :meth:`VLMPolicy.log_prob` recomputes those log-probabilities **with gradients**, in
  micro-batches of ``micro_batch_size`` rows (each video encoded once per micro-batch);
  ``rows=`` scores a subset, for gradient accumulation.

Log-probabilities are those of ``softmax(logits / temperature)``, the distribution that
``sample`` draws from before ``top_p`` truncation. The checkpoint's own sampling defaults
(``top_k``, ``repetition_penalty`` in Qwen's ``generation_config.json``) are switched off so
that sampling and scoring agree. ``act``/``generate`` decode greedily unless the config sets
``do_sample``.

Cost per call: every :class:`~stvg.policies.base.TextCompletion` carries its visual and
output token counts, and :attr:`VLMPolicy.last_cost` holds the figures of the last call
(``frames_shown``, ``visual_tokens`` per family, ``output_tokens``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stvg.policies.base import Observation, Rollouts, TextCompletion
from stvg.policies.vlm.batch import prompt_batch, scoring_batch
from stvg.policies.vlm.checkpoint import (
    load_model,
    resolve_device,
    resolve_dtype,
)
from stvg.policies.vlm.config import VLMPolicyConfig
from stvg.policies.vlm.observation import context_from_reset
from stvg.policies.vlm.prepared import PreparedPrompt
from stvg.policies.vlm.prompter import TIMESTAMP_TOLERANCE_S, VLMPrompter, checkpoint_contract
from stvg.policies.vlm.sampling import NEUTRAL_SAMPLING, StepLogProbs, sampling_processors
from stvg.verifiers.formats import ContractSpec, FrameContext, ParseResult


@dataclass(frozen=True)
class ParsedGeneration:
    """What :meth:`VLMPolicy.generate_and_parse` returns.

    Attributes:
        text: the generated answer text.
        parse: the answer format's :class:`~stvg.verifiers.formats.ParseResult`.
        completion: the completion with its token ids and token counts.
        ctx: the frame context the answer was parsed with (its ``model_size`` is the
            processor's).
    """

    text: str
    parse: ParseResult
    completion: TextCompletion
    ctx: FrameContext | None = None


class VLMPolicy:
    """A transformers VLM policy (any registered family) that answers in an answer format's
    text.

    Args:
        model_path: LOCAL checkpoint directory (``local_files_only``; nothing is downloaded).
        **options: any other field of :class:`VLMPolicyConfig` (``family``, ``answer_format``,
            ``coords``, ``template``, ``fps``, ``max_new_tokens``, ``temperature``,
            ``top_p``, ``do_sample``, ``micro_batch_size``, ``device``, ``dtype``, ...).

    Attributes:
        config: the :class:`VLMPolicyConfig` (saved with checkpoints).
        family: the family's name (``qwen2.5-vl``, ``qwen3-vl``, ``internvl``, ...).
        adapter: its :class:`~stvg.policies.vlm.families.FamilyAdapter`.
        coords: the coordinate system the model is asked to answer in.
        answer_spec: the answer contract the policy answers in.
        model, processor, tokenizer: the transformers model, processor and its tokenizer.
        last_cost: cost figures of the last ``act``/``generate``/``sample`` call.
    """

    config_class = VLMPolicyConfig
    #: Adam step size the trainer uses when a run config leaves ``learning_rate`` unset: a
    #: VLM learning rate (1e-4 would wreck a 7B model in a few steps).
    default_learning_rate = 1e-6

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
        self.prompter = VLMPrompter(config)
        path = self.prompter.model_path
        self.processor = self.prompter.processor
        self._answer_spec = self.prompter.answer_spec
        self.family = self.prompter.family
        self.adapter = self.prompter.adapter
        self.coords = self._answer_spec.coords
        self.geometry = self._answer_spec.geometry
        self.answer_format = self.prompter.answer_format
        self.template = self.prompter.template
        self.tokenizer = self.processor.tokenizer
        self.device = resolve_device(config.device)
        self.dtype = resolve_dtype(config.dtype, self.device)
        self.model = load_model(
            path,
            device=self.device,
            dtype=self.dtype,
            attn_implementation=config.attn_implementation,
            device_map=config.device_map,
        )
        if config.device_map is not None:
            self.device = str(self.model.device)
        if config.gradient_checkpointing:
            self.enable_gradient_checkpointing()
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
        """Ids of the family's vision tokens; the placeholder's must be the model config's."""
        ids: dict[str, int] = {}
        for token in self.adapter.vision_tokens:
            token_id = self.tokenizer.convert_tokens_to_ids(token)
            if token_id is None or token_id == self.tokenizer.unk_token_id:
                raise ValueError(
                    f"the tokenizer of {self.config.model_path} has no {token} token; "
                    f"is this a {self.family} checkpoint?"
                )
            ids[token] = int(token_id)
        placeholder, key = self.adapter.placeholder_token, self.adapter.config_token_key
        expected = getattr(self.model.config, key, None)
        if expected is not None and int(expected) != ids[placeholder]:
            raise ValueError(
                f"{self.config.model_path}: tokenizer id of {placeholder} is {ids[placeholder]} "
                f"but config.{key} is {expected}; the tokenizer does not match the model"
            )
        return ids

    @property
    def max_new_tokens(self) -> int:
        """The generation budget (:class:`~stvg.policies.base.TokenBudget`)."""
        return int(self.config.max_new_tokens)

    @property
    def answer_spec(self) -> ContractSpec:
        """The answer contract the policy answers in: format, coordinates, fps and the
        geometry of its processor (``min_pixels``/``max_pixels`` with the config's
        overrides), which an env must score in (``stvg.verifiers.formats.check_agreement``)."""
        return self._answer_spec

    # ------------------------------------------------------------------ prompts

    def prepare(self, obs: Observation, ctx: FrameContext | None = None) -> PreparedPrompt:
        """Build the model inputs of one observation (:meth:`VLMPrompter.prepare`)."""
        return self.prompter.prepare(obs, ctx)

    def model_inputs(self, preps: Sequence[PreparedPrompt]) -> dict[str, Any]:
        """Generation inputs of ``preps`` (one left-padded row each), on the model's device.

        When the family cannot batch these prompts' pixels
        (:meth:`~stvg.policies.vlm.families.FamilyAdapter.batches_pixels`), the vision tower
        runs here (no gradients) and its features go in as ``mm_encoder_outputs``."""
        import torch

        if self.adapter.batches_pixels(preps):
            return self._to_device(prompt_batch(preps, self._pad_id))
        text = {**prompt_batch(preps, self._pad_id, visual=False), **self.adapter.row_inputs(preps)}
        inputs = self._to_device(text)
        with torch.no_grad():
            features = self.adapter.encode_visual(self.model, preps, self.device, self.weight_dtype)
        rows = self.adapter.features_of_rows(features, preps, list(range(len(preps))))
        inputs["mm_encoder_outputs"] = {self.adapter.features_key: rows}
        return inputs

    def _to_device(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        import torch

        moved: dict[str, Any] = {}
        for key, value in inputs.items():
            if key in self.adapter.pixel_keys:
                value = value.to(self.weight_dtype)
            elif value.is_floating_point():  # timing, e.g. Qwen2.5-VL's second_per_grid_ts
                value = value.to(torch.float32)
            moved[key] = value.to(self.device)
        return moved

    # ------------------------------------------------------------------ generation

    def _generation_options(
        self, do_sample: bool, recorder: StepLogProbs | None = None
    ) -> dict[str, Any]:
        """``generate`` options. Every knob is set: transformers fills unset ones from the
        checkpoint's generation_config (Qwen ships top_k, repetition_penalty, ...), which
        would make the sampling distribution differ from the one ``log_prob`` scores."""
        vision_ids = sorted(self._token_ids.values())
        options: dict[str, Any] = {
            "max_new_tokens": self.config.max_new_tokens,
            "pad_token_id": self._pad_id,
            "eos_token_id": sorted(self._eos_ids),
        }
        if not do_sample:
            # A generated vision token would desynchronise the prompt's video features.
            options.update(do_sample=False, repetition_penalty=1.0, suppress_tokens=vision_ids)
            return options
        recorder = StepLogProbs(self.config.temperature) if recorder is None else recorder
        options.update(NEUTRAL_SAMPLING)
        options["logits_processor"] = sampling_processors(
            self.config.temperature, self.config.top_p, vision_ids, recorder
        )
        return options

    def _generate(
        self,
        preps: Sequence[PreparedPrompt],
        n: int,
        do_sample: bool,
        *,
        share_prefill: bool = True,
        recorder: StepLogProbs | None = None,
    ) -> list[TextCompletion]:
        """``n`` completions per prompt, observation-major, from ONE ``generate`` call.

        With ``n > 1`` samples per prompt and ``share_prefill``, each prompt is encoded
        ONCE: one forward pass over all prompts but their last token fills the KV cache
        (vision tower and language model), the cache is repeated ``n`` times, and
        ``generate`` continues the ``B * n`` rows from it. ``num_return_sequences=n`` would
        encode each video once too, but run the language model over every prompt ``n``
        times. Greedy decoding with ``n > 1`` decodes once and repeats the answers. A
        ``recorder`` (sampling only) collects the sampled tokens' log-probabilities.
        """
        import torch

        if n < 1:
            raise ValueError(f"n must be >= 1 completions per observation, got {n}")
        if not preps:
            return []
        inputs = self.model_inputs(preps)
        width = int(inputs["input_ids"].shape[1])
        options = self._generation_options(do_sample, recorder)
        with torch.no_grad():
            if n > 1 and do_sample and share_prefill:
                output = self._generate_from_shared_prefill(inputs, n, options)
            elif n > 1 and do_sample and "mm_encoder_outputs" in inputs:
                # transformers expands pre-encoded features per encoder output, not per
                # prompt: repeat the prompts instead (the same rows, observation-major).
                repeated = self.model_inputs([p for p in preps for _ in range(n)])
                output = self.model.generate(**repeated, **options)
            elif n > 1 and do_sample:
                output = self.model.generate(**inputs, **options, num_return_sequences=n)
            else:
                output = self.model.generate(**inputs, **options)
        if recorder is not None:
            recorder.finish(output)
        generated = output[:, width:].tolist()
        repeat = 1 if n > 1 and do_sample else n  # greedy: the same answer n times
        rows = len(generated) * repeat
        return [self._completion(generated[r // repeat], preps[r // n]) for r in range(rows)]

    def _generate_from_shared_prefill(
        self, inputs: Mapping[str, Any], n: int, options: Mapping[str, Any]
    ) -> Any:
        """``generate`` for ``n`` rows per prompt from one shared prompt prefill.

        The continuation gets every input but the pixels (the cache holds the visual
        tokens); the family adapter fixes model state the prefill left per prompt
        (:meth:`~stvg.policies.vlm.families.FamilyAdapter.after_shared_prefill`)."""
        sliced = ("input_ids", "attention_mask", "mm_token_type_ids")
        prefix = {k: v[:, :-1] if k in sliced else v for k, v in inputs.items()}
        positions = self.adapter.position_ids(prefix["attention_mask"])
        if positions is not None:
            prefix["position_ids"] = positions
        out = self.model(**prefix, use_cache=True, logits_to_keep=1)
        cache = getattr(out, "cache", None) or out.past_key_values
        cache.batch_repeat_interleave(n)
        self.adapter.after_shared_prefill(self.model, n)
        rows = {
            k: v.repeat_interleave(n, dim=0)
            for k, v in inputs.items()
            if k not in self.adapter.pixel_keys and k != "mm_encoder_outputs"
        }
        return self.model.generate(**rows, cache=cache, **options)

    def _completion(self, ids: list[int], prep: PreparedPrompt) -> TextCompletion:
        kept: list[int] = []
        for token in ids:
            kept.append(int(token))
            if token in self._eos_ids:
                break
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        finished = bool(kept) and kept[-1] in self._eos_ids
        return TextCompletion(
            text, tuple(kept), prep.visual_tokens, prep.prompt_tokens, finished=finished
        )

    def _cost(
        self, preps: Sequence[PreparedPrompt], completions: Sequence[TextCompletion]
    ) -> dict[str, Any]:
        return {
            "frames_shown": sum(p.frames_shown for p in preps),
            "visual_tokens": {self.family: sum(p.visual_tokens for p in preps)},
            "output_tokens": int(sum(c.output_tokens for c in completions)),
        }

    def _prepare_all(
        self, obs_batch: Sequence[Observation], ctxs: Sequence[FrameContext | None] | None
    ) -> list[PreparedPrompt]:
        ctxs = list(ctxs) if ctxs is not None else [None] * len(obs_batch)
        if len(ctxs) != len(obs_batch):
            raise ValueError(
                f"got {len(ctxs)} frame contexts for {len(obs_batch)} observations; pass one "
                "per observation or none"
            )
        return [self.prepare(obs, ctx) for obs, ctx in zip(obs_batch, ctxs, strict=True)]

    def generate(
        self,
        obs: Observation,
        ctx: FrameContext | None = None,
        *,
        n: int = 1,
        do_sample: bool | None = None,
    ) -> list[TextCompletion]:
        """Generate ``n`` completions for one observation (no gradients).

        ``do_sample=None`` follows the config (greedy by default); sampling uses
        ``temperature`` and ``top_p``. ``ctx`` is only checked (see :meth:`prepare`).
        """
        prep = self.prepare(obs, ctx)
        sample = self.config.do_sample if do_sample is None else do_sample
        completions = self._generate([prep], n, sample)
        self.last_cost = self._cost([prep], completions)
        return completions

    def act(self, obs: Observation, info: Mapping[str, Any] | None = None) -> str:
        """The answer text for one observation (greedy unless the config sets ``do_sample``).

        ``info`` (the env's reset info, the :class:`~stvg.policies.base.Policy` signature) is
        not needed: the prompt depends on the observation alone. To have the episode's
        :class:`FrameContext` checked against the prompt, call :meth:`generate`.
        """
        return self.generate(obs, n=1)[0].text

    def generate_batch(
        self,
        obs_list: Sequence[Observation],
        ctxs: Sequence[FrameContext | None] | None = None,
        *,
        do_sample: bool | None = None,
    ) -> list[TextCompletion]:
        """One completion per observation, generated in one batched call (no gradients);
        greedy unless ``do_sample`` (default: the config's) says otherwise."""
        preps = self._prepare_all(obs_list, ctxs)
        sample = self.config.do_sample if do_sample is None else do_sample
        completions = self._generate(preps, 1, sample)
        self.last_cost = self._cost(preps, completions)
        return completions

    def act_batch(
        self,
        obs_list: Sequence[Observation],
        infos: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> list[str]:
        """Answer texts for several observations, generated in one batched call (``infos``
        are not needed; :meth:`generate_batch` takes frame contexts to check)."""
        return [c.text for c in self.generate_batch(obs_list)]

    def generate_and_parse(
        self, obs: Observation, ctx: FrameContext | Mapping[str, Any]
    ) -> ParsedGeneration:
        """Generate one answer and parse it with the answer format (never raises on bad text).

        Args:
            obs: a GroundingEnv observation.
            ctx: the episode's :class:`FrameContext` (``env.frame_context``, checked against
                the prompt), or the ``info`` dict of ``GroundingEnv.reset`` to build it from
                (its ``model_size`` is then the processor's).
        """
        if isinstance(ctx, FrameContext):
            prep = self.prepare(obs, ctx)
        else:
            prep = self.prepare(obs)
            ctx = context_from_reset(obs, ctx, self.config.fps, model_size=prep.model_size)
        completion = self._generate([prep], 1, self.config.do_sample)[0]
        self.last_cost = self._cost([prep], [completion])
        return ParsedGeneration(
            completion.text, self.answer_format.parse(completion.text, ctx), completion, ctx
        )

    # ------------------------------------------------------------------ RL interface

    def sample(
        self,
        obs_batch: Sequence[Observation],
        n: int,
        ctxs: Sequence[FrameContext | None] | None = None,
    ) -> Rollouts:
        """Sample ``n`` completions per observation, with per-token log-probs (no gradients).

        All prompts go through one left-padded ``generate`` call for the ``B * n`` rows,
        each prompt encoded once (see :meth:`_generate`). The log-probs are those of the
        sampling steps themselves, or of a separate no-grad pass in micro-batches
        (``rollout_log_probs``). Always samples (``do_sample`` only concerns
        ``act``/``generate``).

        Returns:
            :class:`Rollouts` whose ``actions`` are :class:`TextCompletion` objects,
            ``token_ids``/``log_probs``/``mask`` ``[B * n, L]`` right-padded (CPU), and
            ``extras`` with per-row ``frames_shown``, ``visual_tokens``, ``output_tokens``.
        """
        import torch

        preps = self._prepare_all(obs_batch, ctxs)
        recorder = StepLogProbs(self.config.temperature)
        completions = self._generate(preps, n, do_sample=True, recorder=recorder)
        obs_index = [row // n for row in range(len(completions))]
        token_ids, mask = self._pad_completions(completions)
        if self.config.rollout_log_probs == "generation":
            recorded = recorder.result()[:, : token_ids.shape[1]]
            recorded = torch.nn.functional.pad(
                recorded, (0, token_ids.shape[1] - recorded.shape[1])
            )
            log_probs = torch.where(mask, recorded.cpu(), 0.0)
        else:
            with torch.no_grad():
                rows = range(len(obs_index))
                log_probs = self._score(preps, obs_index, token_ids, mask, rows).cpu()
        self.last_cost = self._cost(preps, completions)
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

    def micro_batches(self, rows: int | Sequence[int]) -> list[list[int]]:
        """Row indices split into consecutive chunks of ``micro_batch_size``.

        For gradient accumulation: ``for mb in policy.micro_batches(len(rollouts)):
        policy.log_prob(obs, rollouts, rows=mb)``, a backward pass per chunk.
        """
        rows = list(range(rows)) if isinstance(rows, int) else [int(r) for r in rows]
        size = self.config.micro_batch_size
        return [rows[i : i + size] for i in range(0, len(rows), size)]

    def log_prob(
        self,
        obs_batch: Sequence[Observation],
        actions: Rollouts | Sequence[TextCompletion | str],
        ctxs: Sequence[FrameContext | None] | None = None,
        *,
        rows: Sequence[int] | None = None,
    ) -> Any:
        """Per-token log-probabilities of completions, WITH gradients.

        Args:
            obs_batch: the ``B`` observations the completions answer.
            actions: :class:`Rollouts` from :meth:`sample` (rows grouped by ``obs_index``)
                or ``B * n`` completions in observation-major order; plain strings are
                tokenized (which may differ from the ids a model sampled).
            ctxs: the episodes' frame contexts (only checked; the prompt never depends on
                them).
            rows: score only these rows (e.g. one chunk of :meth:`micro_batches`); ``None``
                scores all.

        Returns:
            float32 tensor ``[len(rows), L]`` (all rows: ``[B * n, L]``) aligned with
            ``actions.mask`` (0 on padding); prompt tokens are never scored. The forward
            passes run ``micro_batch_size`` rows at a time.
        """
        if isinstance(actions, Rollouts):
            completions, obs_index = list(actions.actions), list(actions.obs_index)
            width: int | None = int(actions.mask.shape[1])
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
        bad = sorted({o for o in obs_index if not 0 <= o < len(obs_batch)})
        if bad:
            raise ValueError(
                f"obs_index points to observations {bad}, but obs_batch has {len(obs_batch)}"
            )
        selected = list(range(len(completions))) if rows is None else [int(r) for r in rows]
        out_of_range = [r for r in selected if not 0 <= r < len(completions)]
        if out_of_range:
            raise ValueError(
                f"rows {out_of_range} are out of range for {len(completions)} completions"
            )
        needed = sorted({obs_index[r] for r in selected})
        ctx_list = list(ctxs) if ctxs is not None else [None] * len(obs_batch)
        if len(ctx_list) != len(obs_batch):
            raise ValueError(
                f"got {len(ctx_list)} frame contexts for {len(obs_batch)} observations"
            )
        preps: list[PreparedPrompt | None] = [None] * len(obs_batch)
        for i in needed:
            preps[i] = self.prepare(obs_batch[i], ctx_list[i])
        token_ids, mask = self._pad_completions(completions, width)
        return self._score(preps, obs_index, token_ids, mask, selected)

    def _as_completion(self, action: TextCompletion | str) -> TextCompletion:
        if isinstance(action, TextCompletion):
            return action
        if isinstance(action, str):
            ids = self.tokenizer(action, add_special_tokens=False)["input_ids"]
            return TextCompletion(action, tuple(int(i) for i in ids))
        raise TypeError(f"completions must be TextCompletion or str, got {type(action).__name__}")

    def _pad_completions(
        self, completions: Sequence[TextCompletion], width: int | None = None
    ) -> tuple[Any, Any]:
        """Right-padded ids and mask ``[N, width]`` of ``completions``."""
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
        return token_ids, mask

    def _score(
        self,
        preps: Sequence[PreparedPrompt | None],
        obs_index: Sequence[int],
        token_ids: Any,
        mask: Any,
        rows: Sequence[int],
    ) -> Any:
        """Log-probs ``[len(rows), width]`` of the given rows (grad follows the caller)."""
        import torch

        width = int(token_ids.shape[1])
        chunks = [
            self._score_chunk(preps, obs_index, token_ids, mask, mb)
            for mb in self.micro_batches(rows)
        ]
        if not chunks:
            return torch.zeros((0, width), dtype=torch.float32, device=self.device)
        return torch.cat(chunks, dim=0)

    def _score_chunk(
        self,
        preps: Sequence[PreparedPrompt | None],
        obs_index: Sequence[int],
        token_ids: Any,
        mask: Any,
        rows: Sequence[int],
    ) -> Any:
        import torch

        width = int(token_ids.shape[1])
        longest = max(1, int(mask[rows].sum(dim=1).max()))
        ids, row_mask = token_ids[rows, :longest], mask[rows, :longest]
        inputs, unique, video_of_row = scoring_batch(
            preps, [obs_index[r] for r in rows], ids, row_mask, self._pad_id
        )
        inputs = self._to_device(inputs)
        shown = [preps[u] for u in unique]
        features = self.adapter.encode_visual(self.model, shown, self.device, self.weight_dtype)
        encoded = {
            self.adapter.features_key: self.adapter.features_of_rows(features, shown, video_of_row)
        }
        logits = self.model(
            **inputs, mm_encoder_outputs=encoded, use_cache=False, logits_to_keep=longest + 1
        ).logits
        logits = logits[:, :-1, :].float() / self.config.temperature
        picked = torch.log_softmax(logits, dim=-1).gather(-1, ids.to(logits.device).unsqueeze(-1))
        picked = picked.squeeze(-1) * row_mask.to(logits.device)
        return torch.nn.functional.pad(picked, (0, width - longest))

    # ------------------------------------------------------------------ torch plumbing

    def vision_tower(self) -> Any:
        """The model's vision tower (``torch.nn.Module``): the family adapter's
        :meth:`~stvg.policies.vlm.families.FamilyAdapter.vision_tower`."""
        return self.adapter.vision_tower(self.model)

    def visual_token_width(self) -> int:
        """Width of the visual tokens the vision tower gives the language model."""
        return int(self.model.config.text_config.hidden_size)

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

    def enable_gradient_checkpointing(self) -> None:
        """Recompute activations in the backward pass (non-reentrant; training mode only).

        transformers >= 5.2x calls it activation checkpointing (the old name warns).
        """
        enable = getattr(self.model, "activation_checkpointing_enable", None)
        if enable is not None:
            enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            self.model.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False}
            )

    @property
    def weight_dtype(self) -> Any:
        """The dtype of the model's parameters now (float32 while a trainer keeps master
        weights of a bf16 checkpoint); pixel inputs are cast to it."""
        return next(self.model.parameters()).dtype

    def save_pretrained(self, out_dir: str | Path) -> Path:
        """Export the current weights as a Hugging Face checkpoint directory.

        Writes the model (config, weights in the dtype the policy was loaded in, generation
        config) and the processor (tokenizer, chat template, image and video processor, with
        this policy's pixel bounds, so ``min_pixels``/``max_pixels`` overrides travel with
        the export and its answer contract stays the same), so
        ``AutoModelForImageTextToText``, ``AutoProcessor``, vLLM and ``VLMPolicy(out_dir)``
        load it. Returns ``out_dir``.
        """
        import copy

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        state = {
            k: v.detach().to(self.dtype) if v.is_floating_point() else v
            for k, v in self.model.state_dict().items()
        }
        self.model.save_pretrained(out, state_dict=state)
        # save_pretrained records the dtype of the (float32 master) parameters; the export
        # holds the loaded dtype, which is what dtype="auto" must load.
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(out, local_files_only=True)
        config.dtype = self.dtype
        for sub in ("text_config", "vision_config"):
            if getattr(config, sub, None) is not None:
                getattr(config, sub).dtype = self.dtype
        config.save_pretrained(out)
        processor = copy.deepcopy(self.processor)
        self.adapter.export_processor(processor, self.geometry)
        processor.save_pretrained(out)
        return out

    def config_dict(self) -> dict[str, Any]:
        """The constructor configuration as a plain dict (what checkpoints save)."""
        return asdict(self.config)


__all__ = [
    "TIMESTAMP_TOLERANCE_S",
    "ParsedGeneration",
    "PreparedPrompt",
    "VLMPolicy",
    "checkpoint_contract",
]
