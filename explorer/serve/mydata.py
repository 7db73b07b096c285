"""What the server keeps about one person, read from the database: shown to them, taken home as one zip, deleted
with a receipt.

A person is the browser's signed id (``workspaces.person``) with the workspace they have open; their rows are
those of their workspaces (models, runs, uploads), of the classes they joined from those workspaces (their name
on a roster, their board entries, the drawings they added under that name), and the wrong class keys or school
passwords counted against their browser. ``MyData`` is part of :class:`explorer.serve.store.WorkspaceStore`.
"""

from __future__ import annotations

import csv
import io
import json
import time
import zipfile
from dataclasses import dataclass, field
from typing import Any

from ..core.limits import MAX_ONNX_IN_EXPORT
from .classroom import OnStore
from .roster import safe_cell

__all__ = ["MyData", "Inventory", "Receipt"]


@dataclass
class Inventory:
    """What the server keeps about a person, in counts and names, with when each part will be deleted."""

    workspaces: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    runs: int = 0
    uploads: list[str] = field(default_factory=list)
    classes: list[tuple[str, str, float]] = field(default_factory=list)  # (code, my name there, its expiry)
    drawings: int = 0
    board_entries: int = 0
    key_tries: int = 0
    workspace_expires: float | None = None  # the latest of their workspaces' deletion times

    @property
    def empty(self) -> bool:
        return not (self.workspaces or self.classes or self.key_tries)


@dataclass
class Receipt:
    """What a deletion removed, row counts by kind, and when."""

    at: float
    counts: dict[str, int]

    def text(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.at))
        lines = [f"Deletion receipt, {when}", ""] + [f"{kind}: {n}" for kind, n in self.counts.items()]
        return "\n".join(lines + ["", "Nothing of this is kept by the app after this moment."]) + "\n"


class MyData(OnStore):
    """A person's rows: their inventory, their export, their deletion (on the store's database)."""

    ttl_days: float
    t_ws: Any
    t_models: Any
    t_runs: Any
    t_uploads: Any
    t_board: Any
    t_digits: Any
    t_students: Any
    t_classes: Any
    t_guesses: Any

    def _mine(self, c: Any, ws_id: str, person: str) -> tuple[list[str], list[tuple[str, str]]]:
        """The person's workspace ids (the open one, and every one saved under their browser's id), and the classes
        they joined from them, as (code, their name there)."""
        t = self.t_ws
        ids = {ws_id} if ws_id else set()
        if person:
            ids |= {r.id for r in c.execute(self.sa.select(t.c.id).where(t.c.person == person))}
        s = self.t_students
        joined = [(r.class_code, r.name) for r in c.execute(self.sa.select(s.c.class_code, s.c.name).where(
            s.c.ws.in_(sorted(ids))))] if ids else []
        return sorted(ids), joined

    def inventory(self, ws_id: str, person: str = "") -> Inventory:
        """What the server keeps about this person now, read from the database."""
        sa, inv = self.sa, Inventory()
        with self._db() as c:
            ids, joined = self._mine(c, ws_id, person)
            have = [r.id for r in c.execute(sa.select(self.t_ws.c.id).where(self.t_ws.c.id.in_(ids)))]
            inv.workspaces = have
            inv.models = [r.name for r in c.execute(sa.select(self.t_models.c.name).where(self.t_models.c.ws.in_(ids)))]
            inv.runs = int(c.execute(sa.select(sa.func.count()).select_from(self.t_runs).where(
                self.t_runs.c.ws.in_(ids))).scalar() or 0)
            inv.uploads = [r.name for r in c.execute(sa.select(self.t_uploads.c.name).where(
                self.t_uploads.c.ws.in_(ids)))]
            for code, name in joined:
                row = c.execute(sa.select(self.t_classes.c.expires).where(self.t_classes.c.code == code)).first()
                inv.classes.append((code, name, float(row.expires) if row else 0.0))
                inv.drawings += int(c.execute(sa.select(sa.func.count()).select_from(self.t_digits).where(
                    (self.t_digits.c.class_code == code) & (self.t_digits.c.author == name))).scalar() or 0)
            inv.board_entries = int(c.execute(sa.select(sa.func.count()).select_from(self.t_board).where(
                self.t_board.c.ws.in_(ids))).scalar() or 0)
            inv.key_tries = int(c.execute(sa.select(sa.func.count()).select_from(self.t_guesses).where(
                self.t_guesses.c.who == person)).scalar() or 0) if person else 0
            latest = c.execute(sa.select(sa.func.max(self.t_ws.c.updated)).where(self.t_ws.c.id.in_(ids))).scalar()
        inv.workspace_expires = None if latest is None else float(latest) + self.ttl_days * 86400
        return inv

    def export_zip(self, ws_id: str, person: str = "") -> bytes:
        """All of it as one zip: each model's checkpoint (safetensors, as the app loads it back), the runs (JSON
        and CSV), the uploads, the drawings (PNG), the board entries, and a README that says what each file is."""
        sa, buf = self.sa, io.BytesIO()
        with self._db() as c, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            ids, joined = self._mine(c, ws_id, person)
            for i, r in enumerate(c.execute(sa.select(self.t_models).where(self.t_models.c.ws.in_(ids)))):
                z.writestr(f"models/{r.ws[:6]}-{_file(r.name)}.safetensors", bytes(r.checkpoint))
                if i < MAX_ONNX_IN_EXPORT and (onnx := _onnx(bytes(r.checkpoint))) is not None:
                    z.writestr(f"models/{r.ws[:6]}-{_file(r.name)}.onnx", onnx)
            for r in c.execute(sa.select(self.t_ws.c.id, self.t_ws.c.settings).where(self.t_ws.c.id.in_(ids))):
                z.writestr(f"settings/{r.id[:6]}.json", r.settings)  # the page settings and the guided path's steps
            runs = [dict(r._mapping) for r in c.execute(sa.select(self.t_runs).where(self.t_runs.c.ws.in_(ids)))]
            z.writestr("runs/runs.json", json.dumps([{**r, "config": json.loads(r["config"]),
                                                       "history": json.loads(r["history"])} for r in runs], indent=1))
            z.writestr("runs/runs.csv", _runs_csv(runs))
            for r in c.execute(sa.select(self.t_uploads).where(self.t_uploads.c.ws.in_(ids))):
                z.writestr(f"uploads/{r.ws[:6]}-{_file(r.name)}.safetensors", bytes(r.data))
            for code, name in joined:
                for r in c.execute(sa.select(self.t_digits).where((self.t_digits.c.class_code == code)
                                                                  & (self.t_digits.c.author == name))):
                    z.writestr(f"drawings/{code}-{r.id}-label{r.label}.png", _png(bytes(r.pixels)))
            board = [{k: v for k, v in dict(r._mapping).items() if k != "spec"}
                     for r in c.execute(sa.select(self.t_board).where(self.t_board.c.ws.in_(ids)))]
            z.writestr("board.json", json.dumps(board, indent=1))
            z.writestr("README.txt", EXPORT_README)
        return buf.getvalue()

    def delete_mine(self, ws_id: str, person: str = "", now: float | None = None) -> Receipt:
        """Delete every row of this person's, in one transaction; the receipt counts what went."""
        counts: dict[str, int] = {}
        with self._db(write=True) as c:
            ids, joined = self._mine(c, ws_id, person)

            def gone(kind: str, t: Any, where: Any) -> None:
                counts[kind] = counts.get(kind, 0) + int(c.execute(t.delete().where(where)).rowcount or 0)

            for code, name in joined:
                gone("drawings", self.t_digits, (self.t_digits.c.class_code == code) & (self.t_digits.c.author == name))
                c.execute(self.t_digits.update().where((self.t_digits.c.class_code == code)
                                                       & (self.t_digits.c.confirmed_by == name)).values(confirmed_by=None))
            gone("names on a class roster", self.t_students, self.t_students.c.ws.in_(ids))
            gone("board entries", self.t_board, self.t_board.c.ws.in_(ids))
            gone("models", self.t_models, self.t_models.c.ws.in_(ids))
            gone("runs", self.t_runs, self.t_runs.c.ws.in_(ids))
            gone("uploads", self.t_uploads, self.t_uploads.c.ws.in_(ids))
            gone("workspaces", self.t_ws, self.t_ws.c.id.in_(ids))
            if person:
                gone("wrong keys counted", self.t_guesses, self.t_guesses.c.who == person)
                c.execute(self.t_classes.update().where(self.t_classes.c.made_by == person).values(made_by=""))
        return Receipt(time.time() if now is None else now, counts)


