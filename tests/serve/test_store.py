"""Workspaces in the database: round trip, isolation, concurrent writers, stale writers, damage, expiry."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from explorer.core.config import TrainConfig
from explorer.core.presets import get_preset
from explorer.core.uploads import load_csv
from explorer.serve.store import StoreError, WorkspaceStore
from explorer.serve.workspace import Run, Workspace
from tests.waits import wait_until

pytest.importorskip("sqlalchemy")


@pytest.fixture()
def store(tmp_path):
    return WorkspaceStore(state_dir=tmp_path)


def trained_workspace(mnist5k, name: str = "m", epochs: int = 1) -> Workspace:
    ws = Workspace()
    ws.add_model(get_preset("default"), name)
    run = ws.start_training(mnist5k, TrainConfig(epochs=epochs, limit_train=512, eval_splits=("test",)))
    run.trainer.join(120)
    run.current()
    return ws


def test_a_workspace_comes_back_whole(store, mnist5k):
    ws = trained_workspace(mnist5k)
    ws.add_model(get_preset("one-conv"), "second")
    upload = load_csv(("label,a,b,c,d\n" + "\n".join(f"{i % 2},{i % 5},1,2,3" for i in range(30))).encode(), name="mine")
    ws_id = store.new_id()
    v = store.save(ws_id, ws, {"dataset": "mine", "train": {"epochs": 7}}, {"mine": upload})
    back = Workspace()
    saved = store.load(ws_id, back)
    assert saved is not None and saved.version == v and saved.settings == {"dataset": "mine", "train": {"epochs": 7}}
    assert list(back.models) == ["m", "second"] and back.current == "second"
    for a, b in zip(ws.models["m"].model.state_dict().values(), back.models["m"].model.state_dict().values()):
        assert torch.equal(a, b)
    run_a, run_b = ws.models["m"].runs[0], back.models["m"].runs[0]
    assert run_b.current()["epochs"] == run_a.current()["epochs"] and run_b.config == run_a.config
    assert back.models["m"].state == "trained" and back.models["m"].test_accuracy == ws.models["m"].test_accuracy
    assert torch.equal(saved.uploads["mine"].train_x, upload.train_x) and saved.uploads["mine"].classes == ("0", "1")
    nxt = back.start_training(mnist5k, TrainConfig(epochs=1, limit_train=64, eval_splits=()), name="m")
    assert nxt.id == run_a.id + 1  # run numbers carry on
    nxt.trainer.join(60)


def test_one_workspace_never_sees_anothers(store, mnist5k):
    a, b = trained_workspace(mnist5k, "alice"), Workspace()
    b.add_model(get_preset("linear"), "bob")
    ida, idb = store.new_id(), store.new_id()
    store.save(ida, a, {"who": "a"})
    store.save(idb, b, {"who": "b"})
    got_a, got_b = Workspace(), Workspace()
    assert store.load(ida, got_a).settings == {"who": "a"} and store.load(idb, got_b).settings == {"who": "b"}
    assert list(got_a.models) == ["alice"] and list(got_b.models) == ["bob"]
    assert store.load(store.new_id(), Workspace()) is None  # an id nobody saved opens nothing
    assert store.load("../../etc/passwd", Workspace()) is None and len(ida) >= 24


def test_twenty_concurrent_writers_lose_and_mix_nothing(store):
    ids = [store.new_id() for _ in range(20)]
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            ws = Workspace()
            ws.add_model(get_preset("linear"), f"writer-{i}")
            version = None
            for k in range(5):
                ws.models[f"writer-{i}"].spec["description"] = f"save {k}"
                version = store.save(ids[i], ws, {"writer": i, "save": k}, version=version)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:1]
    for i, ws_id in enumerate(ids):
        back = Workspace()
        saved = store.load(ws_id, back)
        assert saved.settings == {"writer": i, "save": 4} and saved.version == 5
        assert list(back.models) == [f"writer-{i}"]
    assert store.count() == 20


def test_a_stale_writer_is_refused_not_merged(store):
    ws_id, ws = store.new_id(), Workspace()
    ws.add_model(get_preset("linear"), "x")
    v1 = store.save(ws_id, ws, {})
    store.save(ws_id, ws, {"tab": 2}, version=v1)  # another tab saves
    with pytest.raises(StoreError, match="another tab"):
        store.save(ws_id, ws, {"tab": 1}, version=v1)
    assert store.load(ws_id, Workspace()).settings == {"tab": 2}


def test_two_tabs_saving_from_the_same_version_at_once_cannot_both_win(store):
    ws_id, ws = store.new_id(), Workspace()
    ws.add_model(get_preset("linear"), "x")
    v1 = store.save(ws_id, ws, {"tab": 0})
    start, results = threading.Barrier(8), []

    def tab(i: int) -> None:
        start.wait()
        try:
            results.append(("saved", i, store.save(ws_id, ws, {"tab": i}, version=v1)))
        except StoreError as e:
            results.append(("refused", i, str(e)))

    threads = [threading.Thread(target=tab, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    saved = [r for r in results if r[0] == "saved"]
    assert len(results) == 8 and len(saved) == 1, results  # exactly one writer of version 1 wins
    assert all("another tab" in r[2] for r in results if r[0] == "refused")
    assert store.load(ws_id, Workspace()).settings == {"tab": saved[0][1]}


def test_a_new_workspace_saved_by_two_tabs_at_once_is_refused_for_the_second(store):
    ws_id, ws = store.new_id(), Workspace()
    ws.add_model(get_preset("linear"), "x")
    store.save(ws_id, ws, {"tab": 1}, version=None)
    with pytest.raises(StoreError, match="another tab"):
        store.save(ws_id, ws, {"tab": 2}, version=0)  # this tab believed it was the first


def test_a_locked_database_is_left_alone_not_taken_for_a_damaged_one(tmp_path):
    import sqlite3

    first = WorkspaceStore(state_dir=tmp_path)
    ws_id, ws = first.new_id(), Workspace()
    ws.add_model(get_preset("linear"), "x")
    first.save(ws_id, ws, {"kept": True})
    first.engine.dispose()
    path = tmp_path / "workspaces.sqlite3"
    holder = sqlite3.connect(path, timeout=1)
    holder.execute("PRAGMA journal_mode=DELETE")  # a rollback journal: an exclusive lock keeps readers out
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match=r"cannot be used now \(it is busy\); nothing "):
            WorkspaceStore(state_dir=tmp_path, busy_timeout_s=0.3)
    finally:
        holder.rollback()
        holder.close()
    assert not any(".unreadable-" in p.name for p in tmp_path.iterdir())  # nothing moved aside
    again = WorkspaceStore(state_dir=tmp_path)
    assert str(again.notice) == "" and again.load(ws_id, Workspace()).settings == {"kept": True}


def test_a_damaged_file_is_moved_aside_once_and_never_onto_a_kept_file(tmp_path, monkeypatch):
    path = tmp_path / "workspaces.sqlite3"
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.0)  # both moves in the same second
    for _ in (1, 2):
        path.write_bytes(b"this is not a database" * 100)
        store = WorkspaceStore(state_dir=tmp_path)
        assert "damaged" in str(store.notice) and store.count() == 0
        store.engine.dispose()
        path.unlink()
    kept = sorted(p.name for p in tmp_path.iterdir() if ".unreadable-" in p.name and not p.name.endswith(("-wal", "-shm")))
    assert kept == ["workspaces.sqlite3.unreadable-1700000000", "workspaces.sqlite3.unreadable-1700000000-2"]


def test_only_a_file_sqlite_calls_damaged_is_moved_aside():
    from explorer.serve.database import _damaged

    assert _damaged("file is not a database") and _damaged("database disk image is malformed")
    for busy in ("database is locked", "disk I/O error", "database or disk is full", "unable to open database file"):
        assert not _damaged(busy)


def test_a_run_saved_while_training_comes_back_interrupted(store, mnist5k):
    ws = Workspace()
    ws.add_model(get_preset("default"), "m")
    run = ws.start_training(mnist5k, TrainConfig(epochs=100, eval_splits=("test",)))
    wait_until(lambda: run.trainer.step >= 5, 60, "five steps")
    run.trainer.pause()  # the weights hold still between the save and the copy the test keeps
    assert run.trainer.held.wait(10)  # the step in progress when the pause came has ended
    ws_id = store.new_id()
    store.save(ws_id, ws, {})
    saved_weights = {k: v.clone() for k, v in ws.models["m"].inference_model().state_dict().items()}
    run.trainer.stop()
    run.trainer.join(30)
    back = Workspace()
    store.load(ws_id, back)
    h = back.models["m"].runs[0].current()
    assert h["status"] == "interrupted" and "weights saved at step" in h["message"]
    assert back.models["m"].active_run is None  # nothing pretends to train
    changed = [not torch.equal(saved_weights[k], v) for k, v in back.models["m"].model.state_dict().items()]
    assert not all(changed)  # the weights are the ones saved with it, not the untrained ones


def test_a_damaged_database_gives_a_notice_and_a_fresh_start(tmp_path):
    (tmp_path / "workspaces.sqlite3").write_bytes(b"this is not a database" * 100)
    store = WorkspaceStore(state_dir=tmp_path)
    assert "could not be read" in str(store.notice) and store.count() == 0
    assert any(p.name.startswith("workspaces.sqlite3.unreadable-") for p in tmp_path.iterdir())
    ws = Workspace()
    ws.add_model(get_preset("linear"), "x")
    store.save(store.new_id(), ws, {})
    assert store.count() == 1


def test_old_workspaces_expire(store):
    ws = Workspace()
    ws.add_model(get_preset("linear"), "x")
    old, new = store.new_id(), store.new_id()
    store.save(old, ws, {})
    store.save(new, ws, {})
    with store.engine.begin() as c:
        c.execute(store.t_ws.update().where(store.t_ws.c.id == old).values(updated=time.time() - 40 * 86400))
    assert store.expire() == 1
    assert store.load(old, Workspace()) is None and store.load(new, Workspace()) is not None


def test_the_class_board_shows_only_what_is_published(store, mnist5k):
    ws = trained_workspace(mnist5k, "mine")
    entry = ws.models["mine"]
    ws_id = store.new_id()
    store.save(ws_id, ws, {})
    code, other = store.create_class("mnist-5k")[0], store.create_class("mnist-5k")[0]
    assert store.board(code) == []  # saving a workspace publishes nothing
    store.publish(code, ws_id, entry.runs[0], entry.spec, "  Ada's   first ")
    store.publish(code, ws_id, entry.runs[0], entry.spec, "Ada's second try")  # the same run again: replaced
    store.publish(other, ws_id, entry.runs[0], entry.spec, "elsewhere")
    rows = store.board(code)
    assert len(rows) == 1 and rows[0]["name"] == "Ada's second try"
    assert rows[0]["accuracy"] == entry.test_accuracy and rows[0]["params"] == entry.params
    assert rows[0]["architecture"].startswith("Conv2d → MaxPool2d")
    assert "ws" not in rows[0] and ws_id not in str(rows[0])  # nothing leads back to the workspace
    assert "spec" not in rows[0] and "history" not in rows[0]  # light rows: the board reads no spec or history
    opened = store.board_entry(code, rows[0]["id"])
    assert opened["spec"] == entry.spec
    assert len(opened["history"]["epochs"]) == len(entry.runs[0].current()["epochs"])
    assert opened["history"]["steps"] == []  # a published history is trimmed to its epochs
    assert store.board_entry(other, rows[0]["id"]) is None  # an entry opens only on its own board
    with pytest.raises(StoreError, match="give a name"):
        store.publish(code, ws_id, entry.runs[0], entry.spec, "   ")
    untrained = Workspace()
    untrained.add_model(get_preset("linear"), "u")
    from explorer.serve.workspace import Run

    with pytest.raises(StoreError, match="test accuracy"):
        store.publish(code, ws_id, Run(9, "u", "mnist-5k", {}, 1), get_preset("linear"), "x")
    with pytest.raises(ValueError, match="class code"):
        store.publish("no spaces allowed", ws_id, entry.runs[0], entry.spec, "x")
    with pytest.raises(StoreError, match="there is no class"):  # a code nobody made: no board
        store.publish("KKK-KKK", ws_id, entry.runs[0], entry.spec, "x")


def test_a_board_counts_runs_on_its_class_dataset_and_a_few_per_student(store, mnist5k):
    """A class's board measures every entry on the class's dataset: a run on another dataset, or on an upload that
    carries the built-in dataset's name, is refused; one student (workspace) has at most three entries."""
    from explorer.core.limits import MAX_ENTRIES_PER_STUDENT

    entry = trained_workspace(mnist5k, "m").models["m"]
    run = entry.runs[0]
    code, _ = store.create_class("mnist")  # the class works on the full MNIST, the run trained on mnist-5k
    with pytest.raises(StoreError, match="counts runs on 'mnist' only"):
        store.publish(code, "ws-a" * 5, run, entry.spec, "Ada")
    code, _ = store.create_class("mnist-5k")
    with pytest.raises(StoreError, match="an upload called 'mnist-5k'"):
        store.publish(code, "ws-a" * 5, run, entry.spec, "Ada", from_upload=True)
    runs = [Run(i, "m", "mnist-5k", {}, entry.params, history=run.current()) for i in range(1, 5)]
    for r in runs[:MAX_ENTRIES_PER_STUDENT]:
        store.publish(code, "ws-a" * 5, r, entry.spec, f"Ada {r.id}")
    store.publish(code, "ws-a" * 5, runs[0], entry.spec, "Ada best")  # the same run again replaces its entry
    with pytest.raises(StoreError, match=f"{MAX_ENTRIES_PER_STUDENT} runs on the board already"):
        store.publish(code, "ws-a" * 5, runs[3], entry.spec, "Ada 4")
    store.publish(code, "ws-b" * 5, runs[3], entry.spec, "Grace")  # another student has room
    assert sorted(r["name"] for r in store.board(code)) == ["Ada 2", "Ada 3", "Ada best", "Grace"]


