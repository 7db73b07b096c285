"""The session's start on every page: its workspace, torch's threads, the sidebar, the person's cookie, the
guided path's panel, messages left for this run, the class's watcher, and the warm-up line.
"""

from __future__ import annotations

import streamlit as st

from pages._class import watch
from pages._guide import path_panel
from pages._lang import tr
from pages._person import keep_cookies_off_in_url, remember_person
from pages._server import (
    WARMUP_POLL_S,
    redraw_while,
    server,
    set_torch_threads,
)
from pages._sidebar import sidebar
from pages._state import (
    init_session,
    keep_workspace_id_in_url,
    show_flash,
)


def start_session() -> None:
    """What every page needs before it draws: the session (its workspace, from the URL or new), torch's threads,
    the sidebar, the person's cookie, messages left for this run, the class's watcher, the warm-up line.
    ``app.py`` calls it before a page; Start calls it itself after its first words and button, so a newcomer has
    them before torch loads."""
    init_session()
    set_torch_threads()
    keep_workspace_id_in_url()
    keep_cookies_off_in_url()
    sidebar()
    remember_person()
    # One place at the page's top, whatever it holds in this run, so the page's own parts keep theirs: a part
    # drawn in another place is drawn anew, and the drawing pad would lose its strokes when a message here goes.
    with st.container(key="session_top"):
        path_panel()  # the guided path, at the top of the page: checked against what this run's state shows
        show_flash(top=True)  # (a step just completed says so here)
        watch()  # a student in a class: the teacher's pause banner, and their steering followed about once a second
        warmup_notice()


def warmup_notice() -> None:
    """While the server warms up (the first seconds after it starts), one line says what it is doing; a run
    asked for meanwhile waits for the workers and then starts by itself."""
    srv = server()
    if srv.ready:
        return

    @redraw_while(lambda: not srv.ready, WARMUP_POLL_S)
    def _line() -> None:
        if not srv.ready:
            st.caption(
                ":material/hourglass_top: "
                + tr(
                    "Getting the trainer ready (once, when the app starts). You "
                    "can look around meanwhile; a run you start waits for it."
                )
            )

    _line()
