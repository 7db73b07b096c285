"""What runs inside Ray's worker processes: ``Worker``, an actor kept warm between training runs and long jobs,
with a lease the app renews at every poll (a worker nobody follows stops itself), and how a dataset travels to
it through Ray's shared-memory object store without a copy."""

from __future__ import annotations

import gc
import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..core.budget import budget
from ..core.config import TrainConfig
from ..core.data import Dataset
from ..core.jobs import Job
from ..core.runwords import MACHINE_LOST, RUN_TIME_LIMIT, WORKER_LOST
from ..core.train import ENDED_HERE, RunStatus, Trainer

__all__ = ["cap_gpu_memory", "worker_name", "WORKER_PREFIX"]


def dataset_arrays(ds: Dataset) -> dict[str, Any]:
    """A dataset as numpy arrays: Ray keeps them in shared memory, read without a copy by every worker."""
    out: dict[str, Any] = {k: getattr(ds, k).numpy() for k in ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")}
    out.update(name=ds.name, classes=ds.classes, mean=ds.mean, std=ds.std, source=ds.source)
    return out


def _dataset_from_arrays(d: dict[str, Any]) -> Dataset:
    with warnings.catch_warnings():  # the arrays are read-only shared memory; nothing writes to them
        warnings.simplefilter("ignore", UserWarning)
        tensors = {k: torch.from_numpy(d[k]) for k in ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")}
    return Dataset(
        d["name"], **tensors, classes=tuple(d["classes"]), mean=tuple(d["mean"]), std=tuple(d["std"]), source=d["source"]
    )


WORKER_PREFIX = "explorer-worker:"


def worker_name(pool: str, n: int) -> str:
    """The Ray name of worker ``n`` of the pool ``pool`` (another server process joined to the same cluster finds
    a run it takes over by asking the named workers whose run each trains)."""
    return f"{WORKER_PREFIX}{pool}:{n}"


def worker_gone(e: BaseException) -> str:
    """Why a worker stopped answering, in a sentence."""
    name = type(e).__name__
    if "Node" in name or "Unavailable" in name or "node" in str(e).lower():
        return MACHINE_LOST
    return WORKER_LOST.format(error=name)


class _Lease:
    """Calls ``on_expire`` once if ``renew`` is not called for ``seconds``."""

    def __init__(self, seconds: float, on_expire: Callable[[], None]) -> None:
        self.seconds, self._until = seconds, time.monotonic() + seconds
        self._on_expire = on_expire
        threading.Thread(target=self._watch, daemon=True, name="explorer-lease").start()

    def renew(self) -> None:
        self._until = time.monotonic() + self.seconds

    def cancel(self) -> None:
        """Never expire (a worker used in this process, as a test does, must not end the process)."""
        self._cancelled = True

    def _watch(self) -> None:
        while time.monotonic() < self._until:
            time.sleep(min(1.0, self.seconds / 4))
        if not getattr(self, "_cancelled", False):
            self._on_expire()


def _expire_worker() -> None:
    os._exit(0)  # the owner stopped renewing: free this worker's CPUs and memory now


def cap_gpu_memory(fraction: float) -> float | None:
    """Hold this worker process to ``fraction`` of its GPU's memory (the share Ray gave it), so one run that asks
    for too much fails alone, with its own sentence, instead of taking the card from the runs beside it.
    Returns the fraction applied; None where there is no GPU or no share (a CPU run)."""
    if not 0 < fraction < 1 or not torch.cuda.is_available():
        return None
    torch.cuda.set_per_process_memory_fraction(fraction)
    return fraction


class _RunLimit:
    """Stops run ``token`` of a worker after ``minutes`` (paused time counts: a paused run holds its worker too),
    unless a later run has taken the worker meanwhile. A long run that took turns has only what is left of the
    limit; its sentence names the whole limit."""

    def __init__(self, worker: Worker, token: int, minutes: float) -> None:
        whole = budget().run_minutes or minutes
        timer = threading.Timer(minutes * 60, worker._stop_run, args=(token, RUN_TIME_LIMIT.format(n=f"{whole:g}")))
        timer.daemon = True
        timer.start()


def _warm_up() -> None:
    """A few steps of a small network on noise, so that torch's one-time costs in a new process (about a second
    on a small server: kernels chosen, memory pools grown) are paid before the first person's run, not in it."""
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.BatchNorm2d(8),
        nn.Flatten(),
        nn.Dropout(0.1),
        nn.Linear(8 * 13 * 13, 10),
    )
    opt = torch.optim.Adam(net.parameters())
    x, y = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
    for _ in range(3):
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    with torch.no_grad():
        net.eval()(x)


class Worker:
    """A Ray actor kept warm between runs and jobs: torch imported, threads set, lease running. Each run gets a
    fresh :class:`Trainer` (its own model copy, generators seeded from its config, torch's global generator
    seeded at its start) and each job a fresh :class:`Job`, so what one person did never shows in the next
    person's work; only the process (and what it imported) is reused. One run or job at a time."""

    def __init__(self, threads: int, lease_s: float, gpu_fraction: float = 0.0) -> None:
        torch.set_num_threads(max(1, threads))
        cap_gpu_memory(gpu_fraction)
        self.trainer: Trainer | None = None
        self.job: Job | None = None
        self.whose: tuple[str, int | None] | None = None  # (owner, run id) of the run it trains now
        self._token = 0
        self._began = 0.0  # when this worker took up its run (its own clock: a reply says how long ago)
        self.lease = _Lease(lease_s, self._expired)
        _warm_up()

    def _expired(self) -> None:
        if self.trainer is not None:
            self.trainer.stop()
            self.trainer.join(10)
        _expire_worker()

    def _clean(self) -> None:
        """Forget the last run or job (it has ended: the cluster takes a worker back only then)."""
        busy = (self.trainer is not None and self.trainer.status not in ENDED_HERE) or (
            self.job is not None and not self.job.finished
        )
        if busy:
            raise RuntimeError("this worker still has work going on")
        self.trainer, self.job, self.whose = None, None, None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def ping(self) -> int:
        """Renew the lease of an idle worker; its process id."""
        self.lease.renew()
        return os.getpid()

    def pid(self) -> int:
        """The worker's process id (does not renew the lease)."""
        return os.getpid()

    def current(self) -> tuple[str, int | None] | None:
        """Whose run this worker trains now (another server process looks for a run to take over)."""
        return self.whose if self.trainer is not None and self.trainer.status not in ENDED_HERE else None

    # -- a run --
    def start_run(
        self,
        model: nn.Module,
        data: dict[str, Any],
        config: TrainConfig,
        max_minutes: float = 0.0,
        owner: str = "",
        run_id: int | None = None,
        resume: dict[str, Any] | None = None,
    ) -> None:
        """Train ``model`` (from its start, or carried on from a ``resume`` state another worker handed over)."""
        self.lease.renew()
        self._clean()
        self._token += 1
        self.trainer = Trainer(model, _dataset_from_arrays(data), config, resume=resume)
        self.whose = (owner, run_id)
        if max_minutes > 0:
            _RunLimit(self, self._token, max_minutes)
        self._began = time.monotonic()
        self.trainer.start()

    def _stop_run(self, token: int, reason: str) -> None:
        if token == self._token and self.trainer is not None:
            self.trainer.stop(reason=reason)

    def poll(self, n_steps: int, n_epochs: int, snap_step: int) -> dict[str, Any]:
        """What happened since the caller's last poll; renews the lease. Once the run has ended, the reply
        carries the final weights too, so the caller needs no second round trip for them."""
        self.lease.renew()
        t = self.trainer
        if t is None:
            raise RuntimeError("this worker trains no run")
        with t._lock:
            reply = {
                "status": t.status,
                "message": t.message,
                "step": t.step,
                "total_steps": t.total_steps,
                "steps": t.steps[n_steps:],
                "epochs": t.epochs[n_epochs:],
                "device": str(t.device),
                "snapshots": [s for s in t.snapshots if s["step"] > snap_step],
                "pid": os.getpid(),
                "running_s": time.monotonic() - self._began,  # since this worker took the run up
            }
        if reply["status"] in ENDED_HERE:
            t.join(5)  # the loop has ended; its thread is a moment from gone
            reply["weights"] = self.weights()
            if reply["status"] == RunStatus.YIELDED:  # and what carries it on, in another worker
                reply["resume"] = t.resume_state
        return reply

    def control(self, action: str) -> bool:
        t = self.trainer
        return t is not None and {"pause": t.pause, "resume": t.resume, "stop": t.stop, "yield": t.yield_turn}[action]()

    def weights(self) -> dict[str, torch.Tensor]:
        """The latest consistent weights, on the CPU."""
        if self.trainer is None:
            raise RuntimeError("this worker trains no run")
        return self.trainer.model_copy().state_dict()

    # -- a job --
    def start_job(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        max_seconds: float | None,
        *datasets: dict[str, Any],
    ) -> None:
        """Run ``fn(*args, progress=..., **kwargs)`` as a local :class:`Job` here (cancelling kills the worker)."""
        self.lease.renew()
        self._clean()
        data = [_dataset_from_arrays(d) for d in datasets]  # Ray resolved them from the object store
        args = tuple(data[a.index] if isinstance(a, DatasetSlot) else a for a in args)
        kwargs = {k: data[v.index] if isinstance(v, DatasetSlot) else v for k, v in kwargs.items()}
        self.job = Job(
            getattr(fn, "__name__", "job"), lambda progress: fn(*args, progress=progress, **kwargs), max_seconds=max_seconds
        )

    def poll_job(self) -> dict[str, Any]:
        self.lease.renew()
        j = self.job
        if j is None:
            raise RuntimeError("this worker runs no job")
        return {
            "done": j.done_steps,
            "total": j.total_steps,
            "finished": j.finished,
            "error": j.error,
            "result": j.result if j.finished else None,
        }


@dataclass(frozen=True)
class DatasetSlot:
    """Stands for a job's dataset argument: the dataset itself travels as a top-level object-store reference
    (which Ray resolves, without a copy), and this says which one."""

    index: int
