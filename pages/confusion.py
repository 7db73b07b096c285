"""Confusion matrix: where the model goes wrong, and the test images behind each cell."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
import torch

from explorer.core import confusion_matrix
from explorer.plots import image_grid, upscale
from pages._widgets import cached_predictions, inspect_context

CELL = "confusion_cell"
MAX_CLASSES_DRAWN = 60  # a heatmap of every class up to this many (3,600 cells)
FOCUS_CLASSES = 40  # beyond: the classes most involved in errors
st.title("Confusion matrix")
ctx = inspect_context()
if ctx is None:
    st.stop()
entry, model, ds = ctx
split = st.radio("Images", ["test", "val"], horizontal=True)
x, y = ds.split(split)
probs = cached_predictions(entry, model, ds, split)
pred = probs.argmax(1)
cm = confusion_matrix(y, pred, list(ds.classes))
k = len(ds.classes)

c = st.columns(4)
c[0].metric("Accuracy", f"{cm.accuracy:.2%}")
c[1].metric("Errors", f"{int((pred != y).sum()):,} of {len(y):,}")
worst = int(cm.recall().argmin())
c[2].metric("Weakest class (recall)", f"{ds.classes[worst]} · {float(cm.recall()[worst]):.1%}")
pairs = cm.most_confused(5)
c[3].metric("Most confused", f"{pairs[0][0]} → {pairs[0][1]} ({pairs[0][2]})" if pairs else "none")
if entry.active_run is not None:
    st.caption("The model is training: this is a snapshot of its latest weights. Rerun the page for newer ones.")

left, right = st.columns([3, 2])
with left:
    normalized = st.toggle("Normalise rows (share of each true class)", value=False)
    # a heatmap of every class up to MAX_CLASSES_DRAWN; beyond, the classes most involved in errors
    shown = list(range(k)) if k <= MAX_CLASSES_DRAWN else cm.focus(FOCUS_CLASSES)
    n = len(shown)
    sel = torch.tensor(shown)
    z = (cm.normalized() if normalized else cm.matrix.float())[sel][:, sel]
    text = [[(f"{float(v):.0%}" if normalized else str(int(v))) if v > 0 else "" for v in row] for row in z]
    labels = [ds.classes[i] for i in shown]
    index = {c: i for i, c in enumerate(ds.classes)}
    fig = go.Figure(go.Heatmap(z=z.tolist(), x=labels, y=labels, text=text, texttemplate="%{text}" if n <= 20 else "",
                               colorscale="Blues", hoverinfo="skip", showscale=False))
    # near-invisible markers on the cells take the hover and the clicks (heatmaps report no clicks to Streamlit;
    # a trace with hoverinfo="skip" reports none either)
    sub = cm.matrix[sel][:, sel]
    xs = [labels[j] for i in range(n) for j in range(n)]
    ys = [labels[i] for i in range(n) for j in range(n)]
    counts = [int(sub[i, j]) for i in range(n) for j in range(n)]
    fig.add_scatter(x=xs, y=ys, mode="markers", customdata=counts, showlegend=False,
                    marker={"size": max(6, 420 // n), "opacity": 0.01, "symbol": "square"},
                    hovertemplate="true %{y}, predicted %{x}: %{customdata} image(s)<extra></extra>")
    fig.update_layout(height=560, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      xaxis={"title": "predicted", "type": "category", "side": "top"},
                      yaxis={"title": "true", "type": "category", "autorange": "reversed"})
    event = st.plotly_chart(fig, on_select="rerun", selection_mode="points", key="cm-chart")
    pts = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) or event else []
    if pts:
        cell = (index[str(pts[0]["y"])], index[str(pts[0]["x"])])
        if cell != st.session_state.get(CELL):  # a new click: move the pickers below (later edits stay theirs)
            st.session_state[CELL] = cell
            st.session_state["cm-true"], st.session_state["cm-pred"] = cell
    st.caption("Click a cell to see its images. Rows: the true class; columns: what the model said."
               + (f" With {k:,} classes, the {n} most involved in errors are drawn; the pairs and the table on the "
                  "right cover them all." if n < k else ""))

with right:
    st.markdown("**Per class**")
    st.dataframe([{"class": ds.classes[i], "images": int(cm.matrix[i].sum()),
                   "precision": f"{float(cm.precision()[i]):.1%}", "recall (accuracy)": f"{float(cm.recall()[i]):.1%}"}
                  for i in range(k)], hide_index=True, height=min(36 * (k + 1), 420))
    st.markdown("**Most confused pairs**")
    for t, p, n in pairs:
        st.markdown(f"- true **{t}** taken for **{p}**: {n} image(s)")

st.subheader("The images behind a cell")
t_default, p_default = st.session_state.get(CELL, (pairs[0][:2] if pairs else (ds.classes[0], ds.classes[0])))
t_default = t_default if isinstance(t_default, int) else ds.classes.index(t_default)
p_default = p_default if isinstance(p_default, int) else ds.classes.index(p_default)
s1, s2 = st.columns(2)
t = s1.selectbox("True class", range(k), index=t_default, format_func=lambda i: ds.classes[i], key="cm-true")
p = s2.selectbox("Predicted class", range(k), index=p_default, format_func=lambda i: ds.classes[i], key="cm-pred")
idx = torch.nonzero((y == t) & (pred == p)).flatten()
if not len(idx):
    st.caption("No images in this cell.")
else:
    order = idx[probs[idx, p].argsort(descending=True)][:24]
    cols = st.columns(8)
    for n_, j in enumerate(order.tolist()):
        img = image_grid(x[j:j + 1], ncols=1, pad=0)
        cols[n_ % 8].image(upscale(img, 96), caption=f"{ds.classes[p]} {float(probs[j, p]):.0%} · "
                                                      f"{ds.classes[t]} {float(probs[j, t]):.0%}")
    st.caption(f"{len(idx)} image(s); the 24 the model was surest about. Under each: the predicted class's "
               "probability, then the true class's.")