def test_a_model_this_server_cannot_open_is_reported_and_kept_not_deleted(store, monkeypatch):
    from explorer.serve.workspace import Run

    ws_id, ws = store.new_id(), Workspace()
    ws.add_model(get_preset("linear"), "small")
    ws.add_model(get_preset("cifar-cnn"), "big")  # 545,098 parameters
    ws.models["big"].runs.append(Run(1, "big", "cifar10", {}, 545_098, history={"status": "finished", "epochs": []}))
    store.save(ws_id, ws, {})
    monkeypatch.setenv("EXPLORER_MAX_PARAMS", "100000")  # the operator lowers the budget
    back = Workspace()
    saved = store.load(ws_id, back)
    assert list(back.models) == ["small"] and back.kept_models == {"big"}
    assert any("'big' cannot be opened" in k and "545,098 parameters" in k and "kept" in k for k in map(str, saved.kept))
    back.add_model(get_preset("linear"), "another")
    store.save(ws_id, back, {}, version=saved.version)  # the next save keeps what it could not open
    monkeypatch.delenv("EXPLORER_MAX_PARAMS")
    again = Workspace()
    store.load(ws_id, again)
    assert set(again.models) == {"small", "big", "another"} and len(again.models["big"].runs) == 1
    again.remove("big")  # removed on purpose, it goes
    store.save(ws_id, again, {})
    assert _model_names(store, ws_id) == {"small", "another"}


