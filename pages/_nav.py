"""The app's pages and its menu. Streamlit only and light to import: ``app.py`` draws the menu before anything
heavy is loaded, so a newcomer sees the app's own page titles from the first paint."""

from __future__ import annotations

import streamlit as st

from explorer.i18n import N_
from pages._lang import tr

__all__ = ["pages", "menu", "page_file", "page_title", "is_start", "START_FILE", "PAGE_STYLE", "TITLES"]

# section -> [(file, title, icon)]; the first page is the default one
PAGES: dict[str, list[tuple[str, str, str]]] = {
    "": [("pages/start.py", N_("Start"), ":material/home:")],
    N_("Data & model"): [
        ("pages/data.py", N_("Data"), ":material/dataset:"),
        ("pages/build.py", N_("Build"), ":material/construction:"),
        ("pages/train.py", N_("Train"), ":material/model_training:"),
    ],
    N_("Look inside"): [
        ("pages/kernels.py", N_("Kernels"), ":material/grid_on:"),
        ("pages/features.py", N_("Feature maps"), ":material/layers:"),
        ("pages/filters.py", N_("Filter images"), ":material/auto_awesome:"),
        ("pages/confusion.py", N_("Confusion matrix"), ":material/table_chart:"),
    ],
    N_("Explain"): [
        ("pages/draw.py", N_("Draw a digit"), ":material/draw:"),
        ("pages/trust.py", N_("Can we trust it?"), ":material/verified_user:"),
    ],
    N_("Lessons"): [
        ("pages/lab.py", N_("Convolution lab"), ":material/blur_on:"),
        ("pages/augment.py", N_("Augmentation"), ":material/transform:"),
        ("pages/experiments.py", N_("Experiments"), ":material/science:"),
        ("pages/glossary.py", N_("Glossary"), ":material/menu_book:"),
        ("pages/lesson.py", N_("Lesson"), ":material/school:"),
        ("pages/board.py", N_("Class board"), ":material/leaderboard:"),
        ("pages/teacher.py", N_("Teacher"), ":material/supervisor_account:"),
    ],
    N_("You"): [("pages/mydata.py", N_("My data"), ":material/privacy_tip:")],
}
TITLES = tuple(t for items in PAGES.values() for _, t, _ in items)  # every page's title, in the menu's order


# WCAG 2.3.3: whoever asks their system for less motion gets no animations or transitions (spinners, expanding
# panels, the skeletons' shimmer); what updates live (a run's charts) has its Pause button
REDUCED_MOTION = (
    "<style>@media (prefers-reduced-motion: reduce) { *, *::before, *::after { "
    "animation-duration: 0.01ms !important; animation-iteration-count: 1 !important; "
    "transition-duration: 0.01ms !important; scroll-behavior: auto !important; } }</style>"
)

# Plotly's chart toolbar (download as PNG, zoom in and out, reset) is a row of real buttons, reached by Tab; it is
# drawn at 0.3 opacity grey (about 1.7:1 on white) and shows only while the pointer is over the chart. Here its icons
# are 9:1 (WCAG 1.4.11), it shows while a keyboard user is inside the chart, the focused button has a ring
# (2.4.7), the pressed mode an underline beside its darker shade (1.4.1), and each button is 24 px at least (2.5.8).
CHART_TOOLBAR = (
    "<style>.js-plotly-plot .plotly .modebar-btn path { fill: #444 !important; } "
    ".js-plotly-plot .plotly .modebar-btn.active path, .js-plotly-plot .plotly .modebar-btn:hover path "
    "{ fill: #111 !important; } "
    ".js-plotly-plot .plotly .modebar-btn.active { box-shadow: inset 0 -2px 0 #111; } "
    ".js-plotly-plot .plotly .modebar-btn { min-width: 24px; min-height: 24px; } "
    ".js-plotly-plot .plotly .modebar-btn:focus-visible { outline: 3px solid #b3202a; outline-offset: 1px; "
    "border-radius: 3px; } "
    ".js-plotly-plot .plotly:focus-within .modebar { opacity: 1 !important; } "
    ".js-plotly-plot .plotly .modebar-group { background-color: rgba(255,255,255,0.92) !important; }"
    "</style>"
)
# Icon buttons keep their purpose as their name ("Remove layer 2"): inside a container keyed "icons-…" the words are
# hidden from the eye only (still read by a screen reader), the icon shows (WCAG 4.1.2, 2.5.3: the tooltip says it)
ICON_BUTTONS = (
    "<style>div[class*='st-key-icons-'] button [data-testid='stMarkdownContainer'] { position: absolute "
    "!important; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }"
    "</style>"
)
# A tablet (820 px portrait, 1180 px landscape): the menu takes 236 px instead of 300, and the page's columns wrap
# onto new rows when one would be narrower than 280 px, so the drawing pad, its buttons and the pictures beside
# it keep their size instead of overlapping (a wide screen keeps the columns side by side)
TABLET = (
    "<style>@media (max-width: 1200px) { "
    "section[data-testid='stSidebar'] { width: 236px !important; min-width: 236px "
    "!important; max-width: 236px !important; } "
    "[data-testid='stMain'] [data-testid='stHorizontalBlock'] { flex-wrap: wrap !important; } "
    "[data-testid='stMain'] [data-testid='stHorizontalBlock'] > [data-testid='stColumn'] { min-width: min(280px, "
    "100%) !important; } }</style>"
)
# Right to left (Arabic): the page follows the root's dir="rtl" (set with the language), but Streamlit writes
# text-align: left on its headings' containers; they start on the right like the rest
RTL = (
    "<style>html[dir='rtl'] [data-testid='stHeading'], html[dir='rtl'] [data-testid='stHeading'] * "
    "{ text-align: right !important; }</style>"
)
PAGE_STYLE = REDUCED_MOTION + CHART_TOOLBAR + ICON_BUTTONS + TABLET + RTL  # one style element, drawn by app.py on every page

START_FILE = "pages/start.py"  # the default page; it opens the session itself, after its first words


def is_start(page: st.Page) -> bool:
    """Whether ``page`` (as ``st.navigation`` returns it) is the Start page."""
    return page.url_path == ""


def page_title(page: st.Page) -> str:
    """The page's title in the code's words (whatever language its menu shows): the teacher's roster and the
    class's steering name pages by it, so students in different languages meet on one page."""
    stem = page.url_path
    return next(
        (t for items in PAGES.values() for f, t, _ in items if f == (f"pages/{stem}.py" if stem else START_FILE)), page.title
    )


def pages(hidden: set[str]) -> dict[str, list[st.Page]]:
    """The pages by section, less the titles a lesson hides (the Start page is never hidden)."""
    out: dict[str, list[st.Page]] = {}
    for section, items in PAGES.items():
        kept = [
            st.Page(f, title=tr(t), icon=i, default=f == START_FILE)
            for f, t, i in items
            if t not in hidden or f == START_FILE
        ]
        if kept:
            out[section] = kept
    return out


def page_file(title: str) -> str | None:
    """The file of the page titled ``title`` (None if there is none)."""
    return next((f for items in PAGES.values() for f, t, _ in items if t == title), None)


def menu(sections: dict[str, list[st.Page]]) -> None:
    """The menu in the sidebar: the pages' titles under their sections, the current one highlighted.

    Streamlit's own menu stays hidden (``client.showSidebarNavigation = false``): on a freshly started server it
    would list the files of ``pages/`` until ``app.py`` first ran."""
    with st.sidebar.container(key="menu"):
        for section, items in sections.items():
            if section:
                st.caption(tr(section))
            for p in items:
                st.page_link(p)
