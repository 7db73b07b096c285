"""Start: what the app is, and a trained model in one click."""

from __future__ import annotations

import streamlit as st

from pages._state import DATASET, TRAIN_ERROR, current_dataset, workspace
from pages._widgets import live_run, train_default

ws = workspace()
ds = current_dataset()

st.title("CNN Explorer")
st.markdown(
    "Build a convolutional network from widgets, train it live, and look inside: kernels, feature maps, "
    "the images that excite each filter, the mistakes it makes, and why it calls your drawing a **3** and not an "
    "**8**. Everything runs on this server; your models are yours alone, and they are kept under this page's link.")


entry = ws.entry()
busy = entry is not None and entry.active_run is not None
st.button(f"Train the default CNN on {ds.name} ({ds.sizes()['train']:,} images, 3 epochs)", type="primary",
          icon=":material/play_arrow:",
          on_click=train_default, args=(ds,), disabled=busy, help="Builds the `default` preset and trains it here and now.")
if err := st.session_state.pop(TRAIN_ERROR, None):
    st.error(err)

entry = ws.entry()
if entry is not None and entry.runs:
    st.subheader(f"{entry.name} on {entry.runs[-1].dataset}")
    live_run(entry.runs[-1], key="home")

st.divider()
st.markdown("#### Where next")
c1, c2, c3 = st.columns(3)
with c1:
    st.page_link("pages/data.py", label="Choose or upload data", icon=":material/dataset:")
    st.caption(f"Now: `{st.session_state[DATASET]}` — MNIST, Fashion-MNIST, KMNIST, EMNIST, CIFAR-10, "
               "your CSV or a zip of class folders.")
with c2:
    st.page_link("pages/build.py", label="Build a network", icon=":material/construction:")
    st.caption("Start from a lesson's preset, add and reorder layers, see shapes and parameters at once.")
with c3:
    st.page_link("pages/train.py", label="Train and compare", icon=":material/model_training:")
    st.caption("Optimiser, schedule, augmentation; live curves; overlay runs to compare architectures.")
