"""Convolution lab: hand-made kernels on an image, one output pixel explained, sizes, pooling, GAP."""

from __future__ import annotations

import streamlit as st

from explorer import summarize
from explorer.core import get_preset
from explorer.i18n import N_
from explorer.lessons import (
    KERNELS,
    convolve,
    explain_pixel,
    gabor,
    gabor_bank,
    kernel,
    kernel_from_table,
    output_size,
    pool,
    stripes_run,
    unit_gray,
)
from explorer.plots import cells_read, colorize, describe_kernel, describe_map, number_table, upscale, where
from pages._guide import did
from pages._keys import DRAWING
from pages._lang import fixed_labels, reason, tr, translate
from pages._server import leave_legacy_pages_routing  # noqa: E402
from pages._state import current_dataset

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py

KERNEL_NAMES = {
    "identity": N_("identity"),
    "box blur": N_("box blur"),
    "gaussian blur": N_("gaussian blur"),
    "sharpen": N_("sharpen"),
    "sobel x": N_("sobel x"),
    "sobel y": N_("sobel y"),
    "prewitt x": N_("prewitt x"),
    "prewitt y": N_("prewitt y"),
    "laplacian": N_("laplacian"),
    "vertical lines": N_("vertical lines"),
    "horizontal lines": N_("horizontal lines"),
    "diagonal down": N_("diagonal down"),
    "diagonal up": N_("diagonal up"),
    "Gabor": N_("Gabor"),
}


def input_image(ds):
    """The image to convolve: a test image or the drawing, as one grey plane in 0..1."""
    c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    sources = ["dataset image"] + (["my drawing"] if DRAWING in st.session_state else [])
    src = c1.radio(
        tr("Image"),
        sources,
        horizontal=True,
        key="lab_src",
        format_func=fixed_labels(lambda s: tr("dataset image") if s == "dataset image" else tr("my drawing")),
    )
    if src == "my drawing":
        img = unit_gray(st.session_state[DRAWING])
    else:
        i = c2.number_input(tr("Test image (0–{last})", last=len(ds.test_y) - 1), 0, len(ds.test_y) - 1, 0, key="lab_i")
        img = unit_gray(ds.test_x[int(i)])
    c3.caption(tr("{h}×{w}, values 0–1", h=img.shape[0], w=img.shape[1]))
    return img


def kernel_editor():
    """A hand-made kernel or a Gabor filter, its numbers editable; returns the kernel, or None (said why)."""
    choice = st.selectbox(
        tr("Kernel"),
        list(KERNELS) + ["Gabor"],
        index=list(KERNELS).index("sobel x"),
        key="lab_k",
        format_func=fixed_labels(lambda n: tr(KERNEL_NAMES.get(n, n))),
    )
    if choice == "Gabor":
        size = st.select_slider(tr("size"), [3, 5, 7, 9, 11], 7, key="gab_size")
        wavelength = st.slider(tr("wavelength (px per stripe pair)"), 2.0, 12.0, 4.0, 0.5, key="gab_wl")
        angle = st.slider(tr("angle (°)"), 0, 180, 0, 15, key="gab_angle")
        sigma = st.slider(tr("sigma (envelope, px)"), 0.5, 5.0, 2.0, 0.25, key="gab_sigma")
        base = gabor(size, wavelength, angle, sigma)
    else:
        base = kernel(choice)
    st.caption(tr("Edit the numbers: the feature map follows."))
    edited = st.data_editor(number_table(base, 3), key=f"lab_edit_{choice}", width="stretch")
    try:
        return kernel_from_table(edited)
    except ValueError as e:
        st.error(tr("{error}.", error=reason(e)))
        return None


