"""Confusion matrix: where the model goes wrong, and the test images behind each cell."""

from __future__ import annotations

import streamlit as st

from explorer.core import cell_examples, confusion_matrix
from explorer.plots import confusion_heatmap, describe_confusion, describe_image, image_grid, upscale
from pages._inspect import inspect_context
from pages._path import did
from pages._predict import cached_predictions
from pages._server import leave_legacy_pages_routing  # noqa: E402

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py

CELL = "confusion_cell"
FULL_HEATMAP_CLASSES = 60  # a heatmap of every class up to this many (3,600 cells)
FOCUS_CLASSES = 40  # beyond: the classes most involved in errors
SHOWN_PER_CELL = 24


def headline(cm, ds, n_images: int) -> list:
    """The four numbers above the matrix; returns the most confused pairs."""
    c = st.columns(4)
    c[0].metric("Accuracy", f"{cm.accuracy:.2%}")
    c[1].metric("Errors", f"{cm.errors:,} of {n_images:,}")
    worst = int(cm.recall().argmin())
    c[2].metric("Weakest class (recall)", f"{ds.classes[worst]} · {float(cm.recall()[worst]):.1%}")
    pairs = cm.most_confused(5)
    c[3].metric("Most confused", f"{pairs[0][0]} → {pairs[0][1]} ({pairs[0][2]})" if pairs else "none")
    return pairs


def heatmap(cm, ds) -> None:
    """The clickable matrix: a click on a cell moves the pickers below to it."""
    k = len(ds.classes)
    normalized = st.toggle("Normalise rows (share of each true class)", value=False)
    shown = list(range(k)) if k <= FULL_HEATMAP_CLASSES else cm.focus(FOCUS_CLASSES)
    labels = [ds.classes[i] for i in shown]
    fig = confusion_heatmap(cm.among(shown), labels, height=560, normalized=normalized, clickable=True,
                            titles=("predicted", "true"), row_totals=cm.matrix.sum(1)[shown])
    event = st.plotly_chart(fig, on_select="rerun", selection_mode="points", key="cm-chart",
                            alt=describe_confusion(cm.matrix, ds.classes))
    pts = (event or {}).get("selection", {}).get("points", []) if event else []
    if pts:
        index = {c: i for i, c in enumerate(ds.classes)}
        cell = (index[str(pts[0]["y"])], index[str(pts[0]["x"])])
        if cell != st.session_state.get(CELL):  # a new click: move the pickers below (later edits stay theirs)
            st.session_state[CELL] = cell
            st.session_state["cm-true"], st.session_state["cm-pred"] = cell
            did("confusion")  # the guided path: a cell's images, opened by a click
    st.caption("Click a cell to see its images. Rows: the true class; columns: what the model said."
               + (f" With {k:,} classes, the {len(shown)} most involved in errors are drawn; the pairs and the table "
                  "on the right cover them all." if len(shown) < k else ""))


def per_class(cm, ds, pairs: list) -> None:
    k = len(ds.classes)
    st.markdown("**Per class**")
    st.dataframe([{"class": ds.classes[i], "images": int(cm.matrix[i].sum()),
                   "precision": f"{float(cm.precision()[i]):.1%}", "recall (accuracy)": f"{float(cm.recall()[i]):.1%}"}
                  for i in range(k)], hide_index=True, height=min(36 * (k + 1), 420))
    st.markdown("**Most confused pairs**")
    for t, p, n in pairs:
        st.markdown(f"- true **{t}** taken for **{p}**: {n} image(s)")


def cell_images(ds, x, y, probs, pairs: list) -> None:
    """The images of the chosen cell, the ones the model was surest about first."""
    k = len(ds.classes)
    t_default, p_default = st.session_state.get(CELL, (pairs[0][:2] if pairs else (ds.classes[0], ds.classes[0])))
    t_default = t_default if isinstance(t_default, int) else ds.classes.index(t_default)
    p_default = p_default if isinstance(p_default, int) else ds.classes.index(p_default)
    s1, s2 = st.container(key="cm_pickers").columns(2)  # the guided path: a cell's images, opened by a pick
    t = s1.selectbox("True class", range(k), index=t_default, format_func=lambda i: ds.classes[i], key="cm-true",
                     on_change=did, args=("confusion",))
    p = s2.selectbox("Predicted class", range(k), index=p_default, format_func=lambda i: ds.classes[i], key="cm-pred",
                     on_change=did, args=("confusion",))
    order, count = cell_examples(y, probs, t, p, SHOWN_PER_CELL)
    if not count:
        st.caption("No images in this cell.")
        return
    cols = st.columns(8)
    for n_, j in enumerate(order):
        cols[n_ % 8].image(upscale(image_grid(x[j:j + 1], ncols=1, pad=0), 96),
                           alt=describe_image(x[j], f"test image {j}, a {ds.classes[t]} the model called {ds.classes[p]}"),
                           caption=f"{ds.classes[p]} {float(probs[j, p]):.0%} · {ds.classes[t]} {float(probs[j, t]):.0%}")
    st.caption(f"{count} image(s); the {SHOWN_PER_CELL} the model was surest about. Under each: the predicted "
               "class's probability, then the true class's.")


st.title("Confusion matrix")
ctx = inspect_context()
if ctx is None:
    st.stop()
entry, model, ds = ctx
split = st.radio("Images", ["test", "val"], horizontal=True)
x, y = ds.split(split)
probs = cached_predictions(entry, model, ds, split)
cm = confusion_matrix(y, probs.argmax(1), list(ds.classes))
pairs = headline(cm, ds, len(y))
if entry.active_run is not None:
    st.caption("The model is training: this is a snapshot of its latest weights. Rerun the page for newer ones.")
left, right = st.columns([3, 2])
with left:
    heatmap(cm, ds)
with right:
    per_class(cm, ds, pairs)
st.subheader("The images behind a cell")
cell_images(ds, x, y, probs, pairs)
