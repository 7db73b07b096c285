"""What a busy, locked or different database costs a class: no page waits on a lock for more than about a second
(the save goes on in the background and nothing is lost), errors are sentences without paths or SQL, and names are
bounded where they enter, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from explorer.core.config import TrainConfig
from explorer.core.limits import MAX_NAME_CHARS
from explorer.core.presets import get_preset
from explorer.core.safejson import bounded_name
from explorer.core.uploads import load_csv
from explorer.serve.saver import BackgroundSaver
from explorer.serve.store import StoreError, WorkspaceStore
from explorer.serve.workspace import Workspace

pytest.importorskip("sqlalchemy")


def test_a_lock_held_through_a_whole_run_never_holds_a_save_over_a_second_and_loses_nothing(tmp_path, mnist5k):
    store = WorkspaceStore(state_dir=tmp_path)  # the app's busy timeout: about a second
    saver = BackgroundSaver(lambda: store, retry_s=0.5)
    ws_id, ws = store.new_id(), Workspace()
    ws.add_model(get_preset("default"), "m")
    version = store.save(ws_id, ws, {})
    holder = sqlite3.connect(tmp_path / "workspaces.sqlite3", timeout=1, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock (readers go on, in WAL mode)
    run = ws.start_training(mnist5k, TrainConfig(epochs=2, limit_train=1024, eval_splits=("test",)))
    deadline = time.monotonic() + 120
    waits: list[float] = []
    tick = threading.Event()
    try:
        while time.monotonic() < deadline and (not run.trainer.done or len(waits) < 6):  # the page's saves, about
            # twice a second, while the lock is held: until the run has ended, and for three seconds at least
            t0 = time.monotonic()
            payload = store.prepare(ws_id, ws, {"step": run.current().get("step", 0)})
            if saver.pending(ws_id):
                saver.submit(payload, version)
            else:
                with pytest.raises(StoreError, match=r"did not take the save \(it is busy\)"):
                    store.write(payload, version)
                saver.submit(payload, version)
            waits.append(time.monotonic() - t0)
            tick.wait(0.5)
        run.trainer.join(60)
        assert run.trainer.done and saver.pending(ws_id)  # the run ended under the lock; nothing written yet
        saver.submit(store.prepare(ws_id, ws, {"final": True}), version)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert saver.flush(15)
    outcome = saver.take(ws_id)
    assert outcome is not None and outcome.version > version and outcome.error is None  # (the newest save last)
    back = Workspace()
    saved = store.load(ws_id, back)
    assert saved.settings == {"final": True}
    assert back.models["m"].runs[0].history["status"] == "finished"
    assert len(back.models["m"].runs[0].history["epochs"]) == 2
    assert len(waits) >= 6 and max(waits) < 1.5, waits  # no save held its page longer than about a second


def test_a_background_save_overtaken_by_another_tab_says_so(tmp_path):
    store = WorkspaceStore(state_dir=tmp_path)
    ws_id, ws = store.new_id(), Workspace()
    ws.add_model(get_preset("linear"), "m")
    version = store.save(ws_id, ws, {})
    store.save(ws_id, ws, {"other": "tab"}, version=version)  # another tab wrote meanwhile
    saver = BackgroundSaver(lambda: store, retry_s=0.1)
    saver.submit(store.prepare(ws_id, ws, {"mine": 1}), version)
    assert saver.flush(5)
    outcome = saver.take(ws_id)
    assert outcome.version is None and "another tab" in str(outcome.error)
    assert saver.take(ws_id) is None  # said once


def test_database_errors_on_reads_are_sentences_without_paths_or_sql(tmp_path, capsys):
    store = WorkspaceStore(state_dir=tmp_path)
    store.engine.dispose()
    (tmp_path / "workspaces.sqlite3").chmod(0o000)
    store.engine = store.sa.create_engine(f"sqlite:///{tmp_path}/gone/none.sqlite3")  # a database out of reach
    for read in (
        lambda: store.board("7B"),
        lambda: store.class_digits("7B"),
        lambda: store.load(store.new_id(), Workspace()),
    ):
        with pytest.raises(StoreError) as e:
            read()
        text = str(e.value)
        assert "cannot be read just now: the database it cannot be reached" in text
        assert str(tmp_path) not in text and "SELECT" not in text and "sqlite" not in text.lower()
    assert "OperationalError" in capsys.readouterr().err  # the server's log keeps the full error


def test_bounded_names_are_one_line_trimmed_with_an_ellipsis():
    assert bounded_name("  two\nlines\tand\x00 nul ") == "two lines and nul"
    long = bounded_name("é" * 500)
    assert len(long) == MAX_NAME_CHARS and long.endswith("…") and long.startswith("éé")
    assert bounded_name("\n\t ", default="model") == "model" and bounded_name("short") == "short"


def _names_round_trip(store: WorkspaceStore) -> None:
    name = "a very long file name " + "x" * 478 + ".csv"  # 504 characters, as a browser may send it
    upload = load_csv(
        ("label,a,b,c,d\n" + "\n".join(f"{i % 2},{i % 5},1,2,3" for i in range(30))).encode(), name=name.rsplit(".", 1)[0]
    )
    ws = Workspace()
    entry = ws.add_model(get_preset("linear"), "m" * 500)
    twin = ws.add_model(get_preset("linear"), "m" * 500)  # the same long name again: unique, still bounded
    assert len(upload.name) == len(entry.name) == len(twin.name) == MAX_NAME_CHARS and entry.name != twin.name
    ws_id = store.new_id()
    version = store.save(ws_id, ws, {}, {upload.name: upload})
    version = store.save(ws_id, ws, {"later": "saves work too"}, {upload.name: upload}, version=version)
    back = Workspace()
    saved = store.load(ws_id, back)
    assert list(back.models) == [entry.name, twin.name] and list(saved.uploads) == [upload.name]
    assert saved.version == version


def test_names_of_500_characters_are_bounded_on_sqlite(tmp_path):
    _names_round_trip(WorkspaceStore(state_dir=tmp_path))


@pytest.mark.school
def test_names_of_500_characters_are_bounded_the_same_on_postgresql(tmp_path):
    from tests.school import missing, postgres

    if missing():
        pytest.skip(f"needs {missing()}; `make test` installs it")
    with postgres(tmp_path) as url:
        store = WorkspaceStore(url=url)
        try:
            _names_round_trip(store)
        finally:
            store.engine.dispose()


def test_two_tabs_saves_waiting_for_a_busy_database_never_replace_each_other(tmp_path):
    """Tab A makes a model while the database is busy; tab B (same workspace, opened before) saves meanwhile. The
    first written wins; the other is refused with a sentence, not written over A's work."""
    store = WorkspaceStore(state_dir=tmp_path)
    ws_id, base = store.new_id(), Workspace()
    base.add_model(get_preset("linear"), "shared")
    version = store.save(ws_id, base, {})
    tab_a, tab_b = Workspace(), Workspace()
    store.load(ws_id, tab_a)
    store.load(ws_id, tab_b)
    tab_a.add_model(get_preset("one-conv"), "made in tab A")
    saver = BackgroundSaver(lambda: store, retry_s=0.1)
    saver.submit(store.prepare(ws_id, tab_a, {}), version, writer="tab-a")  # both wait for the busy database
    saver.submit(store.prepare(ws_id, tab_b, {}), version, writer="tab-b")
    assert saver.pending(ws_id, "tab-a") and saver.pending(ws_id, "tab-b")
    assert saver.flush(5)
    a, b = saver.take(ws_id, "tab-a"), saver.take(ws_id, "tab-b")
    assert a.version == version + 1 and b.version is None and "another tab" in str(b.error)
    back = Workspace()
    store.load(ws_id, back)
    assert set(back.models) == {"shared", "made in tab A"}  # tab A's model was not lost to tab B's save


