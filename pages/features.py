"""Feature maps: what each layer makes of one image, beside the kernels; layer statistics over a batch."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from torch import nn

from explorer import normalize, summarize
from explorer.core import predict_proba
from explorer.interpret import capture_activations, diagnose, layer_stats, named_layers, stats_images
from explorer.plots import colorize, upscale
from pages._widgets import input_picker, inspect_context, layer_strip, refresh_while_training

st.title("Feature maps")
ctx = inspect_context()
if ctx is None:
    st.stop()
entry, _, ds = ctx

top = st.columns([3, 2])
with top[0]:
    x_u8, caption = input_picker(ds, "fm")
layers = named_layers(entry.model)
shapes = {r.path: r.output_shape for r in summarize(entry.spec).layers}  # no forward pass needed
spatial = [n for n, _ in layers if len(shapes[n]) == 3]
with top[1]:
    layer = st.selectbox("Layer", [n for n, _ in layers], index=[n for n, _ in layers].index(spatial[0]) if spatial
                         else 0, format_func=lambda n: f"{n} {type(dict(layers)[n]).__name__} → "
                                                       f"{'×'.join(map(str, shapes[n]))}")
    scale = st.radio("Colour scale", ["local", "layer", "global"], horizontal=True,
                     help="local: each map its own range; layer: one range for this layer; global: one range for "
                          "all layers (as CNN Explainer offers)")


def map_tile(a: torch.Tensor, lo: float, hi: float, size: int = 84) -> np.ndarray:
    return upscale(colorize(a, "gray", lo, hi), size)


@st.fragment(run_every=refresh_while_training(entry))
def maps() -> None:
    model = entry.inference_model()
    x = normalize(x_u8, ds.mean, ds.std)
    acts = capture_activations(model, x)
    probs = predict_proba(model, x_u8, ds.mean, ds.std)[0]
    a, b = st.columns([1, 4])
    with a:
        img = x_u8[0].permute(1, 2, 0).numpy()
        st.image(upscale(img if img.shape[2] == 3 else img[..., 0], 140), caption=caption)
        order = probs.argsort(descending=True)[:3]
        st.markdown("  \n".join(f"**{ds.classes[int(k)]}** {float(probs[k]):.1%}" for k in order))
    out = acts[layer][0]
    module = dict(model.named_modules())[layer]
    g_lo = min(float(v.min()) for v in acts.values())
    g_hi = max(float(v.max()) for v in acts.values())
    with b:
        if out.ndim == 3:
            st.caption(f"{out.shape[0]} feature maps of {out.shape[1]}×{out.shape[2]}"
                       + (" — each beside the kernel that made it (mean over its input channels; blue < 0 < red)"
                          if isinstance(module, nn.Conv2d) else ""))
            n = min(out.shape[0], 64)
            cols = st.columns(8)
            for c in range(n):
                lo, hi = {"local": (float(out[c].min()), float(out[c].max())),
                          "layer": (float(out.min()), float(out.max())), "global": (g_lo, g_hi)}[scale]
                tile = map_tile(out[c], lo, hi)
                if isinstance(module, nn.Conv2d):
                    k = module.weight[c].detach().mean(0)
                    kt = upscale(colorize(k, "diverging"), tile.shape[0] // 2)
                    pad = np.full((tile.shape[0], kt.shape[1] + 4, 3), 255, np.uint8)
                    pad[: kt.shape[0], : kt.shape[1]] = kt
                    tile = np.concatenate([pad, tile], axis=1)
                cols[c % 8].image(tile, caption=f"ch {c}", width="stretch")
            if out.shape[0] > n:
                st.caption(f"showing the first {n} of {out.shape[0]} channels")
        else:
            labels = ds.classes if out.numel() == len(ds.classes) else [str(i) for i in range(out.numel())]
            fig = go.Figure(go.Bar(x=list(labels), y=out.flatten().tolist()))
            fig.update_layout(height=260, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                              xaxis={"type": "category"}, yaxis_title="value")
            st.plotly_chart(fig, key="fm-vec")
    st.subheader("Layer by layer")
    layer_strip(model, acts)


maps()

st.subheader("Statistics over a batch")
n_img = st.select_slider("Test images", [64, 256, 1000], value=256)
try:  # computed in chunks within the server's view budget; one image over it is a sentence
    batch = normalize(ds.test_x[:n_img], ds.mean, ds.std)
    used = stats_images(entry.inference_model(), batch)
    stats = layer_stats(entry.inference_model(), batch[:used])
except ValueError as e:
    st.warning(f"No batch statistics for this model: {e}.")
    st.stop()
if used < n_img:
    st.caption(f"Over the first {used} of the {n_img} images: this model's layers are wide, and the server "
               "keeps each view to a fraction of a second.")
for note in diagnose(stats):
    st.warning(note)
st.dataframe([{"layer": s.layer, "type": s.type, "mean": round(s.mean, 4), "std": round(s.std, 4),
               "never fire (dead)": f"{s.dead_fraction:.0%}" if s.type == "ReLU" else "",
               "≤ 0": f"{s.zero_fraction:.0%}"} for s in stats], hide_index=True)
sel = next(s for s in stats if s.layer == layer)
fig = go.Figure(go.Histogram(x=sel.values.tolist(), nbinsx=60))
fig.update_layout(height=260, margin={"l": 10, "r": 10, "t": 30, "b": 10}, title=f"values of layer {layer}",
                  xaxis_title="activation", yaxis_title="count")
st.plotly_chart(fig, key="fm-hist")
