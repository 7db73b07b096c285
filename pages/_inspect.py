"""The look-inside pages' shared parts: the model, its weights and the data they look at, the redraw while it
trains, the input picker, a strip of a layer's maps.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import streamlit as st

from explorer import DataError, Dataset
from explorer.core import DEFAULT_DATASET, MAX_IMAGE_FILE_BYTES
from explorer.serve import ModelEntry
from pages._keys import DATASET, DRAWING
from pages._lang import file_upload, reason, tr, translate
from pages._server import VIEW_REFRESH_S, redraw_while
from pages._state import (
    current_dataset,
    get_dataset,
    workspace,
)


def inspect_context() -> tuple[ModelEntry, Any, Dataset] | None:
    """The current model (a consistent copy while it trains) and the dataset it was made for.

    Shows what to do instead and returns None when there is no usable model.
    """
    ws = workspace()
    e = ws.entry()
    if e is None:
        st.info(
            tr(
                "No model yet. Train one in a click on **{start}**, build one on **{build}**, or load a checkpoint "
                "on **{train}**.",
                start=tr("Start"),
                build=tr("Build"),
                train=tr("Train"),
            )
        )
        st.page_link("pages/start.py", label=tr("Go to {page}", page=tr("Start")), icon=":material/home:")
        return None
    name = e.dataset["name"] if e.dataset else st.session_state.get(DATASET, DEFAULT_DATASET)
    try:
        ds = get_dataset(name)
    except DataError:
        ds = current_dataset()
    if list(e.spec["input_shape"]) != ds.input_shape:
        st.warning(
            tr(
                "**{name}** takes {shape} inputs, but the dataset **{dataset}** has {images} images. Pick the "
                "matching dataset on **{data}** or another model in the sidebar.",
                name=e.name,
                shape="×".join(map(str, e.spec["input_shape"])),
                dataset=ds.name,
                images="×".join(map(str, ds.input_shape)),
                data=tr("Data"),
            )
        )
        return None
    if not e.runs and e.source != "loaded":
        st.caption(tr("**{name}** is untrained: you are looking at random weights.", name=e.name))
    return e, e.inference_model(), ds


def view_while_training(e: ModelEntry) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """A look-inside view as a fragment (a decorator): redrawn every :data:`VIEW_REFRESH_S` while ``e`` trains,
    with its latest weights; once the run has ended, the page once more (final weights, the parts drawn only for a
    trained model) and no more redraws (:func:`redraw_while`)."""
    return redraw_while(lambda: e.active_run is not None, VIEW_REFRESH_S)


def input_picker(ds: Dataset, key: str) -> tuple[Any, str]:
    """Choose one input image: a test image (by class and index, or random), an upload, or the drawing.

    Returns ``(uint8 (1, C, H, W), caption)``.
    """
    from explorer.core import load_image_file, prepare_image

    sources = ["test", "upload"] + (["drawing"] if DRAWING in st.session_state and ds.input_shape[0] == 1 else [])
    names = {"test": tr("Test image"), "upload": tr("Upload an image"), "drawing": tr("My drawing")}
    src = st.radio(tr("Input"), sources, horizontal=True, key=f"{key}-src", format_func=names.get)
    if src == "drawing":
        x = st.session_state[DRAWING]
        if list(x.shape) != ds.input_shape:
            x = prepare_image(x[0], ds.input_shape)
        return x[None], tr("your drawing")
    if src == "upload":
        up = file_upload(tr("Image"), ["png", "jpg", "jpeg", "bmp", "gif", "webp"], f"{key}-up", MAX_IMAGE_FILE_BYTES)
        if up is not None:
            try:
                return prepare_image(load_image_file(up.getvalue()), ds.input_shape)[None], up.name
            except ValueError as err:
                st.error(tr("{error}. Showing a test image instead.", error=reason(err)))
    c1, c2, c3 = st.columns([2, 2, 1.5], vertical_alignment="bottom")  # "Random" whole in a narrow left column
    cls = c1.selectbox(tr("Class"), list(ds.classes), key=f"{key}-cls")
    idx = ds.of_class(ds.classes.index(cls))
    if c3.button(tr("Random"), key=f"{key}-rnd", icon=":material/casino:"):
        st.session_state[f"{key}-i"] = random.randrange(max(len(idx), 1))
    i = c2.number_input(tr("Index (of {n})", n=len(idx)), 0, max(len(idx) - 1, 0), key=f"{key}-i")
    j = idx[min(int(i), len(idx) - 1)]
    return ds.test_x[j : j + 1], tr("test image #{i}, class {cls}", i=j, cls=cls)


def layer_strip(model: Any, acts: dict[str, Any], n: int = 8) -> None:
    """The first ``n`` channels of every image-shaped layer for one input, one row per layer."""
    from explorer.plots import channel_strip, describe_map

    t = translate()
    st.caption(
        tr(
            "The first {n} channels of every image-shaped layer for this input (each map on its own range): "
            "early layers keep the strokes, later ones keep where the telling parts are.",
            n=n,
        )
    )
    modules = dict(model.named_modules())
    for name, a in acts.items():
        if a.ndim != 4:
            continue
        c1, c2 = st.columns([1, 6], vertical_alignment="center")
        c1.markdown(f"**{name}** {type(modules[name]).__name__}  \n{'×'.join(map(str, a.shape[1:]))}")
        c2.image(
            channel_strip(a[0], n),
            alt=tr("the first {n} feature maps of layer {layer};", n=min(n, a.shape[1]), layer=name)
            + " "
            + describe_map(a[0, :n].amax(0), tr("their brightest points together"), tr=t),
        )
