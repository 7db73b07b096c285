"""What the app's process holds of the work in Ray's workers: ``RemoteTrainer`` (the face of a local ``Trainer``)
and ``RemoteJob`` (the face of a local ``Job``), mirrored by the cluster's keeper so a page reads local memory
and never waits on Ray, and ``QueueInfo``, where a queued run stands."""

from __future__ import annotations

import copy
import math
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from ..core.config import TrainConfig
from ..core.data import Dataset
from ..core.jobs import JobState
from ..core.runwords import NOT_STARTED, STOPPED_AT
from ..core.snapshots import snapshot_bytes, snapshot_cap, thin_snapshots
from ..core.train import ENDED_HERE, RunStatus, RunView
from ..i18n import EN, Said, Translator, said_n


class Keeper(Protocol):
    """What a handle asks of the cluster that keeps it (:class:`explorer.serve.cluster.Cluster`)."""

    def _new_id(self) -> int: ...
    def _get(self, ref: Any, timeout: float) -> Any: ...
    def _end(self, h: RemoteTrainer, status: str, message: str) -> None: ...
    def _end_job(self, job: RemoteJob, error: str | Said | None) -> None: ...
    def queue_info(self, handle: RemoteTrainer) -> QueueInfo: ...


__all__ = ["RemoteTrainer", "RemoteJob", "QueueInfo"]


@dataclass
class QueueInfo:
    """Where a queued run stands: runs ahead of it, and about how long until it starts, in seconds for the
    operator (``wait_s``; None: not known yet) and in the course's words for the student (``wait_steps``: the
    training steps the runs before it still have to take before a place frees for it)."""

    ahead: int
    wait_s: float | None
    own: bool = False  # waiting for another run of the same owner, not for the cluster
    starting: bool = False  # a worker has taken it up: the first step is moments away
    long_turn: int = 0  # a long run waiting its turn: this many long runs train at once here
    wait_steps: int | None = None

    def sentence(self, tr: Translator = EN) -> str:
        """Where the run stands, in ``tr``'s language: no clock time, the steps of the runs before it."""
        if self.own:
            return tr("waiting for your other run to finish (one run at a time per workspace)")
        if self.starting:
            return tr("starting: its first steps are moments away")
        if self.long_turn:
            return tr(
                "queued: long runs take turns, {n} at a time here, so that short runs never wait behind them; "
                "yours goes on when its turn comes",
                n=self.long_turn,
            )
        steps = _about(self.wait_steps or 0)
        eta = (
            "; "
            + said_n(
                "it starts after about {n} more training step of the runs before it",
                "it starts after about {n} more training steps of the runs before it",
                steps,
            ).say(tr)
            if steps
            else ""
        )
        if self.ahead == 0:
            return tr("queued: yours is next, waiting for a free place to train") + eta
        return (
            tr("queued: one run ahead of yours") if self.ahead == 1 else tr("queued: {n} runs ahead of yours", n=self.ahead)
        ) + eta


def _about(n: int) -> int:
    """``n`` to two significant digits (1,234 → 1,200): what "about" promises."""
    return n if n < 100 else round(n, 2 - len(str(n)))