def _model_names(store, ws_id: str) -> set[str]:
    t = store.t_models
    with store.engine.connect() as c:
        return {r.name for r in c.execute(store.sa.select(t.c.name).where(t.c.ws == ws_id))}


def test_a_save_writes_only_the_models_that_changed(store):
    ws_id, ws = store.new_id(), Workspace()
    ws.add_model(get_preset("linear"), "a")
    ws.add_model(get_preset("default"), "b")
    store.save(ws_id, ws, {})
    statements: list[str] = []
    store.sa.event.listen(
        store.engine,
        "before_cursor_execute",
        lambda conn, cur, sql, params, ctx, many: statements.append(sql.split()[0] + " " + sql),
    )
    store.save(ws_id, ws, {"nothing": "changed in the models"})
    assert not [s for s in statements if s.startswith(("INSERT", "UPDATE")) and " models " in s.replace('"', " ")]
    with torch.no_grad():
        ws.models["b"].model[0].weight.add_(1.0)
    ws.models["b"]._checkpoint = None  # (its weights changed outside a run: the cached file is stale)
    statements.clear()
    store.save(ws_id, ws, {})
    touched = [s for s in statements if s.startswith(("INSERT", "UPDATE")) and " models " in s.replace('"', " ")]
    assert len(touched) == 1 and touched[0].startswith("UPDATE")  # b only
    back = Workspace()
    store.load(ws_id, back)
    assert torch.equal(back.models["b"].model[0].weight, ws.models["b"].model[0].weight)


