"""``native``: a small trainable torch policy (CNN + query GRU + temporal GRU) for CPU."""

from stvg.policies.native.model import NativeModel, NativeModelConfig, count_parameters
from stvg.policies.native.policy import CHECKPOINT_FORMAT, NativePolicy, NativePolicyConfig
from stvg.policies.native.tokenizer import QueryVocab

__all__ = [
    "CHECKPOINT_FORMAT",
    "NativeModel",
    "NativeModelConfig",
    "NativePolicy",
    "NativePolicyConfig",
    "QueryVocab",
    "count_parameters",
]
