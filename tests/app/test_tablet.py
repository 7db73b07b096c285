"""A student with a tablet: at 820×1180 portrait (and turned, at 1180×820 landscape) the menu leaves the page room, the
drawing pad keeps its size with its buttons whole, the pictures beside it do not overlap, and no page scrolls
sideways; by touch alone a student trains, draws a 7 with a finger and takes the path's first steps; the teacher's
console works on a tablet."""

from __future__ import annotations

import re
import time

import pytest

from devtools.browser import digit_strokes, draw_strokes, open_draw_pad
from pages._nav import TITLES
from tests.browser import nav, shot, streamlit_server, wait_idle
from tests.waits import wait_until

pytestmark = pytest.mark.browser

WIDER_THAN_THE_SCREEN = "() => document.documentElement.scrollWidth > window.innerWidth"
PAD_BUTTONS_CUT = (
    "() => [...document.querySelectorAll('button')].filter(b => b.closest('.pad') && "
    "b.scrollWidth > b.clientWidth + 1).map(b => b.innerText)"
)
OVERLAPS = (
    "() => { const imgs = [...document.querySelectorAll('[data-testid=stMain] img')].map(i => "
    "i.getBoundingClientRect()).filter(r => r.width > 40); let n = 0; for (let a = 0; a < imgs.length; a++) "
    "for (let b = a + 1; b < imgs.length; b++) { const p = imgs[a], q = imgs[b]; if (p.left < q.right - 2 && "
    "q.left < p.right - 2 && p.top < q.bottom - 2 && q.top < p.bottom - 2) n++; } return n; }"
)


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as url:
        yield url


def tablet(browser, url: str, width: int = 820, height: int = 1180):
    """A touch screen of this size, on the app's first page once it is drawn."""
    page = browser.new_context(viewport={"width": width, "height": height}, has_touch=True).new_page()
    page.goto(url)
    page.wait_for_selector("h1", timeout=120_000)
    wait_idle(page)
    return page


def _pad_and_pages_fit(page, width: int, height: int) -> None:
    """On Draw with a model: the pad keeps its size with its buttons whole, a drawing's pictures do not overlap;
    then no page of the menu scrolls sideways at this size."""
    canvas = page.locator("canvas").last
    box = canvas.bounding_box()
    assert box["width"] >= 280  # was 152 px at 820 wide
    draw_strokes(page, canvas, digit_strokes(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.2))
    wait_idle(page)
    assert page.evaluate(PAD_BUTTONS_CUT) == []  # "Draw", "Erase", "Undo", … whole (were "Drav", "Eras", …)
    assert page.evaluate(OVERLAPS) == 0  # the saliency picture no longer covers the class probabilities
    shot(page, f"tablet-draw-{width}")
    wide = []
    for title in [t for t in TITLES if t != "Start"]:
        nav(page, title)
        if page.evaluate(WIDER_THAN_THE_SCREEN):
            wide.append(title)
    assert not wide, f"these pages scroll sideways at {width}×{height}: {wide}"


def test_a_tablet_draws_on_a_full_pad_and_no_page_scrolls_sideways_held_upright_or_turned(server, browser):
    """Portrait (820×1180), then the same tablet turned to landscape (1180×820), as a student turns it mid-lesson:
    one tab, so the page lays itself out anew for the new size (what a rotation does) and the model is trained once."""
    page = tablet(browser, server, 820, 1180)
    assert page.locator("[data-testid=stSidebar]").bounding_box()["width"] <= 240  # the menu leaves the page room
    open_draw_pad(page)
    _pad_and_pages_fit(page, 820, 1180)
    page.set_viewport_size({"width": 1180, "height": 820})  # turned
    nav(page, "Draw a digit")
    page.locator("canvas").last.wait_for(timeout=60_000)
    assert page.locator("[data-testid=stSidebar]").bounding_box()["width"] <= 240
    _pad_and_pages_fit(page, 1180, 820)
    page.context.close()


