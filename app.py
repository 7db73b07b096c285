"""CNN Explorer: build a convolutional network, train it live, look inside it.

Entry only: page config, the menu, the session, navigation. The menu is drawn before anything heavy is imported,
and so are Start's first words and its button (Start opens the session itself, after them); the server's
workers warm up in the background (``pages/_server.py``).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from pages._keys import CLASS, HIDDEN, PAGE
from pages._lang import language_picker, page_language
from pages._nav import PAGE_STYLE, is_start, menu, page_title, pages
from pages._server import server

# the tab's icon is a file of ours: a Material icon there is fetched from Google's font server by every browser
st.set_page_config(page_title="CNN Explorer", page_icon=str(Path(__file__).with_name("assets") / "icon.png"), layout="wide")
sections = pages(set(st.session_state.get(HIDDEN, [])))  # read before torch loads
page = st.navigation(sections, position="hidden")
menu(sections)  # in the session's language (the browser's, or the one picked below it)
language_picker()
page_language()  # the page's lang and dir; the live parts kept from a browser's own translation
st.html(PAGE_STYLE)  # styles only (reduced motion, the charts' toolbar): it takes no room on the page
server().warm_up()  # once per server (server.py starts it at the launch; this is for `streamlit run app.py`)
st.session_state[PAGE] = page_title(page)  # what a student's row on the teacher's roster says
joined = bool(st.session_state.get(CLASS))  # this student joined a teacher's class
try:
    if not is_start(page):
        from pages._session import start_session  # torch loads here, after the menu is on screen

        start_session()  # (with the class's pause banner and its watcher, for a student who joined one)
    page.run()
finally:
    from pages._state import save_workspace

    save_workspace()  # what the page changed is kept, also when it stopped early or asked for a rerun
    if joined:
        from pages._class import report

        report()  # the teacher's roster sees this page and this model
    server().page_drawn()  # the warm-up may start the workers now