def convolution(img, k) -> tuple | None:
    """Padding, stride and dilation, the output size by the formula and by the operation, the three images.
    Returns ``(out, pad, stride, dilation)``, or None when the kernel does not fit (said why)."""
    p1, p2, p3 = st.columns(3)
    pad = p1.slider(
        tr("padding"), 0, 4, 1 if k.shape[0] == 3 else k.shape[0] // 2, key="lab_pad", on_change=did, args=("lab:pixel",)
    )
    stride = p2.slider(tr("stride"), 1, 4, 1, key="lab_stride", on_change=did, args=("lab:pixel",))
    dil = p3.slider(tr("dilation"), 1, 4, 1, key="lab_dil")
    try:
        out = convolve(img, k, pad, stride, dil)
    except ValueError as e:
        st.error(tr("{error}: make the padding larger or the kernel, stride or dilation smaller.", error=reason(e)))
        return None
    n, kk = img.shape[0], k.shape[0]
    formula = f"⌊(n + 2p − d(k−1) − 1)/s⌋ + 1 = ⌊({n} + {2 * pad} − {dil}·{kk - 1} − 1)/{stride}⌋ + 1"
    st.markdown(
        tr(
            "**Output size** by the formula {formula} = **{size}**; by the real operation: **{h}×{w}**.",
            formula=formula,
            size=output_size(n, kk, pad, stride, dil),
            h=out.shape[0],
            w=out.shape[1],
        )
    )
    a, b, c = st.columns(3)
    t = translate()
    a.image(
        upscale(colorize(img, "gray", 0, 1), 200), caption=tr("input"), alt=describe_map(img, tr("the input image"), tr=t)
    )
    b.image(
        upscale(colorize(k, "diverging"), 200),
        caption=tr("kernel (blue < 0 < red)"),
        alt=describe_kernel(k, tr("the kernel"), tr=t),
    )
    c.image(
        upscale(colorize(out, "diverging"), 200),
        caption=tr("feature map (blue < 0 < red)"),
        alt=describe_map(out, tr("the feature map"), tr=t)
        + "; "
        + tr("most negative ({value}) {where}", value=t.number(float(out.min()), 2), where=where(-out, t)),
    )
    return out, pad, stride, dil


def one_pixel(img, k, out, pad: int, stride: int, dil: int) -> None:
    """One output value taken apart: the cells read, the patch, the kernel, the products and their sum."""
    st.subheader(tr("One output pixel, explained"))
    r1, r2 = st.columns(2)
    # the guided path: one output pixel, looked at by moving it (the callbacks record it)
    row = r1.slider(
        tr("output row"), 0, out.shape[0] - 1, out.shape[0] // 2, key="lab_row", on_change=did, args=("lab:pixel",)
    )
    col = r2.slider(
        tr("output column"), 0, out.shape[1] - 1, out.shape[1] // 2, key="lab_col", on_change=did, args=("lab:pixel",)
    )
    e = explain_pixel(img, k, row, col, pad, stride, dil)
    kk = k.shape[0]
    view = cells_read(img, pad, row * stride, col * stride, dil * (kk - 1) + 1, dil)
    e1, e2, e3, e4 = st.columns([1.3, 1, 1, 1])
    e1.image(
        upscale(view, 220),
        caption=tr("padded input; red: the {k}×{k} cells read for output ({row}, {col})", k=kk, row=row, col=col),
        alt=tr(
            "the input padded by {pad}, with the {k}×{k} cells the kernel reads for output ({row}, {col}) "
            "tinted red, starting at row {r0} and column {c0} of the padded image",
            pad=pad,
            k=kk,
            row=row,
            col=col,
            r0=row * stride,
            c0=col * stride,
        ),
    )
    for column, title, values, places in (
        (e2, tr("patch"), e.patch, 2),
        (e3, tr("× kernel"), e.kernel, 2),
        (e4, tr("= products"), e.products, 3),
    ):
        column.markdown(f"**{title}**")
        column.dataframe(number_table(values, places), hide_index=True)
    t = translate()
    st.markdown(
        tr(
            "Sum of the products: **{sum}** — and the feature map holds **{value}** at that position.",
            sum=t.number(e.value, 4),
            value=t.number(float(out[row, col]), 4),
        )
    )


def gabor_filters(img) -> None:
    st.subheader(tr("A Gabor filter bank"))
    n_ang = st.slider(tr("orientations"), 2, 8, 4, key="bank_n")
    cols, t = st.columns(n_ang), translate()
    for cc, (ang, kern) in zip(cols, gabor_bank(n_ang, 7, 4.0, 2.0)):
        resp = convolve(img, kern, 3).abs()
        deg, run = f"{ang:.0f}", stripes_run(ang, t)
        cc.image(
            upscale(colorize(kern, "diverging"), 80),
            caption=f"{deg}°: {run}",
            alt=tr("Gabor kernel at {angle}°: {stripes}, red between blue", angle=deg, stripes=run),
        )
        cc.image(
            upscale(colorize(resp, "gray"), 80), alt=describe_map(resp, tr("the {angle}° filter's answer", angle=deg), tr=t)
        )
    st.caption(
        tr(
            "Each filter answers most the strokes that run along its stripes and are about as thick as one "
            "stripe: the one with vertical stripes lights up on the vertical strokes of the image. The first "
            "layer of a trained CNN often learns kernels like these."
        )
    )


