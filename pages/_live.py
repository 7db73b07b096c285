"""Training from a page: the one-click default run, the augmentation controls, and the live run panel (progress,
curves, the end message) that redraws itself while a run trains.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from explorer import Dataset, TrainConfig, get_preset
from explorer.core import AUGMENT_LIMITS, RunStatus, say_run_message
from explorer.plots import describe_curves, epoch_table, training_curves
from explorer.serve import ModelEntry, Run, Workspace
from pages._class import paused
from pages._keys import TRAIN_ERROR
from pages._lang import fmt_acc, reason, tr, translate
from pages._server import (
    REFRESH_S,
    rerun_unasked,
)
from pages._state import (
    save_workspace,
    workspace,
)

LIVE = (RunStatus.READY, RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.STOPPING)  # a run whose worker has it


def ensure_model(ws: Workspace, ds: Dataset) -> ModelEntry:
    """The current model, or the default preset fitted to ``ds`` if the session has none yet."""
    e = ws.entry()
    if e is None:
        spec = get_preset("default", num_classes=ds.num_classes, input_shape=ds.input_shape)
        e = ws.add_model(spec, "default")
    return e


def train_default(ds: Dataset) -> None:
    """One click: the default CNN fitted to ``ds``, trained with the default settings in the background.

    Reuses the current model if it is that same untrained network; otherwise adds a fresh one. A refusal is
    kept for the page to show (``TRAIN_ERROR``).
    """
    if paused():
        st.session_state[TRAIN_ERROR] = tr("Not started: your teacher paused the class ({message}).", message=paused())
        return
    ws = workspace()
    spec = get_preset("default", num_classes=ds.num_classes, input_shape=ds.input_shape)
    entry = ws.entry()
    try:
        if entry is None or entry.runs or entry.spec != spec:
            ws.add_model(spec, "default")
        ws.start_training(ds, TrainConfig())
    except ValueError as e:  # a refusal (the server's budget, a queue that is full) is shown by the page
        st.session_state[TRAIN_ERROR] = reason(e)


def augment_controls(aug: dict[str, Any], ds: Dataset, key: str) -> None:
    """The trainer's augmentation settings as widgets, written back into ``aug`` (the Train settings' dict).

    One row: rotation, shift, zoom-crop, shear, flip, and colour jitter for colour datasets.
    """
    c = st.columns(6)
    lim = AUGMENT_LIMITS  # the library's ranges: a value accepted there is never refused here

    def degrees(col: Any, label: str, name: str) -> int:
        return col.slider(label, int(lim[name][0]), int(lim[name][1]), int(aug[name]), key=f"{key}_{AUGMENT_KEYS[name]}")

    def fraction(col: Any, label: str, name: str, **kw: Any) -> float:
        lo, hi = map(float, lim[name])
        return col.slider(label, lo, hi, float(aug[name]), 0.05, key=f"{key}_{AUGMENT_KEYS[name]}", **kw)

    aug["rotation"] = degrees(c[0], tr("Rotation ±°"), "rotation")
    aug["shift"] = fraction(c[1], tr("Shift ± (of side)"), "shift")
    aug["scale"] = fraction(c[2], tr("Zoom crop (min)"), "scale", help=tr("1 = off"))
    aug["shear"] = degrees(c[3], tr("Shear ±°"), "shear")
    aug["flip"] = c[4].checkbox(
        tr("Mirror"),
        value=bool(aug["flip"]),
        key=f"{key}_flip",
        help=tr("flips images left to right at random; not for digits: 2 ≠ mirrored 2"),
    )
    if ds.input_shape[0] == 3:
        aug["brightness"] = fraction(c[5], tr("Brightness ±"), "brightness")
        aug["contrast"] = fraction(c[5], tr("Contrast ±"), "contrast")
    else:
        c[5].caption(tr("Colour jitter applies to colour datasets."))


AUGMENT_KEYS = {
    "rotation": "rot",
    "shift": "shift",
    "scale": "scale",
    "shear": "shear",
    "flip": "flip",
    "brightness": "b",
    "contrast": "c",
}


def read_augment(aug: dict[str, Any], key: str) -> None:
    """Copy the augmentation widgets' current values (made by ``augment_controls`` with ``key``) into ``aug``:
    callbacks call this to act on what is on screen at the moment of a click."""
    for name, suffix in AUGMENT_KEYS.items():
        if f"{key}_{suffix}" in st.session_state:
            aug[name] = st.session_state[f"{key}_{suffix}"]


def run_status_line(hist: dict[str, Any]) -> str:
    """Where a live run is, in the course's words: epoch, step, loss and batch accuracy (no clock: the bar shows how
    far it has come)."""
    steps = hist.get("steps", [])
    if not steps:
        return tr("starting…")
    s, t = steps[-1], translate()
    return tr(
        "epoch {epoch} · step {step}/{total} · loss {loss} · batch accuracy {acc}",
        epoch=s["epoch"],
        step=t.number(s["step"]),
        total=t.number(hist["total_steps"]),
        loss=t.number(s["loss"], 3),
        acc=t.percent(s["accuracy"]),
    )


def _run_message(run: Run, hist: dict[str, Any], status: str) -> None:
    """The live panel's line: where the run waits, its progress, or how it ended."""
    queue = run.queue if status in (RunStatus.QUEUED, RunStatus.WAITING) else None
    if queue is not None:
        said = queue.sentence(translate())
        st.info(
            said[:1].upper() + said[1:] + ". " + tr("It starts by itself; you can leave this page meanwhile."),
            icon=":material/hourglass_top:",
        )
    elif status in LIVE:
        st.progress(
            min(hist.get("step", 0) / max(hist.get("total_steps", 1), 1), 1.0),
            text=("⏸ " + tr("paused") + " · " if status == RunStatus.PAUSED else "") + run_status_line(hist),
        )
    elif status == RunStatus.FINISHED:
        final = run.final()
        st.success(
            tr(
                "Done after {n} epoch(s): validation accuracy {val}, test accuracy {test}. Choose what to "
                "change by validation; the test accuracy is for the end.",
                n=len(hist["epochs"]),
                val=fmt_acc(final.get("val_accuracy")),
                test=fmt_acc(final.get("test_accuracy")),
            )
        )
    elif status == RunStatus.STOPPED:
        said = say_run_message(hist["message"], translate()) if hist.get("message") else tr("stopped")
        st.info(f"{said}. " + tr("The model keeps the weights it had reached."))
    else:
        st.warning(say_run_message(hist["message"], translate()) if hist.get("message") else status)


