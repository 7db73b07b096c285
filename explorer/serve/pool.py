"""Warm worker processes, kept between runs and jobs and shared by everyone on the server.

Starting a worker process costs about two seconds on a small server (Python, torch, then Ray's own set-up), and
ending one takes its CPUs from the next run until Ray has noticed. A :class:`WorkerPool` starts ``warm`` workers
before anyone asks, hands an idle one to the next run or job, and takes it back when that work has ended in it, so a
class's runs pay the start once. A new warm worker starts only where a core is free for it (:func:`room_to_warm`): on
a small server it waits for the short runs and jobs working now to end instead of slowing them; beside long runs
alone it starts (a few CPU-seconds across their minutes, and the next student's click does not wait for a start). A
worker whose work did not end in it (stopped from outside, cancelled, its owner gone) is ended instead: the next one
starts clean. Idle workers have their lease renewed here; one that stopped answering is forgotten, and the pool
starts another.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from .workers import WORKER_PREFIX, worker_name

__all__ = ["WorkerPool", "find_worker", "room_to_warm"]

PING_EVERY_S = 5.0  # an idle worker's lease is renewed this often (the lease is a minute by default)


def room_to_warm(busy: int, threads: int, cpus: float) -> bool:
    """Whether a warm worker may start beside ``busy`` working ones (``threads`` each) on ``cpus`` cores: its
    start (a process importing torch, about three CPU-seconds) takes a core, and the server keeps one for its
    pages. With nothing training it always may; on two cores it waits while a short run trains (the first run on a
    freshly started server was slowed by the start of the next one's worker). ``busy`` counts the short ones only
    where the caller says so (:meth:`WorkerPool.keep`)."""
    return busy == 0 or busy * max(1, threads) + 2 <= cpus


def _key(actor: Any) -> str:
    return actor._actor_id.hex()


class WorkerPool:
    """The workers of one server process. ``make()`` creates one (its options: CPUs, a GPU share, a name); the
    pool keeps up to ``warm`` idle, never more than ``capacity()`` in all. Thread-safe."""

    def __init__(
        self,
        ray: Any,
        actor_cls: Any,
        args: tuple[Any, ...],
        options: Callable[[], dict[str, Any]],
        warm: int,
        capacity: Callable[[], int],
        detached: bool,
        room: Callable[[int], bool] = lambda _busy: True,
    ) -> None:
        self._ray, self._cls, self._args, self._options = ray, actor_cls, args, options
        self.warm, self._capacity, self._detached = warm, capacity, detached
        self._room = room  # whether a warm worker may start beside so many busy ones (see room_to_warm)
        self.tag = secrets.token_hex(4)  # this pool's workers' names: explorer-worker:<tag>:<n>
        self._n = itertools.count(1).__next__
        self._lock = threading.Lock()
        self._idle: list[Any] = []
        self._mine: dict[str, Any] = {}  # every live worker this pool started, by actor id
        self._pings: dict[Any, str] = {}  # an idle worker's outstanding ping -> its actor id
        self._ready: set[str] = set()  # workers that have answered once: started and warmed up
        self._pinged = 0.0
        self.started = 0  # workers started so far (a figure for the benchmark)

    def _make(self) -> Any:
        opts = self._options()
        if self._detached:  # outlives this process: another server process can take its run over
            opts.update(name=worker_name(self.tag, self._n()), lifetime="detached")
        actor = self._cls.options(**opts).remote(*self._args)
        self._mine[_key(actor)] = actor
        self._pings[actor.ping.remote()] = _key(actor)  # its answer says it has started and warmed up
        self.started += 1
        return actor

    def take(self) -> Any:
        """A worker for the next run or job: the idle one used last among those ready (warm), else one still
        starting, else a new one."""
        self._check_pings()
        with self._lock:
            ready = [a for a in self._idle if _key(a) in self._ready]
            if ready or self._idle:
                actor = (ready or self._idle)[-1]
                self._idle.remove(actor)
                return actor
            return self._make()

    def give_back(self, actor: Any) -> None:
        """The work ended in ``actor``: it waits, warm, for the next (the keeper ends idle ones past ``warm``)."""
        with self._lock:
            if _key(actor) in self._mine:
                self._ready.add(_key(actor))
                self._idle.append(actor)
                return
        self.drop(actor)

    def drop(self, actor: Any) -> None:
        """End ``actor`` now (its work was stopped from outside, or it is not needed)."""
        with self._lock:
            self._mine.pop(_key(actor), None)
            self._ready.discard(_key(actor))
            if actor in self._idle:
                self._idle.remove(actor)
        try:
            self._ray.kill(actor)
        except Exception:  # noqa: BLE001 - already gone
            pass

    def idle(self) -> int:
        with self._lock:
            return len(self._idle)

    def idle_ready(self) -> int:
        """Idle workers that have started and warmed up: the next run or job takes one at once."""
        with self._lock:
            return sum(_key(a) in self._ready for a in self._idle)

    def keep(self, busy: int, short: int | None = None) -> None:
        """One round of the keeper: forget idle workers that stopped answering, renew the others' leases, end
        the idle ones past ``warm``, and start new ones up to ``warm`` while the machine has room. ``busy``: the
        workers doing a run or a job; ``short``: those of them that a worker's start would slow noticeably (all of
        them unless said; a long run's minutes hardly feel it), which decide whether there is room."""
        self._check_pings()
        now = time.monotonic()
        with self._lock:
            while len(self._idle) > self.warm:
                extra = self._idle.pop(0)  # the one idle longest
                self._mine.pop(_key(extra), None)
                self._ready.discard(_key(extra))
                self._ray.kill(extra)
            starting = any(_key(a) not in self._ready for a in self._idle)
            wanted = not starting and len(self._idle) < self.warm  # (capacity and room ask Ray: only then)
            if wanted and busy + len(self._idle) < self._capacity() and self._room(busy if short is None else short):
                self._idle.append(self._make())  # one at a time: on a small server the first is ready sooner
            if now - self._pinged >= PING_EVERY_S:
                self._pinged = now
                for actor in self._idle:
                    self._pings[actor.ping.remote()] = _key(actor)

    def _check_pings(self) -> None:
        """Take the answers of the pings sent: a worker that answered is ready; one that died is forgotten."""
        with self._lock:
            if not self._pings:
                return
            ready, _ = self._ray.wait(list(self._pings), num_returns=len(self._pings), timeout=0)
            for ref in ready:
                key = self._pings.pop(ref, None)
                try:
                    self._ray.get(ref, timeout=0)
                    if key in self._mine:
                        self._ready.add(key)
                except Exception:  # noqa: BLE001 - the worker died while idle: another starts in its place
                    actor = self._mine.pop(key, None) if key else None
                    self._ready.discard(key or "")
                    if actor is not None and actor in self._idle:
                        self._idle.remove(actor)

    def close(self) -> None:
        with self._lock:
            actors, self._idle, self._mine = list(self._mine.values()), [], {}
        for actor in actors:
            try:
                self._ray.kill(actor)
            except Exception:  # noqa: BLE001 - already gone
                pass


def find_worker(ray: Any, owner: str, run_id: int) -> Any:
    """The named worker (of any server process joined to this cluster) that trains run ``run_id`` of ``owner``,
    or None: a server process takes over the runs of one that stopped."""
    from ray.util import list_named_actors

    actors = [ray.get_actor(n) for n in list_named_actors() if n.startswith(WORKER_PREFIX)]
    refs = [a.current.remote() for a in actors]
    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=5) if refs else ([], [])
    for actor, ref in zip(actors, refs, strict=True):
        if ref in ready:
            try:
                if tuple(ray.get(ref) or ()) == (owner, run_id):
                    return actor
            except Exception:  # noqa: BLE001 - a worker that just died
                continue
    return None
