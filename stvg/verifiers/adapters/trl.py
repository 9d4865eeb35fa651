"""TRL ``GRPOTrainer`` reward functions backed by the verifier.

::

    from trl import GRPOTrainer
    from stvg.verifiers.adapters import make_trl_reward

    trainer = GRPOTrainer(
        model=...,
        reward_funcs=[make_trl_reward("configs/reward.yaml")],  # logged as rewards/stvg
        train_dataset=dataset,  # columns: prompt, ground_truth (docs/verifier.md layout)
    )

TRL calls a reward function as ``f(prompts=..., completions=..., completion_ids=...,
trainer_state=..., **columns)``, where every extra dataset column arrives as a list with
one entry per completion. The ``ground_truth`` column holds the record of
:mod:`stvg.verifiers.adapters.common`. ``make_trl_reward(term="t_iou")`` returns one term
(unweighted), to weight terms with ``GRPOConfig.reward_weights`` and log each one.
Scheduled terms (``gate`` with ``schedule_iterations``) count TRL's optimizer steps:
iteration ``trainer_state.global_step + 1`` (the final schedule value when TRL passes no
``trainer_state``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from stvg.verifiers.adapters.common import VerifierCache, score_records
from stvg.verifiers.rewards import get_term
from stvg.verifiers.verifier import TermConfig, VerifierConfigLike, load_verifier_config


def completion_text(completion: Any) -> str:
    """The answer text of one TRL completion.

    Args:
        completion: a string (standard format) or a list of chat messages
            (conversational format, ``[{"role": "assistant", "content": "..."}]``); the
            content may be a string or a list of parts ``{"type": "text", "text": ...}``.

    Returns:
        The text, or of the last assistant message (its text parts joined); ``""`` for
        a message without content.

    Raises:
        TypeError: anything else (a caller bug).
        ValueError: a conversation without an assistant message.

    >>> completion_text([{"role": "assistant", "content": "<answer>{}</answer>"}])
    '<answer>{}</answer>'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and all(isinstance(m, Mapping) for m in completion):
        replies = [m for m in completion if m.get("role") == "assistant"]
        if not replies:
            roles = [m.get("role") for m in completion]
            raise ValueError(f"conversational completion has no assistant message (roles: {roles})")
        content = replies[-1].get("content")
        if content is None:
            return ""
        if isinstance(content, str):
            return content
        if isinstance(content, Sequence):
            return "".join(
                str(part.get("text", ""))
                for part in content
                if isinstance(part, Mapping) and part.get("type", "text") == "text"
            )
        raise TypeError(
            f"message content must be str or a list of parts, got {type(content).__name__}"
        )
    raise TypeError(
        "a TRL completion must be a str or a list of chat messages, got "
        + type(completion).__name__
    )


class TrlReward:
    """A TRL reward function: ``(prompts, completions, **columns) -> list[float]``.

    Build it with :func:`make_trl_reward`. ``__name__`` (what TRL logs the reward under)
    is ``stvg`` for the weighted total and ``stvg_<term>`` for one term.

    Attributes:
        config: the resolved verifier config (with ``term`` added at weight 0 when it was
            not configured).
        term: the term returned, or ``None`` for the weighted total.
        ground_truth_key: the dataset column holding the ground-truth records.
    """

    def __init__(
        self,
        verifier_config: VerifierConfigLike = None,
        term: str | None = None,
        *,
        ground_truth_key: str = "ground_truth",
    ) -> None:
        config = load_verifier_config(verifier_config)
        if term is not None:
            get_term(term)
            if term not in config.term_names:
                config = replace(config, terms=[*config.terms, TermConfig(term, 0.0)])
        self.config = config
        self.term = term
        self.ground_truth_key = ground_truth_key
        self.__name__ = "stvg" if term is None else f"stvg_{term}"
        self._verifiers = VerifierCache()
        self._verifiers.get(config)  # build (and validate) the default verifier now

    def __repr__(self) -> str:
        return f"TrlReward(name={self.__name__!r}, terms={self.config.term_names})"

    def __call__(self, prompts: Any = None, completions: Any = None, **kwargs: Any) -> list[float]:
        """One reward per completion (see the module docstring for the calling convention).

        Raises:
            ValueError: no ``ground_truth`` column, or one of another length than
                ``completions``; a malformed ground-truth record.
        """
        del prompts
        if completions is None:
            raise ValueError("TRL reward called without completions")
        if self.ground_truth_key not in kwargs:
            raise ValueError(
                f"the dataset needs a {self.ground_truth_key!r} column with one ground-truth "
                "record per prompt (see docs/verifier.md); got columns "
                f"{sorted(k for k in kwargs if k not in ('completion_ids', 'trainer_state'))}"
            )
        records = kwargs[self.ground_truth_key]
        if len(records) != len(completions):
            raise ValueError(
                f"{len(completions)} completions but {len(records)} {self.ground_truth_key!r} "
                "entries: TRL passes one per completion"
            )
        texts = [completion_text(c) for c in completions]
        step = getattr(kwargs.get("trainer_state"), "global_step", None)
        iteration = step + 1 if isinstance(step, int) and step >= 0 else None
        results = score_records(self._verifiers, self.config, texts, records, iteration)
        return [r.total if self.term is None else r.terms[self.term] for r in results]


def make_trl_reward(
    verifier_config: VerifierConfigLike = None,
    term: str | None = None,
    *,
    ground_truth_key: str = "ground_truth",
) -> TrlReward:
    """A reward function for TRL's ``GRPOTrainer(reward_funcs=[...])``.

    Args:
        verifier_config: a :class:`~stvg.verifiers.verifier.VerifierConfig`, a mapping, a
            YAML path (its ``verifier`` key) or ``None`` for ``tIoU + vIoU``.
        term: ``None`` returns the weighted total; a term name returns that term's
            unweighted value (added at weight 0 when the config lacks it).
        ground_truth_key: the dataset column of the ground-truth records.

    Raises:
        stvg.config.ConfigError: an invalid config. ValueError: an unknown ``term``.
    """
    return TrlReward(verifier_config, term, ground_truth_key=ground_truth_key)


__all__ = ["TrlReward", "completion_text", "make_trl_reward"]
