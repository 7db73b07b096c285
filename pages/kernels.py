"""Kernels: every conv layer's weights as a grid, their histograms, and a time machine through training."""

from __future__ import annotations

from typing import Any

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
from pages._guide import did
from pages._inspect import inspect_context, view_while_training
from pages._lang import fixed_labels, tr, translate
from pages._server import leave_legacy_pages_routing  # noqa: E402

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py

st.title(tr("Kernels"))
t = translate()
ctx = inspect_context()
if ctx is None:
    st.stop()
entry, _, ds = ctx
convs = conv_layers(entry.model)
if not convs:
    st.info(
        tr(
            "**{name}** has no convolution layers: nothing to show here. Its weights are dense: see the histogram "
            "below. Try the `one-conv` preset on **{build}**.",
            name=entry.name,
            build=tr("Build"),
        )
    )

c1, c2, c3 = st.columns([2, 2, 2])
names = [n for n, _ in convs]
layer = (
    c1.selectbox(
        tr("Conv layer"),
        names,
        format_func=fixed_labels(
            lambda n: tr("layer {layer}: {shape}", layer=n, shape="×".join(map(str, dict(convs)[n].weight.shape)))
        ),
        disabled=not convs,
        key="kernels_layer",
    )
    if convs
    else None
)
if layer is not None and entry.runs:
    did("kernels")  # the guided path: the kernels of a trained convolution, seen
scale = c2.radio(
    tr("Colour scale"),
    ["shared", "per-kernel"],
    horizontal=True,
    format_func=fixed_labels(lambda s: tr("shared") if s == "shared" else tr("per kernel")),
    help=tr(
        "shared: one range for the whole layer (compare kernels); per kernel: each its own range (see each kernel's pattern)"
    ),
)
c3.caption(
    tr(
        "Blue is negative, white zero, red positive. Rows are output channels (one feature map each), "
        "columns the input channels they read."
    )
)


@view_while_training(entry)
def current_view() -> None:
    model = entry.inference_model()
    if layer is not None:
        w = kernels(model, layer)
        size = "×".join(map(str, w.shape[1:]))
        st.image(
            kernel_mosaic(w, scale, cell=72),
            alt=describe_kernels(w, layer, tr=t),
            caption=tr(
                "layer {layer}: {n} kernels of {size} (the first 64 output and 16 input channels)",
                layer=layer,
                n=w.shape[0],
                size=size,
            )
            if w.shape[0] > 64 or w.shape[1] > 16
            else tr("layer {layer}: {n} kernels of {size}", layer=layer, n=w.shape[0], size=size),
        )
    named = weight_tensors(model)
    st.plotly_chart(weight_histograms(named, tr=t), key="whist", alt=describe_weights(named, tr=t))
    if entry.active_run is not None:
        st.caption(tr("Training: showing the latest weights, redrawn as they change."))


current_view()


def time_machine(runs: list[Any]) -> None:
    """One run's kernel snapshots, scrubbed step by step beside its loss curve (which run, when there are several)."""
    # the runs by their place: a widget keeps a copy of its options, and a run (its trainer's lock) cannot be copied
    pick = (
        st.selectbox(
            tr("Training run"),
            range(len(runs)),
            index=len(runs) - 1,
            format_func=lambda i: runs[i].label,
            key="time_machine_run",
        )
        if len(runs) > 1
        else 0
    )
    run = runs[pick]
    snaps = run.kernel_snapshots()
    i = st.slider(
        tr("Step"),
        0,
        len(snaps) - 1,
        len(snaps) - 1,
        format="%d",
        help=tr("Drag to move through training; the red line on the loss curve follows."),
    )
    snap = snaps[i]
    left, right = st.columns([1, 1])
    w = snap["kernels"].get(layer)
    if w is not None:
        left.image(
            kernel_mosaic(w, scale, cell=72),
            caption=tr("layer {layer} at step {step}", layer=layer, step=snap["step"]),
            alt=tr("at step {step}:", step=snap["step"]) + " " + describe_kernels(w, layer, tr=t),
        )
    fig = training_curves([(run.label, run.current())], "loss", tr=t)
    fig.add_vline(x=snap["step"], line_color="red", line_width=2)
    right.plotly_chart(
        fig,
        key="tm-loss",
        alt=describe_curves([(run.label, run.current())], "loss", tr=t)
        + "; "
        + tr("a red line marks step {step}", step=snap["step"]),
    )


st.subheader(tr("Time machine"))
runs = [r for r in entry.runs if r.kernel_snapshots()]
if not runs or layer is None:
    st.caption(
        tr(
            "Train this model (on **{train}**) and its kernels are kept about 100 times along the way: scrub "
            "through them here and watch random noise turn into patterns: some become edge or stroke detectors.",
            train=tr("Train"),
        )
    )
else:
    time_machine(runs)
