"""The teacher runs the class, in Chromium: a teacher makes a class, three students join from browsers of their own,
the console sees them, brings them to a page, pauses them, exports the roster, and ends the class without a trace."""

from __future__ import annotations

import csv
import io
import re
import time

import pytest

from devtools.browser import VIEWPORT, open_app
from explorer.serve import WorkspaceStore
from tests.browser import nav, shot, streamlit_server, wait_idle

pytestmark = pytest.mark.browser

NAMES = ("Ada", "Bo", '=HYPERLINK("http://evil.example","click")')  # the third tries to be a spreadsheet formula


@pytest.fixture()
def school(tmp_path):
    with streamlit_server(env={"EXPLORER_STATE_DIR": str(tmp_path)}) as url:
        yield url, WorkspaceStore(state_dir=tmp_path)


def dump(store) -> str:
    with store.engine.connect() as c:
        return "\n".join(
            repr(tuple(r))
            for name in store.sa.inspect(store.engine).get_table_names()
            for r in c.exec_driver_sql(f"SELECT * FROM {name}")
        )


def headings(page) -> list[str]:
    return page.evaluate("() => [...document.querySelectorAll('h1')].map(h => h.innerText)")


def join(
    browser,
    url: str,
    code: str,
    name: str,
    locale: str = "en-US",
    words: tuple[str, ...] = ("Class code", "Your name", "Join", "In class"),
):
    """A student's browser of its own (in ``locale``) joins through the form, whose ``words`` are in its language:
    the two fields, the button, and what the page says once joined."""
    page = browser.new_context(viewport=VIEWPORT, locale=locale).new_page()
    page.goto(url)
    page.wait_for_selector("h1", timeout=120_000)
    wait_idle(page, 120_000)
    form = page.locator("[data-testid=stMain] [data-testid=stForm]")
    form.get_by_role("textbox", name=words[0]).fill(code.lower().replace("-", " "))  # as a student may type it
    form.get_by_role("textbox", name=words[1]).fill(name)
    form.get_by_role("button", name=words[2]).click()
    page.wait_for_selector(f"text={words[3]}", timeout=30_000)
    wait_idle(page)
    return page


def test_a_teacher_makes_a_class_sees_three_students_steers_them_exports_and_ends_it(school, browser):
    url, store = school
    teacher = open_app(browser, url)
    nav(teacher, "Teacher")
    teacher.get_by_role("tab", name="Make a class").click()
    teacher.get_by_role("button", name="Make a class").click()
    teacher.wait_for_selector("text=Your teacher key")
    heading = teacher.locator("[data-testid=stMain] h3", has_text="Class ").first.inner_text()
    code = re.search(r"Class (\w{3}-\w{3})", heading).group(1)
    assert teacher.locator("[data-testid=stCode]").count() == 0  # hidden until Show: a projector does not leak it
    teacher.get_by_text("Show the teacher key").click()
    key = teacher.locator("[data-testid=stCode]").first.inner_text().strip()
    assert store.is_teacher(code, key) and key not in dump(store)  # shown once, kept only as a hash

    students = [join(browser, url, code, name) for name in NAMES]
    students[0].get_by_role("button", name=re.compile("Train the default CNN")).click()  # Ada makes progress
    students[0].wait_for_selector("text=Done after", timeout=180_000)
    teacher.wait_for_selector("text=3 student(s) joined", timeout=15_000)
    rows = {r["name"]: r for r in store.roster(code)}
    assert set(rows) == set(NAMES) and rows["Ada"]["model"] == "default" and rows["Ada"]["runs"] == 1
    shot(teacher, "teacher-roster")

    # bring everyone to Draw: every student's app goes there by itself (about a second and a half)
    teacher.get_by_role("button", name="Bring everyone here").click()
    t0 = time.time()
    for s in students:
        s.wait_for_function(
            "() => [...document.querySelectorAll('h1')].some(h => h.innerText === 'Draw a digit')", timeout=10_000
        )
    moved_s = time.time() - t0
    print(f"[teacher] bring everyone to Draw: all three moved in {moved_s:.1f} s")
    assert all(headings(s)[-1] == "Draw a digit" for s in students)

    # pause with a message: every student sees it, and training waits
    teacher.get_by_role("textbox", name="Message while paused").fill("Eyes to the front, please")
    teacher.get_by_role("button", name="Pause the class").click()
    for s in students:
        s.wait_for_selector("text=Eyes to the front, please", timeout=10_000)
    bo = students[1]
    bo.locator("[data-testid=stSidebar]").get_by_role("link", name="Start").click()
    bo.wait_for_selector("h1:has-text('CNN Explorer')")
    wait_idle(bo)
    assert bo.get_by_role("button", name=re.compile("Train the default CNN")).is_disabled()
    shot(bo, "student-paused")
    teacher.get_by_role("button", name="Resume the class").click()
    bo.wait_for_function("() => !document.body.innerText.includes('Eyes to the front')", timeout=10_000)
    assert bo.get_by_role("button", name=re.compile("Train the default CNN")).is_enabled()

    # a student who opens the console sees only the sign-in, and cannot guess the key
    nav(bo, "Teacher")
    assert bo.get_by_role("tab", name="Sign in to my class").is_visible() and not bo.get_by_text("Steer the class").count()
    answers = ["4 more tries", "3 more tries", "2 more tries", "1 more try", None, "too many wrong keys"]
    for i, answer in enumerate(answers):  # each guess waits for its own answer, as a student reading it would
        bo.get_by_role("textbox", name="Class code").fill(code)
        bo.get_by_role("textbox", name="Teacher key").fill(f"guess-{i}")
        bo.get_by_role("button", name="Sign in").click()
        if answer is None:  # the fifth wrong key: no count left to say, and the fourth's count is gone
            bo.wait_for_function(
                "() => { const t = document.body.innerText; return t.includes('not the teacher key')"
                " && !t.includes('1 more try'); }",
                timeout=30_000,
            )
        else:
            bo.get_by_text(answer).first.wait_for(timeout=30_000)
        wait_idle(bo)
    assert bo.get_by_text("Steer the class").count() == 0

    # the roster as CSV: it reads back, and no cell is a formula
    with teacher.expect_download() as dl:
        teacher.get_by_role("button", name="Export the roster and results (CSV)").click()
    table = list(csv.DictReader(io.StringIO(open(dl.value.path(), encoding="utf-8").read())))
    assert {r["name"] for r in table} == {"Ada", "Bo", "'" + NAMES[2]}
    assert next(r for r in table if r["name"] == "Ada")["model"] == "default"

    # ending the class (after a confirmation) leaves no student's name in the database
    teacher.get_by_text(re.compile("Yes, end class")).click()
    teacher.get_by_role("button", name="End the class").click()
    teacher.wait_for_selector("text=names were deleted")
    left = dump(store)
    assert not any(name in left for name in ("'Ada'", "'Bo'", "HYPERLINK")), left[:500]
    students[0].wait_for_selector("text=has ended", timeout=10_000)  # the student's app says so, and keeps the work
