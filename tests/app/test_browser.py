"""Real browser: headless Chromium driven by Playwright against a live Streamlit server."""

from __future__ import annotations

import re
import time

import pytest

from devtools.browser import VIEWPORT, digit_strokes, draw_strokes, open_app, open_draw_pad
from pages._nav import TITLES
from pages._server import JOB_POLL_S, VIEW_REFRESH_S, WARMUP_POLL_S
from tests.browser import nav, progress_step, shot, start_long_run, streamlit_server, wait_idle
from tests.waits import wait_until

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server():
    # one CPU a run: two runs at once on this machine's two cores, so that the four-tab test sees the queue
    with streamlit_server(env={"EXPLORER_CPUS_PER_RUN": "1"}) as url:
        yield url


def test_pick_preset_train_live_and_stop(server, browser):
    page = open_app(browser, server)
    progress = start_long_run(page)

    def reading():
        text = progress.inner_text()
        m = re.search(r"step ([\d,]+)/.*batch accuracy ([\d.]+)%", text)
        n_points = page.evaluate(
            "() => { const p = document.querySelectorAll('.js-plotly-plot')[0];"
            " return p && p.data && p.data.length > 1 ? p.data[1].x.length : 0 }"
        )
        return (int(m.group(1).replace(",", "")), float(m.group(2)), n_points) if m else None

    first = wait_until(reading, 60, "the live panel's first reading")

    def moved():  # more steps, more points on the curve and a higher accuracy (or a high one), without a click
        r = reading()
        return r if r is not None and r[0] > first[0] and r[2] > first[2] and (r[1] > first[1] or r[1] > 90) else None

    later = wait_until(moved, 60, "the live panel moving on its own")
    assert later is not None and later[0] > first[0], (first, later)  # steps advance on their own
    assert later[2] > first[2]  # the curve got new points without a click
    assert later[1] > first[1] or later[1] > 90  # accuracy rises (or is already high)
    shot(page, "train-live")
    page.get_by_role("button", name="Stop").click()
    page.wait_for_selector("text=stopped at step", timeout=30_000)
    # the sidebar follows within a second (the panel triggers a full rerun when the run ends)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=stSidebar]').innerText.includes('stopped')", timeout=15_000
    )
    wait_idle(page)
    shot(page, "train-stopped")


FRESH_WALK = TITLES  # every page of the menu, in its order


def test_every_page_renders_in_a_browser_before_there_is_a_model(server, browser):
    """A newcomer's walk through the menu in one tab, nothing built yet: no page shows an exception (one tab for
    the walk, as a student's own; each page was a new tab once, and each new tab costs the browser a start of the
    app's whole front end)."""
    page = open_app(browser, server)
    broken = []
    for title in FRESH_WALK:
        if title != "Start":
            nav(page, title)
        if page.locator("[data-testid=stException]").count():
            broken.append(title)
        if title == "Build":  # the shape flow's labels, as drawn: none sits on another
            page.locator(".js-plotly-plot .annotation-text").first.wait_for()
            touching = page.evaluate(
                """() => {
                const boxes = [...document.querySelectorAll('.js-plotly-plot .annotation-text')]
                  .filter(t => /^[0-9×]+$/.test(t.textContent)).map(t => [t.textContent, t.getBoundingClientRect()]);
                const out = [];
                for (const [i, [a, r]] of boxes.entries()) for (const [b, q] of boxes.slice(i + 1))
                  if (r.right > q.left && q.right > r.left && r.bottom > q.top && q.bottom > r.top) out.push(a + ' / ' + b);
                return [boxes.length, out];
            }"""
            )
            assert touching[0] >= 8 and touching[1] == [], touching  # the default CNN's shapes, none touching
        shot(page, f"fresh-{title.lower().replace(' ', '-')}")
    assert broken == []


