"""Nothing leaves the server: while a student trains, draws, takes the guided path's first steps, opens every page,
takes their data home and deletes it, the app server and its workers open no connection to another machine, and the
browser loads nothing from another host."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from devtools.browser import VIEWPORT, digit_strokes, draw_strokes, open_draw_pad
from pages._nav import TITLES
from tests.browser import nav, streamlit_server, wait_idle
from tests.waits import wait_until

pytestmark = pytest.mark.browser

GUARD = Path(__file__).resolve().parents[1] / "netguard"


def own_addresses() -> str:
    r = subprocess.run(["hostname", "-I"], capture_output=True, text=True)
    return r.stdout.strip()


def test_a_students_lesson_opens_no_connection_to_another_machine_and_loads_nothing_from_another_host(browser, tmp_path):
    log = tmp_path / "net.log"
    env = {
        "PYTHONPATH": os.pathsep.join([str(GUARD), os.environ.get("PYTHONPATH", "")]),
        "EXPLORER_NETLOG": str(log),
        "EXPLORER_OWN_ADDRESSES": own_addresses(),
    }
    with streamlit_server(env=env, timeout=120) as url:
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        hosts = set()
        page.on(
            "request",
            lambda r: hosts.add(re.match(r"[a-z]+://([^/]+)", r.url).group(1)) if r.url.startswith(("http", "ws")) else None,
        )
        page.goto(url)
        page.wait_for_selector("h1", timeout=120_000)
        canvas = open_draw_pad(page)  # trains the default CNN in a worker, then draws
        box = canvas.bounding_box()
        draw_strokes(page, canvas, digit_strokes(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.2))
        page.locator(".st-key-menu a", has_text="Start").first.click()  # the guided path's first steps: the data,
        wait_idle(page)  # then one output pixel in the lab
        page.get_by_role("button", name=re.compile(r"^Start: step 1 of \d+, Meet")).click()
        page.wait_for_selector("h1:has-text('Data')")
        wait_idle(page)
        nav(page, "Convolution lab")
        page.locator(".st-key-lab_row input[type=range]").press("ArrowRight")
        wait_idle(page)
        wait_until(lambda: "step 3 of" in page.locator(".st-key-path_panel").inner_text(), 30, "two steps done")
        for title in [t for t in TITLES if t not in ("Start", "Draw a digit")]:
            nav(page, title)
        page.get_by_role("button", name="Prepare the download").click()
        with page.expect_download() as download:
            page.get_by_role("button", name="Download all of it (zip)").click(timeout=60_000)
        assert download.value.suggested_filename == "my-cnn-explorer-data.zip"
        page.get_by_text("I understand: my models").click()  # and deletes all of it
        page.get_by_role("button", name="Delete all of it").click()
        page.wait_for_selector("text=All of it is deleted", timeout=30_000)
        wait_idle(page)
        context.close()
    assert hosts == {url.split("://")[1]}, hosts  # the app's own address, nothing else
    tried = [line.split()[1] for line in log.read_text().splitlines()] if log.exists() else []
    # The one exception, Ray's own: its dashboard process asks the link-local cloud-metadata address which cloud
    # this is, whatever its settings (169.254.169.254 is never routed off the machine's own network segment; its
    # usage reports to Ray's servers, which would leave it, are off: RAY_USAGE_STATS_ENABLED=0)
    assert set(tried) <= {"169.254.169.254:80"}, tried  # no process connected to another machine
    watched = set(Path(f"{log}.loaded").read_text().split())
    assert len(watched) >= 3, watched  # the server, Ray's own processes and the workers ran under the guard
