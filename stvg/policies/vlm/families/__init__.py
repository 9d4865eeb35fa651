"""Family adapters of the VLM policy: one file per transformers VLM family.

:mod:`~stvg.policies.vlm.families.base` holds the :class:`FamilyAdapter` interface and the
registry; each module imported below registers one family (adding a family: its module
and one import line here).
"""

import stvg.policies.vlm.families.internvl
import stvg.policies.vlm.families.llava_onevision
import stvg.policies.vlm.families.qwen2_5_vl
import stvg.policies.vlm.families.qwen3_vl  # noqa: F401  (each import registers its family)
from stvg.policies.vlm.families.base import (
    FAMILIES,
    FamilyAdapter,
    family_for_model_type,
    family_names,
    frame_label,
    get_family,
    register,
)

__all__ = [
    "FAMILIES",
    "FamilyAdapter",
    "family_for_model_type",
    "family_names",
    "frame_label",
    "get_family",
    "register",
]