def test_look_inside_pages_in_a_browser(server, browser):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = open_app(browser, server)
    page.get_by_role("button", name="Train the default CNN").click()
    page.wait_for_selector("text=Done after", timeout=120_000)
    wait_idle(page)
    for title in ["Kernels", "Feature maps", "Filter images", "Confusion matrix", "Can we trust it?"]:
        nav(page, title)
        if title == "Filter images":
            page.get_by_role("button", name="Generate").click()
            page.wait_for_selector("text=its 9 strongest test images", timeout=120_000)
            wait_idle(page)
            assert_quiet(page, 4 * JOB_POLL_S, after=JOB_POLL_S)  # the job ended: its panel no longer polls
        if title == "Confusion matrix":  # clicking a cell shows that cell's images
            cells = page.locator(".js-plotly-plot .nsewdrag").first
            for attempt in range(4):  # under the full suite's load a click can land before the chart settles
                cells.scroll_into_view_if_needed()  # a click outside the viewport reaches nothing
                wait_idle(page)
                area = cells.bounding_box()  # measured again: the chart may have been laid out anew
                page.mouse.click(area["x"] + area["width"] * 0.95, area["y"] + area["height"] * 0.95)  # 9 as 9
                try:
                    page.wait_for_function(
                        "() => /\\d+ images in this cell; the \\d+/.test(document.body.innerText) "
                        "&& /^9 \\d+%/m.test(document.body.innerText)",
                        timeout=40_000,
                    )
                    break
                except PlaywrightTimeout:
                    assert attempt < 3, page.locator("[data-testid=stMain]").inner_text()[-600:]  # what it showed
            wait_idle(page)
            chart = page.locator(".js-plotly-plot").first
            chart.hover()  # the toolbar shows while the pointer is on the chart: it hides none of the axes' titles
            toolbar = chart.locator(".modebar").bounding_box()
            for label in chart.locator(".xtitle, .ytitle").all():
                t = label.bounding_box()
                apart = (
                    t["x"] + t["width"] <= toolbar["x"]
                    or toolbar["x"] + toolbar["width"] <= t["x"]
                    or t["y"] + t["height"] <= toolbar["y"]
                    or toolbar["y"] + toolbar["height"] <= t["y"]
                )
                assert apart, (label.text_content(), t, toolbar)
        assert page.locator("[data-testid=stException]").count() == 0
        shot(page, f"page-{title.lower().replace(' ', '-').replace('?', '')}")


def assert_quiet(page, seconds: float, after: float = 0) -> None:
    """The tab sends the server no message for ``seconds``: a page whose parts stopped redrawing. ``after``: counted
    from that many seconds on (a redraw's timer that fired as the page was drawn anew sends its one message)."""
    page.wait_for_timeout(after * 1000)  # not a synchronisation: the page settles
    page.evaluate(
        "() => { window.__sent = 0; const send = WebSocket.prototype.send;"
        " WebSocket.prototype.send = function (m) { window.__sent++; return send.call(this, m); }; }"
    )
    page.wait_for_timeout(seconds * 1000)  # not a synchronisation: a quiet page is watched
    assert page.evaluate("() => window.__sent") == 0


def test_draw_a_stroke_and_see_the_prediction(server, browser, capsys):
    """Draws on the real canvas; reports the time from the end of a stroke to the updated answer."""
    page = open_app(browser, server)
    canvas = open_draw_pad(page)
    box = canvas.bounding_box()
    assert page.locator("text=Prediction:").count() == 0  # an empty canvas predicts nothing
    strokes = digit_strokes(box["x"] + box["width"] / 2, box["y"] + 40)
    times = draw_strokes(page, canvas, strokes)
    assert page.locator("text=Prediction:").count() == 1
    wait_idle(page)
    shot(page, "page-draw")
    assert times.answers > len(strokes)  # answers came while drawing too, not only at pen-up
    # the pad opened after the run's first epoch, saying the model trains; once the run has ended, the page says
    # so by itself (redrawn with the final weights), without a click
    page.wait_for_selector("text=is training", state="detached", timeout=120_000)
    assert page.locator("text=Prediction:").count() == 1  # the drawing is still answered
    wait_idle(page)
    # ... and, the run over, the page asks the server nothing more until the student acts (its line about the
    # training redrew itself every few seconds for as long as the page stayed open): every message the tab sends is counted
    assert_quiet(page, 1.5 * VIEW_REFRESH_S)  # past a redraw's interval
    with capsys.disabled():
        print(
            f"\n[draw] stroke end -> prediction on screen: median {times.median_ms:.0f} ms, first stroke "
            f"{times.latencies_ms[0]:.0f} ms; {times.answers} answers for {len(strokes)} strokes (Chromium and "
            "server share this machine)"
        )


