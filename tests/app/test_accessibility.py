"""Every student can use it: axe-core's WCAG 2.2 A/AA rules on every page after one-click training, and the
way from Start to an answer on Draw by keyboard alone (Chromium, a live server)."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest

from devtools.browser import axe_violations
from pages._nav import TITLES
from tests.browser import nav, shot, streamlit_server, wait_idle

pytestmark = pytest.mark.browser

AUDIT_VIEWPORT = {"width": 1280, "height": 720}  # a classroom laptop


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as url:
        yield url


def _report(found: dict[str, list[dict]]) -> str:
    return "; ".join(
        f"{page}: {v['id']} ({v['impact']}, {v['count']}×: {v['help']}) e.g. {v['nodes'][0]}"
        for page, vs in found.items()
        for v in vs
    )


FOCUSED = (
    "() => { let el = document.activeElement;"  # the focused element, inside a component's shadow root too
    " while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement; return el; }"
)


def _tab_to(page, condition_js: str, max_tabs: int = 120) -> None:
    """Press Tab until the focused element meets ``condition_js`` (a function of ``el``), as a keyboard user would."""
    for _ in range(max_tabs):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => {{ const el = ({FOCUSED})(); return !!el && ({condition_js}); }}"):
            return
    raise AssertionError(f"{max_tabs} presses of Tab never reached an element where {condition_js}")


# the words of a button or a widget's label that the page cuts short with an ellipsis (at 1280 px the Train page's
# "Train more", "Pause" and "Stop" read "Train m…", "P…", "St…"): the accessible name is whole, the eye's is not
# (an icon button's words are hidden on purpose: _nav.ICON_BUTTONS)
CUT_SHORT = (
    "() => [...document.querySelectorAll('button, label, [data-testid=stWidgetLabel]')]"
    ".filter(b => b.offsetParent !== null).flatMap(b => [b, ...b.querySelectorAll('*')])"
    ".filter(e => !e.closest('[data-testid=stIconMaterial], [class*=st-key-icons-]')"
    " && e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).textOverflow === 'ellipsis')"
    ".map(e => e.innerText.trim().slice(0, 40))"
)


def test_axe_core_finds_no_critical_or_serious_violation_on_any_page(server, browser):
    page = browser.new_page(viewport=AUDIT_VIEWPORT)
    elsewhere: list[str] = []  # nothing a page loads may come from another host (a font, an icon, a script)
    origin = urlparse(server).netloc
    page.on(
        "request",
        lambda r: (
            elsewhere.append(r.url)
            if urlparse(r.url).scheme in ("http", "https", "ws", "wss") and urlparse(r.url).netloc != origin
            else None
        ),
    )
    page.goto(server)
    page.get_by_role("button", name=re.compile("^Train the default CNN")).click()
    page.wait_for_selector("text=Done after", timeout=180_000)
    wait_idle(page)
    found = {}
    for title in TITLES:
        if title != "Start":
            nav(page, title)
        wait_idle(page)
        if violations := axe_violations(page):
            found[title] = violations
            shot(page, f"axe-{title.split()[0].lower()}")
        if cut := sorted(set(page.evaluate(CUT_SHORT))):
            found[title] = found.get(title, []) + [
                {
                    "id": "words-cut-short",
                    "impact": "serious",
                    "count": len(cut),
                    "help": "a control's words end in an ellipsis",
                    "nodes": cut,
                }
            ]
    assert not elsewhere, sorted(set(elsewhere))[:10]  # every page, after training: all from the app's own origin
    nav(page, "Teacher")
    page.get_by_role("tab", name="Make a class").click()  # and the teacher's console, signed in, its key on screen
    page.get_by_role("button", name="Make a class").click()
    page.wait_for_selector("text=Your teacher key")
    wait_idle(page)
    if violations := axe_violations(page):
        found["Teacher (the console)"] = violations
        shot(page, "axe-console")
    assert not found, _report(found)


def test_from_start_to_an_answer_by_keyboard_alone(server, browser):
    """Tab to the one-click button, Enter; Tab through the menu to Draw, Enter; Tab to the pad, ink a 1 with
    Shift+arrows; the live region then says what the model reads, and axe-core finds nothing on the answer."""
    page = browser.new_page(viewport=AUDIT_VIEWPORT)
    page.goto(server)
    page.get_by_role("button", name=re.compile("^Train the default CNN")).wait_for(timeout=60_000)
    wait_idle(page)
    _tab_to(page, "el.tagName === 'BUTTON' && el.innerText.includes('Train the default CNN')")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Done after", timeout=180_000)
    wait_idle(page)
    _tab_to(page, "el.tagName === 'A' && el.innerText.trim().endsWith('Draw a digit')")
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:has-text('Draw a digit')", timeout=60_000)
    page.wait_for_selector("text=Draw a digit on the black square", timeout=60_000)
    wait_idle(page)
    frame_pad = "el.tagName === 'CANVAS'"
    _tab_to(page, frame_pad)
    focus_ring = page.evaluate(f"() => getComputedStyle(({FOCUSED})()).outlineStyle")
    assert focus_ring != "none"  # the focus is visible
    for key in ["ArrowUp"] * 8:
        page.keyboard.press(key)
    page.keyboard.press("Space")
    for _ in range(16):  # a vertical stroke: a 1
        page.keyboard.press("Shift+ArrowDown")
    status = page.locator("[role=status][aria-live=polite]")
    status.wait_for(timeout=60_000)
    page.wait_for_function(
        "() => /it reads|not sure/.test(document.querySelector("
        "'[role=status][aria-live=polite]')?.getAttribute('aria-label') || '')",
        timeout=60_000,
    )
    said = status.get_attribute("aria-label") or ""
    assert re.match(r"(it reads \S+, \d+% sure|not sure; perhaps \S+, \d+%)$", said), said
    assert "row" in page.locator(".where").first.inner_text()  # the pad says where its cursor is
    wait_idle(page)
    shot(page, "keyboard-draw-answer")
    violations = axe_violations(page)
    assert not violations, _report({"Draw a digit, answered": violations})


def _contrast_on_white(css_colour: str) -> float:  # WCAG 2.x, for an opaque rgb(...) colour
    r, g, b = (int(v) / 255 for v in re.findall(r"[\d.]+", css_colour)[:3])
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 1.05 / (0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2] + 0.05)


def test_a_charts_toolbar_works_by_keyboard(server, browser):
    """Tab into the Data page's chart: its toolbar shows, the focused button has a ring and dark icons; Enter on
    Download gives a PNG, Zoom in narrows the axis, Reset axes brings it back."""
    page = browser.new_page(viewport=AUDIT_VIEWPORT, accept_downloads=True)
    page.goto(server)
    page.get_by_role("button", name=re.compile("^Train the default CNN")).wait_for(timeout=60_000)
    nav(page, "Data")
    page.locator(".modebar-btn").first.wait_for(state="attached", timeout=30_000)
    _tab_to(page, "el.getAttribute('aria-label') === 'Download plot as a PNG'")
    looks = page.evaluate(f"""() => {{ const el = ({FOCUSED})(); const cs = getComputedStyle(el);
        return {{ bar: getComputedStyle(el.closest('.modebar')).opacity, ring: cs.outlineStyle,
                  fill: getComputedStyle(el.querySelector('path')).fill, w: el.offsetWidth, h: el.offsetHeight }}; }}""")
    shot(page, "keyboard-chart-toolbar")
    assert float(looks["bar"]) == 1.0 and looks["ring"] != "none", looks
    assert _contrast_on_white(looks["fill"]) >= 3.0, looks
    assert looks["w"] >= 24 and looks["h"] >= 24, looks
    with page.expect_download(timeout=30_000) as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename.endswith(".png")
    y_range = "() => document.querySelector('.js-plotly-plot')._fullLayout.yaxis.range"
    before = page.evaluate(y_range)
    _tab_to(page, "el.getAttribute('aria-label') === 'Zoom in'", max_tabs=10)
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => ({y_range})()[1] < {before[1]}", timeout=10_000)
    _tab_to(page, "el.getAttribute('aria-label') === 'Reset axes'", max_tabs=10)
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => Math.abs(({y_range})()[1] - {before[1]}) < 1e-6", timeout=10_000)
