"""The ``local`` teacher: a transformers VLM through the ``vlm`` policy.

The policy builds its own prompt from the env observation (``extras["observation"]``), with
the run's template, answer format, coordinates and sampling rate, so the teacher is asked
exactly what the SFT'd policy will be asked; its greedy (or sampled, per the policy config)
completions are the teacher texts. A random or weak model's garbage is just text that the
replacement step counts as a failure; a request without an observation gets a reply
without text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stvg.synthesis.teachers.base import Teacher, TeacherReply, TeacherRequest
from stvg.verifiers.formats import ContractSpec


class LocalTeacher(Teacher):
    """A ``vlm`` policy as the teacher.

    Args:
        policy_config: ``VLMPolicyConfig`` keys (``model_path``, ``max_new_tokens``, ...),
            passed to ``stvg.policies.registry.make("vlm", **policy_config)``.
    """

    name = "local"

    def __init__(self, policy_config: Mapping[str, Any]) -> None:
        from stvg.policies.registry import make

        self.policy = make("vlm", **dict(policy_config))

    @property
    def answer_spec(self) -> ContractSpec:
        """The contract the policy answers in (its processor's geometry)."""
        return self.policy.answer_spec

    def settings(self) -> dict[str, Any]:
        """Model path, family and generation settings."""
        c = self.policy.config
        return {
            "teacher": self.name,
            "model_path": c.model_path,
            "family": self.policy.family,
            "max_new_tokens": c.max_new_tokens,
            "do_sample": c.do_sample,
            "temperature": c.temperature,
            "top_p": c.top_p,
            "seed": c.seed,
        }

    def generate(self, requests: Sequence[TeacherRequest]) -> list[TeacherReply]:
        """One batched generation over the requests that carry an observation."""
        missing = TeacherReply(None, "no observation in the request extras")
        replies: list[TeacherReply] = [missing] * len(requests)
        todo = [i for i, r in enumerate(requests) if r.extras.get("observation") is not None]
        if todo:
            obs = [requests[i].extras["observation"] for i in todo]
            model = str(self.policy.config.model_path)
            for i, completion in zip(todo, self.policy.generate_batch(obs), strict=True):
                text = completion.text
                replies[i] = TeacherReply(text, None if text.strip() else "empty reply", model)
        return replies


__all__ = ["LocalTeacher"]
