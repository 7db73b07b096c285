"""The suite's one way to wait for something that has no event to wait on: poll, with a deadline.

Tests never sleep to let something happen (``test_architecture`` keeps ``time.sleep`` here, or on a line that says
why it is not a synchronisation: a moment in which nothing may move, or a job's own slow work).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

__all__ = ["wait_until"]


def wait_until(read: Callable[[], T], timeout: float, what: str | None = None, every: float = 0.05) -> T:
    """``read()``'s first truthy value, polled every ``every`` seconds for at most ``timeout`` seconds.

    At the deadline ``read()`` is asked once more; if that is still falsy, an ``AssertionError`` says what did not
    happen (with ``what``), or, without ``what``, the falsy value is returned for the caller's own assert.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := read():
            return value
        time.sleep(every)
    value = read()
    if not value and what is not None:
        raise AssertionError(f"waited {timeout:g} s for {what}")
    return value
