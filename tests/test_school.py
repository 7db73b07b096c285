"""The school set-up, for real: PostgreSQL, a Ray cluster of two nodes, two app replicas and HAProxy with sticky
sessions, on this machine (``tests/school.py`` starts them; the README's deployment section lists the same
commands). Through the proxy, in Chromium: a teacher on one replica makes a class and steers a student on the other; a
student trains and reloads; two students' runs train on both
nodes; the replica of one stops mid-run and the other replica serves the same workspace while its run goes
on; a Ray node stops mid-run and that run says so in a sentence while the other goes on."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest

from devtools.browser import VIEWPORT, nav, wait_idle
from tests.browser import progress_step, shot, start_long_run
from tests.school import SCHOOL_PASSWORD, fetch, missing, school, stop_replica
from tests.waits import wait_until

pytestmark = [pytest.mark.school, pytest.mark.browser]


@pytest.fixture()
def classroom(tmp_path_factory):
    """A school of its own for each attempt: the test stops a replica and a node, so a rerun (a browser test
    that fails runs once more) must not inherit a set-up that the failed attempt left half stopped."""
    why = missing()
    if why:
        pytest.skip(f"the school set-up needs {why}; `make test` installs it")
    with school(tmp_path_factory.mktemp("school")) as s:
        yield s


def replica_of(context) -> str:
    """The replica the proxy keeps this browser on (its sticky cookie)."""
    return next(c["value"] for c in context.cookies() if c["name"] == "EXPLORER_REPLICA")


def ws_of(page) -> str:
    return parse_qs(urlparse(page.url).query)["ws"][0]


def until(check, timeout: float, what: str):
    return wait_until(check, timeout, what, every=0.5)


def student(browser, url: str):
    # a browser of its own: cookies of its own (the proxy's certificate is the test's own, self-signed)
    context = browser.new_context(viewport=VIEWPORT, ignore_https_errors=True)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("h1", timeout=120_000)
    wait_idle(page, 120_000)
    return context, page


def teacher_steers_across_replicas(teacher, student) -> None:
    """The class lives in PostgreSQL, not in a replica: the console on one sees and moves a student on the other."""
    nav(teacher, "Teacher")
    teacher.get_by_role("tab", name="Make a class").click()
    teacher.get_by_role("textbox", name="School password").fill(SCHOOL_PASSWORD)
    teacher.get_by_role("button", name="Make a class").click()
    teacher.wait_for_selector("text=Your teacher key", timeout=60_000)
    code = re.search(
        r"Class (\w{3}-\w{3})", teacher.locator("[data-testid=stMain] h3", has_text="Class ").first.inner_text()
    ).group(1)
    form = student.locator("[data-testid=stMain] [data-testid=stForm]")
    form.get_by_role("textbox", name="Class code").fill(code)
    form.get_by_role("textbox", name="Your name").fill("Ada")
    form.get_by_role("button", name="Join").click()
    student.wait_for_selector("text=In class", timeout=30_000)
    teacher.wait_for_selector("text=1 student(s) joined", timeout=30_000)
    teacher.get_by_role("button", name="Bring everyone here").click()
    student.wait_for_selector("h1:has-text('Draw a digit')", timeout=30_000)
    shot(teacher, "school-teacher-console")
    teacher.locator("[data-testid=stSidebar]").get_by_role("link", name="Start").click()
    teacher.wait_for_selector("h1:has-text('CNN Explorer')")
    wait_idle(teacher)


def test_a_class_behind_the_proxy_keeps_its_work_and_its_runs_when_a_replica_or_a_node_stops(classroom, browser):
    s = classroom
    # TLS: the class opens https; plain http is sent there, and the browser is told to stay on https (HSTS)
    plain = fetch(f"{s.url.plain_url}/?ws=abc")
    assert plain.status == 301 and plain.headers["Location"] == f"{s.url}/?ws=abc"
    assert (
        s.url.startswith("https://") and "max-age=" in fetch(f"{s.url}/_stcore/health").headers["Strict-Transport-Security"]
    )
    ctx1, p1 = student(browser, s.url)
    ctx2, p2 = student(browser, s.url)
    for _ in range(4):  # round robin: the next new browser lands on the other replica
        if replica_of(ctx2) != replica_of(ctx1):
            break
        ctx2.close()
        ctx2, p2 = student(browser, s.url)
    else:
        raise AssertionError(f"the proxy sent four new browsers to replica {replica_of(ctx1)} only")
    r1, r2 = replica_of(ctx1), replica_of(ctx2)

    # the teacher on one replica makes a class; a student on the other joins, shows on the roster, and is steered
    teacher_steers_across_replicas(p1, p2)

    # a student trains in one click and reloads: the run trained on the cluster, the work is in PostgreSQL
    p1.get_by_role("button", name=re.compile("Train the default CNN")).click()
    p1.wait_for_selector("text=Done after", timeout=180_000)
    wait_idle(p1)
    done, ws1 = p1.locator("text=Done after").first.inner_text(), ws_of(p1)
    p1.reload()
    p1.wait_for_selector("text=Done after", timeout=90_000)
    assert p1.locator("text=Done after").first.inner_text() == done and ws_of(p1) == ws1
    assert replica_of(ctx1) == r1  # sticky: the same replica

    # two students train at once: one run on each Ray node (one CPU each)
    prog1, prog2 = start_long_run(p1, epochs=200), start_long_run(p2, epochs=200)
    until(lambda: progress_step(prog1) > 0 and progress_step(prog2) > 0, 180, "both runs did not start")
    nodes = until(lambda: (lambda n: n if len(n) == 2 else None)(s.ray.run_nodes()), 60, "two run workers")
    assert len(set(nodes.values())) == 2, nodes  # spread over both nodes
    shot(p1, "school-two-runs")

    # replica r1 stops while its student's run trains: the student's next request is served by the other
    # replica, with the same workspace, and the run goes on (it lives in the cluster and the database)
    before = progress_step(prog1)
    stop_replica(s, r1)  # returns once the proxy's health checks have taken the replica out
    p1.reload()
    p1.wait_for_selector("h1", timeout=120_000)
    assert ws_of(p1) == ws1 and replica_of(ctx1) == r2
    prog1 = p1.locator("[data-testid=stProgress]")
    until(lambda: prog1.count() and progress_step(prog1) > before, 120, "the run did not go on after the replica stopped")
    assert "default" in p1.locator("[data-testid=stSidebar]").inner_text()  # the workspace's models are there
    shot(p1, "school-after-replica-stopped")

    # a Ray node stops mid-run: the run on it says what happened; the run on the other node goes on
    head = s.ray.query("out = next(n['NodeID'] for n in ray.nodes() if 'node:__internal_head__' in n['Resources'])")
    nodes = s.ray.run_nodes()
    lost_ws = next(name.split(":")[1] for name, node in nodes.items() if node != head)
    lost, kept = (p1, p2) if lost_ws == ws1 else (p2, p1)
    kept_prog = kept.locator("[data-testid=stProgress]")
    s.ray.stop_node(1)
    lost.wait_for_selector("text=the model keeps the weights it had before this run", timeout=120_000)
    sentence = lost.locator("text=the model keeps the weights it had before this run").first.inner_text()
    assert sentence.startswith("Ended early: the machine it trained on stopped or left the cluster"), sentence
    going = progress_step(kept_prog)
    until(lambda: progress_step(kept_prog) > going, 60, "the other run did not go on after the node stopped")
    shot(lost, "school-node-stopped")
    for c in (ctx1, ctx2):
        c.close()