def live_run(run: Run, smoothing: float = 0.6, key: str = "live") -> None:
    """Progress, live curves and the end message of one run; redraws itself once a second while it trains or
    waits for a worker."""
    running = run.trainer is not None and not run.trainer.done
    drawn = _run_signature(run)  # what the page around this panel was drawn for

    @st.fragment(run_every=REFRESH_S if running else None)
    def _panel() -> None:
        _await_end(run)
        save_workspace()  # while a run trains, every 15 s (a reloaded tab then finds its latest weights)
        with st.container(key=f"live-{key}"):  # redrawn every second: kept from a browser's own translation
            _panel_body()

    def _panel_body() -> None:
        hist = run.current()
        status = hist.get("status", RunStatus.READY)
        _run_message(run, hist, status)
        if _run_signature(run) != drawn:
            rerun_unasked()  # the run changed state, or has its first test accuracy: the page, its buttons and the
            # sidebar (and a page that waits for the run, such as Draw) are drawn again, these charts with them
            # (drawn once: a chart drawn here too cost the browser about a second more before the end showed)
        if not hist.get("steps") and not hist.get("epochs"):
            return  # nothing to draw yet (queued, or starting)
        live = status in LIVE  # lighter charts while the trainer needs the CPU
        c1, c2 = st.columns(2)
        for col, metric in ((c1, "loss"), (c2, "accuracy")):
            col.plotly_chart(
                training_curves([(run.label, hist)], metric, smoothing, max_points=200, raw=not live, tr=translate()),
                key=f"{key}-{metric}",
                alt=describe_curves([(run.label, hist)], metric, tr=translate()),
            )
        if hist.get("epochs") and st.toggle(tr("Show as table"), key=f"{key}-table"):
            st.dataframe(epoch_table(hist), hide_index=True)

    _panel()


def _await_end(run: Run) -> None:
    """A run that its last reading says ends before the next redraw is waited for (up to most of a redraw's
    interval: this session's own wait, no work), so its result shows when it comes, not up to a second later."""
    trainer = run.trainer  # read in place: the panel copies the run's history once, after this
    steps = trainer.steps if trainer is not None and trainer.status == RunStatus.RUNNING else None
    if steps and steps[-1].get("eta_s", REFRESH_S) < REFRESH_S:
        trainer.join(0.8 * REFRESH_S)


def _run_signature(run: Run) -> tuple[str, bool]:
    """What the pages show of a run beyond its live panel: its status, and whether it has a test accuracy."""
    hist = run.current()
    return hist.get("status", RunStatus.READY), bool(hist.get("epochs"))