class RemoteTrainer(RunView):
    """A run in a Ray worker, seen through the same face as a local ``Trainer``.

    Everything the pages read is mirrored here by the cluster's keeper; the controls are sent to the worker.
    ``model`` is the caller's model: it gets the final weights when the run ends, as does every model passed to
    :meth:`attach` (a reloaded tab's copy of it). ``run_id`` is the owner's number for the run, if it has one.
    """

    def __init__(
        self,
        cluster: Keeper,
        owner: str,
        model: nn.Module,
        dataset: Dataset | None,
        config: TrainConfig,
        run_id: int | None = None,
    ) -> None:
        self.id = cluster._new_id()
        self.cluster, self.owner, self.model, self.dataset, self.config = cluster, owner, model, dataset, config
        self.total_steps = 0  # an adopted run (no dataset here) learns it from the first poll
        if dataset is not None:
            n = min(len(dataset.train_y), config.limit_train or len(dataset.train_y))
            self.total_steps = math.ceil(n / config.batch_size) * config.epochs
        self.status, self.message, self.step, self.device = RunStatus.WAITING, "", 0, "queued"
        self.steps: list[dict[str, Any]] = []
        self.epochs: list[dict[str, Any]] = []
        self.snapshots: list[dict[str, Any]] = []
        self.submitted_at: float | None = None
        self.started_at: float | None = None
        self.actor: Any = None
        self._lock = threading.Lock()
        self._ctl = 0  # controls sent; a poll sent before the latest control does not overwrite its status
        self._weights: tuple[int, nn.Module] | None = None
        self._final: tuple[str, str] = (RunStatus.FINISHED, "")  # the worker's last word, applied with the weights
        self._done = threading.Event()
        self.run_id = run_id
        self._attached: list[nn.Module] = []
        self.worker_pid: int | None = None  # the process it trains in (a warm worker serves many runs)
        self.retried = False  # its warm worker died before it started: it went first in line again, once
        self.carry: dict[str, Any] | None = None  # a long run that gave its place back: what carries it on
        self.turns = 0  # how often it gave its place back
        self.turn_started = 0.0  # (monotonic) when its worker took it up this turn
        self.trained_s = 0.0  # its time in workers before this turn
        self.yield_asked = False  # asked to give its place back at this epoch's end

    def attach(self, model: nn.Module) -> None:
        """Give ``model`` the final weights too, when the run ends (it must have the same architecture)."""
        with self._lock:
            if all(m is not model for m in (self.model, *self._attached)):
                self._attached.append(model)

    @property
    def queued(self) -> bool:
        return self.status in (RunStatus.WAITING, RunStatus.QUEUED)

    def queue_info(self) -> QueueInfo | None:
        return self.cluster.queue_info(self) if self.queued else None

    def pause(self) -> bool:
        return self._control("pause", (RunStatus.RUNNING,), RunStatus.PAUSED)

    def resume(self) -> bool:
        return self._control("resume", (RunStatus.PAUSED,), RunStatus.RUNNING)

    def stop(self) -> bool:
        if self.queued:  # (a long run waiting its next turn keeps the weights it had reached)
            self.cluster._end(self, RunStatus.STOPPED, STOPPED_AT.format(step=self.step) if self.step else NOT_STARTED)
            return True
        return self._control("stop", (RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.READY), RunStatus.STOPPING)

    def _control(self, action: str, allowed: tuple[str, ...], to: str) -> bool:
        with self._lock:
            if self.status not in allowed or self.actor is None:
                return False
            self.status, self._ctl = to, self._ctl + 1
            self.actor.control.remote(action)
            return True

    def model_copy(self) -> nn.Module:
        """A CPU copy of the model with the run's latest weights (fetched at most once per step)."""
        if self.done or self.actor is None or self.status in (RunStatus.WAITING, RunStatus.QUEUED, RunStatus.READY):
            return copy.deepcopy(self.model).cpu()
        if self._weights is not None and self._weights[0] == self.step:
            return copy.deepcopy(self._weights[1])
        step = self.step
        try:
            state = self.cluster._get(self.actor.weights.remote(), timeout=30)
        except Exception:  # noqa: BLE001 - the worker just ended: the keeper will report why
            return copy.deepcopy(self.model).cpu()
        m = copy.deepcopy(self.model).cpu()
        m.load_state_dict(state)
        self._weights = (step, m)
        return copy.deepcopy(m)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the run has ended and its weights are in ``model``; True if it has."""
        return self._done.wait(timeout)

    # -- what the cluster's keeper calls --
    def poll_args(self) -> tuple[tuple[int, int, int], int]:
        """What the next poll asks the worker for (steps, epochs and the last snapshot's step already here) and
        the controls sent so far."""
        with self._lock:
            return (len(self.steps), len(self.epochs), self.snapshots[-1]["step"] if self.snapshots else -1), self._ctl

    def record_final(self, status: str, message: str) -> None:
        """The worker's last word, applied when its weights arrive."""
        self._final = (status, message)

    @property
    def final_status(self) -> str:
        return self._final[0]

    def receive_weights(self, state: dict[str, torch.Tensor]) -> tuple[str, str]:
        """The final weights into the model and every attached copy; returns the run's last word."""
        with self._lock:
            for model in (self.model, *self._attached):
                model.load_state_dict(state)
        return self._final

    def mark_ended(self, status: str, message: str) -> None:
        """The run has ended (its actor is gone): its status and message, and ``join`` returns."""
        with self._lock:
            self.status, self.message = status, message
        self.actor = None
        self._done.set()

    def apply(self, reply: dict[str, Any], ctl: int) -> None:
        """A poll's reply: new steps, epochs and snapshots, and the status unless a later control changed it."""
        with self._lock:
            self.steps.extend(reply["steps"])
            self.epochs.extend(reply["epochs"])
            for snap in reply["snapshots"]:
                self.snapshots.append(snap)  # thinned as the trainer thins them, within the same byte budget
                self.snapshots = thin_snapshots(self.snapshots, snapshot_cap(snapshot_bytes(snap)))
            self.step, self.total_steps, self.device = (
                reply["step"],
                reply["total_steps"] or self.total_steps,
                reply["device"],
            )
            self.worker_pid = reply.get("pid", self.worker_pid)
            if ctl == self._ctl and reply["status"] not in ENDED_HERE:  # (a run that yielded goes back in line)
                self.status, self.message = reply["status"], reply["message"]


class RemoteJob(JobState):
    """A long job in a Ray worker: progress, result, a sentence on error, and cancel()."""

    def __init__(self, cluster: Keeper, owner: str, name: str) -> None:
        super().__init__()
        self.id, self.cluster, self.owner, self.name = cluster._new_id(), cluster, owner, name
        self.started = False
        self.actor: Any = None
        self.max_seconds: float | None = None
        self.deadline: float | None = None  # monotonic: past it, the keeper kills the worker
        self.call: tuple[Any, ...] = ()  # what its worker is to run, until a worker takes it
        self._done = threading.Event()

    def cancel(self) -> None:
        self.cancel_requested = True
        if not self.finished:
            self.cluster._end_job(self, "cancelled")

    def join(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def mark_ended(self) -> None:
        """The job has ended (its actor is gone): ``join`` returns."""
        self.actor = None
        self._done.set()