def test_only_the_teacher_key_hides_entries_or_clears_a_board(store, mnist5k):
    ws = trained_workspace(mnist5k, "m")
    entry = ws.models["m"]
    code, key = store.create_class("mnist-5k")
    other, other_key = store.create_class("mnist-5k")
    for name in ("Ada", "Grace"):
        store.publish(code, store.new_id(), entry.runs[0], entry.spec, name)
    rows = store.board(code)
    with pytest.raises(StoreError, match="not the teacher key"):
        store.hide_entry(code, "guess", rows[0]["id"])
    with pytest.raises(StoreError, match="not the teacher key"):
        store.clear_board(code, key + "x")
    with pytest.raises(StoreError, match="not the teacher key"):  # a key opens its own class only
        store.clear_board(code, other_key)
    assert not store.is_teacher(other, key)
    store.hide_entry(code, key, next(r["id"] for r in rows if r["name"] == "Ada"))
    assert [r["name"] for r in store.board(code)] == ["Grace"]
    assert store.clear_board(code, key) == 1 and store.board(code) == []


def test_a_class_shares_its_drawn_digits_and_only_the_teacher_removes_one(store, mnist5k):
    code, key = store.create_class("mnist-5k")
    other, _ = store.create_class("mnist-5k")
    letters, _ = store.create_class("mnist-5k")
    a = store.add_digit(code, 3, mnist5k.test_x[0], "Ada")
    store.add_digit(code, 7, mnist5k.test_x[1], "  Grace   H ")
    store.add_digit(other, 1, mnist5k.test_x[2], "Linus")
    ours = store.class_digits(code)
    assert ours["y"].tolist() == [3, 7] and ours["authors"] == ["Ada", "Grace H"]
    assert torch.equal(ours["x"][0], mnist5k.test_x[0])  # the very pixels drawn
    for bad, words in (
        ((11, mnist5k.test_x[0]), "from 0 to 9"),
        ((3, torch.zeros(1, 32, 32, dtype=torch.uint8)), "only a 28x28 drawing"),
    ):
        with pytest.raises(StoreError, match=words):
            store.add_digit(code, *bad, "x")
    with pytest.raises(StoreError, match="not the teacher key"):
        store.remove_digit(code, "guess", a)
    store.remove_digit(code, key, a)
    assert store.class_digits(code)["y"].tolist() == [7]
    assert len(store.class_digits("nobody")["ids"]) == 0
    with pytest.raises(StoreError, match="there is no class"):  # a made-up code has no set to add to
        store.add_digit("KKK-KKK", 3, mnist5k.test_x[0], "Ada")
    store.add_digit(letters, 10, 255 - mnist5k.test_x[0], "Ada")  # 10: "not a digit" (a letter, a doodle)
    assert store.class_digits(letters)["y"].tolist() == [10]


