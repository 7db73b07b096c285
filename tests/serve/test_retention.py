"""Retention as done: the server's timer ends expired classes (names, drawings, board) and old workspaces while the
server keeps running, with nobody opening the database or making a class meanwhile."""

from __future__ import annotations

import time

import pytest

from explorer.serve.retention import Retention, purge_every_s
from explorer.serve.store import WorkspaceStore
from tests.waits import wait_until


def test_the_timer_ends_a_class_once_its_hours_are_over_with_the_server_left_running(tmp_path, monkeypatch):
    store = WorkspaceStore(state_dir=tmp_path)
    monkeypatch.setenv("EXPLORER_CLASS_HOURS", str(1 / 3600))  # a class of one second
    code, _ = store.create_class("mnist")
    store.join(code, "Ada", "ws-a")
    assert store.class_state(code) is not None
    retention = Retention(store, every_s=0.2).start()
    try:
        wait_until(
            lambda: store.class_state(code) is None and not store.roster(code),
            10,
            "the timer to end the class and delete its names",
        )
        with store.engine.connect() as c:
            names = c.exec_driver_sql("SELECT name FROM class_students").all()
        assert ("Ada",) not in names and retention.runs >= 1
    finally:
        retention.stop()


def test_a_workspace_past_its_lifetime_is_deleted_by_the_timer(tmp_path):
    from explorer.serve.workspace import Workspace

    store = WorkspaceStore(state_dir=tmp_path, ttl_days=1)
    ws_id = store.new_id()
    store.save(ws_id, Workspace(), {})
    later = time.time() + 2 * 86400  # two days on: past its one-day lifetime
    assert Retention(store, every_s=3600).run_once(later) == (0, 1)
    assert store.load(ws_id, Workspace()) is None


@pytest.mark.parametrize("minutes,seconds", [("60", 3600.0), ("0", 1.0), ("bad", 3600.0), ("99999", 86400.0)])
def test_how_often_the_server_purges_is_a_setting_within_bounds(monkeypatch, minutes, seconds):
    monkeypatch.setenv("EXPLORER_PURGE_MINUTES", minutes)
    assert purge_every_s() == seconds
