"""Browser-test helpers on top of devtools.browser: skip cleanly without Chromium; keep screenshots."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from devtools.browser import (
    ROOT,
    chromium,
    chromium_available,
    describe_pages,
    nav,
    start_training,
    wait_idle,
)
from devtools.browser import streamlit_server as _streamlit_server

__all__ = [
    "browser_or_skip",
    "describe_pages",
    "nav",
    "start_long_run",
    "progress_step",
    "shot",
    "streamlit_server",
    "wait_idle",
]

SHOTS = Path(os.environ.get("EXPLORER_SCREENSHOTS", ROOT / "out" / "screenshots"))


def streamlit_server(env=None, **kw):  # noqa: ANN001, ANN003, ANN201 - as devtools.browser's
    """The app server of a browser test, with the server's own default of warm workers (the test process itself
    keeps none: its in-process clusters share one Ray with the cluster tests, see conftest.py)."""
    return _streamlit_server(env={"EXPLORER_WARM_WORKERS": "", **(env or {})}, **kw)


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


def start_long_run(page, epochs: int = 30):
    """Build the preset's model, start it for ``epochs`` on the Train page; return the run's progress bar."""
    nav(page, "Build")
    page.get_by_role("button", name="Load preset").click()
    wait_idle(page)
    create = page.get_by_role("button", name=re.compile("^(Create|Replace) model$"))
    try:  # on a server that has just started, the first rerun can wait behind the warm-up on a loaded machine
        create.wait_for(timeout=90_000)
    except Exception:
        shot(page, "start-long-run-no-create-button")  # what the page showed instead, for whoever reads the log
        raise
    create.click()
    page.wait_for_selector("text=is the current model", timeout=30_000)
    nav(page, "Train")
    return start_training(page, epochs)


def progress_step(progress) -> int:
    m = re.search(r"step ([\d,]+)/", progress.inner_text())
    return int(m.group(1).replace(",", "")) if m else 0
