"""Convolution lab: hand-made kernels on an image, one output pixel explained, sizes, pooling, GAP."""

from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from explorer import summarize
from explorer.core import get_preset
from explorer.lessons import KERNELS, convolve, explain_pixel, gabor, gabor_bank, kernel, output_size, pool
from explorer.plots import colorize, upscale
from pages._state import DRAWING, current_dataset

st.title("Convolution lab")
ds = current_dataset()

# --- the input ---
c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
sources = ["dataset image"] + (["my drawing"] if DRAWING in st.session_state else [])
src = c1.radio("Image", sources, horizontal=True, key="lab_src")
if src == "my drawing":
    img = st.session_state[DRAWING][0].float() / 255.0
else:
    i = c2.number_input(f"Test image (0–{len(ds.test_y) - 1})", 0, len(ds.test_y) - 1, 0, key="lab_i")
    img = ds.test_x[int(i)].float().mean(0) / 255.0
c3.caption(f"{img.shape[0]}×{img.shape[1]}, values 0–1")

# --- the kernel ---
st.subheader("A kernel")
k1, k2 = st.columns([1, 2])
with k1:
    choice = st.selectbox("Kernel", list(KERNELS) + ["Gabor"], index=list(KERNELS).index("sobel x"), key="lab_k")
    if choice == "Gabor":
        size = st.select_slider("size", [3, 5, 7, 9, 11], 7, key="gab_size")
        wavelength = st.slider("wavelength (px per stripe pair)", 2.0, 12.0, 4.0, 0.5, key="gab_wl")
        angle = st.slider("angle (°)", 0, 180, 0, 15, key="gab_angle")
        sigma = st.slider("sigma (envelope, px)", 0.5, 5.0, 2.0, 0.25, key="gab_sigma")
        base = gabor(size, wavelength, angle, sigma)
    else:
        base = kernel(choice)
    st.caption("Edit the numbers: the feature map follows.")
    edited = st.data_editor(np.round(base.numpy(), 3), key=f"lab_edit_{choice}", width="stretch")
    k = torch.tensor(np.asarray(edited, dtype=np.float32))
