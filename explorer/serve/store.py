"""Workspaces that last: saved in a database, found again by an unguessable id.

SQLite by default (one file, WAL mode, nothing to install); any SQLAlchemy URL (PostgreSQL, say) for a school
that runs several app replicas. Metadata, settings and run histories are rows and JSON; weights are the
safetensors checkpoints the app already writes, stored as blobs. Nothing stored is ever unpickled.

A workspace is written whole in one transaction, so a reader sees one version or the next, never a mix;
each workspace has one writer at a time (a version number: a stale writer is refused, not merged).
A database file that is corrupt or unreadable is moved aside and a fresh one started, with a notice.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from ..core.checkpoint import CheckpointError, jsonable, load_checkpoint
from ..core.data import Dataset
from ..core.limits import MAX_REMEMBERED_BLOBS, MAX_STORED_NAME
from ..core.runwords import INTERRUPTED
from ..core.safejson import bounded_name, parse_json
from ..core.train import ACTIVE
from ..i18n import Said, said, said_of
from .classroom import ClassRecords, StoreError
from .database import BUSY_TIMEOUT_S, Database, db_reason, log_db_error
from .mydata import MyData
from .quota import Quotas
from .teaching import Teaching
from .workspace import ModelEntry, Run, Workspace

__all__ = [
    "WorkspaceStore",
    "SavedWorkspace",
    "SavePayload",
    "StaleWorkspaceError",
    "dataset_to_bytes",
    "dataset_from_bytes",
]

ID_BYTES = 18  # 144 random bits: the id is the only key to the work


class StaleWorkspaceError(StoreError):
    """Another tab or machine saved the workspace since this writer read it."""


def _digest(data: bytes) -> str:
    """A fingerprint of a safetensors blob that is the same for the same contents: safetensors writes its header's
    keys in no fixed order, so the header is hashed with its keys sorted, then the tensor bytes."""
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    try:
        n = int.from_bytes(data[:8], "little")
        h.update(json.dumps(json.loads(data[8 : 8 + n]), sort_keys=True).encode())
        h.update(data[8 + n :])
    except ValueError:  # not safetensors (a damaged row): its bytes as they are
        h.update(data)
    return h.hexdigest()


STALE = said("this workspace was saved from another tab or machine meanwhile; reload to see it")


@dataclass
class SavedWorkspace:
    """What a workspace row holds besides its models: the app's settings (dataset choice, train settings ...)."""

    id: str
    settings: dict[str, Any] = field(default_factory=dict)
    uploads: dict[str, Dataset] = field(default_factory=dict)
    version: int = 0
    updated: float = 0.0
    kept: list[Said] = field(default_factory=list)  # sentences: what could not be opened, and is kept as it was


@dataclass
class SavePayload:
    """One save of a workspace, prepared as rows (:meth:`WorkspaceStore.prepare`), ready to be written."""

    ws_id: str
    settings: str  # JSON
    current: str | None
    models: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    uploads: list[dict[str, Any]]
    kept_models: set[str]
    kept_uploads: set[str]
    person: str = ""  # whose work it is (the browser's person): their saved bytes are counted together


def _name(text: str) -> str:
    """A name as the database keeps it: bounded the same way on SQLite and PostgreSQL (the columns hold 200)."""
    return bounded_name(text, MAX_STORED_NAME)


def dataset_to_bytes(ds: Dataset) -> bytes:
    """An uploaded dataset as one safetensors file (its tensors, its names and statistics as metadata)."""
    tensors = {k: getattr(ds, k).contiguous() for k in ("train_x", "train_y", "val_x", "val_y", "test_x", "test_y")}
    meta = {
        "name": ds.name,
        "classes": json.dumps(list(ds.classes)),
        "mean": json.dumps(list(ds.mean)),
        "std": json.dumps(list(ds.std)),
        "source": ds.source,
    }
    return st_save(tensors, metadata=meta)


def dataset_from_bytes(data: bytes) -> Dataset:
    try:
        t = st_load(data)
        header = parse_json(data[8 : 8 + int.from_bytes(data[:8], "little")], "stored dataset", StoreError)
        meta = header.get("__metadata__", {})
        return Dataset(
            meta["name"],
            t["train_x"],
            t["train_y"],
            t["val_x"],
            t["val_y"],
            t["test_x"],
            t["test_y"],
            tuple(parse_json(meta["classes"], "classes", StoreError)),
            tuple(parse_json(meta["mean"], "mean", StoreError)),
            tuple(parse_json(meta["std"], "std", StoreError)),
            meta.get("source", ""),
        )
    except StoreError:
        raise
    except Exception as e:  # noqa: BLE001 - a damaged blob: say so
        raise StoreError(said("a stored dataset cannot be read ({error})", error=type(e).__name__)) from None


