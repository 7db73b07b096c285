"""The line for workers: first come, first served, each owner one run at a time; long runs on half the places,
taking turns at their epochs' ends while another long run waits; and where a queued run stands.

:class:`Line` is the part of :class:`explorer.serve.cluster.Cluster` that decides who trains next (its methods are
called with the cluster's lock held, except :meth:`Line.queue_info`).
"""

from __future__ import annotations

import collections
import copy
import threading
import time
from typing import Any

from ..core.budget import budget
from ..core.runwords import STOPPED_AT
from ..core.train import RunStatus
from .handles import QueueInfo, RemoteJob, RemoteTrainer
from .settings import ClusterSettings

__all__ = ["Line", "LONG_RUN_STEPS", "JOB_GRACE_S"]

LONG_RUN_STEPS = 2_000  # a long run, before any speed is measured (the default CNN's run on the digits: 189 steps)
JOB_GRACE_S = 30.0  # a job past its time limit that has not reported (and so not stopped itself) is killed after this


class Line:
    """Who trains next, and where a queued run stands (mixed into the cluster, whose state it reads)."""

    settings: ClusterSettings
    pool: Any
    _lock: threading.RLock
    _queue: collections.deque[RemoteTrainer | RemoteJob]
    _runs: dict[int, RemoteTrainer]
    _jobs: dict[int, RemoteJob]
    _out: dict[int, Any]
    _step_s: collections.deque[float]

    def capacity(self) -> int: ...
    def _busy(self) -> int: ...
    def dataset_ref(self, ds: Any) -> Any: ...
    def _release(self, actor: Any, ended_in_it: bool) -> None: ...
    def _end(self, h: RemoteTrainer, status: str, message: str, ended_in_it: bool = False) -> None: ...

    @staticmethod
    def _over(w: RemoteTrainer | RemoteJob) -> bool:
        """Whether ``w``, in line, has ended there (stopped or cancelled before a worker took it)."""
        return w.done if isinstance(w, RemoteTrainer) else w.finished

    def _per_step(self) -> float | None:
        """Seconds per step of recent runs (their median), None before any run has finished here."""
        return sorted(self._step_s)[len(self._step_s) // 2] if self._step_s else None

    def _long(self, w: RemoteTrainer | RemoteJob) -> bool:
        """Whether ``w`` is a long run: estimated past ``long_run_s`` at the speed of recent runs, or, before any
        speed is known, of more than :data:`LONG_RUN_STEPS` steps."""
        if not isinstance(w, RemoteTrainer):
            return False
        per_step = self._per_step()
        return w.total_steps * per_step > self.settings.long_run_s if per_step else w.total_steps > LONG_RUN_STEPS

    def long_places(self) -> int:
        """How many long runs may train at once: half the places (at least one), so that a short run never waits
        behind long ones; the other long runs wait their turn."""
        return max(1, self.capacity() // 2)

    def _dispatch(self) -> None:
        """Hand a worker to the work first in line while fewer than ``capacity()`` are busy, passing over a long
        run while long runs hold their half of the places (it keeps its place in line) (lock held)."""
        cap, passed = self.capacity(), collections.deque()
        long_busy = sum(self._long(h) for h in self._runs.values() if h.actor is not None)
        while self._queue and self._busy() < cap:
            w = self._queue.popleft()
            if self._over(w):
                continue
            if cap > 1 and self._long(w):
                if long_busy >= self.long_places():
                    passed.append(w)
                    continue
                long_busy += 1
            w.actor = self.pool.take()
            if isinstance(w, RemoteTrainer):
                minutes = budget().run_minutes  # a run that took turns has used some of its time already
                left = max(minutes - w.trained_s / 60, 0.05) if minutes else 0.0
                w.turn_started, w.yield_asked = time.monotonic(), False
                w.actor.start_run.remote(
                    copy.deepcopy(w.model).cpu(), self.dataset_ref(w.dataset), w.config, left, w.owner, w.run_id, w.carry
                )
            else:
                w.actor.start_job.remote(*w.call)
                w.call = ()
                w.deadline = None if not w.max_seconds else time.monotonic() + w.max_seconds + JOB_GRACE_S
        self._queue.extendleft(reversed(passed))

    def queue_info(self, handle: RemoteTrainer) -> QueueInfo:
        """Runs ahead of ``handle`` and an estimate of its wait, from the runs in progress and recent speeds."""
        with self._lock:
            if handle.status == "waiting":
                return QueueInfo(ahead=0, wait_s=None, own=True)
            if handle.actor is not None:
                return QueueInfo(ahead=0, wait_s=0.0, starting=True)
            if (
                self._long(handle)
                and self.capacity() > 1
                and sum(self._long(h) for h in self._runs.values() if h.actor is not None) >= self.long_places()
            ):
                return QueueInfo(ahead=0, wait_s=None, long_turn=self.long_places())
            queued = sorted(
                (h for h in self._runs.values() if h.status == RunStatus.QUEUED and h.actor is None),
                key=lambda h: h.submitted_at or 0.0,
            )
            ahead = [h for h in queued if (h.submitted_at or 0) < (handle.submitted_at or 0)]
            running = [h for h in self._runs.values() if h.actor is not None]
            per_step = self._per_step()
            for h in running:  # the speed of runs going on now counts too
                if h.steps and h.started_at:
                    per_step = per_step or (time.monotonic() - h.started_at) / max(h.step, 1)
        steps = self._first_free([max(h.total_steps - h.step, 0) for h in running], [h.total_steps for h in ahead])
        wait_s = (
            None
            if per_step is None
            else self._first_free(
                [max(h.total_steps - h.step, 0) * per_step for h in running], [h.total_steps * per_step for h in ahead]
            )
        )
        return QueueInfo(ahead=len(ahead), wait_s=wait_s, wait_steps=int(steps))

    def _first_free(self, running: list[float], ahead: list[float]) -> float:
        """When a place frees for a run behind ``ahead``, counted in the unit of ``running`` (what each run training
        now has left) and ``ahead`` (each queued run's whole length): each run ahead takes the place that frees
        first."""
        slots = sorted(running + [0.0] * max(0, self.capacity() - len(running)))[: self.capacity()]
        for length in ahead:
            slots[0] += length
            slots.sort()
        return slots[0]

    def _take_turns(self) -> None:
        """While a long run waits for a place that long runs hold, ask each long run that has trained for its turn
        (``turn_s``) to give its place back at its epoch's end (lock held)."""
        if not any(self._long(w) for w in self._queue if isinstance(w, RemoteTrainer) and not w.done):
            return
        now = time.monotonic()
        for h in self._runs.values():
            if (
                h.actor is not None
                and not h.yield_asked
                and h.status == RunStatus.RUNNING
                and self._long(h)
                and now - h.turn_started >= self.settings.turn_s
            ):
                h.yield_asked = True
                h.actor.control.remote("yield")

    def _requeue(self, h: RemoteTrainer, reply: dict[str, Any]) -> None:
        """A long run gave its place back at an epoch's end: its weights into the model, and back in line (after
        the runs that wait) with what carries it on."""
        h.receive_weights(reply["weights"])
        if h.status == RunStatus.STOPPING:  # stopped from its page as it gave its place back: it ends here
            self._end(h, RunStatus.STOPPED, STOPPED_AT.format(step=h.step), ended_in_it=True)
            return
        with self._lock:
            self._out.pop(h.id, None)
            actor, h.actor, h.carry = h.actor, None, reply["resume"]
            h.trained_s += time.monotonic() - h.turn_started
            h.turns += 1
            h.status = RunStatus.QUEUED
            self._release(actor, True)
            if h.id in self._runs:
                self._queue.append(h)
            self._dispatch()
