"""A user's workspace: their models, their training runs, the run in progress, their long jobs.

One ``Workspace`` per browser session (the app keeps it in ``st.session_state``) or per notebook, named by an
``owner`` id. With a :class:`explorer.serve.cluster.Cluster`, its runs and jobs train in Ray worker processes owned
by that id; without one, in background threads of this process. Nothing here is shared between workspaces
except the read-only dataset tensors passed in.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from torch import nn

from ..core.budget import budget
from ..core.checkpoint import Checkpoint, save_checkpoint
from ..core.config import TrainConfig
from ..core.data import Dataset
from ..core.jobs import Job, JobCancelled, JobGroup, JobState  # noqa: F401  (JobCancelled, JobState: re-exported here)
from ..core.safejson import MAX_NAME_CHARS, bounded_name
from ..core.spec import build_model, summarize
from ..core.train import RunStatus, Trainer

if TYPE_CHECKING:
    from .cluster import Cluster
    from .handles import QueueInfo, RemoteJob, RemoteTrainer
    from .people import Quota

__all__ = ["Run", "ModelEntry", "Workspace", "Job", "JobState"]


@dataclass
class Run:
    """One training run of one model: its settings and what it produced."""

    id: int
    model_name: str
    dataset: str
    config: dict[str, Any]
    params: int
    started: float = field(default_factory=time.time)
    trainer: Trainer | RemoteTrainer | None = None
    history: dict[str, Any] = field(default_factory=dict)
    snapshots: list[dict[str, Any]] = field(default_factory=list)  # conv kernels every few steps

    def current(self) -> dict[str, Any]:
        """Live history while training, the final one after (a pure read: :meth:`settle` keeps it)."""
        t = self.trainer
        return t.history() if t is not None else self.history

    def kernel_snapshots(self) -> list[dict[str, Any]]:
        """The convolution kernels every few steps, so far."""
        t = self.trainer
        return list(t.snapshots) if t is not None else self.snapshots

    def settle(self) -> bool:
        """Once its trainer has ended, keep its history and snapshots and drop the trainer (and the thread's or
        worker's references with it). True if it did."""
        t = self.trainer
        if t is None or not t.done:
            return False
        self.history, self.snapshots, self.trainer = t.history(), list(t.snapshots), None
        return True

    @property
    def queue(self) -> QueueInfo | None:
        """Where the run stands while it waits for a worker (None once it trains, or when run in-process)."""
        t = self.trainer
        return t.queue_info() if t is not None and hasattr(t, "queue_info") else None

    @property
    def label(self) -> str:
        return f"#{self.id} {self.model_name} · {self.dataset}"

    def final(self) -> dict[str, Any]:
        """The last epoch's figures (empty before the first epoch ends)."""
        eps = self.current().get("epochs", [])
        return eps[-1] if eps else {}


@dataclass
class ModelEntry:
    """A named model of the session: its spec, its weights, the dataset it is for, its runs."""

    name: str
    spec: dict[str, Any]
    model: nn.Module
    dataset: dict[str, Any] | None = None  # Dataset.info() of the data it was trained on
    runs: list[Run] = field(default_factory=list)
    source: str = "built"  # built, loaded
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)  # this entry, not another of the same name
    _checkpoint: tuple[Any, bytes] | None = field(default=None, repr=False)  # (run state, file) cache

    @property
    def params(self) -> int:
        return summarize(self.spec).total_params

    @property
    def version(self) -> tuple[str, int, int]:
        """Changes whenever its weights may have: this entry, its number of runs, its last run's step. What a
        page keys its cached predictions by."""
        run = self.runs[-1] if self.runs else None
        return (self.uid, len(self.runs), int(run.current().get("step") or 0) if run else 0)

    @property
    def active_run(self) -> Run | None:
        if self.runs and self.runs[-1].trainer is not None and not self.runs[-1].trainer.done:
            return self.runs[-1]
        return None

    @property
    def state(self) -> str:
        """untrained, running, paused, trained, stopped, diverged, failed, loaded."""
        if not self.runs:
            return "loaded" if self.source == "loaded" else "untrained"
        status = self.runs[-1].current().get("status", RunStatus.READY)
        return {"finished": "trained", "ready": "running", "waiting": "queued"}.get(status, status)

    @property
    def test_accuracy(self) -> float | None:
        for run in reversed(self.runs):
            acc = run.final().get("test_accuracy")
            if acc is not None:
                return acc
        return None

    @property
    def device(self) -> str:
        run = self.active_run
        return str(run.trainer.device) if run and run.trainer else "cpu"

    def checkpoint_bytes(self) -> bytes:
        """The model as a checkpoint file (spec, weights, dataset metadata, last run's history)."""
        run = self.runs[-1] if self.runs else None
        current = run.current() if run else {}
        key = (len(self.runs), current.get("step"), current.get("status"))
        if self._checkpoint is not None and self._checkpoint[0] == key:
            return self._checkpoint[1]  # the sidebar asks on every rerun: serialise once per state
        model = run.trainer.model_copy() if run and run.trainer and not run.trainer.done else self.model
        hist = {k: v for k, v in current.items() if k in ("epochs", "status", "config")}
        data = save_checkpoint(model, self.spec, self.dataset or {}, hist, run.config if run else {}, name=self.name)
        self._checkpoint = (key, data)
        return data

    def onnx_bytes(self) -> bytes:
        """The model (its latest weights) as an ONNX file; with its dataset's normalisation and class names once
        it has been trained on one (the input is then pixels 0..255)."""
        from ..lessons.export import to_onnx

        data = self.dataset if self.dataset and not self.dataset.get("standin") else None
        return to_onnx(self.inference_model(), self.spec["input_shape"], data)

    def inference_model(self) -> nn.Module:
        """The model to look inside: a consistent CPU copy while training, else the model itself (eval mode)."""
        run = self.active_run
        if run is not None and run.trainer is not None:
            return run.trainer.model_copy().eval()
        return self.model.eval()