def test_lessons_pages_and_opening_a_lesson_file(server, browser, tmp_path):
    import json

    from explorer.core.presets import get_preset
    from explorer.lessons.lesson import Lesson, lesson_to_json

    page = open_app(browser, server)
    for title in ["Convolution lab", "Augmentation", "Experiments"]:
        nav(page, title)
        assert page.locator("[data-testid=stException]").count() == 0
        shot(page, f"page-{title.lower().replace(' ', '-')}")
    lesson = tmp_path / "week3.json"
    lesson.write_text(
        lesson_to_json(
            Lesson(
                "Week 3",
                "mnist-5k",
                get_preset("one-conv", num_classes=10),
                {"epochs": 2},
                ["Build", "Filter images"],
                "Train, then look.",
            )
        )
    )
    nav(page, "Lesson")
    page.locator("input[type=file]").first.set_input_files(str(lesson))
    page.locator("[data-testid=stMain]").get_by_role("button", name="Open", exact=True).click()
    page.wait_for_selector("text=is open", timeout=30_000)
    wait_idle(page)
    nav_text = page.locator(".st-key-menu").inner_text()
    assert "Build" not in nav_text and "Filter images" not in nav_text and "Train" in nav_text
    assert "Week 3" in page.locator("[data-testid=stSidebar]").inner_text()
    shot(page, "page-lesson")
    assert json.loads(lesson.read_text())["hidden"] == ["Build", "Filter images"]


def test_four_sessions_train_at_once_and_each_sees_only_its_own(server, browser):
    """A class at once: 4 tabs (4 sessions) press Train on Start together; Ray runs 2 at a time on this
    machine and queues the rest; all finish, each tab showing its own run and no one else's."""
    pages = [open_app(browser, server) for _ in range(4)]
    for i, page in enumerate(pages):  # each session gets its own model name, to tell them apart
        nav(page, "Build")
        name = page.get_by_label("Model name")
        name.fill(f"student-{i}")
        name.press("Enter")
        wait_idle(page)
        page.get_by_role("button", name="Create model").click()
        page.wait_for_selector("text=is the current model", timeout=30_000)
        nav(page, "Train")
    for page in pages:  # runs long enough (8 epochs) for the queue to be seen, on a third of the images
        page.get_by_label("Epochs", exact=True).fill("8")
        page.get_by_label("Use only N training images (0 = all)").fill("1200")
    for page in pages:
        page.get_by_role("button", name="Start training", exact=True).click()
    queued = _tabs_seen_queued(pages, 15)
    for page in pages:
        page.wait_for_selector("text=Done after", timeout=240_000)
    shot(pages[3], "classroom-train-done")
    assert queued  # 4 runs on 2 CPUs: at least one tab saw the queue
    for i, page in enumerate(pages):
        page.wait_for_function(
            "() => /trained/.test(document.querySelector('[data-testid=stSidebar]').innerText)", timeout=30_000
        )  # the sidebar catches up with the run's end on the next full rerun
        sidebar = page.locator("[data-testid=stSidebar]").inner_text()
        runs = page.locator("[data-testid=stMain]").inner_text()
        assert f"student-{i}" in sidebar and "trained" in sidebar
        others = [f"student-{j}" for j in range(4) if j != i]
        assert not any(o in sidebar or o in runs for o in others)
    for page in pages:
        page.close()


def _tabs_seen_queued(pages, seconds: float) -> set[int]:
    """The tabs seen waiting in the queue within ``seconds`` (looked at together, not one after another)."""
    queued: set[int] = set()

    def two_seen() -> bool:
        for i, page in enumerate(pages):
            if i not in queued and page.locator("text=/Queued: /").count():
                queued.add(i)
                if len(queued) == 1:
                    shot(page, "classroom-queued")
        return len(queued) >= 2

    wait_until(two_seen, seconds, every=0.2)
    return queued


