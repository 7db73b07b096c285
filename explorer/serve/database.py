"""The workspace database itself: SQLite by default (one file, WAL mode, secure_delete), any SQLAlchemy URL (PostgreSQL,
say) for a school with several replicas; its schema brought to the newest migration; a damaged file moved aside
once for a fresh start, never a busy, full or unreachable one; and a database error said in words a student may
read (the server's log keeps the full error, never its parameters)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..i18n import Said, said
from .classroom import StoreError

__all__ = ["Database", "db_reason", "log_db_error", "default_state_dir", "BUSY_TIMEOUT_S"]

BUSY_TIMEOUT_S = 1.0  # the longest a page waits on a locked database; a save not taken then is retried in the background


def db_reason(e: BaseException) -> Said:
    """What a database error means, in words a student may read: no server path, host, SQL or driver text (the
    server's log keeps the full error)."""
    r = str(getattr(e, "orig", None) or e).lower()
    for words, meaning in (
        (("locked", "busy", "lock timeout", "lock_timeout"), said("it is busy")),
        (("disk", "full", "no space"), said("its disk is full")),
        (("read-only", "readonly"), said("it is read-only")),
        (("connect", "server", "timeout", "closed", "network", "host", "unable to open"), said("it cannot be reached")),
    ):
        if any(w in r for w in words):
            return meaning
    return said("it reported an error")


def log_db_error(doing: str, e: BaseException) -> None:
    """The full error for the server's log (never for the page)."""
    print(f"workspace store: {doing}: {type(e).__name__}: {e}", file=sys.stderr)


def _damaged(reason: str) -> bool:
    """Whether SQLite's message says the file itself is not a usable database (not that it is busy or full)."""
    r = reason.lower()
    return "not a database" in r or "malformed" in r or "file is encrypted" in r


def default_state_dir() -> Path:
    """``$EXPLORER_STATE_DIR``, else ``~/.cache/cnn-explorer/state``."""
    return Path(os.environ.get("EXPLORER_STATE_DIR") or Path.home() / ".cache" / "cnn-explorer" / "state")


class Database:
    """A connection to the workspace database (``url``: a SQLAlchemy URL; default SQLite in ``state_dir``),
    its tables as the migrations made them, and :meth:`_db`: a connection whose errors are this app's sentences."""

    def __init__(
        self, url: str | None = None, state_dir: str | Path | None = None, busy_timeout_s: float = BUSY_TIMEOUT_S
    ) -> None:
        import sqlalchemy as sa

        self.sa = sa
        self.busy_timeout_s = busy_timeout_s  # how long SQLite waits for another process's lock
        self.notice: str | Said = ""  # a sentence for the UI when the database had to be started afresh
        self.url = url or os.environ.get("EXPLORER_DATABASE_URL") or ""
        self.path: Path | None = None
        if not self.url:
            d = Path(state_dir) if state_dir else default_state_dir()
            d.mkdir(parents=True, exist_ok=True)
            self.path = d / "workspaces.sqlite3"
            self.url = f"sqlite:///{self.path}"
        self._open()

    def _open(self, aside: bool = False) -> None:
        """Open (and create) the schema. Only a file that SQLite says is not a database, or is malformed, is
        moved aside (once) for a fresh start; a locked, full or unreachable database raises StoreError and is left
        as it is, so no saved work is ever hidden because another process held the file a while."""
        sa = self.sa
        kw: dict[str, Any] = {}
        if self.url.startswith("sqlite"):
            kw["connect_args"] = {"timeout": self.busy_timeout_s, "check_same_thread": False}
        elif self.url.startswith("postgresql"):  # a lock or an unreachable server holds a page about as long
            wait_ms = max(1, int(self.busy_timeout_s * 1000))
            kw["connect_args"] = {
                "connect_timeout": max(2, round(self.busy_timeout_s * 2)),
                "options": f"-c lock_timeout={wait_ms}",
            }
            kw["pool_pre_ping"] = True
        # hide_parameters: a database error names no student, workspace id or key hash (its message goes to logs)
        self.engine = sa.create_engine(self.url, hide_parameters=True, **kw)
        if self.url.startswith("sqlite"):

            @sa.event.listens_for(self.engine, "connect")
            def _pragmas(conn: Any, _record: Any) -> None:  # WAL: readers never wait for the writer
                cur = conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA secure_delete=ON")  # a deleted name is overwritten, not left in the file
                cur.close()

        try:
            self._migrate()
            self._reflect()
            with self.engine.connect() as c:
                c.execute(sa.select(sa.func.count()).select_from(self.t_ws)).scalar()
        except sa.exc.DatabaseError as e:
            self.engine.dispose()
            why = str(getattr(e, "orig", None) or e).splitlines()[0]
            if self.path is None or not _damaged(why) or aside:
                log_db_error("open", e)
                raise StoreError(
                    said(
                        "the workspace database cannot be used now ({reason}); nothing was changed in it",
                        reason=db_reason(e),
                    )
                ) from None
            self._move_aside()
            self._open(aside=True)

    def _migrate(self) -> None:
        """Bring the database's schema to the newest Alembic revision (``explorer/serve/migrations``), keeping what it
        holds. A database written before the schema was versioned has the first revision's tables: it is marked
        as that revision, then upgraded."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            unversioned = MigrationContext.configure(conn).get_current_revision() is None
            if unversioned and self.sa.inspect(conn).has_table("workspaces"):
                command.stamp(cfg, "0001")  # (SQLite may keep an empty revision table from a run that failed)
            command.upgrade(cfg, "head")

    def _reflect(self) -> None:
        """The tables as the migrations made them (``explorer/serve/migrations`` is the one place the schema is written)."""
        md = self.sa.MetaData()
        md.reflect(
            self.engine,
            only=[
                "workspaces",
                "models",
                "runs",
                "uploads",
                "board",
                "class_digits",
                "classes",
                "class_students",
                "class_guesses",
            ],
        )
        self.t_ws, self.t_models, self.t_runs = md.tables["workspaces"], md.tables["models"], md.tables["runs"]
        self.t_uploads, self.t_board = md.tables["uploads"], md.tables["board"]
        self.t_digits = md.tables["class_digits"]
        self.t_classes, self.t_students = md.tables["classes"], md.tables["class_students"]
        self.t_guesses = md.tables["class_guesses"]

    def _move_aside(self) -> None:
        """Keep a damaged database file (and its WAL) under a new name that is not taken, and say so."""
        assert self.path is not None
        stamp = int(time.time())
        aside = self.path.with_name(f"{self.path.name}.unreadable-{stamp}")
        n = 1
        while any(Path(str(aside) + sfx).exists() for sfx in ("", "-wal", "-shm")):  # never onto a kept file
            n += 1
            aside = self.path.with_name(f"{self.path.name}.unreadable-{stamp}-{n}")
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(self.path) + suffix)
            if p.exists():
                p.rename(Path(str(aside) + suffix))
        print(f"workspace store: the database could not be read; kept as {aside}", file=sys.stderr)
        self.notice = said(
            "The saved workspaces could not be read (their database was damaged), so a fresh one was "
            "started; the old one was kept aside for whoever runs this app."
        )

    @contextmanager
    def _db(self, write: bool = False) -> Iterator[Any]:
        """A connection (``write``: a transaction) whose database errors become this store's own sentence; the
        server's log keeps the full error. An IntegrityError passes as it is (the callers' own case)."""
        try:
            with self.engine.begin() if write else self.engine.connect() as c:
                yield c
        except self.sa.exc.IntegrityError:
            raise
        except self.sa.exc.SQLAlchemyError as e:
            log_db_error("write" if write else "read", e)
            raise StoreError(
                said(
                    "the saved work cannot be written just now: the database {reason}; try again in a moment",
                    reason=db_reason(e),
                )
                if write
                else said(
                    "the saved work cannot be read just now: the database {reason}; try again in a moment",
                    reason=db_reason(e),
                )
            ) from None
