"""Which browser sessions hold which workspace: a workspace's runs go on while a tab of it lives."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["Presence"]


class Presence:
    """Which sessions hold which owner: the app's ``is_alive`` when runs belong to saved workspaces.

    A workspace (the owner of its runs) lives while any session that opened it lives; ``session_alive`` says
    whether a session does (Streamlit keeps a closed tab's session for its reconnect grace). An owner no
    session ever held is itself asked about, as a session id: a workspace that is not saved is owned by its
    session. One per server, not per module: the app keeps it in its cached cluster.
    """

    SWEEP_EVERY = 64  # holds between sweeps that forget workspaces no live session holds

    def __init__(self, session_alive: Callable[[str], bool]) -> None:
        self.session_alive = session_alive
        self._lock = threading.Lock()
        self._held: dict[str, set[str]] = {}
        self._holds = 0

    def hold(self, owner: str, session: str) -> None:
        with self._lock:
            self._held.setdefault(owner, set()).add(session)
            self._holds += 1
            sweep = self._holds % self.SWEEP_EVERY == 0
        if sweep:
            self.sweep()

    def sweep(self) -> None:
        """Forget the workspaces whose sessions are all gone (most never train: nothing else would ask)."""
        with self._lock:
            owners = list(self._held)
        for owner in owners:
            self.alive(owner)

    def __len__(self) -> int:
        with self._lock:
            return len(self._held)

    def alive(self, owner: str) -> bool:
        """Whether a session holds ``owner`` (sessions found gone are forgotten)."""
        with self._lock:
            sessions = self._held.get(owner)
            if sessions is None:
                return self.session_alive(owner)
            sessions.intersection_update({s for s in sessions if self.session_alive(s)})
            if not sessions:
                del self._held[owner]
            return bool(sessions)