class Workspace:
    """The models, runs and jobs of one user. ``current`` names the model the pages work on.

    ``owner`` names the workspace to the cluster (its runs are keyed by it); ``cluster`` runs them in worker
    processes (None: background threads here, as in a notebook). ``cluster`` may be a function that returns
    it: it is then asked at the first need, so a workspace opens at once while the app's workers still start
    in the background, and only a first run waits for them. Jobs are keyed by ``job_owner`` (the browser
    session, in the app; ``owner`` by default): a reloaded tab takes up a run, but a job's result goes to the
    page that asked for it, so a job ends with its session.
    """

    def __init__(
        self,
        owner: str | None = None,
        cluster: Cluster | Callable[[], Cluster | None] | None = None,
        job_owner: str | None = None,
    ) -> None:
        self.owner = owner or uuid.uuid4().hex
        self.job_owner = job_owner
        self._cluster: Cluster | None = None
        self._cluster_source: Callable[[], Cluster | None] | None = None
        self.cluster = cluster
        self.models: dict[str, ModelEntry] = {}
        self.current: str | None = None
        # saved models and uploads this server could not open: their rows stay in the database as they were
        self.kept_models: set[str] = set()
        self.kept_uploads: set[str] = set()
        self._run_ids = itertools.count(1)
        self.quota: Quota | None = None  # the person its jobs and runs count against (the app sets it)

    @property
    def cluster(self) -> Cluster | None:
        """The cluster that runs this workspace's work (None: threads in this process)."""
        if self._cluster_source is not None:
            self._cluster, self._cluster_source = self._cluster_source(), None
        return self._cluster

    @cluster.setter
    def cluster(self, value: Cluster | Callable[[], Cluster | None] | None) -> None:
        lazy = callable(value) and not hasattr(value, "submit_run")
        self._cluster, self._cluster_source = (None, value) if lazy else (value, None)  # type: ignore[assignment]

    def resume_run_ids(self, start: int) -> None:
        """Number new runs from ``start`` (a workspace loaded from the store keeps its run numbers)."""
        self._run_ids = itertools.count(start)

    def unique_name(self, base: str) -> str:
        """``base`` bounded (one line, at most MAX_NAME_CHARS, an ellipsis where trimmed), made unique here."""
        base = bounded_name(base, default="model")
        if base not in self.models:
            return base
        return next(
            n
            for i in itertools.count(2)
            for n in [bounded_name(base, MAX_NAME_CHARS - len(f" ({i})")) + f" ({i})"]
            if n not in self.models
        )

    def _check_room(self, params: int = 0) -> None:
        """Room for one more model of ``params`` parameters: within the workspace's count, and (with a quota) the
        person's memory across their tabs and the server's own limit."""
        most = budget().models
        if len(self.models) >= most:
            raise ValueError(
                f"this workspace already keeps {len(self.models)} models, the most one may keep "
                f"({most}): remove one first (sidebar: Remove this model)"
            )
        if self.quota is not None:
            self.quota.check_model(params)

    def add_model(
        self, spec: dict[str, Any], name: str | None = None, seed: int = 0, dataset: dict[str, Any] | None = None
    ) -> ModelEntry:
        """Build ``spec`` into a new model, make it current, and return it (a ValueError when the workspace
        already keeps the most models the server's budget allows)."""
        self._check_room(summarize(spec).total_params)  # refused before anything is built
        model = build_model(spec, seed=seed)
        entry = ModelEntry(self.unique_name(name or spec.get("name") or "model"), spec, model, dataset)
        self.models[entry.name] = entry
        self.current = entry.name
        return entry

    def add_checkpoint(self, ck: Checkpoint, name: str | None = None) -> ModelEntry:
        self._check_room(sum(p.numel() for p in ck.model.parameters()))
        entry = ModelEntry(self.unique_name(name or ck.name or "loaded"), ck.spec, ck.model, ck.dataset, source="loaded")
        if ck.history.get("epochs"):
            # the file's own history is shown, but claimed: measured elsewhere, it counts on no roster or path
            run = Run(
                next(self._run_ids),
                entry.name,
                ck.dataset.get("name", "?"),
                ck.config,
                entry.params,
                history=dict(ck.history, status=ck.history.get("status", RunStatus.FINISHED), steps=[], claimed=True),
            )
            entry.runs.append(run)
        self.models[entry.name] = entry
        self.current = entry.name
        return entry

    def settle(self) -> int:
        """Every ended run keeps its results and lets go of its trainer (see :meth:`Run.settle`); how many did."""
        return sum(r.settle() for e in self.models.values() for r in e.runs)

    def entry(self, name: str | None = None) -> ModelEntry | None:
        return self.models.get(name or self.current or "")

    def remove(self, name: str) -> None:
        entry = self.models.pop(name, None)
        if entry and entry.active_run and entry.active_run.trainer:
            entry.active_run.trainer.stop()
        if self.current == name:
            self.current = next(iter(self.models), None)

    def start_training(self, dataset: Dataset, config: TrainConfig, name: str | None = None) -> Run:
        """Train the model ``name`` (default: current) in a background thread; returns the new run."""
        entry = self.entry(name)
        if entry is None:
            raise ValueError("no model yet: build one or pick a preset first")
        if entry.active_run is not None:
            raise ValueError(f"{entry.name} is already training: stop it first")
        if config.snapshot_every == 0:  # keep ~100 snapshots of the kernels for the "time machine"
            n = min(len(dataset.train_y), config.limit_train or len(dataset.train_y))
            total = -(-n // config.batch_size) * config.epochs
            conv_params = sum(m.weight.numel() for m in entry.model.modules() if isinstance(m, nn.Conv2d))
            if conv_params <= 1_000_000:
                config = dataclasses.replace(config, snapshot_every=max(1, total // 100))
        if self.quota is not None:  # runs are counted per person, across their tabs
            self.quota.check_run()
        trainer: Trainer | RemoteTrainer
        run_id = next(self._run_ids)  # a reloaded tab (or another replica) finds the run by this number
        if self.cluster is not None:  # validates settings and the fit of model and data before queueing
            trainer = self.cluster.submit_run(self.owner, entry.model, dataset, config, run_id)
        else:
            trainer = Trainer(entry.model, dataset, config)  # validates the fit of model and data
        run = Run(run_id, entry.name, dataset.name, config.to_dict(), entry.params, trainer=trainer)
        entry.dataset = dataset.info()
        entry.runs.append(run)
        if self.quota is not None:
            self.quota.add_run(trainer)
        if isinstance(trainer, Trainer):
            trainer.start()
        return run

    def adopt_running(self) -> list[Run]:
        """Take up the runs of this workspace that still train on the cluster (its tab was reloaded, or the
        same link was opened again): a loaded run marked "interrupted" follows its worker again, and its model
        gets the final weights. Returns the runs taken up."""
        candidates = [
            (e, e.runs[-1])
            for e in self.models.values()
            if e.runs and e.runs[-1].trainer is None and e.runs[-1].history.get("status") == "interrupted"
        ]
        if not candidates or self.cluster is None:  # the cluster is asked only when a run may be out there
            return []
        adopted = []
        for entry, run in candidates:
            try:
                config = TrainConfig.from_dict(run.config)
            except (TypeError, ValueError):
                continue
            handle = self.cluster.live_run(self.owner, run.id, entry.model, config)
            if handle is None:
                continue
            handle.attach(entry.model)
            run.trainer = handle
            adopted.append(run)
        return adopted

    def side_by_side(self, most: int) -> int:
        """How many parts of one job may train at once: on a cluster, half its workers (at least one), so one
        student's experiment leaves room for the class's runs; in this process (one user), ``most``."""
        cluster = self.cluster
        return most if cluster is None else max(1, min(most, cluster.capacity() // 2))

    def start_job(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Job | RemoteJob:
        """Run ``fn(*args, progress=callback, **kwargs)`` off the caller's thread; the job works on copies of
        any model passed to it. ``fn`` should be a library function (it may travel to a worker process).
        With a ``quota``, a person runs one job at a time (a ValueError with a sentence otherwise)."""
        if self.quota is not None:
            return self.quota.start_job(lambda: self._start_job(name, fn, *args, **kwargs))
        return self._start_job(name, fn, *args, **kwargs)

    def start_job_group(
        self,
        name: str,
        parts: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]],
        combine: Callable[[list[Any]], Any],
    ) -> JobGroup:
        """Several parts ``(fn, args, kwargs)`` of one job, side by side (each as :meth:`start_job` runs one), read
        as one job whose result is ``combine`` of theirs; for a person's limit, it is one job."""

        def start() -> JobGroup:
            return JobGroup([self._start_job(name, fn, *a, **kw) for fn, a, kw in parts], combine, name=name)

        return self.quota.start_job(start) if self.quota is not None else start()

    def _start_job(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Job | RemoteJob:
        limit_s = budget().job_minutes * 60.0  # as runs have theirs: a job ends with a sentence past it
        if self.cluster is not None:
            return self.cluster.submit_job(self.job_owner or self.owner, name, fn, *args, max_seconds=limit_s, **kwargs)

        def own(a: Any) -> Any:
            return copy.deepcopy(a) if isinstance(a, nn.Module) else a

        args, kwargs = tuple(own(a) for a in args), {k: own(v) for k, v in kwargs.items()}
        return Job(name, lambda progress: fn(*args, progress=progress, **kwargs), max_seconds=limit_s)

    def close(self) -> None:
        """Stop every run and job of this workspace (the owner is gone)."""
        if self._cluster is not None:  # a cluster never asked for holds nothing of this workspace
            self._cluster.end_owner(self.owner)
            if self.job_owner:
                self._cluster.end_owner(self.job_owner)
        for run in self.all_runs():
            if run.trainer is not None:
                run.trainer.stop()

    def all_runs(self) -> list[Run]:
        return sorted((r for e in self.models.values() for r in e.runs), key=lambda r: r.id)