def test_a_value_typed_just_before_a_click_is_the_one_used(server, browser):
    """Three tabs at once: each types its own Epochs and clicks Start at once (no Enter, no pause); each run
    trains the number typed in its own tab."""
    pages = [open_app(browser, server) for _ in range(3)]
    for page in pages:
        nav(page, "Train")
        page.get_by_role("button", name="Create the default CNN for this dataset").click()
        wait_idle(page)
        limit = page.get_by_label("Use only N training images (0 = all)")
        limit.fill("256")
        limit.press("Enter")
        wait_idle(page)
    typed = (2, 3, 4)
    for page, n in zip(pages, typed):  # one tab right after the other, each click right after its typing
        page.get_by_label("Epochs", exact=True).fill(str(n))
        page.get_by_role("button", name="Start training", exact=True).click()
    for page, n in zip(pages, typed):
        page.wait_for_selector("text=Done after", timeout=180_000)
        assert f"after {n} epoch(s)" in page.locator("[data-testid=stAlert]").first.inner_text()
        page.close()


def _build_fits(page, width: int, height: int) -> None:
    nav(page, "Build")
    page.locator("[data-testid=stMain] [data-testid=stWidgetLabel]", has_text="channels").first.wait_for()
    wait_idle(page)
    labels = page.locator("[data-testid=stMain] [data-testid=stWidgetLabel]")
    boxes = [labels.nth(i).bounding_box() for i in range(min(labels.count(), 16))]
    heights = [b["height"] for b in boxes if b and b["height"] > 0]  # collapsed labels have no box
    assert heights and max(heights) < 30, (width, heights)  # one line each: no "chan nels", "pad ding"
    layer_type = page.locator("[data-testid=stMain] [data-testid=stSelectbox]").nth(1)
    assert layer_type.bounding_box()["width"] > 150, width  # "BatchNorm2d" fits
    shot(page, f"projector-build-{width}x{height}")


def _pad_fits(page, canvas, width: int, height: int) -> None:
    box = canvas.bounding_box()
    column = page.locator("[data-testid=stColumn]", has=canvas).last.bounding_box()
    assert abs(box["width"] - box["height"]) < 2 and box["width"] >= 200, (width, box)  # a square, big enough
    assert box["x"] + box["width"] <= column["x"] + column["width"] + 1, width  # inside its column, not cut off
    x, y = box["x"] + box["width"] / 2, box["y"]
    draw_strokes(page, canvas, [((x, y + 30), (x + 2, y + box["height"] - 30))], pause_s=0)  # answered
    page.wait_for_selector("text=Prediction:", timeout=20_000)
    wait_idle(page)
    shot(page, f"projector-draw-{width}x{height}")


def test_build_and_draw_fit_a_projector(server, browser):
    """The pages a teacher projects, at a classroom projector's 1280×720 and then, in the same tab, a large
    one's 1920×1080: whole words in Build's labels, the pad a square in its column that answers a stroke."""
    page = open_app(browser, server, viewport={"width": 1280, "height": 720})
    _build_fits(page, 1280, 720)
    _pad_fits(page, open_draw_pad(page), 1280, 720)
    page.set_viewport_size({"width": 1920, "height": 1080})
    _build_fits(page, 1920, 1080)
    nav(page, "Draw a digit")
    canvas = page.locator("canvas").last
    canvas.wait_for(timeout=60_000)
    wait_idle(page)
    _pad_fits(page, canvas, 1920, 1080)
    page.close()


