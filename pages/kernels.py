"""Kernels: every conv layer's weights as a grid, their histograms, and a time machine through training."""

from __future__ import annotations

import streamlit as st

from explorer.interpret import conv_layers, kernels, weight_tensors
from explorer.plots import (
    describe_curves,
    describe_kernels,
    describe_weights,
    kernel_mosaic,
    training_curves,
    weight_histograms,
)
from pages._inspect import inspect_context, refresh_while_training
from pages._path import did
from pages._server import VIEW_REFRESH_S, leave_legacy_pages_routing  # noqa: E402

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py

st.title("Kernels")
ctx = inspect_context()
if ctx is None:
    st.stop()
entry, _, ds = ctx
convs = conv_layers(entry.model)
if not convs:
    st.info(f"**{entry.name}** has no convolution layers: nothing to show here. Its weights are dense: see the "
            "histogram below. Try the `one-conv` preset on **Build**.")

c1, c2, c3 = st.columns([2, 2, 2])
names = [n for n, _ in convs]
layer = c1.selectbox("Conv layer", names, format_func=lambda n: f"layer {n}: {tuple(dict(convs)[n].weight.shape)}",
                     disabled=not convs, key="kernels_layer") if convs else None
if layer is not None and entry.runs:
    did("kernels")  # the guided path: the kernels of a trained convolution, seen
scale = c2.radio("Colour scale", ["shared", "per-kernel"], horizontal=True,
                 help="shared: one range for the whole layer (compare kernels); per-kernel: each its own range "
                      "(see each kernel's pattern)")
c3.caption("Blue is negative, white zero, red positive. Rows are output channels (one feature map each), "
           "columns the input channels they read.")


@st.fragment(run_every=refresh_while_training(entry))
def current_view() -> None:
    model = entry.inference_model()
    if layer is not None:
        w = kernels(model, layer)
        st.image(kernel_mosaic(w, scale, cell=72), alt=describe_kernels(w, layer),
                 caption=f"layer {layer}: {w.shape[0]} kernels of {w.shape[1]}×{w.shape[2]}×{w.shape[3]}"
                         + (" (the first 64 output and 16 input channels)" if w.shape[0] > 64 or w.shape[1] > 16 else ""))
    named = weight_tensors(model)
    st.plotly_chart(weight_histograms(named), key="whist", alt=describe_weights(named))
    if entry.active_run is not None:
        st.caption(f"Training: showing the latest weights, refreshed every {VIEW_REFRESH_S:g} s.")


current_view()

st.subheader("Time machine")
runs = [r for r in entry.runs if r.kernel_snapshots()]
if not runs or layer is None:
    st.caption("Train this model (Train page) and its kernels are kept about 100 times along the way: scrub "
               "through them here and watch random noise turn into patterns: some become edge or stroke detectors.")
else:
    run = st.selectbox("Run", runs, index=len(runs) - 1, format_func=lambda r: r.label) if len(runs) > 1 else runs[0]
    snaps = run.kernel_snapshots()
    i = st.slider("Step", 0, len(snaps) - 1, len(snaps) - 1, format="%d",
                  help="Drag to move through training; the red line on the loss curve follows.")
    snap = snaps[i]
    left, right = st.columns([1, 1])
    w = snap["kernels"].get(layer)
    if w is not None:
        left.image(kernel_mosaic(w, scale, cell=72), caption=f"layer {layer} at step {snap['step']}",
                   alt=f"at step {snap['step']}: " + describe_kernels(w, layer))
    fig = training_curves([(run.label, run.current())], "loss")
    fig.add_vline(x=snap["step"], line_color="red", line_width=2)
    right.plotly_chart(fig, key="tm-loss", alt=describe_curves([(run.label, run.current())], "loss")
                       + f"; a red line marks step {snap['step']}")