with k2:
    p1, p2, p3 = st.columns(3)
    pad = p1.slider("padding", 0, 4, 1 if k.shape[0] == 3 else k.shape[0] // 2, key="lab_pad")
    stride = p2.slider("stride", 1, 4, 1, key="lab_stride")
    dil = p3.slider("dilation", 1, 4, 1, key="lab_dil")
    try:
        out = convolve(img, k, pad, stride, dil)
    except ValueError as e:
        st.error(f"{e}: make the padding larger or the kernel, stride or dilation smaller.")
        st.stop()
    n, kk = img.shape[0], k.shape[0]
    st.markdown(f"**Output size** by the formula ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1 = ⌊({n} + {2 * pad} − {dil}·{kk - 1} − 1)/"
                f"{stride}⌋ + 1 = **{output_size(n, kk, pad, stride, dil)}**; by the real operation: "
                f"**{out.shape[0]}×{out.shape[1]}**.")
    a, b, c = st.columns(3)
    a.image(upscale(colorize(img, "gray", 0, 1), 200), caption="input")
    b.image(upscale(colorize(k, "diverging"), 200), caption="kernel (blue < 0 < red)")
    c.image(upscale(colorize(out, "diverging"), 200), caption="feature map (blue < 0 < red)")

# --- one output pixel, explained ---
st.subheader("One output pixel, explained")
r1, r2 = st.columns(2)
row = r1.slider("output row", 0, out.shape[0] - 1, out.shape[0] // 2, key="lab_row")
col = r2.slider("output column", 0, out.shape[1] - 1, out.shape[1] // 2, key="lab_col")
e = explain_pixel(img, k, row, col, pad, stride, dil)
padded = torch.nn.functional.pad(img, (pad, pad, pad, pad))
view = colorize(padded, "gray", 0, 1)
span = dil * (kk - 1) + 1
r0, c0 = row * stride, col * stride
mask = np.zeros(padded.shape, bool)
mask[r0:r0 + span:dil, c0:c0 + span:dil] = True
view[mask] = (0.5 * view[mask] + 0.5 * np.array([214, 39, 40])).astype(np.uint8)  # the cells the kernel reads
e1, e2, e3, e4 = st.columns([1.3, 1, 1, 1])
e1.image(upscale(view, 220), caption=f"padded input; red: the {kk}×{kk} cells read for output ({row}, {col})")
e2.markdown("**patch**")
e2.dataframe(np.round(e.patch.numpy(), 2), hide_index=True)
e3.markdown("**× kernel**")
e3.dataframe(np.round(e.kernel.numpy(), 2), hide_index=True)
e4.markdown("**= products**")
e4.dataframe(np.round(e.products.numpy(), 3), hide_index=True)
st.markdown(f"Sum of the products: **{e.value:.4f}** — and the feature map holds **{float(out[row, col]):.4f}** "
            "at that position.")

# --- Gabor bank, pooling ---
g1, g2 = st.columns(2)
with g1:
    st.subheader("A Gabor filter bank")
    n_ang = st.slider("orientations", 2, 8, 4, key="bank_n")
    bank = gabor_bank(n_ang, 7, 4.0, 2.0)
    cols = st.columns(n_ang)
    for cc, (ang, kern) in zip(cols, bank):
        resp = convolve(img, kern, 3)
        cc.image(upscale(colorize(kern, "diverging"), 80), caption=f"{ang:.0f}°")
        cc.image(upscale(colorize(resp.abs(), "gray"), 80))
    st.caption("Each orientation answers the strokes that run across its stripes: the first layer of a trained "
               "CNN often learns kernels like these.")
with g2:
    st.subheader("Max vs average pooling")
    size = st.select_slider("window", [2, 3, 4], 2, key="pool_size")
    fmap = out.clamp_min(0)  # after a ReLU
    pa, pb, pc = st.columns(3)
    pa.image(upscale(colorize(fmap, "gray"), 150), caption=f"ReLU(map) {fmap.shape[0]}×{fmap.shape[1]}")
    mx, av = pool(fmap, "max", size), pool(fmap, "avg", size)
    pb.image(upscale(colorize(mx, "gray"), 150), caption=f"max pool → {mx.shape[0]}×{mx.shape[1]}")
    pc.image(upscale(colorize(av, "gray"), 150), caption=f"average pool → {av.shape[0]}×{av.shape[1]}")
    st.caption("Max keeps the strongest answer in each window (is the feature there?); average blurs it (how much "
               "of it is there?).")

# --- receptive field of a stack ---
st.subheader("The receptive field grows layer by layer")
s = st.columns(5)
n_layers = s[0].slider("conv layers", 1, 6, 3, key="rf_n")
rk = s[1].select_slider("kernel", [1, 3, 5, 7], 3, key="rf_k")
rs = s[2].select_slider("stride", [1, 2], 1, key="rf_s")
rd = s[3].select_slider("dilation", [1, 2, 4], 1, key="rf_d")
rp = s[4].toggle("2×2 max pool after each", key="rf_pool")
layers = []
for _ in range(n_layers):
    layers.append({"type": "Conv2d", "out_channels": 4, "kernel_size": rk, "stride": rs, "dilation": rd,
                   "padding": rd * (rk // 2)})
    layers.append({"type": "ReLU"})
    if rp:
        layers.append({"type": "MaxPool2d", "kernel_size": 2})
try:
    summ = summarize({"input_shape": [1, 64, 64], "layers": layers})
    st.dataframe([{"layer": r.path, "type": r.type, "output": "×".join(map(str, r.output_shape)),
                   "receptive field": f"{r.receptive_field[0]}×{r.receptive_field[1]}"}
                  for r in summ.layers if r.type != "ReLU"], hide_index=True)
    st.caption("On a 64×64 input. Each output unit of the last layer sees a patch this big of the input: stride, "
               "dilation and pooling make it grow much faster than stacking alone.")
except ValueError as err:
    st.warning(f"{err}")

# --- flatten vs global average pooling ---
st.subheader("Flatten vs global average pooling (the lecture's fifth notebook)")
fl, gap = summarize(get_preset("mnist-flatten")), summarize(get_preset("mnist-gap"))
f1, f2 = st.columns(2)
f1.metric("Flatten → Linear(64) → Linear(10)", f"{fl.total_params:,} parameters")
f2.metric("Global average pooling → Linear(10)", f"{gap.total_params:,} parameters")
st.markdown(f"Both share the same three conv layers ending in **64×3×3**. Flatten hands all {64 * 9} values to a "
            f"dense layer: {fl.total_params - gap.total_params:,} more weights, and it knows *where* in the 3×3 "
            "grid each feature fired. Global average pooling keeps one number per channel: far fewer weights and "
            "more tolerance to where the digit sits, but the position inside the grid is lost.")
