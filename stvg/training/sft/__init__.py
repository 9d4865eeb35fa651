"""Supervised fine-tuning: what both kinds share (:mod:`~stvg.training.sft.common`), the
native policy's (:mod:`~stvg.training.sft.native`, its data in
:mod:`~stvg.training.sft.native_data`), the VLM's (:mod:`~stvg.training.sft.vlm`), and
the choice between them (:mod:`~stvg.training.sft.kinds`)."""

from stvg.training.sft.common import SFTResult, SFTSplits, sft_optimiser, warmup_cosine
from stvg.training.sft.kinds import SFT_KINDS, load_sft_config, sft_kind, train_sft
from stvg.training.sft.native import (
    SFTConfig,
    SFTDataConfig,
    evaluate_cached,
    select_value,
    sft_loss,
    train_sft_native,
)
from stvg.training.sft.vlm import VLMSFTConfig, VLMSFTDataConfig, train_sft_vlm

__all__ = [
    "SFT_KINDS",
    "SFTConfig",
    "SFTDataConfig",
    "SFTResult",
    "SFTSplits",
    "VLMSFTConfig",
    "VLMSFTDataConfig",
    "evaluate_cached",
    "load_sft_config",
    "select_value",
    "sft_kind",
    "sft_loss",
    "sft_optimiser",
    "train_sft",
    "train_sft_native",
    "train_sft_vlm",
    "warmup_cosine",
]
