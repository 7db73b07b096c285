"""Limits per person, not per tab: the tabs of one browser share one identity (a signed cookie, with the
workspace address as the fallback), and the server counts what each person holds across all their tabs: one job
at a time, their runs, the memory of their uploads and of their models. Past the server's own memory limit,
nobody's new model is taken (:func:`process_bytes`): a sentence, before the operating system would end the
server and every student's session with it.

A person's id is a random token the server signs (HMAC-SHA256): a tab can keep its own id or start a new one,
never take on another person's. A browser that does not keep the cookie has no id of its own: all such browsers
count as one person, :data:`COOKIELESS`, so that refusing the cookie does not multiply anyone's limits.
``People`` is one per server process, thread-safe, and forgets what ended.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.budget import budget
from ..i18n import N_, Refusal, Said, said

__all__ = ["People", "Quota", "PERSON_COOKIE", "COOKIELESS", "model_bytes", "process_bytes"]

PERSON_COOKIE = "explorer_person"  # the browser's identity, shared by its tabs
COOKIELESS = "cookieless"  # the one person of every browser that does not keep the cookie (not a token's shape)
SHARED_NOTE = N_(
    "; this browser does not keep the app's cookie, so it shares these limits with every browser like it: "
    "allow cookies for this site to have limits of your own"
)
TOKEN_BYTES = 16
SWEEP_EVERY = 64  # holds between two sweeps of the people who hold nothing any more


def model_bytes(params: int) -> int:
    """What a model of ``params`` parameters holds in the server: its float32 weights and one copy (the saved
    checkpoint or the inference copy a view reads)."""
    return int(params) * 4 * 2


def _shared(person: str) -> Said | str:
    """What a refusal adds for the browsers that share :data:`COOKIELESS`: why, and the way to limits of one's own."""
    return Said(SHARED_NOTE) if person == COOKIELESS else ""


