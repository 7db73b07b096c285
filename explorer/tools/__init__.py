"""Development tools: the benchmark, the Chromium driver for tests and benchmarks, the `cnn-explorer` launcher.

The face is lazy: a name loads its module on first use, so naming the launcher does not load Playwright or
the benchmark's code."""

from __future__ import annotations

from ..core.lazy import lazy_face

_HOME = {
    "run_bench": "bench",
    "seed_style_epoch": "bench",
    "machine_line": "bench",
    "run_classroom": "classroom",
    "CHROMIUM": "browser",
    "CHROMIUM_FLAGS": "browser",
    "ROOT": "browser",
    "VIEWPORT": "browser",
    "PenTimes": "browser",
    "streamlit_server": "browser",
    "stop_server": "browser",
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
    "free_port": "browser",
    "main": "launch",
    "app_path": "launch",
    "streamlit_command": "launch",
}
__all__ = sorted(_HOME)
__getattr__, __dir__ = lazy_face(__name__, _HOME)
