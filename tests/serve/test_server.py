"""The server's warm-up (``server.py`` starts it at the launch): it leaves the CPU to a first page asked for in
the first seconds, starts as soon as that page is drawn, and with no visitor starts by itself after a few seconds."""

from __future__ import annotations

import threading

from explorer.serve import server as server_module
from explorer.serve.server import Server
from tests.waits import wait_until


class Watched(Server):
    """A server whose cluster start and imports only say when they happen (no Ray, no torch)."""

    def __init__(self) -> None:
        self.cluster_started, self.imported = threading.Event(), threading.Event()
        super().__init__(after_imports=self.imported.set)

    def _start_cluster(self) -> None:
        self.cluster_started.set()
        self._cluster_ready.set()

    def _load_default_data(self) -> None:
        pass


def test_the_warm_up_waits_for_the_first_page_and_starts_as_soon_as_it_is_drawn(monkeypatch):
    monkeypatch.setattr(server_module, "FIRST_PAGE_WAIT_S", 60.0)
    monkeypatch.setenv("EXPLORER_OPEN_CLASSES", "1")  # no school password to print
    s = Watched()
    s.warm_up()
    assert not s.cluster_started.wait(0.5) and not s.imported.is_set()  # the first page has the CPU
    s.page_drawn()
    assert s.cluster_started.wait(10) and s.imported.wait(10)
    wait_until(lambda: s.ready, 10, "the warm-up did not end")
    assert s.workers_ready and not s.error


def test_with_no_visitor_the_warm_up_starts_by_itself(monkeypatch):
    monkeypatch.setattr(server_module, "FIRST_PAGE_WAIT_S", 0.2)
    monkeypatch.setenv("EXPLORER_OPEN_CLASSES", "1")
    s = Watched()
    s.warm_up()
    s.warm_up()  # once is enough: a second call (the first page's) starts nothing again
    assert s.cluster_started.wait(10) and s.imported.wait(10)  # no page was ever drawn
    wait_until(lambda: s.ready, 10, "the warm-up did not end")


def test_a_cluster_that_fails_to_start_is_said_once_the_warm_up_ends(monkeypatch):
    monkeypatch.setattr(server_module, "FIRST_PAGE_WAIT_S", 0.0)
    monkeypatch.setenv("EXPLORER_OPEN_CLASSES", "1")

    class Failing(Watched):
        def _start_cluster(self) -> None:
            raise RuntimeError("no room for Ray")

    s = Failing()
    s.warm_up()
    wait_until(lambda: s.ready, 10, "the warm-up did not end")
    assert s.error == "RuntimeError: no room for Ray" and s.workers_ready


def test_who_waits_for_the_workers_is_told_once_they_are_up_or_at_once_if_they_are(monkeypatch):
    monkeypatch.setattr(server_module, "FIRST_PAGE_WAIT_S", 60.0)
    monkeypatch.setenv("EXPLORER_OPEN_CLASSES", "1")
    s, told = Watched(), []
    s.when_workers_ready(lambda: told.append("before"))
    s.warm_up()
    assert not s.cluster_started.wait(0.3) and told == []  # waiting for the first page: not up yet, not told
    s.page_drawn()
    wait_until(lambda: told == ["before"], 10, "the waiting caller was not told")
    s.when_workers_ready(lambda: told.append("after"))  # up already: told at once, in the caller's thread
    assert told == ["before", "after"]
