"""Retention as done, not only as said: a timer in the server deletes what has outlived its lifetime, whether or
not anyone opens the database or makes a class meanwhile (a server up for a whole term keeps no expired name).

Every :data:`PURGE_EVERY_S` (``EXPLORER_PURGE_MINUTES``), :class:`Retention` ends the classes past their hours (their
students' names, drawings and board) and deletes the workspaces not saved for their lifetime
(``EXPLORER_WORKSPACE_TTL_DAYS``): the lifetimes the README and the teacher's page state are these.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import WorkspaceStore

__all__ = ["Retention", "purge_every_s"]

PURGE_EVERY_S = 3600.0  # once an hour by default


def purge_every_s(env: dict[str, str] | None = None) -> float:
    """How often the server purges (``EXPLORER_PURGE_MINUTES``; at least every minute, at most every day)."""
    try:
        minutes = float((os.environ if env is None else env).get("EXPLORER_PURGE_MINUTES", PURGE_EVERY_S / 60))
    except ValueError:
        minutes = PURGE_EVERY_S / 60
    return min(max(minutes, 1 / 60), 24 * 60) * 60


class Retention:
    """A daemon thread that purges ``store`` every ``every_s`` seconds until :meth:`stop`."""

    def __init__(self, store: WorkspaceStore, every_s: float | None = None) -> None:
        self.store = store
        self.every_s = purge_every_s() if every_s is None else every_s
        self.runs = 0  # purges done
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Retention:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, daemon=True, name="explorer-retention")
            self._thread.start()
        return self

    def run_once(self, now: float | None = None) -> tuple[int, int]:
        """Purge now: returns (classes ended, workspaces deleted)."""
        now = time.time() if now is None else now
        classes = self.store.purge_expired(now)
        workspaces = self.store.expire(now)
        self.runs += 1
        return classes, workspaces

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.run_once()
            except Exception as e:  # noqa: BLE001 - the database may be busy: the next round tries again
                print(
                    f"retention: the purge did not run ({type(e).__name__}); next in {self.every_s:.0f} s", file=sys.stderr
                )

    def stop(self, wait_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(wait_s)