def test_a_reload_opens_the_work_as_it_was_left_even_while_its_last_save_waited_for_the_database(tmp_path):
    """A save handed to the background saver (the database was busy) lands before the workspace is opened again:
    the reload finds the newest settings, and its own next save is not refused as stale."""
    store = WorkspaceStore(state_dir=tmp_path)
    saver = BackgroundSaver(lambda: store, retry_s=30)  # its own loop would not try again for a long while
    ws_id, ws = store.new_id(), Workspace()
    ws.add_model(get_preset("default"), "m")
    version = store.save(ws_id, ws, {"step": 4})
    holder = sqlite3.connect(tmp_path / "workspaces.sqlite3", timeout=1, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError):
            store.write(store.prepare(ws_id, ws, {"step": 6}), version)
        saver.submit(store.prepare(ws_id, ws, {"step": 6}), version, "tab-1")
        assert saver.waiting(ws_id) and not saver.settle(ws_id, 0.5)  # still locked: it waits, then says so
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert saver.settle(ws_id, 5) and not saver.waiting(ws_id)  # the lock is gone: the reload's open writes it
    back = Workspace()
    saved = store.load(ws_id, back)
    assert saved.settings == {"step": 6}
    assert store.save(ws_id, back, {"step": 7}, version=saved.version) == saved.version + 1  # not stale


