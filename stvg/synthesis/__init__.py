"""Chain-of-thought synthesis with ground-truth replacement: the paper's SFT data."""

from stvg.synthesis.config import (
    SceneTeacherConfig,
    SynthContractConfig,
    SynthEnvConfig,
    SynthesisConfig,
    TeacherConfig,
    load_synthesis_config,
)
from stvg.synthesis.replace import Outcome, find_mentions, replace_with_gt
from stvg.synthesis.run import SynthesisResult, build_teacher, synthesize

__all__ = [
    "Outcome",
    "SceneTeacherConfig",
    "SynthContractConfig",
    "SynthEnvConfig",
    "SynthesisConfig",
    "SynthesisResult",
    "TeacherConfig",
    "build_teacher",
    "find_mentions",
    "load_synthesis_config",
    "replace_with_gt",
    "synthesize",
]
