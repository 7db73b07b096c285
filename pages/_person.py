"""Who a tab is: the person whose limits it counts against, and the person who owns what it saves.

A browser's tabs share one person: the one its signed cookie names. A first visit has no cookie yet; its tab
makes a new person and gives the browser the cookie (a small script). When the browser does not keep it (cookies
refused), the script sends the tab to ``?cookies=off``: such tabs count against one shared person
(``COOKIELESS``), so that refusing the cookie does not multiply anyone's limits, and a line in the sidebar says why
and how to have limits of one's own. What such a tab saves still belongs to its own workspace (``OWNER``): one
cookieless browser never sees another's work on **My data**.
"""

from __future__ import annotations

import json

import streamlit as st

from explorer.serve import COOKIELESS, PERSON_COOKIE
from pages._keys import OWNER, PERSON, PERSON_SET, WS_VERSION
from pages._lang import tr
from pages._server import server

COOKIES_OFF = "cookies"  # the query parameter (``?cookies=off``) of a tab whose browser does not keep the cookie
COOKIE_DAYS = 30


def _cookie_token() -> str | None:
    try:
        return st.context.cookies.get(PERSON_COOKIE)
    except Exception:  # noqa: BLE001 - no request behind this run (a test): no cookie
        return None


def _has_request() -> bool:
    """Whether a browser's request is behind this session (AppTest's sessions have none: no headers)."""
    try:
        return bool(st.context.headers)
    except Exception:  # noqa: BLE001 - no request behind this run
        return False


def identify(ws_id: str | None) -> None:
    """Set this session's ``PERSON`` (whose limits) and ``OWNER`` (whose saved work): the cookie's person; for a
    browser that keeps no cookie, the shared ``COOKIELESS`` and this workspace; else this workspace's id (the
    address), else a new person."""
    people = server().people()
    person = people.person_from(_cookie_token())
    if person is not None:
        st.session_state[PERSON] = st.session_state[OWNER] = person
        return
    owner = ws_id or people.new_person()
    st.session_state[OWNER] = owner
    st.session_state[PERSON] = COOKIELESS if st.query_params.get(COOKIES_OFF) == "off" else owner


def cookieless() -> bool:
    """This tab's browser keeps no cookie: it shares its limits with every browser like it."""
    return st.session_state.get(PERSON) == COOKIELESS


def remember_person() -> None:
    """Give the browser the cookie that names its person (once a session, when it does not carry it yet), so its
    other tabs count as the same person. A small script in the sidebar; nothing shows. A browser that does not keep
    it is sent to ``?cookies=off`` (its tabs share one person); a ``?cookies=off`` tab whose browser keeps cookies
    after all (a link passed on) comes back without it, as a person of its own."""
    if cookieless():  # said on every page, in the sidebar
        st.sidebar.caption(
            ":material/cookie: "
            + tr(
                "This browser does not keep the app's cookie, so what it may run and hold is shared with every browser "
                "like it. Allow cookies for this site to have limits of your own."
            )
        )
    if st.session_state.get(PERSON_SET) or OWNER not in st.session_state or not _has_request():
        return
    st.session_state[PERSON_SET] = True
    token = server().people().token(st.session_state[OWNER])
    saved = st.session_state.get(WS_VERSION) is not None  # the tab's workspace has a saved version to come back to
    if _cookie_token() == token:
        return
    cookie = f"{PERSON_COOKIE}={token}; path=/; max-age={COOKIE_DAYS * 86400}; SameSite=Strict"
    param = json.dumps(COOKIES_OFF)
    script = f"""<script>(() => {{
      document.cookie = {json.dumps(cookie)};
      const kept = document.cookie.split('; ').includes({json.dumps(f"{PERSON_COOKIE}={token}")});
      const url = new URL(window.location.href), off = url.searchParams.get({param}) === 'off';
      if (kept === off) {{
        if (kept) url.searchParams.delete({param}); else url.searchParams.set({param}, 'off');
        if ({json.dumps(not saved)}) url.searchParams.delete('ws');  // nothing kept under that link yet
        window.location.replace(url.toString());
      }}
    }})();</script>"""
    with st.sidebar:
        st.html(script, unsafe_allow_javascript=True)


def keep_cookies_off_in_url() -> None:
    """A cookieless tab keeps ``?cookies=off`` in its address (page changes drop query parameters), so a reload
    does not pass through a person of its own first."""
    if cookieless() and st.query_params.get(COOKIES_OFF) != "off":
        st.query_params[COOKIES_OFF] = "off"
