"""Augmentation preview: the transforms the trainer applies, on a grid of samples, with the Train settings."""

from __future__ import annotations

import streamlit as st

from explorer.core import Augment, augment_preview
from explorer.plots import describe_images, image_grid
from pages._keys import TRAIN_CFG
from pages._lang import tr, translate
from pages._live import augment_controls
from pages._server import leave_legacy_pages_routing  # noqa: E402
from pages._state import current_dataset

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py

st.title(tr("Augmentation"))
ds = current_dataset()
aug = st.session_state[TRAIN_CFG]["augment"]
st.caption(tr("These sliders are the ones on **{train}**: what you set here is what training will use.", train=tr("Train")))
augment_controls(aug, ds, key="aug")
n = st.columns([3, 1])[1].select_slider(tr("Samples"), [4, 6, 8, 12], 8, key="aug_n")
seed = st.session_state.setdefault("aug_seed", 0)
if st.button(tr("Redraw"), icon=":material/refresh:"):
    st.session_state["aug_seed"] = seed = seed + 1

a = Augment(**aug)
shown = augment_preview(ds.train_x[:n], a, ds.mean, ds.std, draws=4, seed=seed)
grid = image_grid(shown, ncols=n, pad=2, scale=max(1, 96 // ds.input_shape[1]))
st.image(
    grid,
    caption=tr("top row: the originals; below: four random draws of the augmentation"),
    alt=describe_images(shown[:n], tr("training images"), tr=translate())
    + ", "
    + (
        tr("then four rows of the same images transformed at random by the augmentation")
        if a.active
        else tr("then four rows of the same images unchanged (all augmentations are off)")
    ),
)
if not a.active:
    st.info(tr("All augmentations are off: the rows below are the originals. Move a slider."))
elif aug["flip"] and ds.input_shape[0] == 1:
    st.warning(tr("Flipping digits or letters changes what they are (a mirrored 2 is not a 2): leave mirroring off here."))
