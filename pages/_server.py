"""The app's side of its server: the one ``explorer.serve.Server`` of this process (workers, database, datasets,
the warm-up), given what only Streamlit's runtime knows (which sessions live); the session's id; the named redraw
intervals; the legacy-routing guard every page calls.

Light to import: ``app.py`` imports this module and draws the menu before torch is loaded. The warm-up starts with
the server's first script run and no session waits for it unless it needs what it makes: the Start page draws at
once, and a first run waits for the workers ("getting the trainer ready…").
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

import streamlit as st

from pages._keys import UNASKED

if TYPE_CHECKING:
    from explorer.serve import Cluster, Presence, Server, WorkspaceStore

__all__ = [
    "server",
    "cluster",
    "presence",
    "workspace_store",
    "session_id",
    "session_alive",
    "set_torch_threads",
    "freeze_startup_heap",
    "leave_legacy_pages_routing",
    "redraw_while",
    "rerun_unasked",
    "REFRESH_S",
    "JOB_POLL_S",
    "WARMUP_POLL_S",
    "VIEW_REFRESH_S",
    "BOARD_REFRESH_S",
    "CLASS_POLL_S",
]


# How often a session's live parts ask the server, in one place (a fragment's run_every): with the class's size,
# what sets the server's load per minute
REFRESH_S = 1.0  # a training run's live charts: cheap for the trainer, lively for the eye
JOB_POLL_S = 0.5  # a running job's progress bar (filter images, experiments, the trust page's jobs)
WARMUP_POLL_S = 0.5  # the line that says what the server's warm-up is doing
VIEW_REFRESH_S = 2.0  # a look-inside view of a model that trains (its latest weights)
BOARD_REFRESH_S = 3.0  # the class board (light rows: name, accuracy, parameters, time)
CLASS_POLL_S = 1.5  # a joined student's app reads its class's row (the teacher's steering, the pause)


def rerun_unasked() -> NoReturn:
    """Draw the whole page again for a reason the student did not give (a run or a job ended, the server is
    ready): the messages the last run showed at the page's top are shown again (:func:`pages._state.show_flash`),
    so what the student was reading, and the page under it, stay where they were."""
    st.session_state[UNASKED] = True
    st.rerun()


def redraw_while(going: Callable[[], bool], every: float) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """A part of a page as a fragment (a decorator) that redraws itself every ``every`` seconds while ``going()``
    (a run trains, the server warms up). When it stops, the whole page is drawn once more: a fragment's timer lives
    in the browser until the page's next full run, so without it an open page would go on asking the server."""
    polling = going()

    def fragment(part: Callable[[], None]) -> Callable[[], None]:
        @functools.wraps(part)
        def redrawn() -> None:
            if polling and not going():
                rerun_unasked()
            part()

        return st.fragment(run_every=every if polling else None)(redrawn)

    return fragment


def leave_legacy_pages_routing() -> None:
    """Make ``app.py``'s ``st.navigation`` the only router, from this run on.

    A server with a ``pages/`` folder beside its entry file routes its very first script run the legacy way
    (Streamlit's ``PagesManager.uses_pages_directory``, set when the first session opens): a page's address
    typed into a freshly started server runs that page file alone, without ``app.py``'s frame. A page that
    finds itself run that way calls this, and the rerun goes through ``app.py`` to the same page. (The legacy
    menu itself is hidden by ``client.showSidebarNavigation = false`` in ``.streamlit/config.toml``.)
    """
    from streamlit import runtime
    from streamlit.runtime.pages_manager import PagesManager

    if not runtime.exists() or type(runtime.get_instance()) is not runtime.Runtime:
        return  # AppTest (its runtime is a stand-in) runs page files alone after switch_page, by design
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def set_torch_threads() -> None:
    """Leave one core to the server: with every core busy training, torch's OpenMP threads spin against the
    server's own work and training slows several-fold (measured: 8.8k -> 2.6k samples/s on 2 cores).
    ``EXPLORER_TORCH_THREADS`` overrides."""
    import torch

    want = int(os.environ.get("EXPLORER_TORCH_THREADS") or max(1, (os.cpu_count() or 2) - 1))
    if torch.get_num_threads() != want:
        torch.set_num_threads(want)


def _import_heavy() -> None:
    import captum.attr  # noqa: F401

    # pandas once, here: plotly takes it from sys.modules when it first validates an array, and two sessions that
    # draw their first figure while a third imports it met a half-imported pandas ("no attribute 'Series'")
    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401
    import ray  # noqa: F401
    import torch  # noqa: F401

    import explorer  # noqa: F401
    from explorer.serve import Cluster, WorkspaceStore  # noqa: F401  (the lazy face loads their modules)


@st.cache_resource(show_spinner=False)
def freeze_startup_heap() -> bool:
    """Once per server process: move what the imports made (torch, Ray, plotly: about 360k objects) out of the
    garbage collector's sight. A full collection then takes well under a millisecond instead of about 165 ms,
    so the collections Python still runs now and then cannot stall a stroke's answer. Streamlit's own collection
    after every script run is switched off in ``.streamlit/config.toml`` (``runner.postScriptGC``).
    ``EXPLORER_GC_FREEZE=0`` leaves the heap as it is (the pen benchmark compares both)."""
    import gc

    if os.environ.get("EXPLORER_GC_FREEZE", "1") == "0":
        return False
    _import_heavy()  # here, not at the first drawing: their objects are frozen too
    gc.collect()
    gc.freeze()
    return True


def session_id() -> str:
    """This browser session's id: the owner of its jobs on the cluster (and of its runs when nothing is saved)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"


def session_alive(session: str) -> bool:
    """Whether Streamlit still keeps ``session`` (connected, or within its reconnect grace, 2 minutes).

    Outside a running server (AppTest, a notebook) there is nothing to ask: every owner counts as alive."""
    from streamlit import runtime

    if not runtime.exists():
        return True
    mgr = getattr(runtime.get_instance(), "_session_mgr", None)
    return mgr is None or mgr.get_session_info(session) is not None


@st.cache_resource(show_spinner=False)
def server() -> Server:
    """The one :class:`Server` of this process, shared by all sessions (``explorer.serve.Server``: it asks this
    runtime which sessions live, and freezes the startup heap once its warm-up has imported the heavy parts)."""
    from explorer.serve import Server

    return Server(session_alive, freeze_startup_heap)


def cluster() -> Cluster | None:
    return server().cluster()


def presence() -> Presence:
    return server().presence()


def workspace_store() -> WorkspaceStore | None:
    return server().store()
