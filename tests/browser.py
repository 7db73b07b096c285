"""Browser-test helpers on top of explorer.browser: skip cleanly without Chromium; keep screenshots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from explorer.browser import CHROMIUM, CHROMIUM_FLAGS, ROOT, chromium_available, nav, streamlit_server, wait_idle

__all__ = ["CHROMIUM", "CHROMIUM_FLAGS", "browser_or_skip", "nav", "shot", "streamlit_server", "wait_idle"]

SHOTS = Path(os.environ.get("EXPLORER_SCREENSHOTS", ROOT / "out" / "screenshots"))


def browser_or_skip():
    if not chromium_available():
        pytest.skip("chromium or playwright is missing (make test installs them)")
    from playwright.sync_api import sync_playwright

    return sync_playwright()


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