def test_a_run_carries_on_through_a_reload(server, browser):
    """Reload the tab while the model trains: the same run goes on (its steps keep counting up). A second tab of
    the same workspace watches its kernels change; once the run is stopped, that view is drawn once more and then
    asks the server nothing (it redrew every few seconds for as long as the page stayed open). A third tab draws
    a digit meanwhile: the run's end leaves its pad where it was, with the drawing on it."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(server)
    page.wait_for_selector("h1", timeout=60_000)
    wait_idle(page)
    progress = start_long_run(page, epochs=300)  # still training when it is stopped, tabs later
    wait_until(lambda: progress_step(progress) > 0, 60, every=0.3)
    wait_idle(page)  # the run's start was a full run of the app, which saves the workspace at its end
    before = progress_step(progress)
    assert before > 0
    page.reload()
    page.wait_for_selector("text=was still training: it carries on here", timeout=60_000)
    progress = page.locator("[data-testid=stProgress]")
    progress.wait_for(timeout=30_000)
    wait_until(lambda: progress_step(progress) > before, 60, every=0.3)
    assert progress_step(progress) > before  # the same run, further on: not restarted, not interrupted
    assert page.locator("text=interrupted").count() == 0
    wait_idle(page)
    shot(page, "train-after-reload")
    watcher = context.new_page()  # the workspace's own link, in a second tab
    watcher.goto(page.url)
    watcher.wait_for_selector("h1", timeout=60_000)
    wait_idle(watcher)
    nav(watcher, "Kernels")
    latest = "text=Training: showing the latest weights"
    watcher.wait_for_selector(latest, timeout=30_000)
    drawer = context.new_page()  # and a third tab draws while the run ends
    drawer.goto(page.url.replace("/train?", "/draw?"))
    drawer.wait_for_selector("text=is training; the page answers", timeout=60_000)
    wait_idle(drawer)
    pad = drawer.locator("canvas").last
    box = pad.bounding_box()
    strokes = digit_strokes(box["x"] + box["width"] / 2, box["y"] + 40)
    draw_strokes(drawer, pad, strokes[:2])
    drawn = int(pad.evaluate("c => c.dataset.seq"))
    page.get_by_role("button", name="Stop").click()
    page.wait_for_selector("text=stopped at step", timeout=30_000)
    watcher.wait_for_selector(latest, state="detached", timeout=30_000)  # drawn once more, by itself
    wait_idle(watcher)
    assert_quiet(watcher, 1.5 * VIEW_REFRESH_S, after=VIEW_REFRESH_S)  # past a redraw's interval
    drawer.wait_for_selector("text=is training; the page answers", state="detached", timeout=30_000)
    wait_idle(drawer)  # the Draw tab, drawn once more with the final weights: its pad stayed where the pen is,
    assert pad.bounding_box() == box  # with its drawing (a pad drawn anew lost the strokes under the pen)
    assert int(pad.evaluate("c => c.dataset.seq") or 0) == drawn
    assert drawer.get_by_text("answers with the weights its last run ended with").count() == 1
    draw_strokes(drawer, pad, strokes[3:4])  # and answers a stroke after it
    assert int(pad.evaluate("c => c.dataset.seq")) > drawn
    context.close()


def test_work_survives_a_reload_and_a_server_restart(browser):
    """Train, reload the tab, restart the server: the model, its accuracy and its curves are still there."""
    from urllib.parse import parse_qs, urlparse

    with streamlit_server() as url:
        page = open_app(browser, url)
        page.get_by_role("button", name=re.compile("Train the default CNN")).click()
        page.wait_for_selector("text=Done after", timeout=120_000)
        wait_idle(page)
        done = page.locator("text=Done after").first.inner_text()
        ws_id = parse_qs(urlparse(page.url).query)["ws"][0]
        page.reload()
        page.wait_for_selector("text=Done after", timeout=60_000)
        assert page.locator("text=Done after").first.inner_text() == done
        assert parse_qs(urlparse(page.url).query)["ws"][0] == ws_id  # the same workspace, not a new one
        page.close()
    with streamlit_server() as url:  # a new server process: nothing in memory survives, the database does
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"{url}/?ws={ws_id}")
        page.wait_for_selector("text=Done after", timeout=60_000)
        wait_idle(page)
        assert page.locator("text=Done after").first.inner_text() == done
        assert page.locator(".js-plotly-plot").count() >= 2  # its curves
        sidebar = page.locator("[data-testid=stSidebar]").inner_text()
        assert "trained" in sidebar and "Whoever has the link has the work" in sidebar
        shot(page, "workspace-after-restart")
        nav(page, "Train")
        page.locator("text=#1 default · mnist-5k").first.wait_for(timeout=30_000)  # its run, in "Compare runs"
        page.close()


def test_a_student_publishes_and_the_teachers_board_shows_it(server, browser, tmp_path):
    from explorer.serve import WorkspaceStore

    code, _ = WorkspaceStore().create_class("mnist-5k")  # a class its teacher made, in the server's own database
    student = open_app(browser, server)
    form = student.locator("[data-testid=stMain] [data-testid=stForm]")
    form.get_by_role("textbox", name="Class code").fill(code)
    form.get_by_role("textbox", name="Your name").fill("Grace H")
    form.get_by_role("button", name="Join").click()
    student.wait_for_selector("text=In class", timeout=30_000)
    wait_idle(student)
    student.get_by_role("button", name=re.compile("^Train the default CNN")).click()
    student.wait_for_selector("text=Done after", timeout=120_000)
    nav(student, "Train")
    name = student.get_by_label("Name on the board")
    name.fill("Hopper")
    student.get_by_role("button", name="Publish").click()  # typed, then clicked at once
    student.wait_for_selector("text=Published run #1", timeout=30_000)

    teacher = browser.new_page(viewport={"width": 1280, "height": 720})  # the projector
    teacher.goto(server)
    teacher.wait_for_selector("h1", timeout=60_000)
    wait_idle(teacher)
    nav(teacher, "Class board")
    box = teacher.locator("[data-testid=stMain]").get_by_label("Class code", exact=True).and_(teacher.locator("input"))
    box.fill(code)
    box.press("Enter")
    teacher.wait_for_selector("text=/runs? published/", timeout=30_000)
    assert "Hopper" in teacher.locator("[data-testid=stMain]").inner_text()
    table = teacher.locator("[data-testid=stDataFrame]").first
    table.scroll_into_view_if_needed()
    grid = table.bounding_box()
    teacher.mouse.click(grid["x"] + 12, grid["y"] + 35 + 17)  # the first row's selection cell
    teacher.wait_for_selector("text=Hopper:", timeout=30_000)
    teacher.locator("text=Hopper:").first.scroll_into_view_if_needed()
    teacher.wait_for_function(
        "() => document.querySelectorAll('.js-plotly-plot').length >= 3", timeout=30_000
    )  # the board, and the run's two curves (drawn as they come into view)
    wait_idle(teacher)
    shot(teacher, "class-board-1280x720")
    student.close()
    teacher.close()


def test_build_loads_the_preset_picked_just_before_the_click(server, browser):
    page = open_app(browser, server)
    nav(page, "Build")
    page.locator("[data-testid=stMain] [data-testid=stSelectbox]").first.click()
    page.get_by_role("option", name=re.compile("^mnist-gap")).click()
    page.get_by_role("button", name="Load preset").click()  # at once, no pause
    name = page.get_by_label("Model name")
    wait_until(lambda: name.input_value() == "mnist-gap", 20, every=0.2)
    assert name.input_value() == "mnist-gap"
    wait_idle(page)
    assert page.locator("text=AdaptiveAvgPool2d").count() >= 1  # the GAP preset's layers are on the page
    page.close()


def test_experiment_uses_the_image_count_set_just_before_run(server, browser):
    page = open_app(browser, server)
    nav(page, "Experiments")
    epochs = page.get_by_label("Epochs per model")
    epochs.fill("1")
    page.get_by_role("tab", name="Pixel shuffling").click()
    page.locator(".st-key-run-shuf button").click()  # Epochs typed, then Run at once
    page.wait_for_selector("text=Ran with one epoch", timeout=240_000)
    page.close()


def test_build_imports_a_spec_file_and_shows_its_layers_and_name(server, browser, tmp_path):
    import json

    from explorer.core.presets import get_preset

    spec = tmp_path / "gap-from-a-file.json"
    spec.write_text(json.dumps(get_preset("mnist-gap") | {"name": "gap-from-a-file"}))
    bad = tmp_path / "broken.json"
    bad.write_text('{"input_shape": [1, 28, 28], "layers": [')
    page = open_app(browser, server)
    nav(page, "Build")
    uploader = page.locator(".st-key-spec_upload input[type=file]")
    uploader.set_input_files(str(bad))
    page.locator(".st-key-spec_upload").get_by_text("broken.json").wait_for(timeout=20_000)  # the server has it
    wait_idle(page)
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_text("Not imported:").wait_for(timeout=20_000)
    assert page.get_by_label("Model name").input_value() != "gap-from-a-file"
    uploader.set_input_files(str(spec))
    page.get_by_text("Ready: gap-from-a-file.json").wait_for(timeout=20_000)  # the upload's own rerun is over
    wait_idle(page)
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_text("Imported gap-from-a-file").wait_for(timeout=20_000)
    name = page.get_by_label("Model name")  # the flash is drawn first, the page's fields after it
    wait_until(lambda: name.input_value() == "gap-from-a-file", 20, every=0.2)
    wait_idle(page)
    assert name.input_value() == "gap-from-a-file"
    assert page.locator("text=AdaptiveAvgPool2d").count() >= 1  # the imported layers are on the page
    assert page.locator("[data-testid=stException]").count() == 0
    shot(page, "build-imported-spec")
    page.close()


def test_data_loads_an_uploaded_csv_as_the_dataset_and_refuses_a_broken_one(server, browser, tmp_path):
    rows = ["label," + ",".join(f"p{i}" for i in range(16))]
    rows += [f"{k % 3}," + ",".join(str((k * 37 + i * 11) % 256) for i in range(16)) for k in range(60)]
    good, bad = tmp_path / "tiny-signs.csv", tmp_path / "broken.csv"
    good.write_text("\n".join(rows) + "\n")
    bad.write_text("label,p0\nseven,1\n")
    page = open_app(browser, server)
    nav(page, "Data")
    page.get_by_text("Upload your own data").click()
    uploader = page.locator(".st-key-up_csv_train input[type=file]")
    uploader.set_input_files(str(bad))
    page.locator(".st-key-up_csv_train").get_by_text("broken.csv").wait_for(timeout=20_000)
    wait_idle(page)
    page.get_by_role("button", name="Load CSV").click()
    page.get_by_text("Could not load it:").wait_for(timeout=20_000)  # a sentence, and the dataset is kept
    assert page.get_by_text("Keeping mnist-5k").count() >= 1
    uploader.set_input_files(str(good))
    page.locator(".st-key-up_csv_train").get_by_text("tiny-signs.csv").wait_for(timeout=20_000)
    wait_idle(page)
    page.get_by_role("button", name="Load CSV").click()
    page.get_by_role("button", name=re.compile("^Remove the upload tiny-signs")).wait_for(timeout=20_000)  # current
    wait_idle(page)
    picked = page.locator(".st-key-data_pick input").input_value()
    assert picked == "tiny-signs — your upload", picked  # ... and the picker says so
    assert page.locator("[data-testid=stException]").count() == 0
    page.close()


def test_the_first_minute_on_a_freshly_started_server(browser):
    """A newcomer opens a server that has just started: the menu names the app's pages from its first paint, a
    click on Draw at once lands inside the app's frame, and one click trains a model and opens the pad."""
    with streamlit_server() as url:
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        t0 = time.perf_counter()
        page.goto(url)
        first = page.locator("[data-testid=stSidebar] a").first
        first.wait_for(timeout=60_000)
        titles = [t.strip().split("\n")[-1] for t in page.locator("[data-testid=stSidebar] a").all_inner_texts()]
        files = {"app", "start", "draw", "widgets", "canvas", "_widgets", "build"}
        assert titles[:3] == ["Start", "Data", "Build"] and not files & set(titles), titles
        page.locator(".st-key-menu a", has_text="Draw a digit").click()
        print(f"\nfirst menu and click on Draw after {time.perf_counter() - t0:.2f} s")
        page.wait_for_selector("h1:has-text('Draw a digit')", timeout=60_000)
        assert "Current model" in page.locator("[data-testid=stSidebar]").inner_text()  # inside the app's frame
        assert "ws=" in page.url  # the workspace is saved under the page's link
        page.get_by_role("button", name="Train the default CNN").click()
        page.wait_for_selector("text=Draw a digit on the black square", timeout=120_000)  # the pad opened by itself
        wait_idle(page)
        assert page.locator("[data-testid=stException]").count() == 0
        shot(page, "first-minute-draw")
        # a page's address typed into a freshly started server also opens inside the frame
    with streamlit_server() as url:
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(f"{url}/build")
        page.wait_for_selector("h1:has-text('Build')", timeout=60_000)
        wait_idle(page)
        assert "Current model" in page.locator("[data-testid=stSidebar]").inner_text()
        assert page.locator(".st-key-menu a", has_text="Build").count() == 1
        # the line about the warm-up goes once the server is ready, and then the page asks the server nothing
        page.wait_for_selector("text=Getting the trainer ready", state="detached", timeout=60_000)
        wait_idle(page)
        assert_quiet(page, 4 * WARMUP_POLL_S)  # past four redraw intervals


