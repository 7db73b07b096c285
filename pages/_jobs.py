"""A long job on a page: its panel (progress while it runs, its error, then its result), redrawn while it runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from pages._lang import reason, tr
from pages._server import JOB_POLL_S, redraw_while


def job_running(job: Any) -> bool:
    """Whether ``job`` (a page's job, or None when none was started) is still going."""
    return job is not None and not job.finished


def while_job_runs(job_of: Callable[[], Any]) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """A job's part of a page (a decorator): redrawn every :data:`JOB_POLL_S` while ``job_of()`` runs; the page is
    drawn once more when it ends (:func:`pages._server.redraw_while`), to refresh the buttons."""
    return redraw_while(lambda: job_running(job_of()), JOB_POLL_S)


def job_status(job: Any, title: str) -> bool:
    """Progress while ``job`` runs, its error when it failed. Returns True when its result is ready to show."""
    if job is None:
        return False
    if not job.finished:
        st.progress(job.progress, text=f"{title}: {job.done_steps}/{job.total_steps}")
        return False
    if job.error:
        st.error(tr("Cancelled.") if job.error == "cancelled" else reason(job.error))
        return False
    return True


def job_panel(job_of: Callable[[], Any], title: str, show: Callable[[Any], None]) -> None:
    """A job's panel: ``job_of()`` is the job (or None); while it runs, its progress under ``title``, redrawn every
    :data:`JOB_POLL_S` (the page reruns once when it ends); then its error, or ``show(job)`` with its result."""

    @while_job_runs(job_of)
    def _panel() -> None:
        job = job_of()
        if job_status(job, title):
            show(job)

    _panel()
