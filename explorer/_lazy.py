"""A package face that loads a name's module only when the name is first used (PEP 562). Light (no torch): every
package face of ``explorer`` uses it, the top-level one included."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_face"]


def lazy_face(package: str, homes: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose names live in the modules ``homes`` gives
    (name -> module): ``__getattr__, __dir__ = lazy_face(__name__, _HOME)``."""
    names = sorted(homes)

    def get(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f".{homes[name]}", package), name)

    def listing() -> list[str]:
        return names

    return get, listing