def pooling(out) -> None:
    st.subheader(tr("Max vs average pooling"))
    size = st.select_slider(tr("window"), [2, 3, 4], 2, key="pool_size")
    fmap = out.clamp_min(0)  # after a ReLU
    pa, pb, pc = st.columns(3)
    t = translate()
    pa.image(
        upscale(colorize(fmap, "gray"), 150),
        caption=tr("ReLU(map) {h}×{w}", h=fmap.shape[0], w=fmap.shape[1]),
        alt=describe_map(fmap, tr("the feature map after a ReLU"), tr=t),
    )
    mx, av = pool(fmap, "max", size), pool(fmap, "avg", size)
    pb.image(
        upscale(colorize(mx, "gray"), 150),
        caption=tr("max pool → {h}×{w}", h=mx.shape[0], w=mx.shape[1]),
        alt=describe_map(mx, tr("after max pooling"), tr=t),
    )
    pc.image(
        upscale(colorize(av, "gray"), 150),
        caption=tr("average pool → {h}×{w}", h=av.shape[0], w=av.shape[1]),
        alt=describe_map(av, tr("after average pooling"), tr=t),
    )
    st.caption(
        tr(
            "Max keeps the strongest answer in each window (is the feature there?); average blurs it (how "
            "much of it is there?)."
        )
    )


def receptive_field() -> None:
    st.subheader(tr("The receptive field grows layer by layer"))
    s = st.columns(5)
    n_layers = s[0].slider(tr("conv layers"), 1, 6, 3, key="rf_n")
    rk = s[1].select_slider(tr("kernel"), [1, 3, 5, 7], 3, key="rf_k")
    rs = s[2].select_slider(tr("stride"), [1, 2], 1, key="rf_s")
    rd = s[3].select_slider(tr("dilation"), [1, 2, 4], 1, key="rf_d")
    rp = s[4].toggle(tr("max pool 2×2"), key="rf_pool", help=tr("a 2×2 max pool after each conv layer"))
    layers = []
    for _ in range(n_layers):
        layers += [
            {
                "type": "Conv2d",
                "out_channels": 4,
                "kernel_size": rk,
                "stride": rs,
                "dilation": rd,
                "padding": rd * (rk // 2),
            },
            {"type": "ReLU"},
        ] + ([{"type": "MaxPool2d", "kernel_size": 2}] if rp else [])
    try:
        summ = summarize({"input_shape": [1, 64, 64], "layers": layers})
    except ValueError as err:
        st.warning(reason(err))
        return
    st.dataframe(
        [
            {
                "layer": r.path,
                "type": r.type,
                "output": "×".join(map(str, r.output_shape)),
                "receptive field": f"{r.receptive_field[0]}×{r.receptive_field[1]}",
            }
            for r in summ.layers
            if r.type != "ReLU"
        ],
        hide_index=True,
        column_config={
            "layer": tr("layer"),
            "type": tr("type"),
            "output": tr("output"),
            "receptive field": tr("receptive field"),
        },
    )
    st.caption(
        tr(
            "On a 64×64 input. Each output unit of the last layer sees a patch this big of the input: stride, "
            "dilation and pooling make it grow much faster than stacking alone."
        )
    )


def flatten_vs_gap() -> None:
    st.subheader(tr("Flatten vs global average pooling (the lecture's fifth notebook)"))
    fl, gap = summarize(get_preset("mnist-flatten")), summarize(get_preset("mnist-gap"))
    f1, f2 = st.columns(2)
    t = translate()
    f1.metric(tr("Flatten → Linear(64) → Linear(10)"), tr("{n} parameters", n=t.number(fl.total_params)))
    f2.metric(tr("Global average pooling → Linear(10)"), tr("{n} parameters", n=t.number(gap.total_params)))
    c, h, w = next(
        r.output_shape
        for r in reversed(gap.layers)  # what the pooling reads: the last conv's maps
        if len(r.output_shape) == 3 and r.type != "AdaptiveAvgPool2d"
    )
    st.markdown(
        tr(
            "Both share the same three conv layers ending in **{c}×{h}×{w}**. Flatten hands all {n} values to "
            "a dense layer: {more} more weights, and it knows *where* in the {h}×{w} grid each feature fired. "
            "Global average pooling keeps one number per channel: far fewer weights and more tolerance to "
            "where the digit sits, but the position inside the grid is lost.",
            c=c,
            h=h,
            w=w,
            n=c * h * w,
            more=t.number(fl.total_params - gap.total_params),
        )
    )


st.title(tr("Convolution lab"))
image = input_image(current_dataset())
st.subheader(tr("A kernel"))
k1, k2 = st.columns([1, 2])
with k1:
    k = kernel_editor()
with k2:
    done = convolution(image, k) if k is not None else None
if done is None:
    st.stop()
feature_map, *geometry = done
one_pixel(image, k, feature_map, *geometry)
g1, g2 = st.columns(2)
with g1:
    gabor_filters(image)
with g2:
    pooling(feature_map)
receptive_field()
flatten_vs_gap()