def test_the_sidebar_downloads_the_model_as_onnx_and_a_checkpoint_and_removes_it(server, browser, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    import numpy as np

    from explorer.core.checkpoint import load_checkpoint

    page = open_app(browser, server)
    page.get_by_role("button", name=re.compile("^Train the default CNN")).click()
    page.wait_for_selector("text=Done after", timeout=120_000)
    wait_idle(page)
    with page.expect_download(timeout=60_000) as dl:
        page.locator("[data-testid=stSidebar]").get_by_role("button", name="ONNX").click()
    onnx_file = tmp_path / dl.value.suggested_filename
    dl.value.save_as(onnx_file)
    assert onnx_file.suffix == ".onnx"
    session = ort.InferenceSession(onnx_file.read_bytes(), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].name == "pixels"
    assert session.run(None, {"pixels": np.zeros((2, 1, 28, 28), np.float32)})[0].shape == (2, 10)
    with page.expect_download(timeout=60_000) as dl:
        page.locator("[data-testid=stSidebar]").get_by_role("button", name="Checkpoint").click()
    ck = tmp_path / dl.value.suggested_filename
    dl.value.save_as(ck)
    assert load_checkpoint(ck).dataset["name"] == "mnist-5k"
    sidebar = page.locator("[data-testid=stSidebar]")
    sidebar.get_by_text("Remove this model").click()  # and a model can be removed, to make room for others
    page.get_by_role("button", name="Remove default").click()
    page.wait_for_selector("text=No model yet", timeout=20_000)
    page.close()


def test_forget_this_computer_leaves_the_next_person_a_new_empty_workspace(server, browser):
    """A shared lab PC: after *Forget this computer*, the browser's person cookie and link are gone, and a new tab
    opens a new, empty workspace (the last student's model is not there)."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(server)
    page.get_by_role("button", name=re.compile("Train the default CNN")).click()
    page.wait_for_selector("text=Done after", timeout=180_000)
    wait_idle(page)
    person = lambda: next((c["value"] for c in context.cookies() if c["name"] == "explorer_person"), None)  # noqa: E731
    wait_until(lambda: person() is not None, 30, every=0.3)
    before, first_ws = person(), page.url.split("ws=")[1]
    nav(page, "My data")
    page.wait_for_selector("text=Forget this computer", timeout=60_000)
    shot(page, "my-data")
    page.get_by_role("button", name="Forget this computer").click()
    wait_until(lambda: person() != before, 30, every=0.3)  # the cookie went (a new person's may come)
    tab = context.new_page()
    tab.goto(server)
    tab.get_by_text("Train the default CNN").first.wait_for(timeout=60_000)
    wait_idle(tab)
    assert first_ws not in tab.url and tab.locator("text=Done after").count() == 0  # a new, empty workspace
    context.close()


def test_a_browser_that_keeps_no_cookie_is_told_and_one_that_keeps_it_is_a_person(server, browser):
    """A browser that refuses the identity cookie is sent to ``?cookies=off`` and told, in the sidebar, that it
    shares its limits with every browser like it; a link with ``?cookies=off`` opened where cookies are kept comes
    back without it, with the browser's own cookie."""
    refusing = browser.new_context(viewport=VIEWPORT)  # document.cookie keeps nothing, as with cookies blocked
    refusing.add_init_script(
        "Object.defineProperty(Document.prototype, 'cookie', {get() { return ''; }, set(v) {}, configurable: true});"
    )
    page = refusing.new_page()
    page.goto(server)
    page.wait_for_url(re.compile(r"[?&]cookies=off"), timeout=60_000)
    page.locator("[data-testid=stSidebar]").get_by_text("does not keep the app's cookie").wait_for(timeout=60_000)
    assert not any(c["name"] == "explorer_person" for c in refusing.cookies())
    refusing.close()
    keeping = browser.new_context(viewport=VIEWPORT)
    page = keeping.new_page()
    page.goto(server + "?cookies=off")  # a link passed on from a browser that refuses cookies
    page.wait_for_url(lambda url: "cookies=off" not in url, timeout=60_000)
    wait_until(lambda: any(c["name"] == "explorer_person" for c in keeping.cookies()), 30, every=0.3)
    page.get_by_text("Train the default CNN").first.wait_for(timeout=60_000)
    wait_idle(page)
    assert page.get_by_text("does not keep the app's cookie").count() == 0
    keeping.close()
