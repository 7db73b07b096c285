"""What the server keeps about one person: shown, taken home as one zip, deleted with a receipt."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import torch

from explorer.core.checkpoint import load_checkpoint
from explorer.core.evaluate import predict_proba
from explorer.serve.store import WorkspaceStore
from explorer.serve.workspace import Workspace
from tests.serve.test_store import trained_workspace

pytest.importorskip("sqlalchemy")


@pytest.fixture()
def store(tmp_path):
    return WorkspaceStore(state_dir=tmp_path)


def a_class_life(store, mnist5k, person: str, name: str) -> tuple[str, str, Workspace]:
    """A person with two saved workspaces (a model trained in one), in a class: their name, a drawing, a board
    entry, and two wrong keys counted against their browser."""
    ws = trained_workspace(mnist5k, name=f"{name}-model")
    ws_id, other_tab = store.new_id(), store.new_id()
    store.save(ws_id, ws, {}, person=person)
    store.save(other_tab, trained_workspace(mnist5k, name=f"{name}-tab2"), {}, person=person)
    code, _ = store.create_class("mnist-5k", wanted=None) if not hasattr(store, "_code") else (store._code, "")
    store._code = code
    store.join(code, name, ws_id)
    store.add_digit(code, 7, torch.full((1, 28, 28), 200, dtype=torch.uint8), name)
    entry = ws.entry()
    store.publish(code, ws_id, entry.runs[0], entry.spec, name)
    for guess in ("nope-1", "nope-2"):
        with pytest.raises(ValueError):
            store.sign_in(code, guess, person)
    return code, ws_id, ws


def rows_naming(store, needles: list[str]) -> list[tuple[str, dict]]:
    """Every row of every table that holds one of ``needles`` in a text column."""
    found = []
    with store.engine.connect() as c:
        for t in (
            store.t_ws,
            store.t_models,
            store.t_runs,
            store.t_uploads,
            store.t_board,
            store.t_digits,
            store.t_classes,
            store.t_students,
            store.t_guesses,
        ):
            for r in c.execute(t.select()):
                values = {k: v for k, v in r._mapping.items() if isinstance(v, str)}
                if any(n in v for v in values.values() for n in needles):
                    found.append((t.name, values))
    return found


def test_a_person_sees_takes_home_and_deletes_all_that_is_kept_about_them(store, mnist5k):
    code, ws_id, ws = a_class_life(store, mnist5k, "person-ana", "Ana")
    _, other_ws, _ = a_class_life(store, mnist5k, "person-ben", "Ben")  # a classmate: untouched by Ana's deletion

    inv = store.inventory(ws_id, "person-ana")
    assert len(inv.workspaces) == 2 and sorted(inv.models) == ["Ana-model", "Ana-tab2"] and inv.runs == 2
    assert inv.classes[0][:2] == (code, "Ana") and inv.drawings == 1 and inv.board_entries == 1
    assert inv.key_tries == 2 and inv.workspace_expires > inv.classes[0][2]

    z = zipfile.ZipFile(io.BytesIO(store.export_zip(ws_id, "person-ana")))
    names = z.namelist()
    assert {"README.txt", "runs/runs.json", "runs/runs.csv", "board.json"} <= set(names)
    assert sum(n.startswith("models/") and n.endswith(".safetensors") for n in names) == 2
    assert sum(n.endswith(".onnx") for n in names) == 2 and sum(n.startswith("drawings/") for n in names) == 1
    assert sum(n.startswith("settings/") for n in names) == 2  # the guided path's progress travels in these
    model_file = next(n for n in names if n.startswith("models/") and "Ana-model" in n)
    back = load_checkpoint(z.read(model_file)).model  # the export loads back and predicts the same
    x = mnist5k.test_x[:64]
    assert torch.allclose(
        predict_proba(back, x, mnist5k.mean, mnist5k.std),
        predict_proba(ws.entry().inference_model(), x, mnist5k.mean, mnist5k.std),
        atol=1e-6,
    )
    assert len(json.loads(z.read("runs/runs.json"))) == 2 and "Ben" not in z.read("board.json").decode()

    receipt = store.delete_mine(ws_id, "person-ana")
    assert receipt.counts == {
        "drawings": 1,
        "names on a class roster": 1,
        "board entries": 1,
        "models": 2,
        "runs": 2,
        "uploads": 0,
        "workspaces": 2,
        "wrong keys counted": 2,
    }
    assert "models: 2" in receipt.text() and "Deletion receipt" in receipt.text()
    ana_ids = inv.workspaces
    assert rows_naming(store, [*ana_ids, "person-ana", "Ana"]) == []  # no row of hers, in any table
    assert store.inventory(ws_id, "person-ana").empty
    ben = store.inventory(other_ws, "person-ben")
    assert ben.models and ben.drawings == 1 and ben.board_entries == 1 and ben.key_tries == 2  # his stays


def test_the_data_pack_is_written_from_the_settings_and_docs_privacy_is_it_at_the_defaults():
    from pathlib import Path

    from explorer.serve.datapack import data_pack, privacy_doc

    pack = data_pack({})
    assert "at most **12 hours** after it was made" in pack and "deleted **30 days** after its last change" in pack
    assert "every **60 minutes**" in pack and "one SQLite file" in pack
    school = data_pack(
        {
            "EXPLORER_CLASS_HOURS": "2",
            "EXPLORER_WORKSPACE_TTL_DAYS": "7",
            "EXPLORER_PURGE_MINUTES": "15",
            "EXPLORER_DATABASE_URL": "postgresql+psycopg://x@db/explorer",
        }
    )
    assert "at most **2 hours**" in school and "12 hours" not in school and "deleted **7 days**" in school
    assert "every **15 minutes**" in school and "a PostgreSQL database the school runs" in school
    doc = Path(__file__).resolve().parents[2] / "docs" / "privacy.md"
    assert doc.read_text() == privacy_doc({}), "docs/privacy.md is stale: python -m explorer privacy --defaults"


def test_ending_a_class_gives_a_receipt_that_counts_what_went(store):
    code, key = store.create_class("mnist-5k", wanted=None)
    store.join(code, "Cleo", store.new_id())
    store.add_digit(code, 3, torch.zeros((1, 28, 28), dtype=torch.uint8), "Cleo")
    receipt = store.end_class_receipt(code, key)
    assert receipt.counts == {"students' names": 1, "drawings": 1, "board entries": 0, "wrong keys counted": 0}
    assert "students' names: 1" in receipt.text() and "drawings: 1" in receipt.text()
    assert rows_naming(store, ["Cleo", code]) == []  # nothing of the class is left, in any table


@pytest.mark.school
def test_deleting_all_of_it_leaves_no_row_on_postgresql_either(tmp_path, mnist5k):
    from tests.school import missing, postgres

    if missing():
        pytest.skip(f"needs {missing()}; `make test` installs it")
    with postgres(tmp_path) as url:
        store = WorkspaceStore(url=url)
        try:
            code, ws_id, _ = a_class_life(store, mnist5k, "person-ana", "Ana")
            inv = store.inventory(ws_id, "person-ana")
            assert inv.models and inv.drawings == 1 and inv.board_entries == 1 and inv.key_tries == 2
            receipt = store.delete_mine(ws_id, "person-ana")
            assert receipt.counts["models"] == 2 and receipt.counts["drawings"] == 1
            assert rows_naming(store, [*inv.workspaces, "person-ana", "Ana"]) == []
            assert store.stored_bytes_of(person="person-ana") == 0
        finally:
            store.engine.dispose()


def test_a_workspace_stays_its_first_writers_when_someone_else_opens_its_link(store, mnist5k):
    ws_id = store.new_id()
    ws = trained_workspace(mnist5k, name="Ana-model")
    store.save(ws_id, ws, {}, person="person-ana")
    store.save(ws_id, ws, {}, person="person-ben", version=1)  # Ben opened Ana's link and worked in it
    assert store.inventory("", "person-ana").workspaces == [ws_id]  # still in Ana's My data and quota ...
    assert store.inventory("", "person-ben").empty  # ... not taken into Ben's
    assert store.stored_bytes_of(person="person-ben") == 0 < store.stored_bytes_of(person="person-ana")


def test_an_export_past_its_size_is_refused_before_anything_is_read(store, mnist5k, monkeypatch):
    from explorer.serve import mydata

    _, ws_id, _ = a_class_life(store, mnist5k, "person-ana", "Ana")
    size = store.export_size(ws_id, "person-ana")
    assert size == store.stored_bytes_of(person="person-ana") > 0  # her two workspaces' models
    parts = store.export_parts(ws_id, "person-ana")
    assert parts.size >= size and len(parts.onnx) == 2  # each checkpoint also as ONNX (two, under the cap)
    names = zipfile.ZipFile(io.BytesIO(mydata.build_export(parts))).namelist()
    assert sum(n.endswith(".onnx") for n in names) == 2 and "README.txt" in names
    from explorer.core.budget import Budget

    monkeypatch.setattr(mydata, "budget", lambda: Budget(export_mb=0))  # less than her two small models
    with pytest.raises(ValueError, match="more than the 0 MB one download holds: download your models one at a"):
        store.export_parts(ws_id, "person-ana")
