"""A session's side of the teacher's class: joining it (Start and the sidebar), what the student's app reports to the
console, and the watcher that follows the teacher's steering (bring everyone to a page, pause, push a lesson).
The class lives in the database (``explorer.serve.teaching``), so the teacher may be on another replica.
Streamlit only; the teacher's own page is ``pages/teacher.py``."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import streamlit as st

from explorer import DATASETS, TrainConfig
from explorer.core import MAX_CLASS_NAME, MAX_CODE_CHARS, check_uploads_room
from explorer.lessons import Lesson, shortcut_dataset
from explorer.serve import ClassState, Progress, best_measured, shown_code
from pages._guide import label as path_label
from pages._guide import start_path
from pages._keys import CLASS, DATASET, DRAFT, HIDDEN, LAST_ERROR, LESSON, PAGE, TEACHER, TRAIN_CFG, UPLOADS, WS_ID
from pages._lang import reason, tr
from pages._nav import page_file
from pages._server import CLASS_POLL_S, workspace_store
from pages._state import flash, get_dataset, person_uploads, workspace

REPORT_EVERY_S = 10.0  # and writes its row at least this often (when nothing changed: "last seen")
STATE = "class_state"  # the ClassState read last (the pause, for the buttons it disables)
APPLIED = "class_applied"  # {"page": seq, "lesson": seq, "paused": message}: what this session has followed
REPORTED = "class_reported"  # (fingerprint, time) of the last report
FULL_RUN = "class_full_run"  # set while a whole-page run calls the watcher (no need to redraw the page then)


def member() -> dict[str, str] | None:
    """The class this student joined, with the name they joined under (read from the roster after a reload: the
    saved workspace keeps only the code). None when not in a class, or no longer."""
    m = st.session_state.get(CLASS)
    if not m or m.get("name") or workspace_store() is None:
        return m or None
    try:
        name = workspace_store().member_name(m["code"], st.session_state[WS_ID])
    except ValueError:  # the database is busy: the name comes at a later run
        return m
    if name is None:
        st.session_state.pop(CLASS, None)
        return None
    m["name"] = name
    return m


def class_code() -> str | None:
    """The class this session belongs to: the teacher's signed-in class, else the class the student joined."""
    return (st.session_state.get(TEACHER) or st.session_state.get(CLASS) or {}).get("code")


def paused() -> str | None:
    """The teacher's message while the class is paused (Train and the experiments are disabled), else None."""
    state = st.session_state.get(STATE)
    return state.paused if state is not None and st.session_state.get(CLASS) else None


def refuse_if_paused() -> bool:
    """True (and a sentence for the next run) when the class is paused: a start is refused, not only greyed."""
    message = paused()
    if message:
        flash(tr("Not started: your teacher paused the class ({message}).", message=message), "warning")
    return bool(message)


def join_box(where: Any, key: str, folded: bool = False) -> None:
    """Join a class with its code and a name (or say which class this session is in, with a way to leave);
    ``folded``: the form sits in an expander (the sidebar)."""
    store = workspace_store()
    if store is None or st.session_state.get(TEACHER):
        return
    joined = member()
    if joined:
        where.markdown(
            ":material/groups: "
            + tr("In class **{code}** as **{name}**", code=shown_code(joined["code"]), name=joined.get("name", "…"))
        )
        where.button(tr("Leave the class"), key=f"{key}-leave", on_click=_leave)
        return
    if folded:
        where = where.expander(tr("Join your class"), icon=":material/groups:")
    with where.form(f"{key}-join", border=not folded):
        if not folded:
            st.markdown("**" + tr("Join your class") + "**")
        c1, c2 = st.columns(2)
        code = c1.text_input(
            tr("Class code"), key=f"{key}-code", placeholder=tr("e.g. {code}", code="K7M-R4Q"), max_chars=MAX_CODE_CHARS
        )
        name = c2.text_input(
            tr("Your name"),
            key=f"{key}-name",
            max_chars=MAX_CLASS_NAME,
            placeholder=tr("e.g. Ada or a nickname"),
            help=tr(
                "What your teacher sees on the class's roster, unique in the class. A first "
                "name or a nickname is enough; it is deleted when the class ends."
            ),
        )
        if st.form_submit_button(tr("Join"), icon=":material/login:"):
            _join(code, name)


def _join(code: str, name: str) -> None:
    store = workspace_store()
    try:
        norm = store.join(code, name, st.session_state[WS_ID])
        state = store.class_state(norm)
    except ValueError as e:
        st.error(tr("Not joined: {reason}.", reason=reason(e)))
        return
    st.session_state[CLASS] = {"code": norm, "name": name.strip()}
    st.session_state[STATE] = state  # a latecomer is not sent to where the class was brought before
    st.session_state[APPLIED] = {"page": state.page_seq, "lesson": state.lesson_seq, "paused": state.paused}
    st.session_state.pop(REPORTED, None)
    flash(
        tr(
            "You joined class **{code}** as **{name}**: your teacher sees your progress (page, model, runs, best "
            "accuracy), never your drawings or files.",
            code=shown_code(norm),
            name=name.strip(),
        )
    )
    st.rerun()


def _leave() -> None:
    left = st.session_state.pop(CLASS, None)
    if left and workspace_store() is not None:
        try:
            workspace_store().leave(left["code"], st.session_state[WS_ID])
        except ValueError:
            pass
    st.session_state.pop(STATE, None)


