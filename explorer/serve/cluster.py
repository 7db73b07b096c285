"""Training runs and long jobs in worker processes scheduled by Ray, each owned by an owner id.

``Cluster`` starts (or joins, with ``RAY_ADDRESS``) a Ray instance and hands out two kinds of handle:

- ``RemoteTrainer``: the same face as :class:`explorer.core.train.Trainer` (``status``, ``history()``, ``pause``,
  ``resume``, ``stop``, ``model_copy()``, ``snapshots``, ``done``), for a run that trains in a Ray actor;
- ``RemoteJob``: the same face as :class:`explorer.serve.workspace.Job` (``progress``, ``result``, ``error``,
  ``finished``, ``cancel()``), for filter images and experiments.

Runs and jobs train in warm workers (:class:`explorer.serve.pool.WorkerPool`): processes started before anyone
asks and reused, so a run pays no process start. Each worker holds ``cpus_per_run`` CPUs (half a CPU by default:
two runs share a core, so a short run starts beside long ones instead of waiting for them to end) and
``gpus_per_run`` of a GPU when the cluster has one; at most ``capacity()`` work at once, and the rest wait here,
first come first served (each owner has one run in the line at a time, so the line takes the owners in turn). One
keeper thread per ``Cluster`` polls every busy worker, mirrors its progress into the handle (so pages read local
memory and never wait on Ray), renews the worker's lease, applies the final weights to the caller's model, and
gives the worker back to the pool. A worker whose lease is not renewed (the owner's session is gone, or this
process died) stops itself: nothing runs on for nobody.

Each owner (in the app, a saved workspace; its jobs belong to the browser session that asked) has at most one
run in Ray at a time; its further runs wait here, in order, and are submitted when the one before ends.
"""

from __future__ import annotations

import collections
import copy
import itertools
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..core.budget import budget
from ..core.config import TrainConfig
from ..core.data import Dataset
from ..core.jobs import time_limit_sentence
from ..core.runwords import KEEPS_BEFORE, SESSION_ENDED
from ..core.train import DONE, RunStatus, check_fits
from ..i18n import Said

__all__ = ["Cluster", "ClusterSettings"]

from .handles import RemoteJob, RemoteTrainer
from .pool import WorkerPool, find_worker, room_to_warm
from .settings import ClusterSettings, start_ray
from .turns import Line
from .workers import DatasetSlot, Worker, dataset_arrays, worker_gone

# ---------------------------------------------------------------- the cluster


@dataclass
class _Outstanding:
    ref: Any
    ctl: int = 0
    kind: str = "poll"  # poll, weights


@dataclass
class _OwnerQueue:
    waiting: collections.deque[RemoteTrainer] = field(default_factory=collections.deque)
    active: RemoteTrainer | None = None


