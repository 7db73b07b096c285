"""The predictions a page reads (Confusion matrix, Trust, the board's check of a loaded model): computed once
per model version, at once for a small model and as a job in a worker for a large one, so that no session's heavy
model slows the server for the class."""

from __future__ import annotations

from typing import Any

import streamlit as st

from explorer import Dataset
from explorer.core import accuracy, inference_seconds, predict_proba
from explorer.serve import ModelEntry
from pages._jobs import job_status, while_job_runs
from pages._lang import tr
from pages._state import get_dataset, show_flash, start_job

PREDICTIONS = "cached_predictions"  # (model version, dataset, split) -> probabilities, one split at a time
PREDICT_JOB = "predictions_job"  # a large model's predictions, computed in a worker ...
PREDICT_FOR = "predictions_job_for"  # ... for this (model version, dataset, split)
INLINE_PREDICT_S = 2.0  # estimated seconds of predictions a page may compute in the server itself (the default
# CNN's 10,000 test images: about 0.7 s estimated, 0.36 s measured)


def cached_predictions(entry: ModelEntry, model: Any, ds: Dataset, split: str = "test") -> Any:
    """The model's class probabilities for a split of ``ds``, computed once per model version (a click or a
    slider move does not predict again; a new epoch does). A small model predicts here at once; one estimated
    past :data:`INLINE_PREDICT_S` predicts as a job in a worker (the person's one job), with its progress on the
    page, which stops until it is done: a heavy model never slows the server for the class."""
    key = (entry.version, ds.name, split)
    cached = st.session_state.get(PREDICTIONS)
    if cached is not None and cached[0] == key:
        return cached[1]
    x, _ = ds.split(split)
    what = f"Predicting the {len(x):,} {split} images"
    if inference_seconds(model, ds.input_shape, len(x)) <= INLINE_PREDICT_S:
        with st.spinner(f"{what}…"):
            st.session_state[PREDICTIONS] = (key, predict_proba(model, x, ds.mean, ds.std))
        return st.session_state[PREDICTIONS][1]
    job = st.session_state.get(PREDICT_JOB) if st.session_state.get(PREDICT_FOR) == key else None
    if job is not None and job.finished and not job.error:
        st.session_state[PREDICTIONS] = (key, job.result)
        return job.result
    if job is None and start_job(PREDICT_JOB, "predictions", predict_proba, model, x, ds.mean, ds.std):
        st.session_state[PREDICT_FOR], job = key, st.session_state[PREDICT_JOB]
    _wait_for_predictions(job, what)
    st.stop()


def _wait_for_predictions(job: Any, what: str) -> None:
    """The predictions job's progress (or why it could not start), until its result reruns the page."""
    if job is None:
        show_flash()  # the refusal, in a sentence (one job at a time per person)
        if st.button(tr("Try again"), icon=":material/refresh:"):
            st.rerun()
        return

    @while_job_runs(lambda: job)
    def _progress() -> None:
        st.caption(tr("This model is large: its predictions take a moment, and are kept for this version of the model."))
        if job_status(job, what) or job.error:
            if job.error and st.button(tr("Try again"), icon=":material/refresh:"):
                st.session_state.pop(PREDICT_FOR, None)
                st.rerun()

    _progress()


def measured_accuracy(entry: ModelEntry) -> float | None:
    """For a model loaded from a checkpoint, the test accuracy this server measures (its history only claims
    one); None for a run trained here, whose accuracy the server's own worker measured."""
    if entry.source != "loaded":
        return None
    name = (entry.dataset or {}).get("name")
    try:
        ds = get_dataset(name)
    except ValueError:
        raise ValueError(
            f"this model's dataset ({name}) is not available here, so its accuracy cannot be "
            "checked; train it here to publish it"
        ) from None
    if list(ds.classes) != list((entry.dataset or {}).get("classes", [])):
        raise ValueError(f"this model's classes differ from {ds.name}'s, so its accuracy cannot be checked here")
    cached = st.session_state.get(PREDICTIONS)
    if cached is not None and cached[0] == (entry.version, ds.name, "test"):  # measured already, this version
        return accuracy(cached[1].argmax(1), ds.test_y)
    model = entry.inference_model()
    if inference_seconds(model, ds.input_shape, len(ds.test_y)) > INLINE_PREDICT_S:
        raise ValueError(
            "this model is large, so its accuracy is measured on its own page first: open **Confusion "
            "matrix** (it measures the test images), then publish"
        )
    from explorer.core import evaluate

    return float(evaluate(model, ds.test_x, ds.test_y, ds.mean, ds.std)[1])
