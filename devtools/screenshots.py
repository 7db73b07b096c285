"""``make screenshots``: the README's pictures, taken from the real app in Chromium, into ``docs/images/``.

- ``draw.png``: the Draw page after one click on *Train the default CNN* and a digit drawn with the mouse;
- ``teacher.png``: the teacher's console with one student joined.

Beside them, ``docs/images/taken.json`` records which version of each page (its file's SHA-256) the picture was
taken from; a test (``tests/test_docs.py``) fails when a picture is missing or its page has changed since.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
SHOWS = {"draw.png": "pages/draw.py", "teacher.png": "pages/teacher.py"}  # each picture and the page it shows
TAKEN = OUT / "taken.json"  # picture -> the SHA-256 of its page's file when it was taken


def page_hash(page: str) -> str:
    return hashlib.sha256((ROOT / page).read_bytes()).hexdigest()


def take(out: Path = OUT) -> list[Path]:
    from devtools.browser import (
        VIEWPORT,
        chromium,
        draw_strokes,
        nav,
        open_app,
        open_draw_pad,
        streamlit_server,
        wait_idle,
    )

    out.mkdir(parents=True, exist_ok=True)
    with streamlit_server(env={"EXPLORER_OPEN_CLASSES": "1"}) as url, chromium() as browser:
        page = open_app(browser, url)
        canvas = open_draw_pad(page)
        page.wait_for_selector("text=is training", state="detached", timeout=120_000)  # the trained model answers
        wait_idle(page)
        box = canvas.bounding_box()
        x, y, w = box["x"], box["y"], box["width"]
        corner = (x + 0.72 * w, y + 0.22 * w)
        seven = [((x + 0.28 * w, y + 0.22 * w), corner), (corner, (x + 0.45 * w, y + 0.85 * w))]
        draw_strokes(page, canvas, seven)  # a 7: its bar, then its stem
        wait_idle(page)
        page.screenshot(path=str(out / "draw.png"))

        teacher = open_app(browser, url)
        nav(teacher, "Teacher")
        teacher.get_by_role("tab", name="Make a class").click()
        teacher.get_by_role("button", name="Make a class").click()
        teacher.wait_for_selector("text=Your teacher key", timeout=60_000)
        code = re.search(
            r"Class (\w{3}-\w{3})", teacher.locator("[data-testid=stMain] h3", has_text="Class ").first.inner_text()
        ).group(1)
        student = browser.new_page(viewport=VIEWPORT)
        student.goto(url)
        form = student.locator("[data-testid=stMain] [data-testid=stForm]")
        form.get_by_role("textbox", name="Class code").fill(code)
        form.get_by_role("textbox", name="Your name").fill("Ada")
        form.get_by_role("button", name="Join").click()
        student.wait_for_selector("text=In class", timeout=30_000)
        teacher.get_by_role("button", name="I have written it down").click()
        teacher.wait_for_selector("text=1 student(s) joined", timeout=30_000)
        wait_idle(teacher)
        teacher.screenshot(path=str(out / "teacher.png"))
    (out / TAKEN.name).write_text(json.dumps({name: page_hash(page) for name, page in SHOWS.items()}, indent=1) + "\n")
    return [out / name for name in SHOWS]


if __name__ == "__main__":
    for path in take():
        print(path.relative_to(ROOT), file=sys.stdout)
