"""Data: pick a dataset or upload one; see samples per class and the class distribution."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from explorer import DATASETS, load_csv, load_image_zip
from explorer.core import DEFAULT_DATASET, MAX_UPLOAD_BYTES, check_uploads_room
from explorer.i18n import N_
from explorer.lessons import naive_baseline
from explorer.plots import class_distribution, describe_class_counts, describe_images, image_grid
from pages._keys import DATASET, UPLOADS
from pages._lang import file_upload, fixed_labels, reason, tr, translate
from pages._server import leave_legacy_pages_routing  # noqa: E402
from pages._state import dataset_names, get_dataset, person_uploads

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py

st.title(tr("Data"))
t = translate()

names = dataset_names()
COLOUR_MODES = {"automatic": N_("automatic"), "grayscale": N_("grayscale"), "colour": N_("colour")}
SPLITS = {"train": N_("train"), "val": N_("validation"), "test": N_("test")}
uploads = st.session_state[UPLOADS]


def _describe(name: str) -> str:
    return f"{name} — {tr(DATASETS[name][0])}" if name in DATASETS else tr("{name} — your upload", name=name)


# keyed by the current dataset: an upload (or its removal) that changes it draws the picker again, showing it
with st.container(key="data_pick"):
    choice = st.selectbox(
        tr("Dataset"),
        names,
        index=names.index(st.session_state[DATASET]) if st.session_state[DATASET] in names else 0,
        format_func=fixed_labels(_describe),
        key=f"data_pick-{st.session_state[DATASET]}",
    )
if choice != st.session_state[DATASET]:
    try:
        get_dataset(choice)
        st.session_state[DATASET] = choice
    except ValueError as e:  # DataError, and any other sentence the library raises
        st.error(tr("{error}. Keeping **{dataset}**.", error=reason(e), dataset=st.session_state[DATASET]))


def _remove_upload(name: str) -> None:
    st.session_state[UPLOADS].pop(name, None)
    st.session_state[DATASET] = DEFAULT_DATASET


if st.session_state[DATASET] in uploads:
    current = uploads[st.session_state[DATASET]]
    st.button(
        tr(
            "Remove the upload {name} ({size} MB) from this session",
            name=current.name,
            size=t.number(current.nbytes / 2**20, 1),
        ),
        icon=":material/delete:",
        on_click=_remove_upload,
        args=(current.name,),
        key="data_remove_upload",
        help=tr("Your uploads together may take at most the room one person has here."),
    )


def take_upload(load: Callable[[], Any]) -> None:
    """Read an upload (``load()`` returns its Dataset) within the person's room; it becomes this session's
    dataset. A refusal is a sentence, and the current dataset stays."""
    try:
        ds = load()
        check_uploads_room(person_uploads(), ds)
    except ValueError as e:  # DataError, and any other sentence the library raises
        st.error(
            tr("Could not load it: {error}. Keeping **{dataset}**.", error=reason(e), dataset=st.session_state[DATASET])
        )
        return
    uploads[ds.name] = ds
    st.session_state[DATASET] = ds.name
    st.rerun()


def upload_panel() -> None:
    """Upload a CSV or a zip of class folders: it becomes this session's dataset (within the person's room)."""
    with st.expander(tr("Upload your own data")):
        tab_csv, tab_zip = st.tabs([tr("CSV (label, pixel1 … pixelN)"), tr("Zip of class folders")])
        with tab_csv:
            st.caption(
                tr(
                    "One row per image: the label, then the pixels (0–255) of a square grayscale image, row by "
                    "row, with a header line — the Sign Language MNIST layout. Without a test file, 20% of each "
                    "class is held out for testing."
                )
            )
            f_train = file_upload(tr("Training CSV"), ["csv"], "up_csv_train", MAX_UPLOAD_BYTES)
            f_test = file_upload(tr("Test CSV (optional)"), ["csv"], "up_csv_test", MAX_UPLOAD_BYTES)
            names_txt = st.text_input(
                tr("Class names for labels 0, 1, 2, … (optional, comma-separated)"),
                key="up_csv_names",
                placeholder="A,B,C,D,E,F,G,H,I,J,K,L,M,N,O,P,Q,R,S,T,U,V,W,X,Y",
            )
            if st.button(tr("Load CSV"), disabled=f_train is None):
                class_names = [n.strip() for n in names_txt.split(",")] if names_txt.strip() else None
                take_upload(
                    lambda: load_csv(
                        f_train.getvalue(),
                        f_test.getvalue() if f_test else None,
                        name=f_train.name.rsplit(".", 1)[0],
                        class_names=class_names,
                    )
                )
        with tab_zip:
            st.caption(
                tr(
                    "Folders named after the classes, each holding its images (`cats/001.jpg`, `dogs/002.jpg`), "
                    "optionally inside `train/` and `test/` folders. Images are resized to a square."
                )
            )
            f_zip = file_upload(tr("Zip file"), ["zip"], "up_zip", MAX_UPLOAD_BYTES)
            size = st.select_slider(tr("Image size"), [16, 28, 32, 48, 64, 96, 128, 150], value=32, key="up_zip_size")
            mode = st.radio(
                tr("Colour"),
                ["automatic", "grayscale", "colour"],
                horizontal=True,
                key="up_zip_mode",
                format_func=fixed_labels(lambda m: tr(COLOUR_MODES[m])),
            )
            if st.button(tr("Load zip"), disabled=f_zip is None):
                take_upload(
                    lambda: load_image_zip(
                        f_zip.getvalue(),
                        size=size,
                        name=f_zip.name.rsplit(".", 1)[0],
                        grayscale={"automatic": None, "grayscale": True, "colour": False}[mode],
                    )
                )


upload_panel()
ds = get_dataset(st.session_state[DATASET]) if st.session_state[DATASET] in names else get_dataset(DEFAULT_DATASET)
sizes = ds.sizes()
c = st.columns(6)
c[0].metric(tr("Image"), "×".join(map(str, ds.input_shape[1:])))
c[1].metric(tr("Channels"), ds.input_shape[0])
c[2].metric(tr("Classes"), ds.num_classes)
c[3].metric(tr("Train"), t.number(sizes["train"]))
c[4].metric(tr("Validation"), t.number(sizes["val"]), help=tr("A fixed part of the training set, never trained on."))
c[5].metric(tr("Test"), t.number(sizes["test"]))
st.caption(
    tr(
        "{source} · normalised with mean {mean} and std {std} (per channel)",
        source=tr(ds.source),
        mean="; ".join(t.number(m, 3) for m in ds.mean),
        std="; ".join(t.number(s, 3) for s in ds.std),
    )
)

left, right = st.columns([3, 2])
with left:
    st.subheader(tr("Samples"))
    per_class = st.slider(tr("Images per class"), 4, 16, 10)
    shown = list(range(ds.num_classes))
    if ds.num_classes > 12:
        picked = st.multiselect(tr("Classes to show"), list(ds.classes), default=list(ds.classes[:12]))
        shown = [ds.classes.index(p) for p in picked]
    scale = max(1, 56 // ds.input_shape[1])
    for k in shown:
        idx = (ds.train_y == k).nonzero().flatten()[:per_class]
        a, b = st.columns([1, 9], vertical_alignment="center")
        a.markdown(f"**{ds.classes[k]}**")
        b.image(
            image_grid(ds.train_x[idx], ncols=per_class, pad=2, scale=scale),
            alt=describe_images(ds.train_x[idx], tr("training images of class {cls}", cls=ds.classes[k]), tr=t),
        )
with right:
    st.subheader(tr("Class distribution"))
    split = st.radio(
        tr("Split"), ["train", "val", "test"], horizontal=True, format_func=fixed_labels(lambda s: tr(SPLITS[s]))
    )
    _, y = ds.split(split)
    st.plotly_chart(
        class_distribution(y, ds.classes, tr("{split}: {n} images", split=tr(SPLITS[split]), n=t.number(len(y))), tr=t),
        alt=describe_class_counts(y, ds.classes, tr=t),
    )
    counts = [int((y == k).sum()) for k in range(ds.num_classes)]
    chance, largest = naive_baseline(counts)
    st.caption(
        tr(
            "What a guess scores on this split: {chance} by chance (1 in {k}), {largest} by always answering "
            "the largest class. A model is worth something only above both.",
            chance=t.percent(chance),
            k=ds.num_classes,
            largest=t.percent(largest),
        )
    )
    if min(counts) and max(counts) / min(counts) > 1.5:
        st.info(
            tr(
                "Unbalanced: the largest class has {ratio}× the images of the smallest. Accuracy alone can hide "
                "a class the model never learns — check the confusion matrix.",
                ratio=t.number(max(counts) / min(counts), 1),
            )
        )
