"""Saves the database did not take at once (locked, busy, out of reach): kept and retried in a background thread
until they are written, so that no page waits on the database for more than about a second and nothing is lost.

Only the newest save of each workspace *and writer* (a tab) is kept: a newer one of the same tab replaces the
older, which it contains, but two tabs of one workspace never replace each other's waiting save (the later would
silently drop what the first tab made). Each keeps the version its tab last wrote, so the first written wins and
the other is refused as stale, with a sentence, its work kept in its tab. The page reads what became of its save
with :meth:`BackgroundSaver.take`: the new version once it is written, or the sentence of a save that can never be
written (another tab saved the workspace meanwhile).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.limits import MAX_OUTCOMES, MAX_PENDING
from ..i18n import Said, said_of

if TYPE_CHECKING:
    from .store import SavePayload, WorkspaceStore

__all__ = ["BackgroundSaver", "SaveOutcome", "SaveResult", "save_now_or_later"]


@dataclass
class SaveOutcome:
    """What became of a background save: ``version`` once written, or ``error`` (a sentence) if it never can be."""

    version: int | None = None
    error: str | Said | None = None


@dataclass
class _Pending:
    payload: SavePayload
    version: int | None  # the version the workspace had when its first unwritten save was made


class BackgroundSaver:
    """Retries prepared saves every ``retry_s`` seconds until the store takes them."""

    def __init__(self, store: Callable[[], WorkspaceStore | None], retry_s: float = 2.0) -> None:
        self._store, self.retry_s = store, retry_s
        self._lock = threading.Lock()
        self._writing = threading.Lock()  # one writer of the waiting saves at a time (the thread, or a flush)
        self._pending: dict[tuple[str, str], _Pending] = {}  # (workspace, writer) -> its waiting save
        self._outcomes: dict[tuple[str, str], SaveOutcome] = {}
        self._tries: dict[tuple[str, str], int] = {}  # failed tries per save since it was first kept
        self._wake, self._closed = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, payload: SavePayload, version: int | None, writer: str = "") -> None:
        """Keep ``payload`` to write as soon as the database takes it. ``version``: the workspace's version when
        ``writer`` (a tab) last read or wrote it (a newer save of the same writer already waiting keeps the first
        one's); another writer's waiting save of the same workspace is kept beside it, never replaced."""
        key = (payload.ws_id, writer)
        with self._lock:
            old = self._pending.get(key)
            if old is None and len(self._pending) >= MAX_PENDING:
                raise ValueError("too many saves are waiting for the database; your work stays in this tab")
            self._pending[key] = _Pending(payload, old.version if old else version)
            self._outcomes.pop(key, None)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, daemon=True, name="explorer-saver")
                self._thread.start()
        self._wake.set()

    def pending(self, ws_id: str, writer: str = "") -> bool:
        with self._lock:
            return (ws_id, writer) in self._pending

    def take(self, ws_id: str, writer: str = "") -> SaveOutcome | None:
        """What became of ``writer``'s background save of ``ws_id`` since the last call (None: nothing new)."""
        with self._lock:
            return self._outcomes.pop((ws_id, writer), None)

    def waiting(self, ws_id: str) -> bool:
        """Whether any tab's save of ``ws_id`` still waits for the database."""
        with self._lock:
            return any(w == ws_id for w, _ in self._pending)

    def settle(self, ws_id: str, timeout: float) -> bool:
        """Before a tab opens ``ws_id`` (a reload, the same link elsewhere): its saves still waiting are tried now,
        and again until ``timeout``, so that the tab opens the work as it was last left, not an older version that
        the waiting save would then find stale. True when none of them waits any more."""
        deadline = time.monotonic() + timeout
        while self.waiting(ws_id) and time.monotonic() < deadline:
            if not self._attempt_all() and self.waiting(ws_id):
                self._closed.wait(min(0.2, max(0.0, deadline - time.monotonic())))
        return not self.waiting(ws_id)

    def flush(self, timeout: float) -> bool:
        """Try every waiting save now, and again until ``timeout``; True when none is left waiting."""
        deadline = time.monotonic() + timeout
        while not self._attempt_all() and time.monotonic() < deadline:
            self._closed.wait(min(self.retry_s, max(0.0, deadline - time.monotonic())))
        with self._lock:
            return not self._pending

    def close(self) -> None:
        self._closed.set()
        self._wake.set()

    def _loop(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self.retry_s)
            self._wake.clear()
            if self._attempt_all():
                with self._lock:
                    if not self._pending:
                        self._thread = None
                        return

    def _attempt_all(self) -> bool:
        """One try at each waiting save; True when every one was written (or can never be)."""
        with self._writing:
            return self._attempt_each()

    def _attempt_each(self) -> bool:
        from .quota import QuotaError
        from .store import StaleWorkspaceError, StoreError

        store = self._store()
        if store is None:
            return False
        with self._lock:
            todo = list(self._pending.items())
        done = True
        for key, p in todo:
            try:
                outcome = SaveOutcome(version=store.write(p.payload, p.version, log=False))
            except (StaleWorkspaceError, QuotaError) as e:  # never taken as it is: said to its tab, not retried
                outcome = SaveOutcome(error=said_of(e))
            except StoreError as e:  # still busy or out of reach: tried again
                with self._lock:
                    tries = self._tries[key] = self._tries.get(key, 0) + 1
                if tries % 30 == 1:  # once a minute or so, not at every try
                    print(f"background save of a workspace: waiting, try {tries} ({e})", file=sys.stderr)
                done = False
                continue
            with self._lock:
                if self._pending.get(key) is p:  # not replaced meanwhile by a newer save (written next time)
                    del self._pending[key]
                    self._tries.pop(key, None)
                    self._outcomes[key] = outcome
                    while len(self._outcomes) > MAX_OUTCOMES:
                        self._outcomes.pop(next(iter(self._outcomes)))
                elif outcome.version is not None:
                    self._pending[key].version = outcome.version
                    done = False
        return done


@dataclass(frozen=True)
class SaveResult:
    """What one save from a page did, for the page to say in its words.

    ``kind``: ``"written"`` (``version`` is the workspace's new one), ``"joined"`` (an earlier save of this tab still
    waits for the database: this one replaced it there), ``"deferred"`` (the database did not take it at once: the
    background saver writes it as soon as it can), ``"stale"`` (another tab saved this workspace meanwhile),
    ``"over_quota"`` (past what this person or everyone may keep) or ``"kept"`` (not saved now: too many saves wait
    already; tried again at the next step). ``reason``: the store's sentence, for all but the first two."""

    kind: str
    version: int | None = None
    reason: str | Said = ""

    @property
    def saved(self) -> bool:
        """The save is written or will be by itself: the page need not offer it again until the work changes."""
        return self.kind in ("written", "joined", "deferred", "over_quota")


def save_now_or_later(
    store: WorkspaceStore, saver: BackgroundSaver, payload: SavePayload, version: int | None, writer: str = ""
) -> SaveResult:
    """The save policy: write ``payload`` now (the store waits about a second for a busy database), or hand it to
    ``saver`` when the database does not take it, or join ``writer``'s own save still waiting there; a stale version
    or a quota is never retried. Never raises for a database that is busy, locked or gone."""
    from .quota import QuotaError
    from .store import StaleWorkspaceError

    try:
        if saver.pending(payload.ws_id, writer):
            saver.submit(payload, version, writer)
            return SaveResult("joined")
        return SaveResult("written", version=store.write(payload, version=version))
    except StaleWorkspaceError as e:
        return SaveResult("stale", reason=said_of(e))
    except QuotaError as e:
        return SaveResult("over_quota", reason=said_of(e))
    except ValueError as e:  # busy, full, out of reach: the background saver writes it when it can
        try:
            saver.submit(payload, version, writer)
        except ValueError:  # too many saves wait already
            return SaveResult("kept", reason=said_of(e))
        return SaveResult("deferred", reason=said_of(e))
