"""Lesson: a teacher saves the class's starting point; students open it."""

from __future__ import annotations

import streamlit as st

from explorer.core import MAX_LESSON_BYTES
from explorer.lessons import CUES, HIDEABLE_PAGES, START_PAGES, Lesson, lesson_to_json, parse_lesson
from pages._class import apply_lesson
from pages._keys import DATASET, DRAFT, HIDDEN, TRAIN_CFG
from pages._lang import file_upload, fixed_labels, reason, tr
from pages._nav import page_file
from pages._server import leave_legacy_pages_routing  # noqa: E402
from pages._state import flash, get_dataset, workspace

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py


def shortcut_editor() -> dict:
    """A hidden cue for a lesson on "right for the wrong reason" (empty: none)."""
    with st.expander(tr("Plant a hidden shortcut (a lesson on being right for the wrong reason)")):
        st.caption(
            tr(
                "A share of one class's images, in training and in the test split alike, get a cue the class "
                "does not know about. Models score well; students find the cue with the tools (the "
                "attributions on **{draw}**, the top 9 on **{filters}**, the confusion matrix), then reveal it "
                "on **{trust}**. The dataset itself is never changed: the class trains on a copy.",
                draw=tr("Draw a digit"),
                filters=tr("Filter images"),
                trust=tr("Can we trust it?"),
            )
        )
        if not st.checkbox(tr("Plant one"), key="lesson_cue_on"):
            return {}
        ds = get_dataset(st.session_state[DATASET])
        c1, c2, c3 = st.columns(3)
        k = c1.selectbox(tr("In class"), range(ds.num_classes), format_func=lambda i: ds.classes[i], key="lesson_cue_cls")
        cue = c2.selectbox(tr("Cue"), CUES, key="lesson_cue", format_func=fixed_labels(tr))
        share = c3.slider(tr("Share of its images"), 0.1, 1.0, 0.9, 0.05, key="lesson_cue_share")
        return {"class": int(k), "cue": cue, "share": float(share)}


st.title(tr("Lesson"))
ws = workspace()

open_tab, save_tab = st.tabs([tr("Open a lesson"), tr("Save this setup as a lesson")])
with open_tab:
    st.caption(
        tr(
            "Students: open the file your teacher gave you. It sets the dataset, the model, the training "
            "settings, and which pages are shown."
        )
    )
    up = file_upload(tr("Lesson file (.json)"), ["json"], "lesson_up", MAX_LESSON_BYTES)
    if up is not None and st.button(tr("Open"), type="primary"):
        try:
            lesson = parse_lesson(up.getvalue())
            was_hidden = set(st.session_state.get(HIDDEN, []))  # this run's menu: a page it hides cannot be opened
            apply_lesson(lesson)
            flash(tr("Lesson **{title}** is open.", title=lesson.title))
            target = page_file(lesson.start)
            if target is not None and lesson.start not in ("Lesson", *was_hidden):
                st.switch_page(target)  # the class opens where the teacher chose
            st.rerun()
        except ValueError as e:
            st.error(tr("Not opened: {error}", error=reason(e)))
    if st.session_state.get(HIDDEN):
        if st.button(tr("Show all pages again")):
            st.session_state[HIDDEN] = []
            st.rerun()

with save_tab:
    entry = ws.entry()
    spec = entry.spec if entry else st.session_state[DRAFT]
    st.caption(
        tr(
            "Saves the dataset **{dataset}**, the model **{model}**, and the settings on **{train}**.",
            dataset=st.session_state[DATASET],
            model=entry.name if entry else spec.get("name", "my-cnn"),
            train=tr("Train"),
        )
    )
    title = st.text_input(tr("Title"), value="CNN lesson", key="lesson_title")
    notes = st.text_area(
        tr("Notes for the students"),
        key="lesson_notes",
        placeholder=tr("e.g. Train the one-conv model, then look at its kernels. What did it learn?"),
    )
    hidden = st.multiselect(tr("Hide these pages"), HIDEABLE_PAGES, key="lesson_hidden", format_func=fixed_labels(tr))
    shortcut = shortcut_editor()
    start = st.selectbox(
        tr("Students start on"),
        [p for p in START_PAGES if p not in hidden],
        key="lesson_start",
        format_func=fixed_labels(tr),
        help=tr("The page the class opens on, e.g. **{trust}** for a lesson on confidence.", trust=tr("Can we trust it?")),
    )
    try:
        text = lesson_to_json(
            Lesson(title, st.session_state[DATASET], spec, st.session_state[TRAIN_CFG], hidden, notes, "", start, shortcut)
        )
        st.download_button(
            tr("Download the lesson file"),
            text,
            file_name=f"{title or 'lesson'}.json",
            mime="application/json",
            icon=":material/download:",
            on_click="ignore",
        )
    except ValueError as e:
        st.error(tr("This setup cannot be saved as a lesson: {error}", error=reason(e)))
    st.caption(
        tr(
            "To give it to a class at once, push it from **{teacher}**: every student who joined your class "
            "gets it within a few seconds.",
            teacher=tr("Teacher"),
        )
    )