class WorkspaceStore(Database, Teaching, ClassRecords, Quotas, MyData):
    """Save and load workspaces by id. ``url``: a SQLAlchemy URL (default: SQLite in ``state_dir``)."""

    def __init__(
        self,
        url: str | None = None,
        state_dir: str | Path | None = None,
        ttl_days: float | None = None,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
    ) -> None:
        self._written: dict[tuple[str, str, str], str] = {}  # (workspace, kind, name) -> digest in the database
        self._written_lock = threading.Lock()
        self.ttl_days = float(os.environ.get("EXPLORER_WORKSPACE_TTL_DAYS", 30) if ttl_days is None else ttl_days)
        Database.__init__(self, url, state_dir, busy_timeout_s)

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(ID_BYTES)

    @staticmethod
    def valid_id(ws_id: Any) -> bool:
        return isinstance(ws_id, str) and 16 <= len(ws_id) <= 64 and all(c.isalnum() or c in "-_" for c in ws_id)

    # -- writing --
    def save(
        self,
        ws_id: str,
        ws: Workspace,
        settings: dict[str, Any],
        uploads: dict[str, Dataset] | None = None,
        version: int | None = None,
        person: str = "",
    ) -> int:
        """Write the whole workspace in one transaction; returns its new version.

        ``version`` is the version this writer last read or wrote: if another writer has saved since, the save is
        refused (StoreError) rather than mixing two histories. None: write regardless.
        """
        return self.write(self.prepare(ws_id, ws, settings, uploads, person), version)

    def prepare(
        self,
        ws_id: str,
        ws: Workspace,
        settings: dict[str, Any],
        uploads: dict[str, Dataset] | None = None,
        person: str = "",
    ) -> SavePayload:
        """Everything a save writes, as plain rows: a copy that another thread may write later (a background
        retry) while the workspace goes on changing."""
        if not self.valid_id(ws_id):
            raise StoreError(said("not a workspace id"))
        models = []
        for pos, e in enumerate(ws.models.values()):
            if e.dataset is None:  # not trained yet: the checkpoint needs class names; mark them as stand-ins
                e = _with_standin_dataset(e)
            models.append(
                {"ws": ws_id, "name": _name(e.name), "position": pos, "source": e.source, "checkpoint": e.checkpoint_bytes()}
            )
        runs = [
            {
                "ws": ws_id,
                "id": r.id,
                "model": _name(r.model_name),
                "dataset": _name(r.dataset),
                "params": r.params,
                "started": r.started,
                "config": json.dumps(r.config),
                "history": json.dumps(_history(r)),
            }
            for r in ws.all_runs()
        ]
        ups = [{"ws": ws_id, "name": _name(n), "data": dataset_to_bytes(d)} for n, d in (uploads or {}).items()]
        return SavePayload(
            ws_id,
            json.dumps(jsonable(settings)),
            _name(ws.current) if ws.current else None,
            models,
            runs,
            ups,
            set(ws.kept_models) - set(ws.models),
            set(ws.kept_uploads) - set(uploads or {}),
            person[:64],
        )

    def write(self, p: SavePayload, version: int | None = None, log: bool = True) -> int:
        """Write a prepared save in one transaction; returns the workspace's new version (see :meth:`save`).
        ``log``: a failure goes to the server's log (a background retry logs its own summary instead)."""
        sa = self.sa
        written: dict[tuple[str, str, str], str] = {}
        try:
            with self.engine.begin() as c:
                new_version = self._claim(c, p.ws_id, version, time.time(), p.settings, p.current, p.person)
                self._sync(c, self.t_models, p.ws_id, "model", p.models, "checkpoint", p.kept_models, written)
                self._sync(c, self.t_uploads, p.ws_id, "upload", p.uploads, "data", p.kept_uploads, written)
                t = self.t_runs  # small JSON rows: written again, except those of a kept model
                c.execute(t.delete().where((t.c.ws == p.ws_id) & t.c.model.not_in(sorted(p.kept_models))))
                if p.runs:
                    c.execute(t.insert(), p.runs)
                self._check_quota(c, p)  # past a quota: raised here, so nothing of this save is kept
        except sa.exc.IntegrityError:  # another writer created the same workspace first
            raise StaleWorkspaceError(STALE) from None
        except sa.exc.SQLAlchemyError as e:  # locked past the timeout, disk full, server gone: nothing was written
            if log:
                log_db_error("save", e)
            raise StoreError(said("the database did not take the save ({reason})", reason=db_reason(e))) from None
        self._remember(written)
        return new_version

    def _sync(
        self,
        c: Any,
        t: Any,
        ws_id: str,
        kind: str,
        rows: list[dict[str, Any]],
        blob: str,
        kept: set[str],
        written: dict[tuple[str, str, str], str],
    ) -> None:
        """Make the workspace's rows of table ``t`` be ``rows`` (plus the ``kept`` ones, untouched), writing a
        blob only when it changed since this store last wrote or read it."""
        names = [r["name"] for r in rows]
        c.execute(t.delete().where((t.c.ws == ws_id) & t.c.name.not_in(names + sorted(kept))))
        cols = [t.c.name, t.c.position] if "position" in t.c else [t.c.name]
        present = {r[0]: r[-1] for r in c.execute(self.sa.select(*cols).where(t.c.ws == ws_id))}
        for r in rows:
            key, digest = (ws_id, kind, r["name"]), _digest(r[blob])
            written[key] = digest
            if r["name"] not in present:
                c.execute(t.insert().values(**r))
            elif self._written.get(key) != digest:
                c.execute(t.update().where((t.c.ws == ws_id) & (t.c.name == r["name"])).values(**r))
            elif "position" in r and present[r["name"]] != r["position"]:  # the same blob, in another place
                c.execute(t.update().where((t.c.ws == ws_id) & (t.c.name == r["name"])).values(position=r["position"]))

    def _remember(self, written: dict[tuple[str, str, str], str]) -> None:
        """What is in the database now, after a committed save (the oldest entries go past a bound)."""
        with self._written_lock:
            self._written.update(written)
            while len(self._written) > MAX_REMEMBERED_BLOBS:
                self._written.pop(next(iter(self._written)))

    def _claim(
        self, c: Any, ws_id: str, version: int | None, now: float, settings: str, current: str | None, person: str = ""
    ) -> int:
        """Write the workspace's row and return its new version, in the caller's transaction. The version check
        is part of the write itself (``UPDATE … WHERE version = ?`` and its row count), so two writers that read
        the same version cannot both succeed, whatever the database's isolation."""
        sa = self.sa
        row = c.execute(sa.select(self.t_ws.c.version).where(self.t_ws.c.id == ws_id)).first()
        if row is not None and version is not None and row.version != version:
            raise StaleWorkspaceError(STALE)
        values = {"updated": now, "settings": settings, "current": current}
        if row is None:
            c.execute(self.t_ws.insert().values(id=ws_id, created=now, version=1, person=person, **values))
            return 1
        seen = row.version
        # the workspace is its first writer's: someone who opens its link (the key to the work, by design) works in
        # it, but does not take it into their own My data and quota; an unowned one (saved before persons) is taken
        owner = sa.case((sa.func.coalesce(self.t_ws.c.person, "") == "", person), else_=self.t_ws.c.person)
        done = c.execute(
            self.t_ws.update()
            .where(self.t_ws.c.id == ws_id, self.t_ws.c.version == seen)
            .values(version=seen + 1, person=owner, **values)
        )
        if done.rowcount != 1:
            raise StaleWorkspaceError(STALE)
        return seen + 1

    # -- reading --
    def load(self, ws_id: str, workspace: Workspace) -> SavedWorkspace | None:
        """Fill ``workspace`` (a fresh one) with the saved models and runs; None if there is no such workspace.

        A run that was still going when it was saved comes back as "interrupted", with the weights last saved.
        """
        sa = self.sa
        if not self.valid_id(ws_id):
            return None
        with self._db() as c:
            row = c.execute(sa.select(self.t_ws).where(self.t_ws.c.id == ws_id)).first()
            if row is None:
                return None
            models = c.execute(
                sa.select(self.t_models).where(self.t_models.c.ws == ws_id).order_by(self.t_models.c.position)
            ).all()
            runs = c.execute(sa.select(self.t_runs).where(self.t_runs.c.ws == ws_id).order_by(self.t_runs.c.id)).all()
            ups = c.execute(sa.select(self.t_uploads).where(self.t_uploads.c.ws == ws_id)).all()
        kept = self._load_models(ws_id, models, workspace)
        for r in runs:
            entry = workspace.models.get(r.model)
            if entry is None:
                continue
            hist = parse_json(r.history, "run history", StoreError)
            if hist.get("status") in ACTIVE:
                hist["status"] = "interrupted"
                hist["message"] = INTERRUPTED.format(step=f"{hist.get('step', 0):,}")
            entry.runs.append(
                Run(
                    r.id,
                    r.model,
                    r.dataset,
                    parse_json(r.config, "run settings", StoreError),
                    r.params,
                    started=r.started,
                    history=hist,
                )
            )
        workspace.current = row.current if row.current in workspace.models else next(iter(workspace.models), None)
        workspace.resume_run_ids(max((r.id for r in runs), default=0) + 1)
        uploads = {}
        for u in ups:
            try:
                uploads[u.name] = dataset_from_bytes(u.data)
                self._written[(ws_id, "upload", u.name)] = _digest(u.data)
            except StoreError as e:
                workspace.kept_uploads.add(u.name)
                kept.append(
                    said(
                        "the upload {name} cannot be opened ({reason}); it is kept as it was",
                        name=repr(u.name),
                        reason=said_of(e),
                    )
                )
        return SavedWorkspace(
            ws_id, parse_json(row.settings, "workspace settings", StoreError), uploads, row.version, row.updated, kept
        )

    def _load_models(self, ws_id: str, models: list[Any], workspace: Workspace) -> list[Said]:
        """The saved models into ``workspace``; returns a sentence for each that cannot be opened here (the rest of
        the workspace opens; that model stays in the database as it was)."""
        kept: list[Said] = []
        for m in models:
            try:
                ck = load_checkpoint(m.checkpoint)
            except CheckpointError as e:
                workspace.kept_models.add(m.name)
                kept.append(
                    said(
                        "the model {name} cannot be opened here ({reason}); it is kept as it was",
                        name=repr(m.name),
                        reason=said_of(e),
                    )
                )
                continue
            dataset = None if ck.dataset.get("standin") else ck.dataset
            workspace.models[m.name] = ModelEntry(m.name, ck.spec, ck.model, dataset, source=m.source)
            self._written[(ws_id, "model", m.name)] = _digest(m.checkpoint)
        return kept

    def expire(self, now: float | None = None) -> int:
        """Delete the workspaces not saved for ``ttl_days``; returns how many."""
        sa = self.sa
        cutoff = (now or time.time()) - self.ttl_days * 86400
        with self._db(write=True) as c:
            old = [r.id for r in c.execute(sa.select(self.t_ws.c.id).where(self.t_ws.c.updated < cutoff))]
            for t in (self.t_models, self.t_runs, self.t_uploads):
                if old:
                    c.execute(t.delete().where(t.c.ws.in_(old)))
            if old:
                c.execute(self.t_ws.delete().where(self.t_ws.c.id.in_(old)))
            c.execute(self.t_board.delete().where(self.t_board.c.published < cutoff))
        return len(old)

    def count(self) -> int:
        with self._db() as c:
            return int(c.execute(self.sa.select(self.sa.func.count()).select_from(self.t_ws)).scalar() or 0)


def _with_standin_dataset(e: ModelEntry) -> ModelEntry:
    """A copy of an untrained entry with neutral dataset metadata, so that it can be written as a checkpoint."""
    from ..core.spec import summarize

    out = summarize(e.spec).output_shape
    k = 2 if out == (1,) else out[0] if len(out) == 1 else 1
    c = e.spec["input_shape"][0]
    info = {
        "name": "",
        "classes": [str(i) for i in range(k)],
        "mean": [0.5] * c,
        "std": [0.5] * c,
        "input_shape": list(e.spec["input_shape"]),
        "standin": True,
    }
    return ModelEntry(e.name, e.spec, e.model, info, list(e.runs), e.source)


def _history(run: Run) -> dict[str, Any]:
    h = run.current()
    return jsonable(
        {k: v for k, v in h.items() if k in ("steps", "epochs", "status", "message", "step", "total_steps", "claimed")}
    )
