"""Long work (filter images, experiments) off the page's thread: what a page reads of a job wherever it runs
(``JobState``), and ``Job``, a job in a background thread of this process. The Ray worker that runs a job in
another process runs a ``Job`` there (``explorer.serve.cluster``)."""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["Job", "JobCancelled", "JobState"]


class JobCancelled(Exception):
    """Raised from a job's progress callback once the job has been cancelled."""


class JobState:
    """What a page reads of a long job, wherever it runs: ``progress``, ``result``, ``error`` (a sentence),
    ``finished``."""

    def __init__(self) -> None:
        self.done_steps, self.total_steps = 0, 1
        self.result: Any = None
        self.error: str | None = None
        self.finished = False

    @property
    def progress(self) -> float:
        return min(self.done_steps / self.total_steps, 1.0)


class Job(JobState):
    """A piece of long work (filter images, an experiment) run in a background thread of this process.

    ``fn(progress)`` gets a callback ``progress(done, total)``; the page polls ``progress``, ``result`` and
    ``error`` (a sentence) from a fragment. No UI calls happen in the thread. ``cancel()`` ends it at its next
    progress report.
    """

    def __init__(self, name: str, fn: Any) -> None:
        super().__init__()
        self.name = name
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True, name=f"explorer-job-{name}")
        self._thread.start()

    def _progress(self, done: int, total: int) -> None:
        if self._cancelled.is_set():
            raise JobCancelled("cancelled")
        self.done_steps, self.total_steps = done, max(total, 1)

    def cancel(self) -> None:
        self._cancelled.set()

    def _run(self, fn: Any) -> None:
        try:
            self.result = fn(self._progress)
        except JobCancelled:
            self.error = "cancelled"
        except Exception as e:  # noqa: BLE001 - reported to the user as a sentence
            self.error = f"{type(e).__name__}: {e}" if not isinstance(e, ValueError) else str(e)
        finally:
            self.finished = True

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return self.finished