class Cluster(Line):
    """A Ray instance (started here, or joined) and the runs and jobs it runs for their owners.

    ``is_alive(owner)`` tells the keeper whether an owner still exists (the app asks its :class:`Presence`
    whether a browser session still holds the workspace); a gone owner's runs and jobs are ended at once.
    """

    def __init__(self, settings: ClusterSettings | None = None, is_alive: Callable[[str], bool] | None = None) -> None:
        import ray

        self.settings = s = settings or ClusterSettings.from_env()
        self.is_alive = is_alive or (lambda owner: True)
        self._ray = ray
        self._host_stop = threading.Event()
        self.started_here = False
        if not ray.is_initialized():
            start_ray(ray, s, self._host_stop)
            self.started_here = not s.address
        self._lock = threading.RLock()
        self.pool = WorkerPool(
            ray,
            ray.remote(Worker),
            (max(1, int(s.cpus_per_run)), s.lease_s),
            self._worker_options,
            warm=s.warm if s.warm is not None else (0 if s.address else 2),
            capacity=self.capacity,
            detached=bool(s.address),
            room=lambda busy: room_to_warm(busy, max(1, int(s.cpus_per_run)), ray.cluster_resources().get("CPU", 1)),
        )
        self._queue: collections.deque[RemoteTrainer | RemoteJob] = collections.deque()  # waiting for a worker
        self.pool.keep(busy=0)  # the first warm worker starts now, before anyone asks
        self._new_id = itertools.count(1).__next__  # handle ids, unique within this cluster
        self._owners: dict[str, _OwnerQueue] = {}
        self._runs: dict[int, RemoteTrainer] = {}  # submitted to Ray, not yet ended
        self._jobs: dict[int, RemoteJob] = {}
        self._out: dict[int, _Outstanding] = {}
        self._data: collections.OrderedDict[int, tuple[Dataset, Any]] = collections.OrderedDict()
        self._step_s: collections.deque[float] = collections.deque(maxlen=20)  # seconds per step, recent runs
        self._closed = threading.Event()
        self._keeper = threading.Thread(target=self._keep, daemon=True, name="explorer-cluster-keeper")
        self._keeper.start()

    # -- capacity --
    def gpus(self) -> float:
        return float(self._ray.cluster_resources().get("GPU", 0))

    def capacity(self) -> int:
        """How many runs can train at once on the cluster (CPU-bound, or GPU-bound where GPUs are used)."""
        res = self._ray.cluster_resources()
        slots = int(res.get("CPU", 1) // self.settings.cpus_per_run)
        if res.get("GPU"):
            slots = min(slots, int(res["GPU"] // self.settings.gpus_per_run))
        return max(1, slots)

    def _worker_options(self) -> dict[str, Any]:
        s = self.settings
        return {"num_cpus": s.cpus_per_run, "num_gpus": s.gpus_per_run if self.gpus() > 0 else 0}

    def _busy(self) -> int:
        """Workers doing a run or a job now (lock held)."""
        return sum(h.actor is not None for h in self._runs.values()) + sum(j.actor is not None for j in self._jobs.values())

    def _busy_short(self) -> int:
        """The busy workers that a warm worker's start would slow for nothing (lock held): all of them while work
        waits in line (the worker a run frees goes to the next at once: a class's queue needs no warm one), else
        those doing a job or a run that is not long (a long run hardly feels a start, and the next click then
        does not wait for one)."""
        busy = self._busy()
        if any(not self._over(w) for w in self._queue):
            return busy
        return busy - sum(h.actor is not None and self._long(h) for h in self._runs.values())

    # -- datasets: into the object store once --
    def dataset_ref(self, ds: Dataset) -> Any:
        """The object-store reference of ``ds``: put once, shared by every worker that trains on it."""
        with self._lock:
            key = id(ds)
            if key in self._data and self._data[key][0] is ds:
                self._data.move_to_end(key)
                return self._data[key][1]
            ref = self._ray.put(dataset_arrays(ds))
            self._data[key] = (ds, ref)
            while len(self._data) > 16:
                self._data.popitem(last=False)
            return ref

    # -- runs --
    def submit_run(
        self, owner: str, model: nn.Module, dataset: Dataset, config: TrainConfig, run_id: int | None = None
    ) -> RemoteTrainer:
        """Train ``model`` (its weights end up in it) in a worker; returns at once with a handle.

        Bad settings or a model that does not fit the data raise ValueError here, before anything is queued.
        With a ``run_id`` (the owner's number for the run) the worker is named after the owner and the run, so
        another server process joined to the same Ray cluster can take the run over (:meth:`live_run`).
        """
        config = copy.deepcopy(config.validated())  # the caller may change its own object later
        check_fits(model, dataset)
        handle = RemoteTrainer(self, owner, model, dataset, config, run_id)
        with self._lock:
            q = self._owners.setdefault(owner, _OwnerQueue())
            waiting, most = sum(not h.done for h in q.waiting), budget().queued_runs
            if q.active is not None and not q.active.done and waiting >= most:
                raise ValueError(
                    f"{waiting} of your runs already wait for the one that trains (at most {most} "
                    "wait per workspace): stop one, or wait for them"
                )
            q.waiting.append(handle)
            self._advance(owner)
        return handle

    def _advance(self, owner: str) -> None:
        """Put the owner's next waiting run in the line for a worker if none of theirs is there (lock held)."""
        q = self._owners.get(owner)
        if q is None or (q.active is not None and not q.active.done):
            return
        q.active = None
        while q.waiting:
            h = q.waiting.popleft()
            if h.done:
                continue
            h.status, h.submitted_at = RunStatus.QUEUED, time.monotonic()
            q.active = h
            self._runs[h.id] = h
            self._queue.append(h)
            self._dispatch()
            return
        if not q.active:
            self._owners.pop(owner, None)

    def owner_runs(self, owner: str) -> list[RemoteTrainer]:
        with self._lock:
            q = self._owners.get(owner)
            return ([q.active] if q and q.active else []) + (list(q.waiting) if q else [])

    # -- jobs --
    def submit_job(
        self, owner: str, name: str, fn: Callable[..., Any], *args: Any, max_seconds: float | None = None, **kwargs: Any
    ) -> RemoteJob:
        """Run ``fn(*args, progress=callback, **kwargs)`` in a worker. ``fn`` must be importable (a library
        function); arguments are copies (a model passed here is the job's own); datasets go by the object store.
        ``max_seconds``: the job ends with a sentence at its first progress report past it, and its worker is
        killed if it reports nothing for :data:`JOB_GRACE_S` more."""
        job = RemoteJob(self, owner, name)
        job.max_seconds = max_seconds
        refs: list[Any] = []

        def slot(a: Any) -> Any:
            if not isinstance(a, Dataset):
                return a
            refs.append(self.dataset_ref(a))
            return DatasetSlot(len(refs) - 1)

        with self._lock:
            job.call = (fn, tuple(slot(a) for a in args), {k: slot(v) for k, v in kwargs.items()}, max_seconds, *refs)
            self._jobs[job.id] = job
            self._queue.append(job)
            self._dispatch()
        return job

    # -- owners --
    def end_owner(self, owner: str, why: str = SESSION_ENDED) -> int:
        """End every run and job of ``owner`` now and free their workers; returns how many were ended."""
        with self._lock:
            runs = [h for h in self._runs.values() if h.owner == owner]
            q = self._owners.pop(owner, None)
            runs += list(q.waiting) if q else []
            jobs = [j for j in self._jobs.values() if j.owner == owner]
        for h in runs:
            self._end(h, RunStatus.STOPPED, why)
        for j in jobs:
            self._end_job(j, why)
        return len(runs) + len(jobs)

    def live_run(
        self, owner: str, run_id: int, model: nn.Module | None = None, config: TrainConfig | None = None
    ) -> RemoteTrainer | None:
        """The run ``run_id`` of ``owner`` if it is still queued or training (a reloaded tab takes it up).

        A run this process does not know may be training for another server process joined to the same Ray
        cluster, one that stopped (a replica of the app behind a proxy): with the ``model`` it trains and its
        ``config``, its worker is found by name and followed from here on, and ``model`` gets its final weights.
        """
        with self._lock:
            q = self._owners.get(owner)
            for h in [*self._runs.values(), *(q.waiting if q else [])]:
                if h.owner == owner and h.run_id == run_id and not h.done:
                    return h
        if model is None or config is None:
            return None
        actor = find_worker(self._ray, owner, run_id) if self.settings.address else None
        if actor is None:  # no such worker: the run ended, or its lease ran out
            return None
        h = RemoteTrainer(self, owner, model, None, config, run_id)
        h.actor, h.status, h.started_at = actor, RunStatus.READY, time.monotonic()
        with self._lock:
            q = self._owners.setdefault(owner, _OwnerQueue())
            if q.active is not None and not q.active.done:
                return None  # this owner trains another run here: two would break one-run-at-a-time
            q.active = h
            self._runs[h.id] = h
        return h

    def owners(self) -> set[str]:
        with self._lock:
            return {h.owner for h in self._runs.values()} | {j.owner for j in self._jobs.values()} | set(self._owners)

    # -- the keeper --
    def _get(self, ref: Any, timeout: float) -> Any:
        return self._ray.get(ref, timeout=timeout)

    def _release(self, actor: Any, ended_in_it: bool) -> None:
        """A worker whose work is over: back to the pool if the work ended in it, else ended (lock held)."""
        if actor is None:
            return
        if ended_in_it:
            self.pool.give_back(actor)
        else:
            self.pool.drop(actor)

    def _end(self, h: RemoteTrainer, status: str, message: str, ended_in_it: bool = False) -> None:
        with self._lock:
            self._runs.pop(h.id, None)
            self._out.pop(h.id, None)
            q = self._owners.get(h.owner)
            if q is not None and h in q.waiting:
                q.waiting.remove(h)
            actor = h.actor
            h.mark_ended(status, message)
            self._release(actor, ended_in_it)
            if q is not None and q.active is h:
                self._advance(h.owner)
            self._dispatch()

    def _end_job(self, job: RemoteJob, error: str | Said | None, ended_in_it: bool = False) -> None:
        with self._lock:
            self._jobs.pop(job.id, None)
            self._out.pop(job.id, None)
            if error is not None and not job.finished:
                job.error = error
            job.finished = True
            actor = job.actor
            job.mark_ended()
            self._release(actor, ended_in_it)
            self._dispatch()

    def _keep(self) -> None:
        while not self._closed.wait(self.settings.poll_s):
            try:
                self._tick()
            except Exception as e:  # noqa: BLE001 - the keeper must outlive one bad reply
                warnings.warn(f"cluster keeper: {type(e).__name__}: {e}", RuntimeWarning, stacklevel=1)

    def _tick(self) -> None:
        """One round of the keeper: end what is over, ask every live worker for news, and take the replies."""
        ray = self._ray
        if not ray.is_initialized():
            return  # shut down (at exit, say): never let a call start a new instance
        self._end_the_gone_and_the_late()
        with self._lock:
            self._dispatch()
            self._take_turns()
            self.pool.keep(self._busy(), short=self._busy_short())
        pending = self._send_polls()
        if not pending:
            return
        ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=self.settings.poll_s)
        for ref in ready:
            self._take_reply(ref, *pending[ref])

    def _end_the_gone_and_the_late(self) -> None:
        """Owners no session holds any more lose their work; a job that stopped reporting past its time limit
        has its worker killed."""
        for owner in self.owners():
            if not self.is_alive(owner):
                self.end_owner(owner)
        now = time.monotonic()
        with self._lock:
            late = [j for j in self._jobs.values() if j.deadline is not None and now > j.deadline]
        for j in late:
            self._end_job(j, time_limit_sentence(j.max_seconds or 0))

    def _send_polls(self) -> dict[Any, tuple[int, _Outstanding]]:
        """A poll to every live worker that has none outstanding; returns every outstanding request by its ref."""
        with self._lock:
            for h in self._runs.values():
                if h.id not in self._out and h.actor is not None:
                    have, ctl = h.poll_args()
                    self._out[h.id] = _Outstanding(h.actor.poll.remote(*have), ctl)
            for j in self._jobs.values():
                if j.id not in self._out and j.actor is not None:
                    self._out[j.id] = _Outstanding(j.actor.poll_job.remote())
            return {o.ref: (i, o) for i, o in self._out.items()}

    def _take_reply(self, ref: Any, i: int, out: _Outstanding) -> None:
        """One worker's answer, applied to its run or job (a worker that died: its end, in a sentence)."""
        with self._lock:
            if self._out.get(i) is not out:
                return  # ended meanwhile
            del self._out[i]
            target: Any = self._runs.get(i) or self._jobs.get(i)
        if target is None:
            return
        try:
            reply = self._ray.get(ref)
        except Exception as e:  # noqa: BLE001 - the worker died: say so, free it
            why = worker_gone(e)
            if self._try_again(target):
                return
            if isinstance(target, RemoteTrainer):
                self._end(target, RunStatus.FAILED, KEEPS_BEFORE.format(why=why))
            else:
                self._end_job(target, why)
            return
        if isinstance(target, RemoteJob):
            self._job_reply(target, reply)
        elif out.kind == "weights":
            self._finish_run(target, reply)
        else:
            self._run_reply(target, reply, out.ctl)

    def _try_again(self, target: RemoteTrainer | RemoteJob) -> bool:
        """A warm worker that died before the work reported anything (it was idle a while: the machine may have
        reclaimed it): the work goes first in line again, once, instead of failing."""
        if not isinstance(target, RemoteTrainer) or target.started_at is not None or target.retried:
            return False  # a job's arguments went with its call: it ends with its sentence
        with self._lock:
            self.pool.drop(target.actor)
            target.actor, target.retried = None, True
            self._queue.appendleft(target)
            self._dispatch()
        return True

    def _job_reply(self, job: RemoteJob, reply: dict[str, Any]) -> None:
        job.started = True
        job.done_steps, job.total_steps = reply["done"], reply["total"]
        if reply["finished"]:
            job.result, job.error = reply["result"], reply["error"]
            self._end_job(job, None, ended_in_it=True)

    def _run_reply(self, h: RemoteTrainer, reply: dict[str, Any], ctl: int) -> None:
        if h.started_at is None:  # when its worker took it up: the first reply comes a poll or more later
            h.started_at = time.monotonic() - float(reply.get("running_s") or 0.0)
        h.apply(reply, ctl)
        if reply["status"] == RunStatus.YIELDED:
            self._requeue(h, reply)
        elif reply["status"] in DONE:
            h.record_final(reply["status"], reply["message"])
            if "weights" in reply:  # the final poll brings them: the run ends now, not a poll later
                self._finish_run(h, reply["weights"])
                return
            with self._lock:
                if h.id in self._runs and h.actor is not None:
                    self._out[h.id] = _Outstanding(h.actor.weights.remote(), kind="weights")

    def _finish_run(self, h: RemoteTrainer, state: dict[str, torch.Tensor]) -> None:
        status, message = h.receive_weights(state)
        if h.started_at and h.step and status == RunStatus.FINISHED and not h.turns:
            self._step_s.append((time.monotonic() - h.started_at) / h.step)  # evaluation included
        self._end(h, status, message, ended_in_it=True)

    def close(self) -> None:
        """End every run and job, stop the keeper, and shut the local Ray instance down if this started it.
        After Ray itself was shut down (at a process's exit), there is nothing left to end: it only stops."""
        if not self._ray.is_initialized():  # a call to Ray now would start a new instance
            self._closed.set()
            self._host_stop.set()
            return
        for owner in list(self.owners()):
            self.end_owner(owner, "stopped: the server is shutting down")
        self._closed.set()
        self._keeper.join(5)
        self.pool.close()
        if self.started_here and self._ray.is_initialized():
            self._ray.shutdown()
        self._host_stop.set()