EXPORT_README = """Your data from CNN Explorer
===========================

models/    each model as a checkpoint (safetensors): load it back on the Train page (Load a checkpoint);
           the first 8 also as ONNX (Netron, onnxruntime); the sidebar gives any model's ONNX
settings/  each workspace's page settings, with the guided path's steps done
runs/      every training run: runs.json (settings and curves), runs.csv (one line a run)
uploads/   the datasets you uploaded (safetensors: images as uint8, labels, class names)
drawings/  the digits you drew for your class (28x28 PNG); the label is in the file name
board.json what you published to a class board

Nothing else is kept about you on the server. Delete all of it on the My data page.
"""


def _onnx(checkpoint: bytes) -> bytes | None:
    """A stored checkpoint as ONNX (normalisation and class names inside), or None if it cannot be exported."""
    from ..core.checkpoint import load_checkpoint
    from ..lessons.export import to_onnx

    try:
        cp = load_checkpoint(checkpoint)
        return to_onnx(cp.model, cp.spec["input_shape"], cp.dataset)
    except Exception:  # noqa: BLE001 - the safetensors file is there; ONNX is a convenience
        return None


def _file(name: str) -> str:
    """A name as a file name: letters, digits, dash and underscore."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:60] or "model"


def _runs_csv(runs: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    w = csv.writer(out, quoting=csv.QUOTE_ALL)
    w.writerow(["workspace", "run", "model", "dataset", "parameters", "started", "epochs", "last test accuracy"])
    for r in runs:
        epochs = json.loads(r["history"]).get("epochs", [])
        acc = epochs[-1].get("test_accuracy") if epochs else None
        w.writerow([safe_cell(v) for v in (r["ws"][:6], r["id"], r["model"], r["dataset"], r["params"],
                    time.strftime("%Y-%m-%d %H:%M", time.gmtime(r["started"])), len(epochs),
                    "" if acc is None else f"{acc:.4f}")])
    return out.getvalue()


def _png(pixels: bytes) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.frombytes("L", (28, 28), pixels[:784]).save(out, format="PNG")
    return out.getvalue()
