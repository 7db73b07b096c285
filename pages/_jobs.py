"""A long job on a page: its panel (progress while it runs, its error, then its result), redrawn while it runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from pages._lang import reason, tr
from pages._server import JOB_POLL_S, rerun_unasked


def job_poll(busy: bool) -> float | None:
    """A job's fragment redraws every :data:`JOB_POLL_S` while the job runs, and not at all after."""
    return JOB_POLL_S if busy else None


def job_status(job: Any, was_busy: bool, title: str) -> bool:
    """Inside a polling fragment: progress while ``job`` runs, its error when it failed. Returns True when its
    result is ready to show (and reruns the page once when it just finished, to refresh the buttons)."""
    if job is None:
        return False
    if not job.finished:
        st.progress(job.progress, text=f"{title}: {job.done_steps}/{job.total_steps}")
        return False
    if was_busy:
        rerun_unasked()
    if job.error:
        st.error(tr("Cancelled.") if job.error == "cancelled" else reason(job.error))
        return False
    return True


def job_panel(job_of: Callable[[], Any], title: str, show: Callable[[Any], None]) -> None:
    """A job's panel: ``job_of()`` is the job (or None); while it runs, its progress under ``title``, redrawn every
    :data:`JOB_POLL_S` (the page reruns once when it ends); then its error, or ``show(job)`` with its result."""
    first = job_of()
    busy = first is not None and not first.finished

    @st.fragment(run_every=job_poll(busy))
    def _panel() -> None:
        job = job_of()
        if job_status(job, busy, title):
            show(job)

    _panel()
