"""Typed config of a CoT synthesis run (``stvg synth-cot FILE``).

::

    teacher:
      name: scene                 # scene | openai | local
      scene: {span_noise_s: 0.0, box_noise: 0.0, seed: 0, track: target}
      openai: {base_url: http://localhost:8000/v1, model: Qwen/Qwen2.5-VL-72B-Instruct}
      local: {model_path: runs/tiny/qwen2.5-vl}   # VLMPolicyConfig keys
    env: {dataset: synthetic, split: train, root: data/synthetic, fps: 1.0, max_side: 224}
    contract:
      answer_format: json-v1
      coords: pixels
      model_geometry: {family: qwen2.5-vl}
    template: default
    keep: consistent
    min_box_iou: 0.3
    limit: null
    out: runs/synthesis/scene

The contract section is the one the SFT'd policy will answer in: the prompts state its
timestamps and coordinate frame, and the targets are rendered in it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from stvg.config import InvalidField, apply_overrides, from_dict, load_yaml, set_by
from stvg.envs.config import EnvConfig
from stvg.policies.vlm.config import VLMPolicyConfig
from stvg.synthesis.teachers.openai_teacher import OpenAITeacherConfig
from stvg.verifiers.formats import Coords, ModelGeometry


@dataclass
class SceneTeacherConfig:
    """Settings of the ``scene`` teacher (template reasoning from the scene files).

    Attributes:
        span_noise_s: standard deviation, seconds, of the Gaussian noise added to the
            teacher's span start and end (0 = the ground-truth span).
        box_noise: standard deviation of the noise added to each box coordinate, as a
            fraction of the box's width (x) or height (y) (0 = exact boxes).
        seed: seed of the noise (combined with the sample id, so a sample's noise does not
            depend on the order or the number of samples).
        track: the object whose boxes the teacher writes: ``target`` (the queried object)
            or ``distractor`` (the first other object: a teacher that tracks the wrong
            object, for the ``keep: consistent`` ablation).
    """

    span_noise_s: float = 0.0
    box_noise: float = 0.0
    seed: int = 0
    track: Literal["target", "distractor"] = "target"

    def __post_init__(self) -> None:
        for name in ("span_noise_s", "box_noise"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise InvalidField(name, f"must be a finite number >= 0, got {value}")


@dataclass
class TeacherConfig:
    """Which teacher writes the reasoning, and its settings.

    Attributes:
        name: ``scene`` (offline template reasoning from the synthetic scene files: the CI
            teacher and the ablation control), ``openai`` (any OpenAI-compatible
            chat-completions endpoint) or ``local`` (a transformers VLM through the ``vlm``
            policy).
        scene: settings of the ``scene`` teacher.
        openai: settings of the ``openai`` teacher
            (:class:`~stvg.synthesis.teachers.openai_teacher.OpenAITeacherConfig`:
            ``base_url``, ``model``, ``api_key_env``, ``max_concurrency``, ``timeout_s``,
            ``max_retries``, ``temperature``, ``max_tokens``, ...).
        local: the ``local`` teacher's policy
            (:class:`~stvg.policies.vlm.config.VLMPolicyConfig`: ``model_path``, ...;
            ``answer_format``, ``coords``, ``fps`` and ``template`` come from this config);
            required with ``name: local``.
        batch_size: requests handed to the teacher at once (and written before the next).
    """

    name: Literal["scene", "openai", "local"] = "scene"
    scene: SceneTeacherConfig = field(default_factory=SceneTeacherConfig)
    openai: OpenAITeacherConfig = field(default_factory=OpenAITeacherConfig)
    local: VLMPolicyConfig | None = None
    batch_size: int = 8

    def __post_init__(self) -> None:
        if self.name == "local" and self.local is None:
            raise InvalidField(
                "local", "the local teacher is a VLM: give local.model_path (a checkpoint folder)"
            )
        if self.batch_size < 1:
            raise InvalidField("batch_size", f"must be >= 1, got {self.batch_size}")


#: The samples and how their frames are shown: the env section every stage shares.
SynthEnvConfig = EnvConfig


@dataclass
class SynthContractConfig:
    """The answer contract of the targets (the SFT'd policy's).

    Attributes:
        answer_format: ``json-v1``, ``tagged`` or ``draft-final``.
        coords: ``pixels`` (of the frames as the model sees them), ``norm1000``, ``norm1``.
        model_geometry: how the policy's processor resizes the shown frames
            (``{family: qwen2.5-vl}``); ``None`` = the model sees them as shown (the
            ``local`` teacher fills it from its processor).
    """

    answer_format: str = "json-v1"
    coords: Coords = "pixels"
    model_geometry: ModelGeometry | None = None


@dataclass
class SynthesisConfig:
    """A synthesis run (see the module doc).

    Attributes:
        teacher: the teacher section.
        env: the samples and how their frames are shown (an
            :class:`~stvg.envs.config.EnvConfig`; ``split`` defaults to ``train``).
        contract: the answer contract of prompts and targets.
        template: the VLM prompt template (a shipped name or a YAML path); its sha256 goes
            into the manifest.
        keep: ``all`` keeps every parsable trajectory; ``consistent`` drops one whose
            teacher span misses the ground truth or whose boxes inside the ground-truth
            span have a mean IoU below ``min_box_iou`` (reasoning about another object or
            moment would contradict the ground-truth answer).
        min_box_iou: the ``consistent`` threshold on the teacher's mean box IoU.
        limit: synthesise the first ``limit`` samples only (``None`` = all).
        out: output folder (``records.jsonl``, ``targets.jsonl``, ``manifest.json``).
        progress: show the run's progress (:mod:`stvg.progress`).
        retry_failed: on a rerun, ask the teacher again for the samples whose earlier
            attempt failed (no usable answer: an HTTP error, a refusal, an unparsable
            reply; the manifest's ``failed``); their old records are replaced. ``False``
            keeps every record already written.
    """

    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    env: EnvConfig = set_by("stvg run", default_factory=lambda: EnvConfig(split="train"))
    contract: SynthContractConfig = set_by("stvg run", default_factory=SynthContractConfig)
    template: str = set_by("stvg run", "default")
    keep: Literal["all", "consistent"] = "all"
    min_box_iou: float = 0.3
    limit: int | None = None
    out: str = set_by("stvg run", "runs/synthesis")
    progress: bool = set_by("stvg run", True)
    retry_failed: bool = True

    def __post_init__(self) -> None:
        if self.env.kind != "grounding":
            raise InvalidField(
                "env.id", f"synthesis writes answers to a grounding env, got {self.env.id}"
            )
        if not 0.0 <= self.min_box_iou <= 1.0:
            raise InvalidField("min_box_iou", f"must be in [0, 1], got {self.min_box_iou}")
        if self.limit is not None and self.limit < 1:
            raise InvalidField("limit", f"must be >= 1 or null (all samples), got {self.limit}")


def load_synthesis_config(
    source: str | Path | dict[str, Any], overrides: dict[str, Any] | None = None
) -> SynthesisConfig:
    """A :class:`SynthesisConfig` from a YAML file or a mapping, plus dotted ``overrides``
    (``{"teacher.name": "openai", "env.split": "val"}``; ``None`` values are skipped).

    Raises:
        ConfigError: an unknown key or a wrong type (the message names the key path).
    """
    data = dict(source) if isinstance(source, dict) else load_yaml(source)
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    data = apply_overrides(data, given)
    where = None if isinstance(source, dict) else str(source)
    return from_dict(SynthesisConfig, data, source=where)


__all__ = [
    "SceneTeacherConfig",
    "SynthContractConfig",
    "SynthEnvConfig",
    "SynthesisConfig",
    "TeacherConfig",
    "load_synthesis_config",
]
