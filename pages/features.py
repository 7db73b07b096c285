"""Feature maps: what each layer makes of one image, beside the kernels; layer statistics over a batch."""

from __future__ import annotations

import streamlit as st

from explorer import normalize, summarize
from explorer.core import predict_proba
from explorer.i18n import N_
from explorer.interpret import (
    MAP_SCALES,
    capture_activations,
    dead_sentence,
    diagnose,
    feature_map_views,
    layer_stats,
    named_layers,
    stats_images,
)
from explorer.plots import (
    as_picture,
    describe_bars,
    describe_image,
    describe_kernel,
    describe_map,
    describe_values,
    feature_tile,
    value_histogram,
    vector_bar,
)
from pages._guide import did
from pages._inspect import input_picker, inspect_context, layer_strip, view_while_training
from pages._lang import fixed_labels, reason, tr, translate
from pages._server import leave_legacy_pages_routing  # noqa: E402

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py

MAPS_SHOWN = 64
SCALE_NAMES = {"local": N_("local"), "layer": N_("layer"), "global": N_("global")}


def pickers(entry, ds) -> tuple:
    """The image, the layer and the colour scale; returns ``(x_u8, caption, layer, scale)``."""
    top = st.columns([3, 2])
    with top[0]:
        x_u8, caption = input_picker(ds, "fm")
    layers = [n for n, _ in named_layers(entry.model)]
    kinds = dict((n, type(m).__name__) for n, m in named_layers(entry.model))
    shapes = {r.path: r.output_shape for r in summarize(entry.spec).layers}  # no forward pass needed
    spatial = [n for n in layers if len(shapes[n]) == 3]
    with top[1]:
        layer = st.selectbox(
            tr("Layer"),
            layers,
            index=layers.index(spatial[0]) if spatial else 0,
            format_func=lambda n: f"{n} {kinds[n]} → {'×'.join(map(str, shapes[n]))}",
        )
        scale = st.radio(
            tr("Colour scale"),
            MAP_SCALES,
            horizontal=True,
            format_func=fixed_labels(lambda s: tr(SCALE_NAMES[s])),
            help=tr(
                "local: each map its own range; layer: one range for this layer; global: one range "
                "for all layers (as CNN Explainer offers)"
            ),
        )
    return x_u8, caption, layer, scale


def layer_output(model, acts, layer: str, scale: str, classes) -> None:
    """The chosen layer's output: its feature maps (beside their kernels), or its vector as bars."""
    out, t = acts[layer][0], translate()
    if out.ndim != 3:
        st.plotly_chart(vector_bar(out, list(classes), tr=t), key="fm-vec", alt=describe_bars(out, list(classes), tr=t))
        return
    views = feature_map_views(model, acts, layer, scale, MAPS_SHOWN)
    conv = views[0].kernel is not None if views else False
    maps = tr("{n} feature maps of {h}×{w}.", n=out.shape[0], h=out.shape[1], w=out.shape[2])
    st.caption(
        maps
        + " "
        + (
            tr(
                "Each map is the sum of one kernel per input map (each kernel slid over its own map) "
                "plus a bias; beside it, the mean of those kernels, to see at a glance what it looks "
                "for (blue below zero, red above)."
            )
            if conv and views[0].in_channels > 1
            else tr(
                "Each map is one kernel slid over the image, plus a bias; beside it, that kernel "
                "(blue below zero, red above)."
            )
            if conv
            else ""
        )
    )
    cols = st.columns(8)
    for v in views:
        alt = describe_map(v.map, tr("feature map {c} of layer {layer}", c=v.channel, layer=layer), tr=t)
        if v.kernel is not None:
            alt += "; " + tr("beside it,") + " " + describe_kernel(v.kernel, tr("its kernel"), tr=t)
        cols[v.channel % 8].image(
            feature_tile(v.map, v.lo, v.hi, v.kernel), caption=tr("ch {c}", c=v.channel), alt=alt, width="stretch"
        )
    if out.shape[0] > len(views):
        st.caption(tr("showing the first {n} of {k} channels", n=len(views), k=out.shape[0]))


def batch_statistics(entry, ds, layer: str) -> None:
    """Each layer's statistics over a batch of test images, the dead units named, one layer's histogram."""
    n_img = st.select_slider(tr("Test images"), [64, 256, 1000], value=256)
    t = translate()
    try:  # computed in chunks within the server's view budget; one image over it is a sentence
        batch = normalize(ds.test_x[:n_img], ds.mean, ds.std)
        used = stats_images(entry.inference_model(), batch)
        stats = layer_stats(entry.inference_model(), batch[:used])
    except ValueError as e:
        st.warning(tr("No batch statistics for this model: {error}.", error=reason(e)))
        return
    if used < n_img:
        st.caption(
            tr(
                "Over the first {n} of the {k} images: this model's layers are wide, so the view takes fewer "
                "images to stay quick for everyone.",
                n=used,
                k=n_img,
            )
        )
    for note in diagnose(stats, tr=t):
        st.warning(note)
    if entry.runs:
        did("unit_stats")  # the guided path: the dead-unit count of a trained model, read
    st.caption(dead_sentence(stats, tr=t))
    st.dataframe(
        [
            {
                "layer": s.layer,
                "type": s.type,
                "mean": round(s.mean, 4),
                "std": round(s.std, 4),
                "dead": t.percent(s.dead_fraction, 0) if s.type == "ReLU" else "",
                "≤ 0": t.percent(s.zero_fraction, 0),
            }
            for s in stats
        ],
        hide_index=True,
        column_config={
            "layer": tr("layer"),
            "type": tr("type"),
            "mean": tr("mean"),
            "std": tr("std"),
            "dead": tr("dead channels (zero on every image)"),
        },
    )
    sel = next(s for s in stats if s.layer == layer)
    what = tr("values of layer {layer}", layer=layer)
    st.plotly_chart(value_histogram(sel.values, what, tr=t), key="fm-hist", alt=describe_values(sel.values, what, tr=t))


st.title(tr("Feature maps"))
ctx = inspect_context()
if ctx is None:
    st.stop()
entry, _, ds = ctx
x_u8, caption, layer, scale = pickers(entry, ds)


@view_while_training(entry)
def maps() -> None:
    model = entry.inference_model()
    acts = capture_activations(model, normalize(x_u8, ds.mean, ds.std))
    probs = predict_proba(model, x_u8, ds.mean, ds.std)[0]
    a, b = st.columns([1, 4])
    with a:
        st.image(as_picture(x_u8[0], 140), caption=caption, alt=describe_image(x_u8[0], caption, tr=translate()))
        order = probs.argsort(descending=True)[:3]
        st.markdown("  \n".join(f"**{ds.classes[int(k)]}** {translate().percent(float(probs[k]))}" for k in order))
    with b:
        layer_output(model, acts, layer, scale, ds.classes)
    st.subheader(tr("Layer by layer"))
    layer_strip(model, acts)


with st.container(key="fm_view"):
    maps()
if entry.runs:
    did("feature_maps")  # the guided path: the feature maps of a trained model, seen
st.subheader(tr("Statistics over a batch"))
with st.container(key="fm_stats"):
    batch_statistics(entry, ds, layer)
