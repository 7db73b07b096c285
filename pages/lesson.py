"""Lesson: a teacher saves the class's starting point; students open it."""

from __future__ import annotations

import copy

import streamlit as st

from explorer import DATASETS, TrainConfig
from explorer.core import check_uploads_room
from explorer.lessons import CUES, HIDEABLE_PAGES, START_PAGES, Lesson, lesson_to_json, parse_lesson, shortcut_dataset
from pages._nav import page_file
from pages._server import workspace_store
from pages._state import (
    DATASET,
    DRAFT,
    HIDDEN,
    LESSON,
    TRAIN_CFG,
    UPLOADS,
    flash,
    get_dataset,
    person_uploads,
    workspace,
)

KEYS = "teacher_keys"  # class code -> the key this session was given (shown again while the tab lives)


def teacher_key(code: str) -> None:
    """The teacher's key to the class board of ``code``: made once, shown to this teacher, never in the file."""
    store = workspace_store()
    if store is None:
        return
    keys = st.session_state.setdefault(KEYS, {})
    if code not in keys:
        if st.button("Get the teacher key of this class board", key="lesson_claim",
                     help="With it, the Class board page can hide an entry or clear the board."):
            try:
                key = store.claim_class(code)
            except ValueError as e:
                st.error(str(e))
                return
            if key is None:
                st.warning(f"The class code **{code}** has a teacher key already: yours from before, or another "
                           "teacher's. If it is not yours, pick another code.")
                return
            keys[code] = key
    if code in keys:
        st.code(keys[code], language=None)
        st.caption(f"The teacher key of **{code}**'s board: keep it. It is not in the lesson file, and it is shown "
                   "only here, now. On the Class board it lets you hide an entry or clear the board.")


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
            known = set(DATASETS) | set(st.session_state[UPLOADS])
            if lesson.dataset not in known:
                raise ValueError(f"this lesson uses the dataset {lesson.dataset!r}, which this server does not "
                                 "have (an upload must be uploaded again first)")
            was_hidden = set(st.session_state.get(HIDDEN, []))  # this run's menu: a page it hides cannot be opened
            dataset = lesson.dataset
            if lesson.shortcut:  # the class trains on a copy with a hidden cue; the original is never changed
                cued = shortcut_dataset(get_dataset(lesson.dataset), lesson.shortcut["class"], lesson.shortcut["cue"],
                                        lesson.shortcut["share"])
                check_uploads_room(person_uploads(), cued)
                st.session_state[UPLOADS][cued.name] = cued
                dataset = cued.name
            st.session_state[DATASET] = dataset
            st.session_state[DRAFT] = copy.deepcopy(lesson.spec)
            st.session_state[TRAIN_CFG] = TrainConfig.from_dict(lesson.train).to_dict()
            st.session_state[HIDDEN] = list(lesson.hidden)
            st.session_state[LESSON] = {"title": lesson.title, "notes": lesson.notes, "class_code": lesson.class_code,
                                        "shortcut": {**lesson.shortcut, "dataset": lesson.dataset} if lesson.shortcut
                                        else {}}
            ws.add_model(copy.deepcopy(lesson.spec), lesson.spec.get("name") or lesson.title)
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
    code = st.text_input("Class code (optional)", key="lesson_code", placeholder="e.g. 7B-cnn",
                         help="Students who open this lesson can publish their runs to this class's board; you "
                              "project the board (Lessons → Class board). Only what they publish is shown.")
    try:
        text = lesson_to_json(Lesson(title, st.session_state[DATASET], spec, st.session_state[TRAIN_CFG], hidden,
                                     notes, code.strip(), start, shortcut))
        st.download_button("Download the lesson file", text, file_name=f"{title or 'lesson'}.json",
                           mime="application/json", icon=":material/download:", on_click="ignore")
    except ValueError as e:
        st.error(f"This setup cannot be saved as a lesson: {e}")
    if code.strip():
        teacher_key(code.strip())
