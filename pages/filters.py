"""Filter images: the input that most excites each channel (gradient ascent), and the test images that do."""

from __future__ import annotations

import streamlit as st

from explorer.interpret import (
    PRETRAINED,
    REGULARIZERS,
    FilterImages,
    compare_regularizers,
    conv_layers,
    filter_images,
    layer_channels,
    load_pretrained,
    named_layers,
    plan_filters,
    to_display,
)
from explorer.plots import as_picture, describe_images, describe_map, image_grid, upscale
from pages._inspect import inspect_context
from pages._jobs import job_running, job_status, while_job_runs
from pages._lang import fixed_labels, reason, tr, translate
from pages._server import leave_legacy_pages_routing  # noqa: E402
from pages._state import start_job

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py

JOB = "filter_job"  # this session's running or finished Job
PLAN = "filter_plan"  # what the last Generate was estimated to cost, or why it was refused
st.title(tr("Filter images"))
st.caption(
    tr(
        "Gradient ascent in input space: start from noise and change the image, not the weights, until one "
        "channel fires as hard as it can. The channels are optimised together, in batches that fit the memory "
        "one job may use."
    )
)
t = translate()
source = st.radio(
    tr("Model"),
    ["current model", *PRETRAINED],
    horizontal=True,
    format_func=fixed_labels(
        lambda s: tr("current model") if s == "current model" else tr("{name} (pretrained, ImageNet)", name=s)
    ),
)
if source == "current model":
    ctx = inspect_context()
    if ctx is None:
        st.stop()
    entry, model, ds = ctx
    mean, std, shape = ds.mean, ds.std, entry.spec["input_shape"]
    model_name = entry.name
else:
    name = source
    try:
        model = load_pretrained(name)
    except ValueError as e:
        st.warning(tr("{error}.", error=reason(e)))
        st.stop()
    ds, mean, std, shape, model_name = None, *model.normalization, [3, 224, 224], name  # type: ignore[attr-defined]
    st.caption(tr("224×224 colour images take long to optimise: start with few channels and steps."))

candidates = [n for n, m in named_layers(model) if n in dict(conv_layers(model))] or [n for n, _ in named_layers(model)]
c = st.columns(5)
layer = c[0].selectbox(
    tr("Layer"), candidates, index=len(candidates) - 1 if source == "current model" else 0, key="fv_layer"
)
n_ch = layer_channels(model, layer, shape)
c[1].number_input(
    tr("Channels"), 1, n_ch, min(n_ch, 16 if source == "current model" else 4), key=f"fv_count-{n_ch}"
)  # keyed by its range: another layer's count is another widget
c[2].select_slider(tr("Steps"), [16, 32, 64, 128, 256, 512], value=128 if source == "current model" else 32, key="fv_steps")
c[3].selectbox(
    tr("Regulariser"),
    REGULARIZERS,
    index=REGULARIZERS.index("jitter"),
    key="fv_reg",
    help=tr(
        "none: raw ascent (noisy); l2: pull towards grey; blur: smooth every 4 steps; jitter: random "
        "shift/zoom/rotation each step; fourier: optimise a 1/f spectrum"
    ),
)
c[4].select_slider(tr("Step size"), [0.01, 0.02, 0.05, 0.1, 0.2], value=0.05, key="fv_lr")


def start(kind: str) -> None:
    """Start the job in a worker, on its own copy of the model (page reruns keep using this one).

    Reads the widgets' keys: the values on screen at the click count, even one typed just before it."""
    ss = st.session_state
    old = ss.get(JOB)
    if job_running(old):
        old.cancel()
    layer_, steps, lr = ss["fv_layer"], int(ss["fv_steps"]), float(ss["fv_lr"])
    n = layer_channels(model, layer_, shape)
    count = max(1, min(int(ss.get(f"fv_count-{n}", 1)), n)) if kind == "all" else 1
    try:  # estimated before it starts: chunks that fit the memory budget, and a time within the job limit
        plan = plan_filters(model, tuple(shape), count, steps)
    except ValueError as e:
        ss[PLAN] = ("error", tr("Not started: {error}.", error=reason(e)))
        return
    ss[PLAN] = (
        "info",
        tr(
            "{n} channels in {k} chunks of at most {size}, to stay within the memory one job may use.",
            n=count,
            k=plan.chunks,
            size=plan.chunk,
        )
        if plan.chunks > 1
        else "",
    )
    if kind == "all":
        start_job(
            JOB,
            tr("filter images of {model}, layer {layer}", model=model_name, layer=layer_),
            filter_images,
            model,
            layer_,
            count,
            shape,
            steps,
            lr,
            ss["fv_reg"],
            ds,
        )
    else:
        channel = max(0, min(int(ss.get(f"fv_channel-{n}", 0)), n - 1))
        start_job(
            JOB,
            tr("regularisers on {model}, layer {layer}", model=model_name, layer=layer_),
            compare_regularizers,
            model,
            layer_,
            channel,
            shape,
            steps,
            lr,
        )