def test_the_save_policy_writes_now_or_in_the_background_and_says_why_not(tmp_path, monkeypatch):
    """The page's save policy as the library's one function: written at once; under another process's write lock,
    handed to the background saver (a later save of the same tab joins it), written once the lock goes; a save from
    an old version refused as stale, and one past the quota refused, neither retried."""
    from explorer.serve.saver import save_now_or_later

    store = WorkspaceStore(state_dir=tmp_path)
    saver = BackgroundSaver(lambda: store, retry_s=0.2)
    ws_id, ws = store.new_id(), Workspace()
    ws.add_model(get_preset("default"), "m")
    first = save_now_or_later(store, saver, store.prepare(ws_id, ws, {}), None, "tab")
    assert first.kind == "written" and first.saved and first.version is not None
    second = save_now_or_later(store, saver, store.prepare(ws_id, ws, {"n": 0}), first.version, "tab")
    assert second.kind == "written" and second.version > first.version
    stale = save_now_or_later(store, saver, store.prepare(ws_id, ws, {}), first.version, "other tab")  # read before
    assert stale.kind == "stale" and not stale.saved and "saved from another tab" in str(stale.reason)
    holder = sqlite3.connect(tmp_path / "workspaces.sqlite3", timeout=1, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        busy = save_now_or_later(store, saver, store.prepare(ws_id, ws, {"n": 1}), second.version, "tab")
        assert busy.kind == "deferred" and busy.saved and "busy" in str(busy.reason) and saver.pending(ws_id, "tab")
        later = save_now_or_later(store, saver, store.prepare(ws_id, ws, {"n": 2}), second.version, "tab")
        assert later.kind == "joined" and later.saved
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert saver.flush(15)
    outcome = saver.take(ws_id, "tab")
    assert outcome is not None and outcome.version > second.version
    assert store.load(ws_id, Workspace()).settings == {"n": 2}  # the newest of the tab's saves
    monkeypatch.setenv("EXPLORER_MAX_STORED_PERSON_MB", "1")
    big = Workspace()
    for i in range(16):  # 16 checkpoints of about 80 KB: past 1 MB
        big.add_model(get_preset("default"), f"m{i}")
    over = save_now_or_later(store, saver, store.prepare(store.new_id(), big, {}, person="ana"), None, "tab")
    assert over.kind == "over_quota" and "one person may keep" in str(over.reason) and not saver.pending(ws_id, "tab")
