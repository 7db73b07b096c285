"""Development tools: the benchmark, the Chromium driver for tests and benchmarks, the `cnn-explorer` launcher.

The face is lazy: a name loads its module on first use, so the store does not start Ray and the
launcher does not load torch."""

from __future__ import annotations

import importlib
from typing import Any

_HOME = {
    "run_bench": "bench",
    "seed_style_epoch": "bench",
    "machine_line": "bench",
    "CHROMIUM": "browser",
    "CHROMIUM_FLAGS": "browser",
    "ROOT": "browser",
    "VIEWPORT": "browser",
    "PenTimes": "browser",
    "streamlit_server": "browser",
    "chromium_available": "browser",
    "chromium": "browser",
    "open_app": "browser",
    "wait_idle": "browser",
    "describe_pages": "browser",
    "nav": "browser",
    "start_training": "browser",
    "open_draw_pad": "browser",
    "draw_strokes": "browser",
    "digit_strokes": "browser",
    "first_minute": "browser",
    "main": "launch",
    "app_path": "launch",
    "streamlit_command": "launch",
}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)


def __dir__() -> list[str]:
    return __all__