b = st.columns([1.3, 1.8, 1, 3], vertical_alignment="bottom")
job = st.session_state.get(JOB)
busy = job_running(job)
b[0].button(tr("Generate"), type="primary", icon=":material/auto_awesome:", on_click=start, args=("all",), disabled=busy)
b[2].number_input(tr("Channel"), 0, n_ch - 1, 0, key=f"fv_channel-{n_ch}")
b[1].button(
    tr("Compare regularisers"),
    on_click=start,
    args=("compare",),
    disabled=busy,
    help=tr("The same channel with each regulariser, side by side"),
)


kind_, plan = st.session_state.get(PLAN, ("info", ""))
if plan:
    getattr(st, kind_)(plan)


def compared(results: dict[str, FilterImages]) -> None:
    """One channel's image made with each regularizer, side by side."""
    cols = st.columns(len(results))
    for col, (r, res) in zip(cols, results.items()):
        img = to_display(res.images, mean, std)[0]
        col.image(
            as_picture(img, 200),
            caption=tr("{reg}: activation {value}", reg=r, value=t.number(float(res.end[0]), 2)),
            alt=tr("the image made with {reg} for channel {c} of layer {layer}:", reg=r, c=res.channels[0], layer=res.layer)
            + " "
            + describe_map(img.float().mean(0), tr("its brightness"), tr=t),
        )


@while_job_runs(lambda: st.session_state.get(JOB))
def results() -> None:
    job = st.session_state.get(JOB)
    if job is None:
        st.caption(tr("Press **{generate}**.", generate=tr("Generate")))
    if not job_status(job, tr("optimising, step")):
        return
    out = job.result
    if out["kind"] == "compare":
        compared(out["res"])
        return
    res = out["res"]
    imgs = to_display(res.images, mean, std)
    st.caption(
        tr(
            "layer {layer}, {reg}: mean activation {start} for the noise it started from → {end}",
            layer=res.layer,
            reg=res.regularizer,
            start=t.number(float(res.start.mean()), 2),
            end=t.number(float(res.end.mean()), 2),
        )
    )
    top = out["top"]
    per_row = 2 if top is not None else 8
    for start_i in range(0, len(res.channels), per_row):
        cols = st.columns(per_row * (2 if top is not None else 1))
        for j, i in enumerate(range(start_i, min(start_i + per_row, len(res.channels)))):
            c = res.channels[i]
            slot = j * (2 if top is not None else 1)
            value = t.number(float(res.end[i]), 2)
            cols[slot].image(
                as_picture(imgs[i], 160),
                caption=tr("ch {c}", c=c) + f" · {value}",
                alt=tr(
                    "the image that excites channel {c} of layer {layer} most (activation {value});",
                    c=c,
                    layer=res.layer,
                    value=value,
                )
                + " "
                + describe_map(imgs[i].float().mean(0), tr("its brightness"), tr=t),
            )
            if top is not None:
                grid = image_grid(ds.test_x[top[c]], ncols=3, pad=1)
                cols[slot + 1].image(
                    upscale(grid, 160),
                    caption=tr("its 9 strongest test images"),
                    alt=describe_images(
                        ds.test_x[top[c]],
                        tr("test images that excite channel {c} most", c=c),
                        [ds.classes[int(ds.test_y[j])] for j in top[c]],
                        tr=t,
                    ),
                )


results()
