"""A session's side of the guided path (``explorer.lessons.path``): the panel at the top of every page (step k of
N, its words, its goal, Skip), the highlight on the element the step speaks of, what the pages record of what the
student did (``did``), and the check after every run. The path's progress is saved with the workspace.
Streamlit only."""

from __future__ import annotations

import streamlit as st

from explorer.lessons import Learner, PathProgress, RunFacts, Step, advance, load_path, parse_steps
from pages._nav import page_file
from pages._state import PATH, flash, workspace

PAGE = "current_page"  # the page this run draws (app.py sets it)
STEPS = "guided_path_steps"  # (the path's name or a lesson's steps, its parsed steps): read once per session
HIGHLIGHT = ("<style>.st-key-{key} {{ outline: 3px solid #b3202a; outline-offset: 6px; border-radius: 8px; }}"
             "</style>")  # the step's element: a red ring (3:1 against the page and the widget both)


def start_path(name: str | list = "lecture") -> None:
    """Start a path (a built-in one by name, or a lesson's own steps) from its first step."""
    st.session_state[PATH] = {"name": name, "done": [], "skipped": [], "pages": [], "events": []}


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


def did(event: str) -> None:
    """Record what the student did on a page (``drew``, ``kernels``, ``experiment:rot`` …) for the path's checks."""
    state = st.session_state.get(PATH)
    if state is not None and event not in state["events"]:
        state["events"].append(event)


def learner() -> Learner:
    """The student's own state, as the checks read it."""
    state = st.session_state[PATH]
    runs = tuple(RunFacts.of(e.spec, r.dataset, r.current()) for e in workspace().models.values() for r in e.runs)
    return Learner(runs, frozenset(state["pages"]), frozenset(state["events"]))


def label() -> str:
    """Where the student is, for the teacher's roster ("4/13"), or "" off the path."""
    all_steps = steps()
    state = st.session_state.get(PATH)
    return PathProgress(state["done"], state["skipped"]).label(all_steps) if all_steps and state else ""


def path_panel() -> None:
    """After every run: record the page, complete what the student's state now shows, and draw the panel."""
    all_steps, state = steps(), st.session_state.get(PATH)
    if not all_steps or not state:
        return
    page = st.session_state.get(PAGE, "")
    if page and page not in state["pages"]:
        state["pages"].append(page)
    progress = PathProgress(state["done"], state["skipped"])
    for s in advance(all_steps, progress, learner()):
        flash(f"Step **{s.title}** done: {s.goal}.")
    _draw(all_steps, progress, page)


def _draw(all_steps: list[Step], progress: PathProgress, page: str) -> None:
    """The panel at the top of the page: the step, its words and goal, where to go, Skip and Leave."""
    i = progress.current(all_steps)
    with st.container(border=True, key="path_panel"):
        if i >= len(all_steps):
            c1, c2 = st.columns([5, 2], vertical_alignment="center")
            c1.markdown(f":material/flag: **The lecture's path is complete**: {len(progress.done)} of "
                        f"{len(all_steps)} steps done by what you did.")
            c2.button("Leave the path", key="path_leave", on_click=st.session_state.pop, args=(PATH,))
            return
        step = all_steps[i]
        c1, c2 = st.columns([5, 2])
        c1.markdown(f":material/route: **Step {i + 1} of {len(all_steps)} · {step.title}**  \n{step.text}")
        c1.caption(f"Goal: {step.goal}. The step completes by itself when it holds.")
        with c2:
            if step.page != page and (target := page_file(step.page)):
                st.page_link(target, label=f"Open {step.page}", icon=":material/arrow_forward:")
            st.button("Skip this step", key="path_skip", on_click=_skip, args=(step.id,))
            st.button("Leave the path", key="path_leave", on_click=st.session_state.pop, args=(PATH,))
    if step.page == page:
        st.html(HIGHLIGHT.format(key=step.element))


def _skip(step_id: str) -> None:
    st.session_state[PATH]["skipped"].append(step_id)