def test_a_database_from_before_the_versioned_schema_is_upgraded_and_keeps_its_work(tmp_path):
    """The previous schema (workspaces, models, runs, uploads, board; no Alembic revision) opens, gains the new
    tables, and every saved workspace is still there."""
    first = WorkspaceStore(state_dir=tmp_path)
    ws_id, ws = first.new_id(), Workspace()
    ws.add_model(get_preset("default"), "kept")
    first.save(ws_id, ws, {"dataset": "mnist-5k"})
    with first.engine.begin() as c:  # back to the schema of before: no revision table, no new tables
        for table in ("alembic_version", "class_digits", "classes", "class_students", "class_guesses"):
            c.exec_driver_sql(f"DROP TABLE {table}")
    first.engine.dispose()
    again = WorkspaceStore(state_dir=tmp_path)
    tables = set(again.sa.inspect(again.engine).get_table_names())
    assert {"classes", "class_students", "class_digits", "alembic_version", "workspaces"} <= tables
    assert "board_keys" not in tables  # the first-come keys of before are gone: a class is made with its key
    with again.engine.connect() as c:
        assert c.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0006"
    back = Workspace()
    saved = again.load(ws_id, back)
    assert saved.settings == {"dataset": "mnist-5k"} and list(back.models) == ["kept"]
    assert again.create_class("mnist")  # the new tables work
    WorkspaceStore(state_dir=tmp_path)  # and opening it again changes nothing


def test_a_database_whose_upgrade_was_interrupted_opens_with_its_work(tmp_path):
    """An empty revision table (a failed run that SQLite half kept) or tables a build made before its revision:
    the store still opens, upgrades and keeps what is there."""
    first = WorkspaceStore(state_dir=tmp_path)
    ws_id, ws = first.new_id(), Workspace()
    ws.add_model(get_preset("linear"), "kept")
    first.save(ws_id, ws, {})
    with first.engine.begin() as c:
        c.exec_driver_sql("DELETE FROM alembic_version")  # the new tables stay, the revision is gone
    first.engine.dispose()
    again = WorkspaceStore(state_dir=tmp_path)
    assert list(_model_names(again, ws_id)) == ["kept"]
    with again.engine.connect() as c:
        assert c.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0006"


