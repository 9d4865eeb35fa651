"""The ``openai`` policy: a model served behind any OpenAI-compatible chat endpoint.

A vLLM or SGLang server (``vllm serve Qwen/Qwen2.5-VL-72B-Instruct``) or a hosted model
answers each observation through the served-model client
(:mod:`stvg.policies.served.client`, the transport the synthesis ``openai`` teacher uses
too):

* the request holds the observation's real frames, cropped to the shown size, each as a
  JPEG image labelled ``"Frame at <t> s:"``, then the prompt of the VLM prompt template
  (``template``) filled from the answer contract
  (:func:`~stvg.policies.vlm.prompt.contract_prompt`, the synthesis teachers' prompt);
* the policy answers in :attr:`OpenAIPolicy.answer_spec`: ``answer_format``, ``coords``
  (``pixels`` are pixels of the frames as sent, the shown size: no model geometry;
  ``norm1000``, ``norm1``) and ``fps``; ``stvg evaluate`` binds its env to that spec and
  refuses one that disagrees;
* a failed request (an HTTP error after retries, the ``timeout_s`` deadline, a malformed
  body, a refusal) never raises: its :class:`~stvg.policies.base.TextCompletion` has empty
  text and the reason in ``error`` (the env then scores it 0, and the evaluation's
  per-sample record keeps the reason as ``policy_error``);
* the server's token usage, when reported, is the completion's ``prompt_tokens`` and
  ``reported_output_tokens`` (the evaluation's ``cost/prompt_tokens`` and
  ``cost/output_tokens``).

The API key is read from the environment variable named by ``api_key_env``; the config (and
so every written ``config.yaml``) holds the variable's name only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stvg.config import InvalidField
from stvg.policies.base import Observation, TextCompletion
from stvg.policies.served.client import ChatClient, ChatReply, ChatRequest, EndpointConfig
from stvg.verifiers.formats import ContractSpec, FrameContext, get_format
from stvg.verifiers.formats.coords import check_coords

#: ``finish_reason`` values and whether the answer ended by itself.
_FINISHED = {"stop": True, "eos": True, "length": False}


@dataclass
class OpenAIPolicyConfig(EndpointConfig):
    """Settings of the ``openai`` policy: the endpoint and the answer contract.

    Attributes:
        base_url: the endpoint, e.g. ``http://localhost:8000/v1`` (vLLM / SGLang) or a
            hosted API's URL.
        model: the model name the endpoint serves.
        api_key_env: name of the environment variable holding the API key (unset: ``EMPTY``).
        max_concurrency: requests in flight at once.
        timeout_s: seconds one request may take in all, body included (a deadline), before
            it counts as failed (then retried).
        max_retries: retries of a failed request (the client's exponential backoff).
        temperature: sampling temperature (0.0: greedy, for evaluation).
        max_tokens: most tokens per answer.
        jpeg_quality: JPEG quality of the frames sent (0-100).
        answer_format: the text answer format (``json-v1``, ``tagged``, ``draft-final``).
        coords: coordinates of the boxes in the answer: ``pixels`` of the frames as sent
            (the shown size), ``norm1000`` or ``norm1``.
        fps: frames sampled per second of video (``None``: every native frame).
        template: the VLM prompt template (a shipped name or a YAML path).
    """

    answer_format: str = "json-v1"
    coords: str = "pixels"
    fps: float | None = 1.0
    template: str = "default"

    def __post_init__(self) -> None:
        super().__post_init__()
        try:
            check_coords(self.coords)
        except ValueError as exc:
            raise InvalidField("coords", str(exc)) from exc
        try:
            get_format(self.answer_format, self.coords)
        except ValueError as exc:
            raise InvalidField("answer_format", str(exc)) from exc
        if self.fps is not None and not (math.isfinite(self.fps) and self.fps > 0):
            raise InvalidField(
                "fps", f"must be positive frames per second or null (every frame), got {self.fps}"
            )

    def answer_spec(self) -> ContractSpec:
        """The :class:`ContractSpec` of these settings (no model geometry)."""
        return ContractSpec(self.answer_format, self.coords, self.fps, None)


class OpenAIPolicy:
    """A text policy answered by a served model (see the module doc).

    Inputs: GroundingEnv observations (``frames``, ``frame_mask``, ``timestamps``,
    ``query``, ``shown_size``) and their reset infos or frame contexts. Outputs: answer
    strings (:meth:`act`, :meth:`act_batch`) or :class:`~stvg.policies.base.TextCompletion`
    objects with the server's token counts (:meth:`generate_batch`).

    Args:
        config: an :class:`OpenAIPolicyConfig`, or ``None`` with keyword settings.
        **settings: :class:`OpenAIPolicyConfig` fields (when ``config`` is ``None``).
    """

    config_class = OpenAIPolicyConfig
    action_format = "text"

    def __init__(self, config: OpenAIPolicyConfig | None = None, **settings: Any) -> None:
        from stvg.policies.vlm.prompt import load_template

        if config is not None and settings:
            raise TypeError("pass either a config or keyword settings, not both")
        self.config = config if config is not None else OpenAIPolicyConfig(**settings)
        self._answer_spec = self.config.answer_spec()
        self.template = load_template(self.config.template)
        self.client = ChatClient(self.config)

    @classmethod
    def from_config(cls, config: OpenAIPolicyConfig) -> OpenAIPolicy:
        """Build from a validated config."""
        return cls(config)

    @property
    def answer_spec(self) -> ContractSpec:
        """The answer contract the policy answers in (no model geometry: ``pixels`` are
        pixels of the frames as sent)."""
        return self._answer_spec

    def settings(self) -> dict[str, Any]:
        """Endpoint, sampling and contract settings (the key's variable name only)."""
        return {
            **self.client.settings(),
            **self._answer_spec.to_dict(),
            "template": self.config.template,
        }

    # ------------------------------------------------------------------ requests
    def request(self, obs: Observation, ctx: FrameContext | None = None) -> ChatRequest:
        """The chat request of one observation: its shown frames with their times and the
        contract's prompt (built from the observation and config; ``ctx`` is checked
        against it and gives the native frame rate when ``fps`` is ``None``).

        Raises:
            ValueError: ``ctx`` has other frame times than the observation, or (``pixels``)
                another coordinate size than the frames sent.
        """
        from stvg.policies.vlm.observation import read_observation
        from stvg.policies.vlm.prompt import contract_prompt

        frames, times, query, shown_size = read_observation(obs)
        if ctx is not None:
            self._check_context(times, shown_size, ctx)
        system, user = contract_prompt(
            self.template,
            self._answer_spec,
            query=query,
            timestamps_s=times,
            shown_size=shown_size,
            native_fps=None if ctx is None else ctx.native_fps,
        )
        return ChatRequest(user, system, frames, times)

    def _check_context(
        self, times: np.ndarray, shown_size: tuple[int, int], ctx: FrameContext
    ) -> None:
        from stvg.policies.vlm.prompt import check_context_times

        check_context_times(ctx, times)
        if self._answer_spec.coords == "pixels" and tuple(ctx.coord_size) != shown_size:
            raise ValueError(
                f"the frame context's coord_size is {tuple(ctx.coord_size)} but the frames "
                f"are sent at {shown_size} (width, height), the size pixel answers refer "
                "to; build the env from policy.answer_spec (no model_geometry)"
            )

    # ------------------------------------------------------------------ answers
    def generate_batch(
        self,
        obs_list: Sequence[Observation],
        ctxs: Sequence[FrameContext | None] | None = None,
        *,
        do_sample: bool | None = None,
    ) -> list[TextCompletion]:
        """One :class:`TextCompletion` per observation, in order (requests concurrent,
        bounded). ``do_sample``: ``False`` asks at temperature 0, ``True`` at the config's
        temperature (1.0 when that is 0), ``None`` at the config's. A failed request is a
        completion with empty text and ``error`` set; this never raises for one."""
        contexts = list(ctxs) if ctxs is not None else [None] * len(obs_list)
        if len(contexts) != len(obs_list):
            raise ValueError(
                f"got {len(contexts)} frame contexts for {len(obs_list)} observations; pass "
                "one per observation (or none)"
            )
        requests = [self.request(o, c) for o, c in zip(obs_list, contexts, strict=True)]
        temperature = self.config.temperature
        if do_sample is False:
            temperature = 0.0
        elif do_sample is True and temperature == 0:
            temperature = 1.0
        replies = self.client.generate(requests, temperature=temperature)
        return [completion_of(reply) for reply in replies]

    def act(self, obs: Observation, info: Mapping[str, Any] | None = None) -> str:
        """The answer text for one observation (``info``: its reset info, optional)."""
        return self.act_batch([obs], [info])[0]

    def act_batch(
        self,
        obs_list: Sequence[Observation],
        infos: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> list[str]:
        """The answer texts for several observations (empty text for a failed request);
        each reset info, when given, gives the episode's frame context."""
        from stvg.policies.baselines import frame_context

        infos = list(infos) if infos is not None else [None] * len(obs_list)
        if len(infos) != len(obs_list):
            raise ValueError(
                f"got {len(infos)} reset infos for {len(obs_list)} observations; pass one "
                "per observation (or none)"
            )
        ctxs = [
            None if i is None else frame_context(o, i) for o, i in zip(obs_list, infos, strict=True)
        ]
        return [c.text for c in self.generate_batch(obs_list, ctxs)]


def completion_of(reply: ChatReply) -> TextCompletion:
    """The :class:`TextCompletion` of a served model's reply: its text (empty when there is
    none, with ``error`` the reason), the server's prompt and completion token counts when
    reported, and whether it finished (``finish_reason`` ``stop``) or was cut
    (``length``)."""
    usage = reply.usage or {}
    error = reply.error
    if error is None and not reply.text:
        error = "empty reply"
    return TextCompletion(
        reply.text or "",
        (),
        prompt_tokens=int(usage.get("prompt_tokens", 0)),
        finished=_FINISHED.get(reply.finish_reason or ""),
        error=error,
        reported_output_tokens=usage.get("completion_tokens"),
    )


__all__ = ["OpenAIPolicy", "OpenAIPolicyConfig", "completion_of"]
