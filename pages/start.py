"""Start: what the app is, and a trained model in one click. Its words and its button come before torch loads
(a newcomer on a freshly started server has them within 3 s); the rest after it opens the session."""

from __future__ import annotations

import streamlit as st

from explorer.i18n import N_
from pages._lang import tr, translate
from pages._server import leave_legacy_pages_routing

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py

TRAIN_LABEL = N_("Train the default CNN (3 epochs)")
ASKED = "start_asked"  # the button was pressed before the session was open: train once it is
OPENED = "start_opened"  # this session has been opened once: later runs draw the real button at once

st.title("CNN Explorer")
st.markdown(
    tr(
        "Build a convolutional network from widgets, train it live, and look inside: kernels, feature maps, "
        "the images that excite each filter, the mistakes it makes, and why it calls your drawing a **3** and not an "
        "**8**. Your models are yours alone, and they are kept under this page's link."
    )
)
slot = st.empty()
if not st.session_state.get(OPENED):
    slot.button(
        tr(TRAIN_LABEL),
        type="primary",
        icon=":material/play_arrow:",
        key="start_early",
        on_click=lambda: st.session_state.__setitem__(ASKED, True),
    )

from explorer.lessons import load_path  # noqa: E402
from pages._class import join_box, paused  # noqa: E402
from pages._guide import label, start_path, steps  # noqa: E402
from pages._keys import DATASET, TRAIN_ERROR  # noqa: E402
from pages._live import live_run, train_default  # noqa: E402
from pages._nav import page_file  # noqa: E402
from pages._server import server  # noqa: E402
from pages._session import start_session  # noqa: E402
from pages._state import current_dataset, workspace  # noqa: E402  (torch loads here)

PATHS = (
    (
        "lecture",
        "path_start",
        N_(
            "**New here? Follow the lecture, step by step**: data → one output pixel → a "
            "linear model → a convolution → pooling → width → deeper → overfitting → augmentation → look inside → the "
            "confusion matrix → invariances → explanations → fooling → the target."
        ),
    ),
    (
        "trust",
        "path_start_trust",
        N_(
            "**Then: Can we trust it?** Saying “I don't know”, a class for none of "
            "these, our handwriting, the map of what it learned, how much data, fooling it, right for the wrong "
            "reason."
        ),
    ),
)


def path_invitation() -> None:
    """The two built-in paths through your own model: each from its step 1, here."""
    all_steps = steps()
    with st.container(border=True):
        if all_steps:
            st.markdown(
                ":material/route: "
                + tr(
                    "You follow a path: **{where}** steps done. The panel at the top of each page says what is next.",
                    where=label(),
                )
            )
            return
        for name, key, words in PATHS:
            path = load_path(name)
            st.markdown(
                tr(words)
                + " "
                + tr(
                    "({n} steps.) Each step points at the real control, and completes when you have done what it asks.",
                    n=len(path),
                )
            )
            if st.button(
                tr("Start: step 1 of {n}, {title}", n=len(path), title=tr(path[0].title)), key=key, icon=":material/route:"
            ):
                start_path(name)
                st.switch_page(page_file(path[0].page))


def where_next() -> None:
    st.divider()
    st.header(tr("Where next"))  # h2, as the run's heading (headings go one level at a time: axe-core's heading-order)
    c1, c2, c3 = st.columns(3)
    with c1:
        st.page_link("pages/data.py", label=tr("Choose or upload data"), icon=":material/dataset:")
        st.caption(
            tr(
                "Now: `{dataset}` — MNIST, Fashion-MNIST, KMNIST, EMNIST, CIFAR-10, your CSV or a zip of class folders.",
                dataset=st.session_state[DATASET],
            )
        )
    with c2:
        st.page_link("pages/build.py", label=tr("Build a network"), icon=":material/construction:")
        st.caption(tr("Start from a lesson's preset, add and reorder layers, see shapes and parameters at once."))
    with c3:
        st.page_link("pages/train.py", label=tr("Train and compare"), icon=":material/model_training:")
        st.caption(tr("Optimiser, schedule, augmentation; live curves; overlay runs to compare architectures."))


server().page_drawn()  # the words and the button are on screen: Ray may start beside the session's torch import
start_session()
st.session_state[OPENED] = True
ws = workspace()
ds = current_dataset()
if st.session_state.pop(ASKED, False) and not (ws.entry() and ws.entry().active_run):
    train_default(ds)  # pressed while the session opened
entry = ws.entry()
slot.button(
    tr(TRAIN_LABEL),
    type="primary",
    icon=":material/play_arrow:",
    on_click=train_default,
    args=(ds,),
    disabled=(entry is not None and entry.active_run is not None) or bool(paused()),
    key="start_train",
)
st.caption(
    tr(
        "Builds the `default` preset and trains it here and now, on **{dataset}** ({n} training images).",
        dataset=ds.name,
        n=translate().number(ds.sizes()["train"]),
    )
)
if err := st.session_state.pop(TRAIN_ERROR, None):
    st.error(err)
entry = ws.entry()
if entry is not None and entry.runs:
    st.header(tr("{model} on {dataset}", model=entry.name, dataset=entry.runs[-1].dataset))  # h2: the level after the h1
    live_run(entry.runs[-1], key="home")
path_invitation()
join_box(st, "start-join")
where_next()
