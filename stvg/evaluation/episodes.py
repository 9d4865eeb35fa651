"""Play a policy's answers to an env's samples and read back what the env scored.

The one place where an evaluation, SFT validation and the RL trainer's greedy probe turn a
policy's deterministic answers into scored episodes and predictions:

* :func:`answer_batch` asks the policy for a batch of first answers (one call);
* :func:`finish_episodes` steps each answer in the env (a multi-step env asks the policy
  for each later step) and returns an :class:`EpisodeEnd` per sample: the final ``info``,
  the episode's return, the output tokens, and the densified :class:`Prediction` of the
  answer the env scored (``env.last_result``, :class:`~stvg.envs.base.ScoredEpisode`);
* :func:`predict_answers` turns answers given outside an env (SFT validation on cached
  frames) into predictions with the verifier an env of the same config builds, answer by
  answer as the env's ``step`` scores them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stvg.data.types import Sample
from stvg.envs.answers import TrackAction, struct_to_parse
from stvg.envs.base import ScoredEpisode
from stvg.policies.base import TextCompletion, TextGenerator, env_action
from stvg.tubes.densify import needs_frames
from stvg.tubes.frames import VideoFileFrames
from stvg.verifiers.formats import FrameContext
from stvg.verifiers.predictions import Prediction
from stvg.verifiers.verifier import Verifier, VerifierResult

#: ``(policy, observations, reset infos, frame contexts) -> actions``
AnswerFn = Callable[[Any, Sequence[Any], Sequence[Any], Sequence[Any]], list[Any]]


def answer_batch(
    policy: Any,
    obs_list: Sequence[Mapping[str, Any]],
    infos: Sequence[Mapping[str, Any]],
    contexts: Sequence[Any],
) -> list[Any]:
    """The policy's actions for a batch: ``act_batch(obs_list, infos)``, the one
    :class:`~stvg.policies.base.Policy` signature (``infos``: the env's reset infos).

    A :class:`~stvg.policies.base.TextGenerator` (the VLM policy) answers through
    ``generate_batch(obs_list, contexts)`` instead, in one batched call: its
    :class:`~stvg.policies.base.TextCompletion` objects keep the output-token count, and the
    episodes' ``FrameContext`` objects (``contexts``) are checked against its prompts.
    """
    if isinstance(policy, TextGenerator):
        return list(policy.generate_batch(obs_list, contexts))
    return list(policy.act_batch(obs_list, infos))


def output_tokens(action: Any) -> int | None:
    """Generated tokens of a :class:`~stvg.policies.base.TextCompletion` (``None`` for
    other actions)."""
    return int(action.output_tokens) if isinstance(action, TextCompletion) else None


def prediction_of(result: VerifierResult | None) -> Prediction | None:
    """The densified prediction of a scored answer (``None`` when it was unusable)."""
    if result is None or result.pred_span is None or result.pred_tube is None:
        return None
    return Prediction(result.pred_span, result.pred_tube)


@dataclass
class EpisodeEnd:
    """One played episode.

    Attributes:
        info: the last step's ``info`` (reward terms, ``t_iou``, ``v_iou``, cost, ...).
        episode_return: the sum of the episode's rewards (a single-turn env's reward).
        output_tokens: tokens generated over the episode (text policies; ``None`` else).
        prediction: the densified prediction the env scored (``None``: unusable answer).
        answer_text: the raw text a text policy answered (its answers joined by newlines
            over a multi-step episode); ``None`` for structured answers.
        finished: whether a text answer ended at an end-of-sequence token (``False``: cut
            by the token budget; ``None``: unknown or not text).
        policy_error: why the policy gave no text (a served model's ``HTTP 500 after
            retries: ...``), its answers' errors joined by ``"; "``; ``None`` when none.
        prompt_tokens: prompt tokens over the episode as the policy reports them (text
            policies that know them; ``None`` else).
    """

    info: dict[str, Any]
    episode_return: float
    output_tokens: int | None
    prediction: Prediction | None
    answer_text: str | None = None
    finished: bool | None = None
    policy_error: str | None = None
    prompt_tokens: int | None = None


def _policy_error(action: Any) -> str | None:
    """Why a text action has no text (``None``: it has, or it is no TextCompletion)."""
    return action.error if isinstance(action, TextCompletion) else None


def _prompt_tokens(action: Any) -> int | None:
    """Prompt tokens a TextCompletion reports (``None`` when it reports none)."""
    if isinstance(action, TextCompletion) and action.prompt_tokens > 0:
        return int(action.prompt_tokens)
    return None


def _text_of(action: Any) -> tuple[str | None, bool | None]:
    """The raw text of a text action and whether it finished (``None`` for structures)."""
    if isinstance(action, TextCompletion):
        return action.text, action.finished
    if isinstance(action, str):
        return action, None
    return None, None


def finish_episodes(
    env: Any,
    policy: Any,
    resets: Sequence[Mapping[str, Any]],
    first_actions: Sequence[Any],
    answer_next: Callable[[Any, Mapping[str, Any]], Any],
    *,
    on_start: Callable[[int], None] | None = None,
) -> list[EpisodeEnd]:
    """Play each episode from its first action.

    Args:
        env: the env (wrappers allowed; ``env.unwrapped`` is a
            :class:`~stvg.envs.base.ScoredEpisode`).
        policy: unused but for ``answer_next``'s closure (kept for symmetry).
        resets: ``reset`` options of each episode (``{"index": i}`` or
            ``{"sample_id": ...}``); the env is reset with them before the first step.
        first_actions: the policy's first answer to each episode (e.g. from
            :func:`answer_batch`).
        answer_next: the policy's answer to a later observation of a multi-step env,
            ``answer_next(obs, info)`` with the ``info`` of the step that gave ``obs``.
        on_start: called with the position of each episode before it is played (error
            reports name the sample being played).

    Returns:
        One :class:`EpisodeEnd` per episode, in order.
    """
    del policy
    unwrapped = env.unwrapped
    if not isinstance(unwrapped, ScoredEpisode):
        raise TypeError(
            f"{type(unwrapped).__name__} does not keep its scored answer (last_result): "
            "evaluations need a stvg env"
        )
    out = []
    for k, (options, action) in enumerate(zip(resets, first_actions, strict=True)):
        if on_start is not None:
            on_start(k)
        env.reset(options=dict(options))
        obs, reward, terminated, truncated, info = env.step(env_action(action))
        total, tokens = float(reward), output_tokens(action)
        text, finished = _text_of(action)
        texts = [] if text is None else [text]
        errors = [e for e in [_policy_error(action)] if e]
        prompt = _prompt_tokens(action)
        while not (terminated or truncated):
            action = answer_next(obs, info)
            obs, reward, terminated, truncated, info = env.step(env_action(action))
            total += float(reward)
            more = output_tokens(action)
            tokens = None if more is None else (tokens or 0) + more
            text, finished = _text_of(action)
            texts += [] if text is None else [text]
            errors += [e for e in [_policy_error(action)] if e]
            more_prompt = _prompt_tokens(action)
            if more_prompt is not None:
                prompt = (prompt or 0) + more_prompt
        out.append(
            EpisodeEnd(
                dict(info),
                total,
                tokens,
                prediction_of(unwrapped.last_result),
                answer_text="\n".join(texts) if texts else None,
                finished=finished if texts else None,
                policy_error="; ".join(errors) if errors else None,
                prompt_tokens=prompt,
            )
        )
    return out


def predict_answers(
    verifier: Verifier,
    samples: Sequence[Sample],
    contexts: Sequence[FrameContext],
    actions: Sequence[Any],
) -> dict[str, Prediction]:
    """``{sample_id: Prediction}`` of answers given outside an env, as an env with
    ``verifier`` scores them in its ``step``: a text answer parsed by the verifier's
    format, a struct answer read by :func:`~stvg.envs.answers.struct_to_parse` (a
    :class:`~stvg.envs.answers.TrackAction` by its ``parse``), then
    densified one answer at a time (``track`` reads each sample's video file,
    :class:`~stvg.tubes.frames.VideoFileFrames`). Unusable answers have no prediction
    (they score 0)."""
    predictions: dict[str, Prediction] = {}
    reads_frames = needs_frames(verifier.config.densify.method)
    for sample, ctx, action in zip(samples, contexts, actions, strict=True):
        action = env_action(action)
        if isinstance(action, str):
            parse = verifier.parse(action, ctx)
        elif isinstance(action, TrackAction):
            parse, _ = action.parse(ctx)
        else:
            parse, _ = struct_to_parse(action, ctx)
        frames = VideoFileFrames(sample) if reads_frames else None
        span, tube = verifier.predict(parse, sample, ctx, frames=frames)
        if span is not None and tube is not None:
            predictions[sample.sample_id] = Prediction(span, tube)
    return predictions


__all__ = [
    "AnswerFn",
    "EpisodeEnd",
    "answer_batch",
    "finish_episodes",
    "output_tokens",
    "predict_answers",
    "prediction_of",
]
