"""A session's side of the guided path (``explorer.lessons.path``): the panel at the top of every page (step k of
N, its words, the student's own figures, its goal, Back, Skip), the highlight on the element the step speaks of,
what the pages record of what the student did (``did``), and the check after every run. A step counts only what
happened after it was shown as the current step, one step per run. The path's progress is saved with the
workspace. Streamlit only."""

from __future__ import annotations

import streamlit as st

from explorer.i18n import N_
from explorer.lessons import (
    PATH_TITLES,
    Learner,
    PathProgress,
    RunFacts,
    Step,
    advance,
    load_path,
    model_sentence,
    parse_steps,
    pass_target,
    shown_text,
)
from pages._keys import DATASET, PAGE, PATH
from pages._lang import tr, translate
from pages._nav import page_file
from pages._state import flash, workspace

STEPS = "guided_path_steps"  # (the path's name or a lesson's steps, its parsed steps): read once per session
VIEW = "guided_path_view"  # the step Back shows again (an index), while the student re-reads it
TEACHERS_PATH = N_("your teacher's path")
HIGHLIGHT = (
    "<style>.st-key-{key} {{ outline: 3px solid #b3202a; outline-offset: 6px; border-radius: 8px; }}"
    "</style>"
)  # the step's element: a red ring (3:1 against the page and the widget both)


def start_path(name: str | list = "lecture") -> None:
    """Start a path (a built-in one by name, or a lesson's own steps) from its first step."""
    st.session_state[PATH] = {"name": name, "done": [], "skipped": [], "pages": {}, "events": {}, "shown": {}, "clock": 0}
    st.session_state.pop(VIEW, None)


def _state() -> dict | None:
    """This session's path state, brought to the current form (pages and events with the tick they last
    happened at; a state saved before has lists, read as 'long ago')."""
    state = st.session_state.get(PATH)
    if not state:
        return None
    for k in ("pages", "events"):
        if not isinstance(state.get(k), dict):
            state[k] = dict.fromkeys(state.get(k) or [], 0)
    state.setdefault("shown", {})
    state.setdefault("clock", 0)
    return state


def title() -> str:
    """The path's name as a student reads it ("The lecture", "Can we trust it?", "your teacher's path")."""
    state = st.session_state.get(PATH)
    name = state["name"] if state else ""
    return tr(PATH_TITLES.get(name, name)) if isinstance(name, str) else tr(TEACHERS_PATH)


def steps() -> list[Step]:
    """The steps of this session's path ([] when it follows none, or its path cannot be read any more). Read and
    checked once per session and path (the panel, Start and the roster's report each ask on every run)."""
    state = st.session_state.get(PATH)
    if not state:
        return []
    cached = st.session_state.get(STEPS)
    if cached is not None and cached[0] == state["name"]:
        return cached[1]
    try:
        found = load_path(state["name"]) if isinstance(state["name"], str) else parse_steps(state["name"])
    except ValueError:
        found = []
    st.session_state[STEPS] = (state["name"], found)
    return found


def _tick(state: dict) -> int:
    state["clock"] = int(state.get("clock", 0)) + 1
    return state["clock"]


def did(event: str) -> None:
    """Record what the student did on a page (``drew``, ``kernels``, ``experiment:rot`` …) for the path's checks,
    with the moment it happened (only what happens after a step was shown counts for it)."""
    state = _state()
    if state is not None:
        state["events"][event] = _tick(state)


def learner() -> Learner:
    """The student's own state, as the checks read it (runs whose history came with a loaded file are claimed,
    not measured here, and count for nothing)."""
    state = _state()
    runs = tuple(
        RunFacts.of(e.spec, r.dataset, r.current(), str(r.id), r.config) for e in workspace().models.values() for r in e.runs
    )
    return Learner(runs, dict(state["pages"]), dict(state["events"]))


def label() -> str:
    """Where the student is, for the teacher's roster ("The lecture 4/19"), or "" off the path."""
    all_steps = steps()
    state = st.session_state.get(PATH)
    return f"{title()} {PathProgress(state['done'], state['skipped']).label(all_steps)}" if all_steps and state else ""


