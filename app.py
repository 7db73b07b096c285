"""CNN Explorer: build a convolutional network, train it live, look inside it.

Entry only: page config, the menu, session defaults, the shared sidebar and navigation. The menu is drawn before
anything heavy is imported, and the server's workers warm up in the background (``pages/_server.py``).
"""

from __future__ import annotations

import streamlit as st

from pages._nav import menu, pages
from pages._server import server, set_torch_threads

st.set_page_config(page_title="CNN Explorer", page_icon=":material/neurology:", layout="wide")
sections = pages(set(st.session_state.get("hidden_pages", [])))  # _state.HIDDEN, read before torch loads
page = st.navigation(sections, position="hidden")
menu(sections)
server().warm_up()  # once per server: imports, Ray and the embedded digits, in the background

# torch loads here, after the menu is on screen
from pages._state import (  # noqa: E402
    init_session,
    keep_workspace_id_in_url,
    remember_person,
    save_workspace,
    show_flash,
)
from pages._widgets import sidebar, warmup_notice  # noqa: E402

init_session()
set_torch_threads()
keep_workspace_id_in_url()
sidebar()
remember_person()
show_flash()
warmup_notice()
try:
    page.run()
finally:
    save_workspace()  # what the page changed is kept, also when it stopped early or asked for a rerun
    server().page_drawn()  # the warm-up may start the workers now
