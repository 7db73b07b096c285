"""The app's pages and its menu. Streamlit only and light to import: ``app.py`` draws the menu before anything
heavy is loaded, so a newcomer sees the app's own page titles from the first paint."""

from __future__ import annotations

import streamlit as st

__all__ = ["pages", "menu", "page_file", "is_start", "START_FILE", "REDUCED_MOTION"]

# section -> [(file, title, icon)]; the first page is the default one
PAGES: dict[str, list[tuple[str, str, str]]] = {
    "": [("pages/home.py", "Start", ":material/home:")],
    "Data & model": [("pages/data.py", "Data", ":material/dataset:"),
                     ("pages/build.py", "Build", ":material/construction:"),
                     ("pages/train.py", "Train", ":material/model_training:")],
    "Look inside": [("pages/kernels.py", "Kernels", ":material/grid_on:"),
                    ("pages/features.py", "Feature maps", ":material/layers:"),
                    ("pages/filters.py", "Filter images", ":material/auto_awesome:"),
                    ("pages/confusion.py", "Confusion matrix", ":material/table_chart:")],
    "Explain": [("pages/draw.py", "Draw a digit", ":material/draw:"),
                ("pages/trust.py", "Can we trust it?", ":material/verified_user:")],
    "Lessons": [("pages/lab.py", "Convolution lab", ":material/blur_on:"),
                ("pages/augment.py", "Augmentation", ":material/transform:"),
                ("pages/experiments.py", "Experiments", ":material/science:"),
                ("pages/lesson.py", "Lesson", ":material/school:"),
                ("pages/board.py", "Class board", ":material/leaderboard:"),
                ("pages/teacher.py", "Teacher", ":material/supervisor_account:")],
}


# WCAG 2.3.3: whoever asks their system for less motion gets no animations or transitions (spinners, expanding
# panels, the skeletons' shimmer); what updates live (a run's charts) has its Pause button
REDUCED_MOTION = ("<style>@media (prefers-reduced-motion: reduce) { *, *::before, *::after { "
                  "animation-duration: 0.01ms !important; animation-iteration-count: 1 !important; "
                  "transition-duration: 0.01ms !important; scroll-behavior: auto !important; } }</style>")

START_FILE = "pages/home.py"  # the default page; it opens the session itself, after its first words


def is_start(page: st.Page) -> bool:
    """Whether ``page`` (as ``st.navigation`` returns it) is the Start page."""
    return page.title == next(t for f, t, _ in PAGES[""] if f == START_FILE)


def pages(hidden: set[str]) -> dict[str, list[st.Page]]:
    """The pages by section, less the titles a lesson hides (the Start page is never hidden)."""
    out: dict[str, list[st.Page]] = {}
    for section, items in PAGES.items():
        kept = [st.Page(f, title=t, icon=i, default=f == START_FILE) for f, t, i in items
                if t not in hidden or f == START_FILE]
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
                st.caption(section)
            for p in items:
                st.page_link(p)