def test_board_entries_published_before_the_handwriting_column_keep_it(tmp_path):
    """Revision 0004 moves the handwriting accuracy out of the history JSON into a column the light rows read."""
    first = WorkspaceStore(state_dir=tmp_path)
    run = Run(
        1,
        "m",
        "mnist-5k",
        {},
        20_570,
        history={"status": "finished", "epochs": [{"epoch": 1, "step": 1, "test_accuracy": 0.9}]},
    )
    code, _ = first.create_class("mnist-5k")
    first.publish(code, first.new_id(), run, get_preset("default"), "Ada", handwriting=0.75)
    with first.engine.begin() as c:  # as a database of revision 0003 held it
        c.exec_driver_sql("ALTER TABLE board DROP COLUMN handwriting")
        c.exec_driver_sql("UPDATE alembic_version SET version_num = '0003'")
    first.engine.dispose()
    again = WorkspaceStore(state_dir=tmp_path)
    assert [(r["name"], r["handwriting"]) for r in again.board(code)] == [("Ada", 0.75)]


def test_a_published_history_keeps_only_its_epochs_known_figures():
    from explorer.core.limits import MAX_PUBLISHED_EPOCHS
    from explorer.serve.classroom import published_history

    hist = {
        "status": "finished",
        "steps": [{"step": i, "loss": 1.0} for i in range(10_000)],
        "epochs": [
            {"epoch": i, "test_accuracy": 0.5, "junk": "x" * 1000, "val_loss": float("nan")}
            for i in range(MAX_PUBLISHED_EPOCHS + 20)
        ]
        + ["not an epoch"],
        "handwriting_accuracy": 7.0,
        "extra": {"deep": [1, 2, 3]},
    }
    out = published_history(hist)
    assert out["steps"] == [] and set(out) == {"epochs", "steps", "status"}  # 7.0 is no accuracy: dropped
    assert len(out["epochs"]) == MAX_PUBLISHED_EPOCHS and out["epochs"][-1] == {
        "epoch": MAX_PUBLISHED_EPOCHS + 19.0,
        "test_accuracy": 0.5,
    }


def test_a_classmate_not_the_author_confirms_a_digit_once(store, mnist5k):
    code, _ = store.create_class("mnist-5k")
    d = store.add_digit(code, 4, mnist5k.test_x[0], "Ada")
    with pytest.raises(StoreError, match="not by the one who drew it"):
        store.confirm_digit(code, d, " ada ")
    store.confirm_digit(code, d, "Grace")
    store.confirm_digit(code, d, "Linus")  # the first confirmation stays
    assert store.class_digits(code)["confirmed_by"] == ["Grace"]
    with pytest.raises(StoreError, match="give your name"):
        store.confirm_digit(code, d, "  ")


WIDE = {
    "name": "wide",
    "input_shape": [1, 28, 28],
    "num_classes": 10,
    "layers": [
        {"type": "Flatten"},
        {"type": "Linear", "out_features": 256},
        {"type": "ReLU"},
        {"type": "Linear", "out_features": 10},
    ],
}  # 203,530 parameters: about 0.8 MB saved


def wide_workspace(n: int = 1) -> Workspace:
    ws = Workspace()
    for i in range(n):
        ws.add_model(WIDE, f"wide-{i}")
    return ws


def test_saved_work_is_held_to_a_quota_per_person_and_for_everyone(store, monkeypatch):
    from explorer.serve.quota import QuotaError

    monkeypatch.setenv("EXPLORER_MAX_STORED_PERSON_MB", "2")
    a1, a2, b1 = store.new_id(), store.new_id(), store.new_id()
    store.save(a1, wide_workspace(1), {}, person="ana")
    mine = store.stored_bytes_of(person="ana")
    assert 0.7 * 2**20 < mine < 1.0 * 2**20  # the checkpoint, counted by the database
    with pytest.raises(
        QuotaError,
        match=r"your saved work would take 2\.\d MB, past the 2 MB one person may keep here: "
        r"remove a model",
    ):
        store.save(a2, wide_workspace(2), {}, person="ana")  # her second tab's workspace: counted with the first
    assert store.stored_bytes_of(person="ana") == mine  # the refused save left nothing behind
    assert store.load(a2, Workspace()) is None
    store.save(b1, wide_workspace(2), {}, person="ben")  # another person has their own quota
    monkeypatch.setenv("EXPLORER_MAX_STORED_MB", "3")
    with pytest.raises(QuotaError, match=r"the class's saved work would take 3\.\d MB, past the 3 MB this app may keep"):
        store.save(store.new_id(), wide_workspace(1), {}, person="cleo")
    store.save(a1, Workspace(), {}, person="ana")  # removing work is always taken
    assert store.stored_bytes_of(person="ana") == 0