def finger(page, points: list[tuple[float, float]], step_s: float = 0.02) -> None:
    """One finger on the screen along ``points`` (touchstart, touchmove…, touchend), as a tablet sends it."""
    cdp = page.context.new_cdp_session(page)
    for i, (x, y) in enumerate(points):
        kind = "touchStart" if i == 0 else "touchMove"
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
        time.sleep(step_s)  # not a synchronisation: a finger's pace
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def line(a: tuple[float, float], b: tuple[float, float], n: int = 14) -> list[tuple[float, float]]:
    return [(a[0] + (b[0] - a[0]) * i / n, a[1] + (b[1] - a[1]) * i / n) for i in range(n + 1)]


def tap(page, locator) -> None:
    locator.scroll_into_view_if_needed()  # as a finger scrolls the page to it first
    box = locator.bounding_box()
    page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_a_tablet_student_by_touch_alone_trains_draws_a_seven_and_takes_the_first_steps(server, browser):
    page = tablet(browser, server)
    tap(page, page.get_by_role("button", name=re.compile("^Train the default CNN")))  # one tap trains
    page.wait_for_selector("text=Done after", timeout=180_000)
    wait_idle(page)
    tap(page, page.locator(".st-key-menu a[href*='draw']"))
    canvas = page.locator("canvas").last
    canvas.wait_for(timeout=60_000)
    wait_idle(page)
    canvas.scroll_into_view_if_needed()
    box, scrolled = canvas.bounding_box(), page.evaluate("() => window.scrollY")
    x, y, w = box["x"], box["y"], box["width"]
    finger(page, line((x + 0.25 * w, y + 0.2 * w), (x + 0.75 * w, y + 0.2 * w)))  # a 7: the bar,
    finger(page, line((x + 0.75 * w, y + 0.2 * w), (x + 0.42 * w, y + 0.85 * w)))  # then the stem
    page.wait_for_selector("[data-drawing]", timeout=30_000)
    wait_idle(page)
    assert page.evaluate("() => window.scrollY") == scrolled  # the finger drew; the page did not scroll
    said = page.locator("[data-drawing] [role=status]").get_attribute("aria-label")
    shot(page, "tablet-touch-seven")
    assert said.startswith("it reads 7") or said.startswith("not sure; perhaps 7"), said

    tap(page, page.locator(".st-key-menu a").first)  # Start, then the lecture's first steps, by touch
    page.wait_for_selector("h1:has-text('CNN Explorer')", timeout=30_000)
    wait_idle(page)
    page.wait_for_selector(".st-key-path_start button", timeout=30_000)
    wait_idle(page)
    tap(page, page.locator(".st-key-path_start button"))
    page.wait_for_selector(".st-key-path_panel", timeout=30_000)
    wait_idle(page)
    tap(page, page.locator(".st-key-menu a[href*='lab']"))
    thumb = page.locator(".st-key-lab_row input[type=range]").first
    thumb.wait_for(timeout=30_000)
    wait_idle(page)
    thumb.scroll_into_view_if_needed()
    t = thumb.bounding_box()
    finger(
        page,
        line((t["x"] + t["width"] / 2, t["y"] + t["height"] / 2), (t["x"] + t["width"] / 2 + 60, t["y"] + t["height"] / 2)),
    )  # the output pixel, dragged
    wait_until(lambda: "step 3 of" in page.locator(".st-key-path_panel").inner_text(), 30, "two steps done by touch")
    page.context.close()


def test_the_teachers_console_works_on_a_tablet(server, browser):
    page = tablet(browser, server)
    tap(page, page.locator(".st-key-menu a[href*='teacher']"))
    page.wait_for_selector("h1:has-text('Teacher')", timeout=30_000)
    wait_idle(page)
    tap(page, page.get_by_role("tab", name="Make a class"))
    tap(page, page.get_by_role("button", name="Make a class"))
    page.wait_for_selector("text=Your teacher key", timeout=30_000)
    wait_idle(page)
    for name in ("Bring everyone here", "Pause the class"):
        button = page.get_by_role("button", name=name)
        assert button.is_visible() and button.bounding_box()["height"] >= 24  # a target a finger can hit
    assert not page.evaluate(WIDER_THAN_THE_SCREEN)
    shot(page, "tablet-teacher")
    page.context.close()
