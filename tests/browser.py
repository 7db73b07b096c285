"""Browser-test helpers on top of explorer.tools.browser: skip cleanly without Chromium; keep screenshots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from explorer.tools.browser import ROOT, chromium, chromium_available, describe_pages, nav, streamlit_server, wait_idle

__all__ = ["browser_or_skip", "describe_pages", "nav", "shot", "streamlit_server", "wait_idle"]

SHOTS = Path(os.environ.get("EXPLORER_SCREENSHOTS", ROOT / "out" / "screenshots"))


def browser_or_skip():
    """Headless Chromium (a context manager), or skip the test where it is missing."""
    if not chromium_available():
        pytest.skip("chromium or playwright is missing (make test installs them)")
    return chromium()


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
