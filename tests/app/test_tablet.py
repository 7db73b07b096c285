"""A student with a tablet: at 820×1180 portrait (and 1180×820 landscape) the menu leaves the page room, the
drawing pad keeps its size with its buttons whole, the pictures beside it do not overlap, and no page scrolls
sideways."""

from __future__ import annotations

import pytest

from explorer.tools.browser import digit_strokes, draw_strokes, open_draw_pad
from pages._nav import PAGES
from tests.browser import nav, shot, streamlit_server, wait_idle

pytestmark = pytest.mark.browser

WIDER_THAN_THE_SCREEN = "() => document.documentElement.scrollWidth > window.innerWidth"
PAD_BUTTONS_CUT = ("() => [...document.querySelectorAll('button')].filter(b => b.closest('.pad') && "
                   "b.scrollWidth > b.clientWidth + 1).map(b => b.innerText)")
OVERLAPS = ("() => { const imgs = [...document.querySelectorAll('[data-testid=stMain] img')].map(i => "
            "i.getBoundingClientRect()).filter(r => r.width > 40); let n = 0; for (let a = 0; a < imgs.length; a++) "
            "for (let b = a + 1; b < imgs.length; b++) { const p = imgs[a], q = imgs[b]; if (p.left < q.right - 2 && "
            "q.left < p.right - 2 && p.top < q.bottom - 2 && q.top < p.bottom - 2) n++; } return n; }")


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as url:
        yield url


@pytest.mark.parametrize("width,height", [(820, 1180), (1180, 820)])
def test_a_tablet_draws_on_a_full_pad_and_no_page_scrolls_sideways(server, browser, width, height):
    context = browser.new_context(viewport={"width": width, "height": height}, has_touch=True)
    page = context.new_page()
    page.goto(server)
    page.wait_for_selector("h1", timeout=120_000)
    wait_idle(page)
    assert page.locator("[data-testid=stSidebar]").bounding_box()["width"] <= 240  # the menu leaves the page room
    canvas = open_draw_pad(page)
    box = canvas.bounding_box()
    assert box["width"] >= 280  # was 152 px at 820 wide
    draw_strokes(page, canvas, digit_strokes(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.2))
    wait_idle(page)
    assert page.evaluate(PAD_BUTTONS_CUT) == []  # "Draw", "Erase", "Undo", … whole (were "Drav", "Eras", …)
    assert page.evaluate(OVERLAPS) == 0  # the saliency picture no longer covers the class probabilities
    shot(page, f"tablet-draw-{width}")
    wide = []
    for title in [t for items in PAGES.values() for _, t, _ in items if t not in ("Start",)]:
        nav(page, title)
        if page.evaluate(WIDER_THAN_THE_SCREEN):
            wide.append(title)
    assert not wide, f"these pages scroll sideways at {width}×{height}: {wide}"
    context.close()
