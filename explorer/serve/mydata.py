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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.budget import budget
from ..core.limits import MAX_ONNX_IN_EXPORT
from ..i18n import EN, N_, Translator
from .classroom import OnStore
from .roster import safe_cell

__all__ = ["MyData", "Inventory", "Receipt", "ExportParts", "build_export"]


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
class ExportParts:
    """What one person's zip holds, read from the database: each file's name and bytes, and which of them (by
    index, checkpoints) are also written as ONNX. Plain data: it travels to the worker that builds the zip."""

    files: list[tuple[str, bytes]] = field(default_factory=list)
    onnx: list[int] = field(default_factory=list)

    def add(self, name: str, text: str) -> None:
        self.files.append((name, text.encode()))

    @property
    def size(self) -> int:
        return sum(len(b) for _, b in self.files)


def build_export(parts: ExportParts, progress: Callable[[int, int], None] | None = None) -> bytes:
    """The zip of :meth:`MyData.export_parts`: every file as it is, and the ONNX of the chosen checkpoints (each
    with its normalisation and classes), compressed. Tensor work: the app runs it as a job in a worker."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for i, (name, data) in enumerate(parts.files):
            z.writestr(name, data)
            if i in parts.onnx and (onnx := _onnx(data)) is not None:
                z.writestr(name.removesuffix(".safetensors") + ".onnx", onnx)
            if progress is not None:
                progress(i + 1, len(parts.files))
    return buf.getvalue()


@dataclass
class Receipt:
    """What a deletion removed, row counts by kind, and when."""

    at: float
    counts: dict[str, int]

    def text(self, tr: Translator = EN) -> str:
        """The receipt in ``tr``'s language (the moment in UTC, as ISO writes it in every language)."""
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.at))
        lines = [tr("Deletion receipt, {when}", when=when), ""] + [f"{tr(kind)}: {n}" for kind, n in self.counts.items()]
        return "\n".join(lines + ["", tr("Nothing of this is kept by the app after this moment.")]) + "\n"


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
        joined = (
            [
                (r.class_code, r.name)
                for r in c.execute(self.sa.select(s.c.class_code, s.c.name).where(s.c.ws.in_(sorted(ids))))
            ]
            if ids
            else []
        )
        return sorted(ids), joined

    def inventory(self, ws_id: str, person: str = "") -> Inventory:
        """What the server keeps about this person now, read from the database."""
        sa, inv = self.sa, Inventory()
        with self._db() as c:
            ids, joined = self._mine(c, ws_id, person)
            have = [r.id for r in c.execute(sa.select(self.t_ws.c.id).where(self.t_ws.c.id.in_(ids)))]
            inv.workspaces = have
            inv.models = [r.name for r in c.execute(sa.select(self.t_models.c.name).where(self.t_models.c.ws.in_(ids)))]
            inv.runs = int(
                c.execute(sa.select(sa.func.count()).select_from(self.t_runs).where(self.t_runs.c.ws.in_(ids))).scalar() or 0
            )
            inv.uploads = [r.name for r in c.execute(sa.select(self.t_uploads.c.name).where(self.t_uploads.c.ws.in_(ids)))]
            for code, name in joined:
                row = c.execute(sa.select(self.t_classes.c.expires).where(self.t_classes.c.code == code)).first()
                inv.classes.append((code, name, float(row.expires) if row else 0.0))
                inv.drawings += int(
                    c.execute(
                        sa.select(sa.func.count())
                        .select_from(self.t_digits)
                        .where((self.t_digits.c.class_code == code) & (self.t_digits.c.author == name))
                    ).scalar()
                    or 0
                )
            inv.board_entries = int(
                c.execute(sa.select(sa.func.count()).select_from(self.t_board).where(self.t_board.c.ws.in_(ids))).scalar()
                or 0
            )
            inv.key_tries = (
                int(
                    c.execute(
                        sa.select(sa.func.count()).select_from(self.t_guesses).where(self.t_guesses.c.who == person)
                    ).scalar()
                    or 0
                )
                if person
                else 0
            )
            latest = c.execute(sa.select(sa.func.max(self.t_ws.c.updated)).where(self.t_ws.c.id.in_(ids))).scalar()
        inv.workspace_expires = None if latest is None else float(latest) + self.ttl_days * 86400
        return inv

    def export_size(self, ws_id: str, person: str = "") -> int:
        """The saved bytes (models and uploads) one export of this person's would copy: read before it starts."""
        sa, total = self.sa, 0
        with self._db() as c:
            ids, _ = self._mine(c, ws_id, person)
            for t, blob in ((self.t_models, self.t_models.c.checkpoint), (self.t_uploads, self.t_uploads.c.data)):
                total += int(
                    c.execute(
                        sa.select(sa.func.coalesce(sa.func.sum(sa.func.length(blob)), 0)).where(t.c.ws.in_(ids))
                    ).scalar()
                    or 0
                )
        return total

    def export_parts(self, ws_id: str, person: str = "") -> ExportParts:
        """Everything of the person's that the zip holds, read from the database: the files by name (as
        :func:`build_export` writes them) and which checkpoints it also writes as ONNX. Refused (ValueError, with a
        sentence) past ``EXPLORER_MAX_EXPORT_MB`` of saved bytes, before anything is read."""
        if (size := self.export_size(ws_id, person)) > (cap := budget().export_mb) << 20:
            raise ValueError(
                f"your saved models and uploads take {size / 2**20:,.0f} MB, more than the "
                f"{cap:,} MB one download holds: download your models one at a time from the "
                "sidebar (Save a checkpoint), or remove the ones you no longer need, then try again"
            )
        sa, parts = self.sa, ExportParts()
        with self._db() as c:
            ids, joined = self._mine(c, ws_id, person)
            for r in c.execute(sa.select(self.t_models).where(self.t_models.c.ws.in_(ids))):
                parts.files.append((f"models/{r.ws[:6]}-{_file(r.name)}.safetensors", bytes(r.checkpoint)))
                if len(parts.onnx) < MAX_ONNX_IN_EXPORT:
                    parts.onnx.append(len(parts.files) - 1)
            for r in c.execute(sa.select(self.t_ws.c.id, self.t_ws.c.settings).where(self.t_ws.c.id.in_(ids))):
                parts.add(f"settings/{r.id[:6]}.json", r.settings)  # the page settings and the guided path's steps
            runs = [dict(r._mapping) for r in c.execute(sa.select(self.t_runs).where(self.t_runs.c.ws.in_(ids)))]
            parts.add(
                "runs/runs.json",
                json.dumps(
                    [{**r, "config": json.loads(r["config"]), "history": json.loads(r["history"])} for r in runs], indent=1
                ),
            )
            parts.add("runs/runs.csv", _runs_csv(runs))
            for r in c.execute(sa.select(self.t_uploads).where(self.t_uploads.c.ws.in_(ids))):
                parts.files.append((f"uploads/{r.ws[:6]}-{_file(r.name)}.safetensors", bytes(r.data)))
            for code, name in joined:
                for r in c.execute(
                    sa.select(self.t_digits).where((self.t_digits.c.class_code == code) & (self.t_digits.c.author == name))
                ):
                    parts.files.append((f"drawings/{code}-{r.id}-label{r.label}.png", _png(bytes(r.pixels))))
            board = [
                {k: v for k, v in dict(r._mapping).items() if k != "spec"}
                for r in c.execute(sa.select(self.t_board).where(self.t_board.c.ws.in_(ids)))
            ]
            parts.add("board.json", json.dumps(board, indent=1))
        parts.add("README.txt", EXPORT_README)
        return parts

    def export_zip(self, ws_id: str, person: str = "") -> bytes:
        """All of it as one zip, built here (the app builds it in a worker: :meth:`export_parts`, then
        :func:`build_export` as a job)."""
        return build_export(self.export_parts(ws_id, person))

    def delete_mine(self, ws_id: str, person: str = "", now: float | None = None) -> Receipt:
        """Delete every row of this person's, in one transaction; the receipt counts what went."""
        counts: dict[str, int] = {}
        with self._db(write=True) as c:
            ids, joined = self._mine(c, ws_id, person)

            def gone(kind: str, t: Any, where: Any) -> None:
                counts[kind] = counts.get(kind, 0) + int(c.execute(t.delete().where(where)).rowcount or 0)

            for code, name in joined:
                gone(N_("drawings"), self.t_digits, (self.t_digits.c.class_code == code) & (self.t_digits.c.author == name))
                c.execute(
                    self.t_digits.update()
                    .where((self.t_digits.c.class_code == code) & (self.t_digits.c.confirmed_by == name))
                    .values(confirmed_by=None)
                )
            gone(N_("names on a class roster"), self.t_students, self.t_students.c.ws.in_(ids))
            gone(N_("board entries"), self.t_board, self.t_board.c.ws.in_(ids))
            gone(N_("models"), self.t_models, self.t_models.c.ws.in_(ids))
            gone(N_("runs"), self.t_runs, self.t_runs.c.ws.in_(ids))
            gone(N_("uploads"), self.t_uploads, self.t_uploads.c.ws.in_(ids))
            gone(N_("workspaces"), self.t_ws, self.t_ws.c.id.in_(ids))
            if person:
                gone(N_("wrong keys counted"), self.t_guesses, self.t_guesses.c.who == person)
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
        w.writerow(
            [
                safe_cell(v)
                for v in (
                    r["ws"][:6],
                    r["id"],
                    r["model"],
                    r["dataset"],
                    r["params"],
                    time.strftime("%Y-%m-%d %H:%M", time.gmtime(r["started"])),
                    len(epochs),
                    "" if acc is None else f"{acc:.4f}",
                )
            ]
        )
    return out.getvalue()


def _png(pixels: bytes) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.frombytes("L", (28, 28), pixels[:784]).save(out, format="PNG")
    return out.getvalue()
