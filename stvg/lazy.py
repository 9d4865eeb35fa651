"""Names of a package imported on first access, so that ``import stvg`` and ``stvg --help``
stay cheap (no torch, OpenCV or Ray until a name that needs them is used).

A package's ``__init__.py``::

    from stvg.lazy import lazy_names

    _LAZY = {"Trainer": "stvg.training.loop", ...}      # name -> module that defines it
    __getattr__, __dir__, __all__ = lazy_names(__name__, _LAZY)
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_names(
    package: str, lazy: Mapping[str, str], eager: Sequence[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """The module-level ``__getattr__``, ``__dir__`` and ``__all__`` of ``package`` whose
    names ``lazy`` (``name -> module``) are imported on first access (then kept as module
    attributes); ``eager`` are the names the package defines itself."""

    def __getattr__(name: str) -> Any:
        if name in lazy:
            value = getattr(importlib.import_module(lazy[name]), name)
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(lazy))

    return __getattr__, __dir__, [*eager, *sorted(lazy)]


__all__ = ["lazy_names"]
