"""What runs inside Ray's worker processes: a training run (``_RunWorker``) and a long job (``_JobWorker``), each
an actor with a lease the app renews at every poll (a worker nobody follows stops itself), and how a dataset
travels to them through Ray's shared-memory object store without a copy."""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..core.data import Dataset
from ..core.jobs import Job
from ..core.train import DONE, TrainConfig, Trainer

__all__ = ["cap_gpu_memory", "run_actor_name"]


def _dataset_arrays(ds: Dataset) -> dict[str, Any]:
    """A dataset as numpy arrays: Ray keeps them in shared memory, read without a copy by every worker."""
    out: dict[str, Any] = {k: getattr(ds, k).numpy() for k in ("train_x", "train_y", "val_x", "val_y", "test_x",
                                                                 "test_y")}
    out.update(name=ds.name, classes=ds.classes, mean=ds.mean, std=ds.std, source=ds.source)
    return out


def _dataset_from_arrays(d: dict[str, Any]) -> Dataset:
    with warnings.catch_warnings():  # the arrays are read-only shared memory; nothing writes to them
        warnings.simplefilter("ignore", UserWarning)
        tensors = {k: torch.from_numpy(d[k]) for k in ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")}
    return Dataset(d["name"], **tensors, classes=tuple(d["classes"]), mean=tuple(d["mean"]), std=tuple(d["std"]),
                   source=d["source"])


def run_actor_name(owner: str, run_id: int) -> str:
    """The Ray name of the worker that trains run ``run_id`` of ``owner`` (any server process can find it)."""
    return f"run:{owner}:{run_id}"


def _worker_gone(e: BaseException) -> str:
    """Why a worker stopped answering, in a sentence."""
    name = type(e).__name__
    if "Node" in name or "Unavailable" in name or "node" in str(e).lower():
        return "Ended early: the machine it trained on stopped or left the cluster"
    return f"Ended early: its worker process stopped unexpectedly ({name})"


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


class _RunWorker:
    """A Ray actor: one training run in its own process, its own generators, its own torch threads."""

    def __init__(self, model: nn.Module, data: dict[str, Any], config: TrainConfig, threads: int,
                 lease_s: float, gpu_fraction: float = 0.0, max_minutes: float = 0.0) -> None:
        torch.set_num_threads(max(1, threads))
        cap_gpu_memory(gpu_fraction)
        self.trainer = Trainer(model, _dataset_from_arrays(data), config)
        self.lease = _Lease(lease_s, self._expired)
        if max_minutes > 0:  # paused time counts: a paused run holds its worker too
            timer = threading.Timer(max_minutes * 60, self.trainer.stop, kwargs={"reason": (
                f"stopped after {max_minutes:g} minutes, the server's time budget for one run "
                "(EXPLORER_MAX_RUN_MINUTES); the model keeps the weights it had reached")})
            timer.daemon = True
            timer.start()
        self.trainer.start()

    def _expired(self) -> None:
        self.trainer.stop()
        self.trainer.join(10)
        _expire_worker()

    def poll(self, n_steps: int, n_epochs: int, snap_step: int) -> dict[str, Any]:
        """What happened since the caller's last poll; renews the lease. Once the run has ended, the reply
        carries the final weights too, so the caller needs no second round trip for them."""
        self.lease.renew()
        t = self.trainer
        with t._lock:
            reply = {"status": t.status, "message": t.message, "step": t.step, "total_steps": t.total_steps,
                     "steps": t.steps[n_steps:], "epochs": t.epochs[n_epochs:], "device": str(t.device),
                     "snapshots": [s for s in t.snapshots if s["step"] > snap_step]}
        if reply["status"] in DONE:
            t.join(5)  # the loop has ended; its thread is a moment from gone
            reply["weights"] = self.weights()
        return reply

    def pid(self) -> int:
        """The worker's process id (does not renew the lease)."""
        return os.getpid()

    def control(self, action: str) -> bool:
        return {"pause": self.trainer.pause, "resume": self.trainer.resume, "stop": self.trainer.stop}[action]()

    def weights(self) -> dict[str, torch.Tensor]:
        """The latest consistent weights, on the CPU."""
        return self.trainer.model_copy().state_dict()


class _JobWorker:
    """A Ray actor: one long job ``fn(*args, progress=..., **kwargs)`` in its own process, run as a local
    :class:`explorer.serve.workspace.Job` there (cancelling kills the actor)."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], threads: int,
                 lease_s: float, max_seconds: float | None, *datasets: dict[str, Any]) -> None:
        torch.set_num_threads(max(1, threads))
        data = [_dataset_from_arrays(d) for d in datasets]  # Ray resolved them from the object store
        args = tuple(data[a.index] if isinstance(a, _DatasetSlot) else a for a in args)
        kwargs = {k: data[v.index] if isinstance(v, _DatasetSlot) else v for k, v in kwargs.items()}
        self.lease = _Lease(lease_s, _expire_worker)
        self.job = Job(getattr(fn, "__name__", "job"), lambda progress: fn(*args, progress=progress, **kwargs),
                       max_seconds=max_seconds)

    def poll(self) -> dict[str, Any]:
        self.lease.renew()
        j = self.job
        return {"done": j.done_steps, "total": j.total_steps, "finished": j.finished, "error": j.error,
                "result": j.result if j.finished else None}


@dataclass(frozen=True)
class _DatasetSlot:
    """Stands for a job's dataset argument: the dataset itself travels as a top-level object-store reference
    (which Ray resolves, without a copy), and this says which one."""

    index: int
