"""A package face that loads a name's module only when the name is first used (PEP 562). Light (no torch): every
package face of ``explorer`` uses it, the top-level one included."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_face"]


def lazy_face(package: str, homes: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose names live in the modules ``homes`` gives
    (name -> module): ``__getattr__, __dir__ = lazy_face(__name__, _HOME)``."""
    names = sorted(homes)
    _keep_names_over_modules(package, {n for n in homes if n in set(homes.values())})

    def get(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f".{homes[name]}", package), name)

    def listing() -> list[str]:
        return names

    return get, listing


def _keep_names_over_modules(package: str, shadowed: set[str]) -> None:
    """A face's name that is also one of its modules' names (``explorer.core.train``, the function, in the module
    ``train``) stays the face's: importing the module would otherwise set the package's attribute to the module
    (as an eager face's own import did, before it bound the name again)."""
    if not shadowed:
        return

    class Face(types.ModuleType):
        def __setattr__(self, name: str, value: Any) -> None:
            if name in shadowed and isinstance(value, types.ModuleType):
                return  # the import system's note of a submodule: the name is the face's (sys.modules has it)
            super().__setattr__(name, value)

    sys.modules[package].__class__ = Face
