"""Confusion matrix: where the model goes wrong, and the test images behind each cell."""

from __future__ import annotations

import streamlit as st

from explorer.core import cell_examples, confusion_matrix
from explorer.plots import confusion_heatmap, describe_confusion, describe_image, image_grid, upscale
from pages._guide import did
from pages._inspect import inspect_context
from pages._lang import fixed_labels, tr, translate
from pages._predict import cached_predictions
from pages._server import leave_legacy_pages_routing  # noqa: E402

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py

CELL = "confusion_cell"
FULL_HEATMAP_CLASSES = 60  # a heatmap of every class up to this many (3,600 cells)
FOCUS_CLASSES = 40  # beyond: the classes most involved in errors
SHOWN_PER_CELL = 24


def headline(cm, ds, n_images: int) -> list:
    """The four numbers above the matrix; returns the most confused pairs."""
    c, t = st.columns(4), translate()
    c[0].metric(tr("Accuracy"), t.percent(cm.accuracy, 2))
    c[1].metric(tr("Errors"), tr("{n} of {k}", n=t.number(cm.errors), k=t.number(n_images)))
    worst = int(cm.recall().argmin())
    c[2].metric(tr("Weakest class (recall)"), f"{ds.classes[worst]} · {t.percent(float(cm.recall()[worst]))}")
    pairs = cm.most_confused(5)
    c[3].metric(tr("Most confused"), f"{pairs[0][0]} → {pairs[0][1]} ({pairs[0][2]})" if pairs else tr("none"))
    return pairs


def heatmap(cm, ds) -> None:
    """The clickable matrix: a click on a cell moves the pickers below to it."""
    k = len(ds.classes)
    normalized = st.toggle(tr("Normalise rows (share of each true class)"), value=False)
    shown = list(range(k)) if k <= FULL_HEATMAP_CLASSES else cm.focus(FOCUS_CLASSES)
    labels = [ds.classes[i] for i in shown]
    fig = confusion_heatmap(
        cm.among(shown),
        labels,
        height=560,
        normalized=normalized,
        clickable=True,
        tr=translate(),
        titles=(tr("predicted"), tr("true")),
        row_totals=cm.matrix.sum(1)[shown],
    )
    event = st.plotly_chart(
        fig,
        on_select="rerun",
        selection_mode="points",
        key="cm-chart",
        alt=describe_confusion(cm.matrix, ds.classes, tr=translate()),
    )
    pts = (event or {}).get("selection", {}).get("points", []) if event else []
    if pts:
        index = {c: i for i, c in enumerate(ds.classes)}
        cell = (index[str(pts[0]["y"])], index[str(pts[0]["x"])])
        if cell != st.session_state.get(CELL):  # a new click: move the pickers below (later edits stay theirs)
            st.session_state[CELL] = cell
            st.session_state["cm-true"], st.session_state["cm-pred"] = cell
            did("confusion")  # the guided path: a cell's images, opened by a click
    st.caption(
        tr("Click a cell to see its images. Rows: the true class; columns: what the model said.")
        + (
            " "
            + tr(
                "With {k} classes, the {n} most involved in errors are drawn; the pairs and the table on "
                "the right cover them all.",
                k=k,
                n=len(shown),
            )
            if len(shown) < k
            else ""
        )
    )


def per_class(cm, ds, pairs: list) -> None:
    k = len(ds.classes)
    t = translate()
    st.markdown(tr("**Per class**"))
    st.dataframe(
        [
            {
                "class": ds.classes[i],
                "images": int(cm.matrix[i].sum()),
                "precision": t.percent(float(cm.precision()[i])),
                "recall": t.percent(float(cm.recall()[i])),
            }
            for i in range(k)
        ],
        hide_index=True,
        height=min(36 * (k + 1), 420),
        column_config={
            "class": tr("class"),
            "images": tr("images"),
            "precision": tr("precision"),
            "recall": tr("recall (accuracy)"),
        },
    )
    st.markdown(tr("**Most confused pairs**"))
    for true, said, n in pairs:
        st.markdown(
            "- "
            + (
                tr("true **{true}** taken for **{said}**: {n} images", true=true, said=said, n=n)
                if n > 1
                else tr("true **{true}** taken for **{said}**: one image", true=true, said=said)
            )
        )


def cell_images(ds, x, y, probs, pairs: list) -> None:
    """The images of the chosen cell, the ones the model was surest about first."""
    k = len(ds.classes)
    t_default, p_default = st.session_state.get(CELL, (pairs[0][:2] if pairs else (ds.classes[0], ds.classes[0])))
    t_default = t_default if isinstance(t_default, int) else ds.classes.index(t_default)
    p_default = p_default if isinstance(p_default, int) else ds.classes.index(p_default)
    s1, s2 = st.container(key="cm_pickers").columns(2)  # the guided path: a cell's images, opened by a pick
    t = s1.selectbox(
        tr("True class"),
        range(k),
        index=t_default,
        format_func=lambda i: ds.classes[i],
        key="cm-true",
        on_change=did,
        args=("confusion",),
    )
    p = s2.selectbox(
        tr("Predicted class"),
        range(k),
        index=p_default,
        format_func=lambda i: ds.classes[i],
        key="cm-pred",
        on_change=did,
        args=("confusion",),
    )
    order, count = cell_examples(y, probs, t, p, SHOWN_PER_CELL)
    if not count:
        st.caption(tr("No images in this cell."))
        return
    cols, lang = st.columns(8), translate()
    for n_, j in enumerate(order):
        what = tr("test image {i}, a {true} the model called {said}", i=j, true=ds.classes[t], said=ds.classes[p])
        cols[n_ % 8].image(
            upscale(image_grid(x[j : j + 1], ncols=1, pad=0), 96),
            alt=describe_image(x[j], what, tr=lang),
            caption=f"{ds.classes[p]} {lang.percent(float(probs[j, p]), 0)} · "
            f"{ds.classes[t]} {lang.percent(float(probs[j, t]), 0)}",
        )
    st.caption(
        tr("One image in this cell. Under it: the predicted class's probability, then the true class's.")
        if count == 1
        else tr(
            "{n} images in this cell; the {k} the model was surest about. Under each: the predicted class's "
            "probability, then the true class's.",
            n=count,
            k=min(count, SHOWN_PER_CELL),
        )
    )


st.title(tr("Confusion matrix"))
ctx = inspect_context()
if ctx is None:
    st.stop()
entry, model, ds = ctx
split = st.radio(
    tr("Images"),
    ["test", "val"],
    horizontal=True,
    format_func=fixed_labels(lambda s: tr("test") if s == "test" else tr("validation")),
)
x, y = ds.split(split)
probs = cached_predictions(entry, model, ds, split)
cm = confusion_matrix(y, probs.argmax(1), list(ds.classes))
pairs = headline(cm, ds, len(y))
if entry.active_run is not None:
    st.caption(tr("The model is training: this is a snapshot of its latest weights. Open the page again for newer ones."))
left, right = st.columns([3, 2])
with left:
    heatmap(cm, ds)
with right:
    per_class(cm, ds, pairs)
st.subheader(tr("The images behind a cell"))
cell_images(ds, x, y, probs, pairs)
