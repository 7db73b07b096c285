"""CNN Explorer: build a convolutional network, train it live, look inside it.

Entry only: page config, session defaults, the shared sidebar and navigation.
"""

from __future__ import annotations

import streamlit as st

from pages._widgets import (
    freeze_startup_heap,
    init_session,
    keep_workspace_id_in_url,
    save_workspace,
    set_torch_threads,
    show_flash,
    sidebar,
)

st.set_page_config(page_title="CNN Explorer", page_icon=":material/neurology:", layout="wide")
freeze_startup_heap()  # first, so no session's objects are frozen with the imports
init_session()
set_torch_threads()

PAGES = {
    "": [st.Page("pages/home.py", title="Start", icon=":material/home:", default=True)],
    "Data & model": [
        st.Page("pages/data.py", title="Data", icon=":material/dataset:"),
        st.Page("pages/build.py", title="Build", icon=":material/construction:"),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    ],
    "Look inside": [
        st.Page("pages/kernels.py", title="Kernels", icon=":material/grid_on:"),
        st.Page("pages/features.py", title="Feature maps", icon=":material/layers:"),
        st.Page("pages/filters.py", title="Filter images", icon=":material/auto_awesome:"),
        st.Page("pages/confusion.py", title="Confusion matrix", icon=":material/table_chart:"),
    ],
    "Explain": [st.Page("pages/draw.py", title="Draw a digit", icon=":material/draw:")],
    "Lessons": [
        st.Page("pages/lab.py", title="Convolution lab", icon=":material/blur_on:"),
        st.Page("pages/augment.py", title="Augmentation", icon=":material/transform:"),
        st.Page("pages/experiments.py", title="Experiments", icon=":material/science:"),
        st.Page("pages/lesson.py", title="Lesson", icon=":material/school:"),
        st.Page("pages/board.py", title="Class board", icon=":material/leaderboard:"),
    ],
}

hidden = set(st.session_state.get("hidden_pages", []))  # pages an opened lesson hides
page = st.navigation({section: [p for p in pages if p.title not in hidden] for section, pages in PAGES.items()},
                     expanded=True)
keep_workspace_id_in_url()
sidebar()
show_flash()
try:
    page.run()
finally:
    save_workspace()  # what the page changed is kept, also when it stopped early or asked for a rerun
