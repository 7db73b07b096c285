"""Lesson: a teacher saves the class's starting point; students open it."""

from __future__ import annotations

import streamlit as st

from explorer.lessons import CUES, HIDEABLE_PAGES, START_PAGES, Lesson, lesson_to_json, parse_lesson
from pages._class import apply_lesson
from pages._keys import DATASET, DRAFT, HIDDEN, TRAIN_CFG
from pages._nav import page_file
from pages._server import leave_legacy_pages_routing  # noqa: E402
from pages._state import flash, get_dataset, workspace

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py


def shortcut_editor() -> dict:
    """A hidden cue for a lesson on "right for the wrong reason" (empty: none)."""
    with st.expander("Plant a hidden shortcut (a lesson on being right for the wrong reason)"):
        st.caption("A share of one class's images, in training and in the test split alike, get a cue the class "
                   "does not know about. Models score well; students find the cue with the tools (Draw's "
                   "attributions, Filter images' top 9, the confusion matrix), then reveal it on “Can we trust it?”. "
                   "The dataset itself is never changed: the class trains on a copy.")
        if not st.checkbox("Plant one", key="lesson_cue_on"):
            return {}
        ds = get_dataset(st.session_state[DATASET])
        c1, c2, c3 = st.columns(3)
        k = c1.selectbox("In class", range(ds.num_classes), format_func=lambda i: ds.classes[i], key="lesson_cue_cls")
        cue = c2.selectbox("Cue", CUES, key="lesson_cue")
        share = c3.slider("Share of its images", 0.1, 1.0, 0.9, 0.05, key="lesson_cue_share")
        return {"class": int(k), "cue": cue, "share": float(share)}


st.title("Lesson")
ws = workspace()

open_tab, save_tab = st.tabs(["Open a lesson", "Save this setup as a lesson"])
with open_tab:
    st.caption("Students: open the file your teacher gave you. It sets the dataset, the model, the training "
               "settings, and which pages are shown.")
    up = st.file_uploader("Lesson file (.json)", type=["json"], key="lesson_up")
    if up is not None and st.button("Open", type="primary"):
        try:
            lesson = parse_lesson(up.getvalue())
            was_hidden = set(st.session_state.get(HIDDEN, []))  # this run's menu: a page it hides cannot be opened
            apply_lesson(lesson)
            flash(f"Lesson **{lesson.title}** is open.")
            target = page_file(lesson.start)
            if target is not None and lesson.start not in ("Lesson", *was_hidden):
                st.switch_page(target)  # the class opens where the teacher chose
            st.rerun()
        except ValueError as e:
            st.error(f"Not opened: {e}")
    if st.session_state.get(HIDDEN):
        if st.button("Show all pages again"):
            st.session_state[HIDDEN] = []
            st.rerun()

with save_tab:
    entry = ws.entry()
    spec = entry.spec if entry else st.session_state[DRAFT]
    st.caption(f"Saves the dataset **{st.session_state[DATASET]}**, the model "
               f"**{entry.name if entry else spec.get('name', 'from Build')}**, and the Train page's settings.")
    title = st.text_input("Title", value="CNN lesson", key="lesson_title")
    notes = st.text_area("Notes for the students", key="lesson_notes",
                         placeholder="e.g. Train the one-conv model, then look at its kernels. What did it learn?")
    hidden = st.multiselect("Hide these pages", HIDEABLE_PAGES, key="lesson_hidden")
    shortcut = shortcut_editor()
    start = st.selectbox("Students start on", [p for p in START_PAGES if p not in hidden], key="lesson_start",
                         help="The page the class opens on, e.g. “Can we trust it?” for a lesson on confidence.")
    try:
        text = lesson_to_json(Lesson(title, st.session_state[DATASET], spec, st.session_state[TRAIN_CFG], hidden,
                                     notes, "", start, shortcut))
        st.download_button("Download the lesson file", text, file_name=f"{title or 'lesson'}.json",
                           mime="application/json", icon=":material/download:", on_click="ignore")
    except ValueError as e:
        st.error(f"This setup cannot be saved as a lesson: {e}")
    st.caption("To give it to a class at once, push it from the **Teacher** page: every student who joined your "
               "class gets it within a few seconds.")