def progress() -> Progress:
    """What this session's app shows, as the console's row."""
    ws = workspace()
    e = ws.entry()
    runs = ws.all_runs()
    state = st.session_state.get(STATE)
    best = best_measured(runs, state.dataset if state is not None else None, st.session_state.get(UPLOADS, {}))
    last = runs[-1].current().get("status", "") if runs else ""
    error = st.session_state.get(LAST_ERROR)
    return Progress(
        page=st.session_state.get(PAGE, ""),
        model=e.name if e else "",
        params=e.params if e else 0,
        runs=len(runs),
        run_state=last,
        best_accuracy=best,
        error=error[0] if error and time.time() - error[1] < 120 else "",
        path=path_label(),
    )


def report() -> None:
    """Write this student's row when it changed (or every :data:`REPORT_EVERY_S`); forget a class that ended."""
    joined, store = st.session_state.get(CLASS), workspace_store()
    if not joined or store is None:
        return
    p = progress()
    fp = json.dumps(p.cleaned(), sort_keys=True)
    last = st.session_state.get(REPORTED, ("", 0.0))
    if fp == last[0] and time.time() - last[1] < REPORT_EVERY_S:
        return
    try:
        still = store.report(joined["code"], st.session_state[WS_ID], p)
    except ValueError:  # the database is busy: the next poll tries again
        return
    st.session_state[REPORTED] = (fp, time.time())
    if not still:
        _class_ended(joined)


def _class_ended(joined: dict[str, str]) -> None:
    st.session_state.pop(CLASS, None)
    st.session_state.pop(STATE, None)
    flash(
        tr("Class **{code}** has ended: your work stays yours, under this page's link.", code=shown_code(joined["code"])),
        "info",
    )


def watch() -> None:
    """For a joined student: the class's pause banner, and the watcher that follows the teacher's steering."""
    if st.session_state.get(CLASS):
        st.session_state[FULL_RUN] = True  # this run draws the whole page: it already sees what the watcher read
        _watch()


@st.fragment(run_every=CLASS_POLL_S)
def _watch() -> None:
    joined, store = st.session_state.get(CLASS), workspace_store()
    full = st.session_state.pop(FULL_RUN, False)
    if not joined or store is None:
        return
    try:
        state = store.class_state(joined["code"])
    except ValueError:  # the database is busy: keep what we knew
        state = st.session_state.get(STATE)
    if state is None:
        _class_ended(joined)
        if not full:
            st.rerun(scope="app")
        return
    st.session_state[STATE] = state
    if state.paused:
        st.warning("**" + tr("Your teacher paused the class.") + "** " + state.paused, icon=":material/front_hand:")
        # (the teacher's own words, as written)
    report()
    _follow(state, full)


def _follow(state: ClassState, full: bool) -> None:
    """Do what the teacher asked since this session last looked: open a pushed lesson, go to a page, redraw the
    page when the pause began or ended (``full``: this run draws the whole page anyway)."""
    applied = st.session_state.setdefault(
        APPLIED, {"page": state.page_seq, "lesson": state.lesson_seq, "paused": state.paused}
    )
    if state.lesson_seq > applied["lesson"]:
        applied["lesson"] = state.lesson_seq
        _apply_pushed(state)
    if state.page_seq > applied["page"]:
        applied["page"] = state.page_seq
        target = page_file(state.page or "")
        if target and state.page not in st.session_state.get(HIDDEN, []):
            st.switch_page(target)
    if state.paused != applied["paused"]:  # Train and the experiments change state: the whole page redraws
        applied["paused"] = state.paused
        if not full:
            st.rerun(scope="app")


def _apply_pushed(state: ClassState) -> None:
    from explorer.lessons import parse_lesson

    try:
        lesson = parse_lesson((state.lesson or "").encode())
        apply_lesson(lesson)
    except ValueError as e:
        flash(tr("Your teacher's lesson could not be opened here: {reason}.", reason=reason(e)), "warning")
        return
    flash(tr("Your teacher opened the lesson **{title}** for the class.", title=lesson.title), "info")
    target = page_file(lesson.start)
    if target is not None and lesson.start not in ("Lesson", *lesson.hidden):
        st.switch_page(target)
    st.rerun(scope="app")


def apply_lesson(lesson: Lesson) -> None:
    """Open a lesson in this session: its dataset (a copy with its hidden cue, if it plants one), model, training
    settings and hidden pages. ValueError (a sentence) when this server cannot open it."""
    known = set(DATASETS) | set(st.session_state[UPLOADS])
    if lesson.dataset not in known:
        raise ValueError(
            f"this lesson uses the dataset {lesson.dataset!r}, which this app does not have here (an "
            "upload must be uploaded again first)"
        )
    dataset = lesson.dataset
    if lesson.shortcut:  # the class trains on a copy with a hidden cue; the original is never changed
        cued = shortcut_dataset(
            get_dataset(lesson.dataset), lesson.shortcut["class"], lesson.shortcut["cue"], lesson.shortcut["share"]
        )
        check_uploads_room(person_uploads(), cued)
        st.session_state[UPLOADS][cued.name] = cued
        dataset = cued.name
    st.session_state[DATASET] = dataset
    st.session_state[DRAFT] = copy.deepcopy(lesson.spec)
    st.session_state[TRAIN_CFG] = TrainConfig.from_dict(lesson.train).to_dict()
    st.session_state[HIDDEN] = list(lesson.hidden)
    st.session_state[LESSON] = {
        "title": lesson.title,
        "notes": lesson.notes,
        "shortcut": {**lesson.shortcut, "dataset": lesson.dataset} if lesson.shortcut else {},
    }
    workspace().add_model(copy.deepcopy(lesson.spec), lesson.spec.get("name") or lesson.title)
    if lesson.path:  # the lesson's guided path, from its first step
        start_path(lesson.path)