def path_panel() -> None:
    """After every run: complete the current step if what the student did since it was shown meets its goal (one
    step per run), mark the step now current as shown, record the page, and draw the panel."""
    all_steps, state = steps(), _state()
    if not all_steps or not state:
        return
    page = st.session_state.get(PAGE, "")
    progress = PathProgress(state["done"], state["skipped"], state["shown"])
    student = learner()
    for s in advance(all_steps, progress, student):
        flash(tr("Step **{title}** done: {goal}.", title=shown_text(tr(s.title)), goal=shown_text(tr(s.goal))))
        st.session_state.pop(VIEW, None)
    progress.show(all_steps, student, _tick(state))  # what the student does from now on counts for this step
    if page:  # after the mark: this page, with the step's words on it, counts for the step
        state["pages"][page] = _tick(state)
    _draw(all_steps, progress, page)


def _draw(all_steps: list[Step], progress: PathProgress, page: str) -> None:
    """The panel at the top of the page: the step, its words, the student's own figures, its goal, where to go,
    Back, Skip and Leave."""
    i = progress.current(all_steps)
    view = st.session_state.get(VIEW)
    with st.container(border=True, key="path_panel"):
        if view is not None and 0 <= view < i:
            _draw_again(all_steps, view, i)
            return
        if i >= len(all_steps):
            _draw_complete(len(all_steps), len(progress.done))
            return
        step = all_steps[i]
        c1, c2 = st.columns([5, 2])
        c1.markdown(
            ":material/route: "
            + tr(
                "**{path} · step {k} of {n} · {title}**",
                path=title(),
                k=i + 1,
                n=len(all_steps),
                title=shown_text(tr(step.title)),
            )
            + f"  \n{shown_text(tr(step.text))}"
        )
        entry = workspace().entry()
        if entry is not None and (mine := model_sentence(entry.spec, translate(), entry.name)):
            c1.caption(mine)
        target = (
            " " + tr("On {dataset}, the target is {target}.", dataset=ds, target=translate().percent(pass_target(ds), 0))
            if step.check == "passed_98" and (ds := st.session_state.get(DATASET))
            else ""
        )
        c1.caption(
            tr("Goal: {goal}.", goal=shown_text(tr(step.goal)))
            + target
            + " "
            + tr("The step completes by itself when you have done it.")
        )
        with c2:
            if step.page != page and (target := page_file(step.page)):
                st.page_link(target, label=tr("Open {page}", page=tr(step.page)), icon=":material/arrow_forward:")
            _back(i)
            st.button(tr("Skip this step"), key="path_skip", on_click=_skip, args=(step.id,))
            if page != "Glossary":
                st.page_link(
                    "pages/glossary.py",
                    label=tr("Glossary"),
                    icon=":material/menu_book:",
                    help=tr("The words of the course, one meaning each"),
                )
            st.button(tr("Leave the path"), key="path_leave", on_click=_leave)
    if step.page == page:
        st.html(HIGHLIGHT.format(key=step.element))


def _draw_complete(n: int, done: int) -> None:
    """The panel once every step is behind the student: how many they did, Back and Leave."""
    c1, c2 = st.columns([5, 2], vertical_alignment="center")
    c1.markdown(
        ":material/flag: "
        + tr("**{path}: the path is complete**: {done} of {n} steps done by what you did.", path=title(), done=done, n=n)
    )
    with c2:
        _back(n)
        st.button(tr("Leave the path"), key="path_leave", on_click=_leave)


def _draw_again(all_steps: list[Step], view: int, current: int) -> None:
    """A step done before, shown again by Back: its words, and the ways back to where the student is."""
    step = all_steps[view]
    c1, c2 = st.columns([5, 2])
    c1.markdown(
        ":material/history: "
        + tr("**Step {k} of {n} · {title}** (done)", k=view + 1, n=len(all_steps), title=shown_text(tr(step.title)))
        + f"  \n{shown_text(tr(step.text))}"
    )
    with c2:
        _back(view)
        st.button(
            tr("Return to step {k}", k=current + 1) if current < len(all_steps) else tr("Return to the end"),
            key="path_return",
            on_click=st.session_state.pop,
            args=(VIEW, None),
            icon=":material/redo:",
        )


def _back(i: int) -> None:
    """Back: show the step before ``i`` again (its words; nothing is undone)."""
    if i > 0:
        st.button(
            tr("Back"),
            key="path_back",
            on_click=st.session_state.__setitem__,
            args=(VIEW, i - 1),
            icon=":material/undo:",
            help=tr("Read the step before again; what you did stays done."),
        )


def _skip(step_id: str) -> None:
    st.session_state[PATH]["skipped"].append(step_id)


def _leave() -> None:
    st.session_state.pop(PATH, None)
    st.session_state.pop(VIEW, None)
