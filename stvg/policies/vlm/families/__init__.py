"""Family adapters of the VLM policy: one file per transformers VLM family.

:mod:`~stvg.policies.vlm.families.base` holds the :class:`FamilyAdapter` interface and the
registry; each module below registers one family when imported.
"""

from stvg.policies.vlm.families import (  # noqa: E402,F401  (registers)
    llava_onevision,
    qwen2_5_vl,
    qwen3_vl,
)
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
