"""The trainer: steps over preloaded uint8 tensors, batch augmentation on the device (``augment``), live events.
Its settings are ``config.TrainConfig``.

``Trainer`` can run in the caller's thread (``run``) or in a background thread (``start``); another
thread may ``pause``, ``resume`` and ``stop`` it at step granularity and read ``history`` at any time.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .augment import augment_batch
from .config import TrainConfig, resolve_device
from .data import Dataset
from .evaluate import evaluate
from .runwords import DIVERGED, FAILED, FINISHED, NOT_STARTED, OUT_OF_MEMORY, STOPPED_AT
from .snapshots import snapshot_cap, thin_snapshots
from .spec import output_logits_to_classes

__all__ = ["RunStatus", "ACTIVE", "DONE", "ENDED_HERE", "RunView", "Trainer", "train"]

Event = dict[str, Any]


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.Adadelta(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int) -> Any:
    """The learning-rate schedule: one-cycle (stepped every batch), step (every epoch), or none."""
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            opt,
            max_lr=cfg.lr,
            total_steps=total_steps,
            cycle_momentum=cfg.optimizer in ("adam", "adamw") or (cfg.optimizer == "sgd" and cfg.momentum > 0),
        )
    if cfg.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=cfg.step_epochs, gamma=cfg.gamma)
    return None


def check_fits(model: nn.Module, dataset: Dataset) -> None:
    """Refuse, with a sentence, a spec-built model whose input or output does not fit the dataset."""
    spec = getattr(model, "spec", None)
    if spec is None:
        return
    from .spec import summarize

    s = summarize(spec)
    if list(s.input_shape) != dataset.input_shape:
        raise ValueError(f"the model takes {list(s.input_shape)} inputs but {dataset.name} images are {dataset.input_shape}")
    k = dataset.num_classes
    if s.output_shape != (k,) and not (k == 2 and s.output_shape == (1,)):
        shape = "x".join(map(str, s.output_shape))
        raise ValueError(
            f"the model ends with shape {shape} but {dataset.name} has {k} classes: end with "
            f"Flatten and Linear(out_features={k})"
        )


class RunStatus(StrEnum):
    """Where a run is. A ``str``: it compares equal to its value and is written to JSON as it."""

    WAITING = "waiting"  # submitted, not yet in the cluster's queue
    QUEUED = "queued"  # waiting for a worker
    READY = "ready"  # its worker has it, training not started
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"  # asked to stop, finishing its step
    STOPPED = "stopped"
    FINISHED = "finished"
    DIVERGED = "diverged"  # a non-finite loss: the last good weights were restored
    FAILED = "failed"
    YIELDED = "yielded"  # a long run gave its place to another at an epoch's end; it carries on later (a worker's word)


DONE = (RunStatus.STOPPED, RunStatus.FINISHED, RunStatus.DIVERGED, RunStatus.FAILED)  # a run in one of these has ended
ACTIVE = (
    RunStatus.WAITING,
    RunStatus.QUEUED,
    RunStatus.READY,
    RunStatus.RUNNING,
    RunStatus.PAUSED,
    RunStatus.STOPPING,
    RunStatus.YIELDED,
)  # a run in one of these has not ended
ENDED_HERE = (*DONE, RunStatus.YIELDED)  # a trainer in one of these has left its thread (a yielded run goes on elsewhere)


class RunView:
    """What pages read of a run, shared by :class:`Trainer` and :class:`explorer.serve.handles.RemoteTrainer`:
    ``done`` and a consistent ``history()``, from ``status``, ``message``, ``step``, ``total_steps``, ``steps``,
    ``epochs`` and ``config`` under ``_lock``."""

    status: str
    message: str
    step: int
    total_steps: int
    steps: list[Event]
    epochs: list[Event]
    config: TrainConfig
    _lock: threading.Lock

    @property
    def done(self) -> bool:
        return self.status in DONE

    def history(self) -> dict[str, Any]:
        """A consistent copy of the run so far: steps, epochs, status, message, progress."""
        with self._lock:
            return {
                "steps": list(self.steps),
                "epochs": list(self.epochs),
                "status": self.status,
                "message": self.message,
                "step": self.step,
                "total_steps": self.total_steps,
                "config": self.config.to_dict(),
            }


class Trainer(RunView):
    """Trains ``model`` on ``dataset`` with ``config``; thread-safe controls and history.

    ``on_event(event)`` is called from the training thread with dicts of kind ``"step"`` (every
    ``log_every`` steps: loss, accuracy, lr, samples_per_s, progress, eta_s), ``"epoch"`` (train and
    val/test loss and accuracy, seconds, samples_per_s) and ``"end"`` (status, message).
    """

    def __init__(
        self,
        model: nn.Module,
        dataset: Dataset,
        config: TrainConfig | None = None,
        on_event: Callable[[Event], None] | None = None,
        resume: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.dataset = dataset
        self.config = (config or TrainConfig()).validated()
        self.on_event = on_event
        self.device = resolve_device(self.config.device)
        check_fits(model, dataset)
        self.steps: list[Event] = list(resume["steps"]) if resume else []
        self.epochs: list[Event] = list(resume["epochs"]) if resume else []
        self.snapshots: list[dict[str, Any]] = []
        self.status = RunStatus.READY
        self.message = ""
        self._stop_reason: str | None = None
        self._resume_from = resume  # a run that yielded its place: where it carries on (see :meth:`yield_turn`)
        self.resume_state: dict[str, Any] | None = None  # once it has yielded: what carries it on
        self._yield = threading.Event()
        self.step = resume["step"] if resume else 0
        self.total_steps = 0
        self._lock = threading.Lock()  # guards weights during an optimiser step, and the lists above
        self._resume = threading.Event()
        self._resume.set()
        self.held = threading.Event()  # set while a paused run waits between two steps (nothing in flight)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- controls (any thread): a small state machine under the lock --
    # ready -> running -> (paused <-> running) -> stopping -> stopped; running/paused -> finished/diverged/failed
    def _move(self, allowed: tuple[str, ...], to: str) -> bool:
        """Move to ``to`` if the status is one of ``allowed``; False (nothing changes) otherwise."""
        with self._lock:
            if self.status not in allowed:
                return False
            self.status = to
            return True

    def start(self) -> threading.Thread:
        """Run in a daemon thread; returns it."""
        if self._thread is not None:
            raise RuntimeError("this trainer has already been started")
        self._thread = threading.Thread(target=self.run, name="explorer-trainer", daemon=True)
        self._thread.start()
        return self._thread

    def pause(self) -> bool:
        """Pause at the next step (only a running trainer pauses); True if it will."""
        if self._move((RunStatus.RUNNING,), RunStatus.PAUSED):
            self._resume.clear()
            return True
        return False

    def resume(self) -> bool:
        """Resume a paused trainer; True if it was paused."""
        if self._move((RunStatus.PAUSED,), RunStatus.RUNNING):
            self._resume.set()
            return True
        return False

    def yield_turn(self) -> bool:
        """Give the place back at the end of this epoch (another long run waits for it): the run ends here as
        ``yielded`` with :attr:`resume_state`, and a new trainer given it carries on exactly where this one
        stopped. True if it will (a run in its last epoch just finishes)."""
        if self.status not in (RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.READY):
            return False
        self._yield.set()
        return True

    def stop(self, reason: str | None = None) -> bool:
        """Stop at the next step, from running, paused or not yet started; True if it will stop. ``reason``
        becomes the run's last message (default: the step it stopped at)."""
        with self._lock:
            if self.status in (RunStatus.RUNNING, RunStatus.PAUSED):
                self.status = RunStatus.STOPPING
            elif self.status == "ready":
                self.status, self.message = RunStatus.STOPPED, reason or NOT_STARTED
            else:
                return False
            self._stop_reason = reason
            self._stop.set()
            self._resume.set()
            return True

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def model_copy(self) -> nn.Module:
        """A CPU copy of the model with consistent weights, safe to use while training goes on."""
        with self._lock:
            m = copy.deepcopy(self.model)
        return m.cpu()

    def device_data(self) -> tuple[Tensor, Tensor]:
        """The training images ``(N, C, H, W)`` as uint8 and labels ``(N,)`` on the training device.

        uint8 on the device is 4x smaller than float; each batch is converted and normalised there.
        """
        x, y = self.dataset.train_x, self.dataset.train_y
        if self.config.limit_train is not None:
            x, y = x[: self.config.limit_train], y[: self.config.limit_train]
        return x.to(self.device), y.to(self.device)

    # -- the run (training thread) --
    def _emit(self, event: Event) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def run(self) -> dict[str, Any]:
        """Train to the end (or until stopped, diverged or failed); returns ``history()``."""
        cfg = self.config
        if not self._move((RunStatus.READY,), RunStatus.RUNNING):
            return self.history()  # stopped before it started, or run twice
        torch.manual_seed(cfg.seed)  # dropout draws from torch's global generator: one run per process is exact
        if self._resume_from is not None:
            torch.set_rng_state(self._resume_from["rng"])  # ... and a run that carries on draws where it stopped
        try:
            self._loop()
        except torch.OutOfMemoryError:
            self._restore_good()
            self._finish(RunStatus.FAILED, OUT_OF_MEMORY.format(batch=cfg.batch_size))
        except Exception as e:  # noqa: BLE001 - the UI must get a sentence, not a dead thread
            self._restore_good()
            self._finish(RunStatus.FAILED, FAILED.format(error=f"{type(e).__name__}: {e}"))
        return self.history()

    def _finish(self, status: str, message: str) -> None:
        with self._lock:
            self.status, self.message = status, message
        self.model.to("cpu")
        self._emit({"kind": "end", "status": status, "message": message})

    def _restore_good(self) -> None:
        good = getattr(self, "_good", None)
        if good is not None:
            with self._lock:
                self.model.load_state_dict(good)

    def _loop(self) -> None:
        cfg, dev, model = self.config, self.device, self.model
        x_all, y_all = self.device_data()
        n = len(y_all)
        self.total_steps = math.ceil(n / cfg.batch_size) * cfg.epochs
        model.to(dev).train()
        opt = _optimizer(model, cfg)
        sched = _scheduler(opt, cfg, self.total_steps)
        mean = torch.tensor(self.dataset.mean, device=dev).view(1, -1, 1, 1)
        std = torch.tensor(self.dataset.std, device=dev).view(1, -1, 1, 1)
        norm = (1.0 / (255.0 * std), mean / std)  # x/255 normalised as one multiply-add
        gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
        aug_gen = torch.Generator(device=dev).manual_seed(cfg.seed) if cfg.augment.active else None
        first = self._carry_on(opt, sched, gen, aug_gen) if self._resume_from is not None else 1
        self._good = self._pending = self._weights()
        if cfg.snapshot_every and first == 1:
            self._snapshot()  # step 0: the kernels before training
        for epoch in range(first, cfg.epochs + 1):
            t0 = time.perf_counter()
            perm = torch.randperm(n, generator=gen).to(dev)
            totals = self._train_epoch(epoch, x_all, y_all, perm, opt, sched, norm, aug_gen)
            if totals is None:
                return  # stopped or diverged: _finish has said so
            train_s = time.perf_counter() - t0
            if cfg.schedule == "step":
                sched.step()
            self._end_epoch(epoch, t0, train_s, n, totals)
            if self._yield.is_set() and epoch < cfg.epochs:
                self._hand_over(epoch, opt, sched, gen, aug_gen)
                return
        self._finish(RunStatus.FINISHED, FINISHED.format(n=cfg.epochs))

    def _carry_on(
        self, opt: torch.optim.Optimizer, sched: Any, gen: torch.Generator, aug_gen: torch.Generator | None
    ) -> int:
        """Take up a run that yielded its place: its optimizer, schedule and generators as they were; returns the
        epoch it carries on from."""
        r = self._resume_from or {}
        opt.load_state_dict(r["optimizer"])  # (its tensors go to the parameters' device)
        if sched is not None and r.get("scheduler") is not None:
            sched.load_state_dict(r["scheduler"])
        gen.set_state(r["gen"])
        if aug_gen is not None and r.get("aug_gen") is not None:
            aug_gen.set_state(r["aug_gen"])
        return int(r["epoch"]) + 1

    def _hand_over(
        self, epoch: int, opt: torch.optim.Optimizer, sched: Any, gen: torch.Generator, aug_gen: torch.Generator | None
    ) -> None:
        """End here at ``epoch``'s end with what another trainer needs to carry the run on (on the CPU)."""
        with self._lock:
            self.resume_state = {
                "epoch": epoch,
                "step": self.step,
                "optimizer": _on_cpu(opt.state_dict()),
                "scheduler": sched.state_dict() if sched is not None else None,
                "gen": gen.get_state(),
                "aug_gen": aug_gen.get_state() if aug_gen is not None else None,
                "rng": torch.get_rng_state(),
                "steps": list(self.steps),
                "epochs": list(self.epochs),
            }
        self._finish(RunStatus.YIELDED, "")

    def _train_epoch(
        self,
        epoch: int,
        x_all: Tensor,
        y_all: Tensor,
        perm: Tensor,
        opt: torch.optim.Optimizer,
        sched: Any,
        norm: tuple[Tensor, Tensor],
        aug_gen: torch.Generator | None,
    ) -> tuple[Tensor, Tensor] | None:
        """One epoch's steps in ``perm``'s order, logged every ``log_every`` steps; the epoch's summed loss and
        correct count (on the device), or None if the run stopped or diverged."""
        cfg, model, dev, bs = self.config, self.model, self.device, self.config.batch_size
        steps = math.ceil(len(perm) / bs)
        ep_loss = torch.zeros((), device=dev)
        ep_correct = torch.zeros((), device=dev, dtype=torch.long)
        win_loss = torch.zeros(cfg.log_every, device=dev)
        win_correct = torch.zeros((), device=dev, dtype=torch.long)
        win_n, win_t, seen = 0, time.perf_counter(), 0
        for i in range(steps):
            if not self._resume.is_set():
                self.held.set()
                self._resume.wait()  # stop() sets it too, so a paused run can always be stopped
                self.held.clear()
                win_t = time.perf_counter()  # paused time is not training time
            if self._stop.is_set():
                self._finish(RunStatus.STOPPED, self._stop_reason or STOPPED_AT.format(step=self.step))
                return None
            idx = perm[i * bs : (i + 1) * bs]
            xb = x_all[idx].float().mul_(norm[0]).sub_(norm[1])  # (B, C, H, W) normalised
            yb = y_all[idx]
            if cfg.augment.active:
                xb = augment_batch(xb, cfg.augment, aug_gen)
            logits = output_logits_to_classes(model(xb))
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            with self._lock:
                opt.step()
            if cfg.schedule == "onecycle":
                sched.step()
            self.step += 1
            d, c = loss.detach(), (logits.detach().argmax(1) == yb).sum()
            win_loss[win_n] = d
            win_correct += c
            ep_correct += c
            ep_loss += d * len(yb)
            win_n, seen = win_n + 1, seen + len(yb)
            if win_n == cfg.log_every or i == steps - 1:
                if not self._log_window(win_loss[:win_n], int(win_correct), seen, win_t, epoch, opt):
                    return None
                win_n, win_correct, win_t, seen = 0, win_correct.zero_(), time.perf_counter(), 0
            if cfg.snapshot_every and self.step % cfg.snapshot_every == 0:
                self._snapshot()
        return ep_loss, ep_correct

    def _end_epoch(self, epoch: int, t0: float, train_s: float, n: int, totals: tuple[Tensor, Tensor]) -> None:
        """The epoch's row: training figures over its ``n`` images, then each evaluation split's loss and accuracy."""
        row: Event = {
            "kind": "epoch",
            "epoch": epoch,
            "step": self.step,
            "train_loss": totals[0].item() / n,
            "train_accuracy": totals[1].item() / n,
        }
        for split in self.config.eval_splits:
            x, y = self.dataset.split(split)
            row[f"{split}_loss"], row[f"{split}_accuracy"] = evaluate(self.model, x, y, self.dataset.mean, self.dataset.std)
        row["seconds"] = time.perf_counter() - t0
        row["train_seconds"] = train_s
        row["samples_per_s"] = n / train_s
        with self._lock:
            self.epochs.append(row)
        self._emit(row)

    def _log_window(
        self, losses: Tensor, correct: int, seen: int, t0: float, epoch: int, opt: torch.optim.Optimizer
    ) -> bool:
        """Report the last steps; on a non-finite loss restore the last good weights and stop."""
        vals = losses.tolist()  # one device sync per window
        if not all(math.isfinite(v) for v in vals):
            first = self.step - len(vals) + next(j for j, v in enumerate(vals) if not math.isfinite(v)) + 1
            self._restore_good()
            self._finish(RunStatus.DIVERGED, DIVERGED.format(step=first, lr=f"{self.config.lr:g}"))
            return False
        # the weights kept at the last window gave this window's first (finite) loss: they are good now
        self._good, self._pending = self._pending, self._weights()
        dt = max(time.perf_counter() - t0, 1e-9)
        rate = seen / dt
        ev: Event = {
            "kind": "step",
            "step": self.step,
            "epoch": epoch,
            "loss": sum(vals) / len(vals),
            "accuracy": correct / max(seen, 1),
            "lr": opt.param_groups[0]["lr"],
            "samples_per_s": rate,
            "progress": self.step / self.total_steps,
            "eta_s": (self.total_steps - self.step) * (seen / len(vals)) / rate,
        }
        with self._lock:
            self.steps.append(ev)
        self._emit(ev)
        return True

    def _weights(self) -> dict[str, Tensor]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def _snapshot(self) -> None:
        """Keep a CPU copy of every conv layer's kernels, for scrubbing through training later. However often a
        lesson asks for them, they hold at most the server's snapshot budget (``snapshot_cap``)."""
        convs = [(name, m) for name, m in self.model.named_modules() if isinstance(m, nn.Conv2d)]
        cap = snapshot_cap(sum(m.weight.numel() for _, m in convs) * 4)
        if cap < 2:
            return  # one snapshot of this model is already over the budget: no time machine for it
        kernels = {name: m.weight.detach().cpu().clone() for name, m in convs}
        with self._lock:
            self.snapshots.append({"step": self.step, "kernels": kernels})
            self.snapshots = thin_snapshots(self.snapshots, cap)


def _on_cpu(obj: Any) -> Any:
    """A state dict's tensors copied to the CPU (an optimizer's state travels to another worker)."""
    if isinstance(obj, Tensor):
        return obj.detach().cpu().clone()
    if isinstance(obj, dict):
        return {k: _on_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_on_cpu(v) for v in obj)
    return obj


def train(
    model: nn.Module, dataset: Dataset, config: TrainConfig | None = None, on_event: Callable[[Event], None] | None = None
) -> dict[str, Any]:
    """Train in this thread and return the history (see :class:`Trainer`)."""
    return Trainer(model, dataset, config, on_event).run()
