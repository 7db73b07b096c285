"""Run the app in a local Streamlit server and drive it with headless Chromium (benchmarks and tests).

Needs the dev extras: playwright (Python) and Debian's chromium. Only loopback addresses are used.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CHROMIUM",
    "CHROMIUM_FLAGS",
    "ROOT",
    "VIEWPORT",
    "PenTimes",
    "streamlit_server",
    "stop_server",
    "free_port",
    "chromium_available",
    "chromium",
    "open_app",
    "wait_idle",
    "describe_pages",
    "nav",
    "start_training",
    "open_draw_pad",
    "draw_strokes",
    "digit_strokes",
    "first_minute",
]

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def chromium_available() -> bool:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return False
    return Path(CHROMIUM).exists()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(
    env: dict[str, str] | None = None,
    timeout: float = 60,
    command: list[str] | None = None,
    cwd: str | Path | None = None,
    procs: list[Any] | None = None,
) -> Iterator[str]:
    """Start ``streamlit run server.py`` (the app, warming up from its launch; or ``command`` with ``{port}`` in
    it, e.g. an installed ``cnn-explorer``)
    on a free loopback port; yield its URL once it answers its health check; stop it afterwards.

    The server's own output goes to a temporary log; if the code inside the ``with`` fails, the log's last lines
    are written to stderr (a test's report shows them), so a failure on another machine says what the server did.
    ``procs``, if given, receives the server's process (a test may stop it).
    """
    port = free_port()
    args = (
        [a.replace("{port}", str(port)) for a in command]
        if command
        else [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "server.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ]
    )
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(
            args,
            cwd=cwd or ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        if procs is not None:
            procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + timeout
            while True:
                try:
                    if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                        break
                except OSError:
                    if time.time() > deadline or proc.poll() is not None:
                        raise RuntimeError("the Streamlit server did not start") from None
                    time.sleep(0.3)
            yield url
        except BaseException:
            log.flush()
            log.seek(0)
            tail = log.read()[-6000:]
            print(f"--- the server's last output (exit code {proc.poll()}) ---\n{tail}", file=sys.stderr)
            raise
        finally:
            stop_server(proc)


def stop_server(proc: subprocess.Popen, wait_s: float = 15.0) -> None:
    """Stop a server as a service manager would (SIGTERM: it ends its runs and its Ray instance), and kill its
    whole process group if it has not ended after ``wait_s``."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(wait_s)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # whatever of its group is left (its own session: nothing else)
    except OSError:
        pass
    proc.wait(10)


VIEWPORT = {"width": 1400, "height": 1000}


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium, driven by Playwright; closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        except BaseException:
            print(describe_pages(browser), file=sys.stderr)
            raise
        finally:
            browser.close()


def open_app(browser: Any, url: str, viewport: dict[str, int] | None = None) -> Any:
    """A new tab (a new session) on the app, once its first script run is drawn."""
    page = browser.new_page(viewport=viewport or VIEWPORT)
    page.goto(url)
    page.wait_for_selector("h1", timeout=60_000)
    wait_idle(page)
    return page


def wait_idle(page: Any, timeout: float = 60_000) -> None:
    """Wait until the script run is over (the app's own run state, which is "running" from the first element of
    a rerun to its last: the status widget only shows after a delay) and no skeleton placeholder is left."""
    page.wait_for_function(
        "() => { const app = document.querySelector('[data-testid=stApp]'); "
        "return app && app.getAttribute('data-test-script-state') === 'notRunning' && "
        "!document.querySelector('[data-testid=stStatusWidget]') && "
        "document.querySelectorAll('[data-testid=stSkeleton]').length == 0; }",
        timeout=timeout,
    )


def describe_pages(browser: Any, chars: int = 3000) -> str:
    """What each open tab shows (address, the app's run and connection state, its text): for a failed test's
    report, where a screenshot cannot be seen."""
    out = []
    for context in browser.contexts:
        for page in context.pages:
            try:
                state = page.evaluate(
                    "() => { const a = document.querySelector('[data-testid=stApp]'); return a ? "
                    "a.getAttribute('data-test-script-state') + ' / ' + "
                    "a.getAttribute('data-test-connection-state') : 'no app'; }"
                )
                text = page.inner_text("body", timeout=2000)
            except Exception as e:  # noqa: BLE001 (a closed or crashed tab: say so, and go on)
                state, text = "unreadable", str(e).splitlines()[0]
            out.append(f"--- {page.url} (script / connection: {state}) ---\n{text[-chars:]}")
    return "\n".join(out) or "(no open tab)"


def nav(page: Any, title: str) -> None:
    """Go to a page through the sidebar (a reload would start a new session)."""
    page.locator(".st-key-menu a", has_text=title).first.click()
    page.wait_for_selector(f"h1:has-text('{title}')", timeout=30_000)
    wait_idle(page)


def start_training(page: Any, epochs: int) -> Any:
    """On the Train page: type ``epochs``, press Start; returns the run's progress bar once it shows (or the run
    has already ended)."""
    box = page.get_by_label("Epochs", exact=True)
    box.fill(str(epochs))
    box.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Start training", exact=True).click()
    progress = page.locator("[data-testid=stProgress]")
    # a short run on a warm worker may be over before its progress bar is ever drawn
    progress.or_(page.get_by_text("Done after").first).first.wait_for(timeout=30_000)
    return progress


def open_draw_pad(page: Any) -> Any:
    """Go to Draw, train the default CNN in one click, and return the drawing pad's canvas."""
    nav(page, "Draw a digit")
    page.get_by_role("button", name="Train the default CNN").click()
    page.wait_for_selector("text=Draw a digit on the black square", timeout=120_000)
    wait_idle(page)
    return page.locator("canvas").last


def first_minute(browser: Any, url: str, train: bool = True) -> dict[str, Any]:
    """A newcomer's first minute, timed from the moment the tab asks for the app: the menu's first paint and its
    first entries, the Start page drawn, and one click on "Train the default CNN" to the trained model."""
    page = browser.new_page(viewport=VIEWPORT)
    t0 = time.perf_counter()
    page.goto(url)
    menu = page.locator("[data-testid=stSidebar] a").first
    menu.wait_for(timeout=120_000)
    row: dict[str, Any] = {
        "menu_s": round(time.perf_counter() - t0, 2),
        "menu_first": [t.strip().split("\n")[-1] for t in page.locator("[data-testid=stSidebar] a").all_inner_texts()[:3]],
    }
    button = page.get_by_role("button", name=re.compile("^Train the default CNN"))
    button.wait_for(timeout=120_000)
    row["start_page_s"] = round(time.perf_counter() - t0, 2)
    if train:
        t1 = time.perf_counter()
        button.click()
        page.wait_for_selector("text=Done after", timeout=300_000)
        row["click_to_trained_s"] = round(time.perf_counter() - t1, 2)
    page.close()
    return row


@dataclass(frozen=True)
class PenTimes:
    """What the browser saw while a digit was drawn: per stroke, pen-up -> that drawing's answer on screen."""

    latencies_ms: list[float]
    answers: int  # drawings answered in all, mid-stroke ones included

    @property
    def median_ms(self) -> float:
        warm = sorted(self.latencies_ms[1:] or self.latencies_ms)  # the first stroke also mounts the answer
        return warm[len(warm) // 2]

    @property
    def p90_ms(self) -> float:
        warm = sorted(self.latencies_ms[1:] or self.latencies_ms)
        return warm[min(len(warm) - 1, int(0.9 * len(warm)))]


def digit_strokes(x0: float, y0: float, n: int = 6) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """A stroke down, then ``n - 1`` strokes across: enough ink for the model to answer something."""
    return [((x0, y0), (x0 + 2, y0 + 200))] + [
        ((x0 - 50, y0 + 60 + 12 * k), (x0 + 50, y0 + 60 + 12 * k)) for k in range(n - 1)
    ]


def draw_strokes(
    page: Any,
    canvas: Any,
    strokes: list[tuple[tuple[float, float], tuple[float, float]]],
    steps: int = 12,
    step_s: float = 0.03,
    pause_s: float = 0.3,
) -> PenTimes:
    """Draw ``strokes`` with the mouse, each about ``steps * step_s`` long, and time each pen-up to the moment
    the answer carrying that drawing's version (``data-drawing="vN"``; the pad counts it in ``canvas.dataset.seq``)
    is in the page. Timed in the page itself (``performance.now``), so Playwright's own delays do not count."""
    page.evaluate("""() => {
        window.__up = []; window.__seen = {};
        window.addEventListener('mouseup', () => window.__up.push(performance.now()), true);
        new MutationObserver(() => {
            for (const el of document.querySelectorAll('[data-testid=stMain] [data-drawing]')) {
                const t = 'drawing ' + el.dataset.drawing;
                if (!(t in window.__seen)) window.__seen[t] = performance.now();
            }
        }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
    }""")
    latencies = []
    for (ax, ay), (bx, by) in strokes:
        page.mouse.move(ax, ay)
        page.mouse.down()
        for i in range(1, steps + 1):  # answers arrive while the pen moves
            page.mouse.move(ax + (bx - ax) * i / steps, ay + (by - ay) * i / steps)
            time.sleep(step_s)
        page.mouse.up()
        seq = int(canvas.evaluate("c => c.dataset.seq"))
        page.wait_for_function(f"() => 'drawing v{seq}' in window.__seen", timeout=20_000)
        latencies.append(page.evaluate(f"() => window.__seen['drawing v{seq}'] - window.__up[window.__up.length - 1]"))
        time.sleep(pause_s)
    return PenTimes(latencies, page.evaluate("() => Object.keys(window.__seen).length"))


WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]  # axe-core's rules for WCAG 2.2 A and AA
BLOCKING = ("critical", "serious")


def axe_violations(page: Any, impacts: tuple[str, ...] = BLOCKING) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.2 A/AA violations of the page as it is now, of the given impacts:
    ``[{"id", "impact", "help", "nodes": [the first elements' html]}]``. axe-core comes inside the
    ``axe-playwright-python`` package (nothing is downloaded)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]})
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["html"][:160] for n in v["nodes"][:6]],
            "count": len(v["nodes"]),
        }
        for v in results.response["violations"]
        if v["impact"] in impacts
    ]