def process_bytes() -> int:
    """This process's resident memory now (Linux ``/proc``; 0 where it cannot be read)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        return 0


@dataclass
class _Person:
    jobs: list[Any] = field(default_factory=list)  # the jobs of all their tabs (ended ones are dropped)
    runs: list[Any] = field(default_factory=list)  # their runs' trainers (ended ones are dropped)
    uploads: dict[str, dict[str, Any]] = field(default_factory=dict)  # session -> that tab's uploads (name -> Dataset)
    workspaces: dict[str, Any] = field(default_factory=dict)  # session -> that tab's Workspace (its models count)


class People:
    """What each person holds on this server, and the checks against the budget (``explorer.core.budget``).

    ``secret`` signs the identities (``EXPLORER_SECRET`` in the app, shared by a school's replicas; a random one
    by default, so an identity lasts as long as the server). ``session_alive`` says whether a tab still lives, so
    the uploads of closed tabs stop counting."""

    def __init__(self, secret: str | bytes | None = None, session_alive: Callable[[str], bool] | None = None) -> None:
        key = secret if secret else secrets.token_bytes(32)
        self._key = key.encode() if isinstance(key, str) else key
        self._alive = session_alive or (lambda _s: True)
        self._lock = threading.Lock()
        self._people: dict[str, _Person] = {}
        self._holds = 0

    # -- identity --
    def new_person(self) -> str:
        return secrets.token_urlsafe(TOKEN_BYTES)

    def token(self, person: str) -> str:
        """The cookie value for ``person``: its id and the server's signature."""
        return f"{person}.{self._sign(person)}"

    def person_from(self, token: Any) -> str | None:
        """The person a cookie names, if the server signed it (None for a missing, forged or foreign one)."""
        if not isinstance(token, str) or token.count(".") != 1 or len(token) > 200:
            return None
        person, sig = token.split(".")
        if not person or not all(c.isalnum() or c in "-_" for c in person):
            return None
        return person if hmac.compare_digest(sig, self._sign(person)) else None

    def _sign(self, person: str) -> str:
        return hmac.new(self._key, person.encode(), hashlib.sha256).hexdigest()[:32]

    # -- what a person holds --
    def _get(self, person: str) -> _Person:
        p = self._people.get(person)
        if p is None:
            p = self._people[person] = _Person()
        return p

    def start_job(self, person: str, start: Callable[[], Any]) -> Any:
        """``start()`` the person's job unless one of theirs still runs (in any tab): one job at a time each."""
        with self._lock:
            p = self._get(person)
            p.jobs = [j for j in p.jobs if not j.finished and not getattr(j, "cancel_requested", False)]
            if p.jobs:
                name = getattr(p.jobs[0], "name", "another job")
                raise Refusal(
                    said(
                        "one of your jobs still runs ({name}, maybe in another tab): each person runs one "
                        "job at a time, so that the class's jobs all get their turn; wait for it or stop "
                        "it{shared}",
                        name=name,
                        shared=_shared(person),
                    )
                )
            job = start()
            p.jobs.append(job)
            return job

    def check_run(self, person: str) -> None:
        """Refuse a run when the person already has as many going (training or waiting, in all their tabs) as the
        server allows one person: one training and ``EXPLORER_MAX_QUEUED_RUNS`` waiting."""
        most = budget().queued_runs + 1
        with self._lock:
            p = self._get(person)
            p.runs = [t for t in p.runs if not t.done]
            if len(p.runs) >= most:
                raise Refusal(
                    said(
                        "you already have {n} runs training or waiting (across your tabs), the most one "
                        "person may have at once ({most}): stop one, or wait for one to end{shared}",
                        n=len(p.runs),
                        most=most,
                        shared=_shared(person),
                    )
                )

    def add_run(self, person: str, trainer: Any) -> None:
        with self._lock:
            self._get(person).runs.append(trainer)

    def hold_uploads(self, person: str, session: str, uploads: dict[str, Any]) -> None:
        """Count ``uploads`` (a tab's datasets by name, the tab's own dict) as ``person``'s from now on. Every
        :data:`SWEEP_EVERY` holds, the people who hold nothing any more are forgotten (every visitor holds once)."""
        with self._lock:
            self._get(person).uploads[session] = uploads
            self._holds += 1
            sweep = self._holds % SWEEP_EVERY == 0
        if sweep:
            self.sweep()

    def hold_workspace(self, person: str, session: str, workspace: Any) -> None:
        """Count ``workspace``'s models (a tab's) as ``person``'s while that tab lives."""
        with self._lock:
            self._get(person).workspaces[session] = workspace

    def models_bytes(self, person: str) -> int:
        """The memory of the models of all the person's live tabs (each model: its weights and one copy)."""
        with self._lock:
            p = self._get(person)
            for s in [s for s in p.workspaces if not self._alive(s)]:
                del p.workspaces[s]
            held = list(p.workspaces.values())
        return sum(model_bytes(e.params) for ws in held for e in list(getattr(ws, "models", {}).values()))

    def check_model(self, person: str, params: int) -> None:
        """Refuse a new model of ``params`` parameters when it would take the person's models (all their tabs)
        past their budget, or the server past its memory limit: a sentence each, nothing built yet."""
        b, adding = budget(), model_bytes(params)
        mine = self.models_bytes(person)
        if mine + adding > b.person_models_bytes:
            raise Refusal(
                said(
                    "your models (in all your tabs) already hold {mine} MB and this one needs {adding} MB "
                    "more, past the {most} MB one person may hold: remove a model you no longer need "
                    "(sidebar: {remove}), or close a tab{shared}",
                    mine=f"{mine / 2**20:,.0f}",
                    adding=f"{adding / 2**20:,.0f}",
                    most=f"{b.person_models_mb:,}",
                    remove=Said("Remove this model"),
                    shared=_shared(person),
                )
            )
        if process_bytes() + adding > b.server_bytes:
            raise Refusal(
                said(
                    "the app's memory is nearly full just now, with the whole class's models: remove a "
                    "model you no longer need, or try a smaller one"
                )
            )

    def other_uploads(self, person: str, session: str) -> dict[str, Any]:
        """The person's uploads held by their other live tabs (name -> Dataset); closed tabs are forgotten."""
        with self._lock:
            p = self._get(person)
            for s in [s for s in p.uploads if s != session and not self._alive(s)]:
                del p.uploads[s]
            return {f"{name} (another tab)": d for s, ups in p.uploads.items() if s != session for name, d in ups.items()}

    def sweep(self) -> None:
        """Forget the people who hold nothing any more."""
        with self._lock:
            for person in list(self._people):
                p = self._people[person]
                p.jobs = [j for j in p.jobs if not j.finished]
                p.runs = [t for t in p.runs if not t.done]
                p.uploads = {s: u for s, u in p.uploads.items() if self._alive(s)}
                p.workspaces = {s: w for s, w in p.workspaces.items() if self._alive(s)}
                if not p.jobs and not p.runs and not p.uploads and not p.workspaces:
                    del self._people[person]

    def __len__(self) -> int:
        return len(self._people)


@dataclass
class Quota:
    """A workspace's person on a server's :class:`People`: what its jobs and runs are counted against."""

    people: People
    person: str

    def start_job(self, start: Callable[[], Any]) -> Any:
        return self.people.start_job(self.person, start)

    def check_run(self) -> None:
        self.people.check_run(self.person)

    def add_run(self, trainer: Any) -> None:
        self.people.add_run(self.person, trainer)

    def check_model(self, params: int) -> None:
        self.people.check_model(self.person, params)
