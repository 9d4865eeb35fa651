"""The policy a stage config names: a registered name and its constructor config."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stvg.config import InvalidField


@dataclass
class PolicySpec:
    """A registered policy and its constructor config (``stvg.policies.make(name, **config)``).

    Attributes:
        name: registered policy name (:func:`stvg.policies.registered_policies`: ``native``,
            ``vlm``, ``random``, ``oracle``, ``prior``, ``tracking-mlp``, ...).
        config: the keys of the policy's own config class (validated by it when the policy
            is built, errors at ``policy.<key>``); ``{checkpoint: PATH}`` starts the
            ``native`` policy from a saved one, ``{model_path: PATH}`` the ``vlm`` policy.
    """

    name: str = "native"
    config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidField("name", "must name a registered policy, e.g. native or vlm")


__all__ = ["PolicySpec"]
