"""Long work (filter images, experiments) off the page's thread: what a page reads of a job wherever it runs
(``JobState``), and ``Job``, a job in a background thread of this process. The Ray worker that runs a job in
another process runs a ``Job`` there (``explorer.serve.cluster``)."""

from __future__ import annotations

import threading
import time
from typing import Any

from ..i18n import Said, said, said_of

__all__ = ["Job", "JobCancelled", "JobGroup", "JobState", "time_limit_sentence"]


class JobCancelled(Exception):
    """Raised from a job's progress callback once the job has been cancelled."""


def time_limit_sentence(seconds: float) -> Said:
    """Why a job was stopped by its time limit, and what to change."""
    return said(
        "stopped after {n} minutes, the time one job may take here: ask for less (fewer channels, steps or "
        "images, a smaller model) and try again",
        n=f"{seconds / 60:g}",
    )


class JobState:
    """What a page reads of a long job, wherever it runs: ``progress``, ``result``, ``error`` (a sentence),
    ``finished``."""

    def __init__(self) -> None:
        self.done_steps, self.total_steps = 0, 1
        self.result: Any = None
        self.error: str | Said | None = None
        self.finished = False
        self.cancel_requested = False  # cancel() was called: it ends at its next step, and holds no slot now

    @property
    def progress(self) -> float:
        return min(self.done_steps / self.total_steps, 1.0)


class Job(JobState):
    """A piece of long work (filter images, an experiment) run in a background thread of this process.

    ``fn(progress)`` gets a callback ``progress(done, total)``; the page polls ``progress``, ``result`` and
    ``error`` (a sentence) from a fragment. No UI calls happen in the thread. ``cancel()`` ends it at its next
    progress report. With ``max_seconds``, a job still going after that long ends at its next progress report
    with a sentence that names the limit (``EXPLORER_MAX_JOB_MINUTES``); a worker process that runs it is killed
    by its cluster if it reports nothing past the limit.
    """

    def __init__(self, name: str, fn: Any, max_seconds: float | None = None) -> None:
        super().__init__()
        self.name = name
        self.max_seconds = max_seconds
        self._deadline = None if not max_seconds else time.monotonic() + max_seconds
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True, name=f"explorer-job-{name}")
        self._thread.start()

    def _progress(self, done: int, total: int) -> None:
        if self._cancelled.is_set():
            raise JobCancelled("cancelled")
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise JobCancelled(time_limit_sentence(self.max_seconds or 0))
        self.done_steps, self.total_steps = done, max(total, 1)

    def cancel(self) -> None:
        self.cancel_requested = True
        self._cancelled.set()

    def _run(self, fn: Any) -> None:
        try:
            self.result = fn(self._progress)
        except JobCancelled as e:
            self.error = e.args[0] if e.args and isinstance(e.args[0], Said) else str(e) or "cancelled"
        except Exception as e:  # noqa: BLE001 - reported to the user as a sentence
            self.error = f"{type(e).__name__}: {e}" if not isinstance(e, ValueError) else said_of(e)
        finally:
            self.finished = True

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return self.finished


class JobGroup:
    """Several jobs that make one result, read as one job: each part runs where it was started (on workers of
    its own, side by side), progress is the parts' summed, the first error ends the group (the other parts are
    cancelled), and ``result`` is ``combine`` of the parts' results once all have finished."""

    def __init__(self, parts: list[Any], combine: Any, name: str = "job") -> None:
        if not parts:
            raise ValueError("a job group needs at least one part")
        self.parts, self._combine, self.name = list(parts), combine, name
        self.cancel_requested = False
        self._result: Any = None
        self._combined = False

    @property
    def done_steps(self) -> int:
        return sum(p.done_steps for p in self.parts)

    @property
    def total_steps(self) -> int:
        return sum(p.total_steps for p in self.parts)

    @property
    def progress(self) -> float:
        return min(self.done_steps / max(self.total_steps, 1), 1.0)

    @property
    def error(self) -> str | Said | None:
        errors = [p.error for p in self.parts if p.error]  # a part the group cancelled says "cancelled": not the cause
        return next((e for e in errors if e != "cancelled"), errors[0] if errors else None)

    @property
    def finished(self) -> bool:
        if self.error is not None:
            for p in self.parts:
                if not p.finished:
                    p.cancel()
            return True
        return all(p.finished for p in self.parts)

    @property
    def result(self) -> Any:
        if not self._combined and self.finished and self.error is None:
            self._result, self._combined = self._combine([p.result for p in self.parts]), True
        return self._result

    def cancel(self) -> None:
        self.cancel_requested = True
        for p in self.parts:
            p.cancel()

    def join(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        for p in self.parts:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            p.join(left)
        return self.finished
