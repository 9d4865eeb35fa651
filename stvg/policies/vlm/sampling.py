"""Sampling processors of the VLM policy, and the log-probabilities of what was sampled.

``VLMPolicy.sample`` hands ``generate`` its own logits-processor chain instead of letting
transformers build one from the checkpoint's ``generation_config`` (Qwen ships ``top_k``,
``top_p``, ``temperature``, ``repetition_penalty``):

1. :class:`StepLogProbs` records ``log_softmax(logits / temperature)`` of each step's
   raw logits and, one step later, keeps the entry of the token that was drawn: the
   per-token log-probability of every sampled completion under the distribution it was
   drawn from before ``top_p`` truncation, at no extra forward pass;
2. the vision tokens are suppressed (a generated ``<|video_pad|>`` would desynchronise the
   prompt's video features);
3. temperature, then top-p (nucleus) truncation.

``generate`` is called with ``temperature=1``, ``top_p=1``, ``top_k=0`` and
``repetition_penalty=1`` so that it adds no processor of its own before these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class StepLogProbs:
    """A logits processor that records the log-probability of each sampled token.

    Called by ``generate`` once per step with the sequences so far and the step's logits
    ``[rows, vocab]``; it returns the logits unchanged. Memory: one ``[rows, vocab]``
    float32 tensor and one ``[rows]`` tensor per step.

    Args:
        temperature: the softmax temperature of the recorded distribution.
    """

    def __init__(self, temperature: float) -> None:
        self.temperature = float(temperature)
        self._last: Any = None
        self._picked: list[Any] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if self._last is not None:  # the token drawn from the previous step's distribution
            self._picked.append(self._last.gather(-1, input_ids[:, -1:]).squeeze(-1))
        self._last = torch.log_softmax(scores.float() / self.temperature, dim=-1)
        return scores

    def finish(self, sequences: Any) -> None:
        """Record the last step's tokens from ``generate``'s output ids ``[rows, P + steps]``."""
        if self._last is not None:
            last = sequences[:, -1:].to(self._last.device)
            self._picked.append(self._last.gather(-1, last).squeeze(-1))
            self._last = None

    def result(self) -> Any:
        """Float32 ``[rows, steps]`` log-probabilities of the generated tokens (after
        :meth:`finish`); entries after a row's end-of-sequence token are padding."""
        import torch

        if not self._picked:
            return torch.zeros((0, 0), dtype=torch.float32)
        return torch.stack(self._picked, dim=1)


def sampling_processors(
    temperature: float, top_p: float, suppress_ids: Sequence[int], recorder: StepLogProbs
) -> Any:
    """The ``LogitsProcessorList`` of a sampling ``generate`` call (see the module doc)."""
    from transformers import (
        LogitsProcessorList,
        SuppressTokensLogitsProcessor,
        TemperatureLogitsWarper,
        TopPLogitsWarper,
    )

    processors: list[Any] = [recorder, SuppressTokensLogitsProcessor(list(suppress_ids))]
    if temperature != 1.0:
        processors.append(TemperatureLogitsWarper(temperature))
    if top_p < 1.0:
        processors.append(TopPLogitsWarper(top_p))
    return LogitsProcessorList(processors)


#: ``generate`` options that keep transformers from adding processors of its own.
NEUTRAL_SAMPLING: dict[str, Any] = {
    "do_sample": True,
    "temperature": 1.0,
    "top_p": 1.0,
    "top_k": 0,
    "repetition_penalty": 1.0,
}

__all__ = ["NEUTRAL_SAMPLING", "StepLogProbs", "sampling_processors"]
