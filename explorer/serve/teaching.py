"""A class run by its teacher, kept in the database so that it holds across replicas.

- **Made by its teacher**, who signs back in with its key (:class:`explorer.serve.door.Door`): the server picks
  the code (six characters from an alphabet with no look-alikes, read aloud as ``K7M-R4Q``) and a teacher key,
  shown once and stored only as a salted scrypt hash. Making a class needs the school's password; wrong keys and
  wrong passwords slow further tries, never the right key. Classes expire (``EXPLORER_CLASS_HOURS``, 12 by default).
- **Students join** with the code and a name unique in the class (:meth:`Teaching.join`); their app reports what
  the console shows (:meth:`Teaching.report`): page, model, parameters, runs, the last run's state, the best test
  accuracy the server measured on the class's dataset, an error shown. The roster is read from these rows alone,
  so reading it loads no model.
- **The teacher steers** (:meth:`Teaching.steer`): bring everyone to a page, pause with a message, push a lesson;
  each is a number that goes up, which every student's app compares with the last one it applied.
- **Ending a class** (:meth:`Teaching.end_class`) deletes its students' names, drawings and board entries.

``Teaching`` is part of :class:`explorer.serve.store.WorkspaceStore`. Every refusal is a :class:`ClassError`
whose message is the sentence the page shows.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..core.limits import (
    MAX_MESSAGE,
    MAX_STUDENTS,
)
from ..core.safejson import bounded_name, name_skeleton, parse_json
from ..core.train import RunStatus
from ..i18n import N_, said
from .classroom import MAX_CLASS_NAME, normalize_code, shown_code
from .door import GUESS_WINDOW_S, ClassError, Door, browser_wait, class_hours
from .mydata import Receipt
from .settings import school_password

__all__ = [
    "Teaching",
    "ClassError",
    "ClassState",
    "Progress",
    "best_measured",
    "stuck_reason",
    "class_hours",
    "browser_wait",
    "school_password",
]

STUCK_MINUTES = 5  # no progress for this long: marked stuck
ERROR_FRESH_S = 120  # an error shown this recently marks a student stuck
SCRYPT = {"n": 2**14, "r": 8, "p": 1}


@dataclass(frozen=True)
class ClassState:
    """What every student's app reads of its class, about once a second."""

    code: str
    dataset: str  # the class's dataset: the board and the roster's accuracy count runs on it only
    expires: float
    paused: str | None  # the teacher's message while the class is paused
    page: str | None  # the page the teacher last brought everyone to ...
    page_seq: int  # ... and how many times they did (a student's app goes there when this goes up)
    lesson: str | None  # the lesson file last pushed ...
    lesson_seq: int  # ... and how many times


def best_measured(runs: Iterable[Any], dataset: str | None, uploads: Iterable[str] = ()) -> float | None:
    """The best test accuracy among ``runs`` (a workspace's ``Run``s) that this server trained to the end on the
    class's ``dataset`` (None: none). A loaded file's history only claims its accuracy, and a run on an upload
    that bears the dataset's name measured something else: neither counts."""
    if dataset is None or dataset in set(uploads):
        return None
    measured = [
        acc
        for r in runs
        if r.dataset == dataset
        and (acc := r.final().get("test_accuracy")) is not None
        and r.current().get("status") == RunStatus.FINISHED
        and not r.current().get("claimed")
    ]
    return max(measured, default=None)


@dataclass
class Progress:
    """What a student's app reports: the console's row. ``best_accuracy``: the best test accuracy of a finished
    run on the class's dataset, measured by the server (not by a file the student gave)."""

    page: str = ""
    model: str = ""
    params: int = 0
    runs: int = 0
    run_state: str = ""
    best_accuracy: float | None = None
    error: str = ""
    path: str = ""  # where they are on a guided path: "4/13" (steps done or skipped, of all)

    def cleaned(self) -> dict[str, Any]:
        acc = self.best_accuracy
        ok = isinstance(acc, (int, float)) and not isinstance(acc, bool) and math.isfinite(acc) and 0 <= acc <= 1
        return {
            "page": bounded_name(self.page, 40, ""),
            "model": bounded_name(self.model, 200, ""),
            "params": max(0, int(self.params)),
            "runs": max(0, int(self.runs)),
            "run_state": bounded_name(self.run_state, 20, ""),
            "best_accuracy": float(acc) if ok else None,
            "error": bounded_name(self.error, 200, ""),
            "path": bounded_name(self.path, 20, ""),
        }


def stuck_reason(row: dict[str, Any], now: float) -> str:
    """Why a student looks stuck ("" if they do not): an error shown lately, a run that diverged, or no
    progress for :data:`STUCK_MINUTES` minutes."""
    if row.get("error") and now - row.get("error_at", 0.0) < ERROR_FRESH_S:
        return f"an error: {row['error']}"
    if row.get("run_state") == "diverged":
        return "the last run diverged (its loss became NaN or infinite)"
    idle = now - row.get("progress_at", now)
    if idle >= STUCK_MINUTES * 60:
        return f"no progress for {int(idle // 60)} minutes"
    return ""


class Teaching(Door):
    """The teacher's classes, on the store's database (``self.sa``, ``self._db``, the reflected tables)."""

    t_classes: Any
    t_students: Any
    t_guesses: Any
    t_board: Any
    t_digits: Any

    def class_state(self, code: str, now: float | None = None) -> ClassState | None:
        """The class as its students' apps read it; None if there is no such class or it has expired."""
        code = normalize_code(code) or ""
        if not code:
            return None
        t = self.t_classes
        with self._db() as c:
            r = c.execute(
                self.sa.select(
                    t.c.code, t.c.dataset, t.c.expires, t.c.paused, t.c.page, t.c.page_seq, t.c.lesson, t.c.lesson_seq
                ).where(t.c.code == code)
            ).first()
        if r is None or r.expires <= (time.time() if now is None else now):
            return None
        return ClassState(r.code, r.dataset, r.expires, r.paused, r.page, int(r.page_seq), r.lesson, int(r.lesson_seq))

    def _live(self, code: Any, now: float) -> str:
        """The stored code of a class that exists and has not expired; a ClassError sentence otherwise."""
        norm = normalize_code(code)
        if norm is None:
            raise ClassError(
                said(
                    "a class code is six letters and digits, like {code}; check it with your teacher",
                    code=shown_code("K7MR4Q"),
                )
            )
        if self.class_state(norm, now) is None:
            raise ClassError(
                said(
                    "there is no class {code} here (or it has ended or expired): check the code with your teacher",
                    code=shown_code(norm),
                )
            )
        return norm

    # -- students --
    def join(self, code: str, name: str, ws_id: str, now: float | None = None) -> str:
        """Join class ``code`` as ``name`` (unique in the class by its look: case, full-width forms, invisible
        characters and look-alike letters of other scripts do not make a new name) from workspace ``ws_id``;
        returns the stored code. Joining again from the same workspace under the same name is a no-op."""
        now = time.time() if now is None else now
        norm = self._live(code, now)
        name = bounded_name(name, MAX_CLASS_NAME, "")
        if not name:
            raise ClassError(said("type the name your teacher will see"))
        t, key = self.t_students, name_skeleton(name)[:MAX_CLASS_NAME]
        try:
            with self._db(write=True) as c:
                self._hold_class(c, norm)
                row = c.execute(self.sa.select(t.c.ws).where((t.c.class_code == norm) & (t.c.name_key == key))).first()
                if row is not None:
                    if row.ws != ws_id:
                        raise ClassError(
                            said("the name {name} is taken in this class: add an initial or a number", name=repr(name))
                        )
                    return norm
                n = c.execute(self.sa.select(self.sa.func.count()).select_from(t).where(t.c.class_code == norm)).scalar()
                if (n or 0) >= MAX_STUDENTS:
                    raise ClassError(said("class {code} is full ({n} students)", code=shown_code(norm), n=MAX_STUDENTS))
                c.execute(t.delete().where((t.c.class_code == norm) & (t.c.ws == ws_id)))  # a new name for this tab
                c.execute(
                    t.insert().values(
                        class_code=norm,
                        name=name,
                        name_key=key,
                        ws=ws_id,
                        joined=now,
                        seen=now,
                        progress_at=now,
                        report="{}",
                    )
                )
        except self.sa.exc.IntegrityError:  # another replica took the name a moment ago
            raise ClassError(
                said("the name {name} is taken in this class: add an initial or a number", name=repr(name))
            ) from None
        return norm

    def member_name(self, code: str, ws_id: str) -> str | None:
        """The name under which workspace ``ws_id`` joined class ``code`` (None: it is not in the class)."""
        t = self.t_students
        with self._db() as c:
            row = c.execute(
                self.sa.select(t.c.name).where((t.c.class_code == (normalize_code(code) or "")) & (t.c.ws == ws_id))
            ).first()
        return None if row is None else str(row.name)

    def leave(self, code: str, ws_id: str) -> None:
        t = self.t_students
        with self._db(write=True) as c:
            c.execute(t.delete().where((t.c.class_code == (normalize_code(code) or "")) & (t.c.ws == ws_id)))

    def report(self, code: str, ws_id: str, progress: Progress, now: float | None = None) -> bool:
        """Record what a student's app shows; False when the student is no longer in the class (it ended)."""
        now = time.time() if now is None else now
        t, new = self.t_students, progress.cleaned()
        where = (t.c.class_code == (normalize_code(code) or "")) & (t.c.ws == ws_id)
        with self._db(write=True) as c:
            row = c.execute(self.sa.select(t.c.report, t.c.progress_at).where(where)).first()
            if row is None:
                return False
            old = parse_json(row.report, "student report", ClassError) if row.report else {}
            old = old if isinstance(old, dict) else {}
            moved = {k: v for k, v in new.items() if k != "error"} != {
                k: v for k, v in old.items() if k not in ("error", "error_at")
            }
            new["error_at"] = old.get("error_at", 0.0) if new["error"] == old.get("error") else now
            if not new["error"]:
                new["error_at"] = 0.0
            c.execute(
                t.update()
                .where(where)
                .values(seen=now, report=json.dumps(new), progress_at=now if moved else row.progress_at)
            )
        return True

    def roster(self, code: str, now: float | None = None) -> list[dict[str, Any]]:
        """One row per student, by name: what their app reported, when, and a stuck mark (a reason, or "").
        Reads the students' rows only: no workspace, no model."""
        now = time.time() if now is None else now
        t = self.t_students
        with self._db() as c:
            rows = c.execute(
                self.sa.select(t.c.name, t.c.ws, t.c.joined, t.c.seen, t.c.progress_at, t.c.report)
                .where(t.c.class_code == (normalize_code(code) or ""))
                .order_by(t.c.name_key)
            ).all()
        out = []
        blank = Progress().cleaned()
        for r in rows:
            try:
                rep = json.loads(r.report)
            except ValueError:
                rep = {}
            row = {
                **blank,
                **(rep if isinstance(rep, dict) else {}),
                "name": r.name,
                "ws": r.ws,
                "joined": r.joined,
                "seen": r.seen,
                "progress_at": r.progress_at,
            }
            row["stuck"] = stuck_reason(row, now)
            out.append(row)
        return out

    def student_workspace(self, code: str, key: str, name: str) -> str | None:
        """The workspace id of student ``name`` (the teacher's key is needed), to look at their model read-only."""
        self._teacher(code, key)
        t = self.t_students
        with self._db() as c:
            row = c.execute(
                self.sa.select(t.c.ws).where(
                    (t.c.class_code == normalize_code(code)) & (t.c.name_key == name_skeleton(name)[:MAX_CLASS_NAME])
                )
            ).first()
        return None if row is None else str(row.ws)

    def remove_student(self, code: str, key: str, name: str) -> bool:
        """The teacher takes ``name`` off the roster (a name that should not be there, a student who left); their
        own work stays theirs. True if there was such a student."""
        self._teacher(code, key)
        t = self.t_students
        with self._db(write=True) as c:
            gone = c.execute(
                t.delete().where(
                    (t.c.class_code == normalize_code(code)) & (t.c.name_key == name_skeleton(name)[:MAX_CLASS_NAME])
                )
            ).rowcount
        return bool(gone)

    def rename_student(self, code: str, key: str, name: str, new: str) -> str:
        """The teacher renames student ``name`` to ``new`` (unique in the class by its look, as at :meth:`join`);
        returns the name as stored."""
        self._teacher(code, key)
        new = bounded_name(new, MAX_CLASS_NAME, "")
        if not new:
            raise ClassError(said("type the new name"))
        t, norm = self.t_students, normalize_code(code)
        old_key, new_key = name_skeleton(name)[:MAX_CLASS_NAME], name_skeleton(new)[:MAX_CLASS_NAME]
        try:
            with self._db(write=True) as c:
                taken = c.execute(
                    self.sa.select(t.c.ws).where(
                        (t.c.class_code == norm) & (t.c.name_key == new_key) & (t.c.name_key != old_key)
                    )
                ).first()
                if taken is not None:
                    raise ClassError(said("the name {name} is taken in this class", name=repr(new)))
                done = c.execute(
                    t.update().where((t.c.class_code == norm) & (t.c.name_key == old_key)).values(name=new, name_key=new_key)
                ).rowcount
        except self.sa.exc.IntegrityError:
            raise ClassError(said("the name {name} is taken in this class", name=repr(new))) from None
        if not done:
            raise ClassError(said("there is no student {name} in this class", name=repr(name)))
        return new

    # -- steering --
    def steer(
        self,
        code: str,
        key: str,
        *,
        page: str | None = None,
        pause: str | None = None,
        resume: bool = False,
        lesson: str | None = None,
    ) -> ClassState:
        """Bring everyone to ``page``; pause the class with the message ``pause``; ``resume`` it; push ``lesson``
        (a lesson file's text, checked by the caller). Returns the class as its students will read it."""
        self._teacher(code, key)
        norm = normalize_code(code)
        t = self.t_classes
        values: dict[str, Any] = {}
        if page is not None:
            values.update(page=page[:40], page_seq=t.c.page_seq + 1)
        if pause is not None:
            values["paused"] = bounded_name(pause, MAX_MESSAGE, "") or "The class is paused: eyes to the front."
        if resume:
            values["paused"] = None
        if lesson is not None:
            values.update(lesson=lesson, lesson_seq=t.c.lesson_seq + 1)
        if values:
            with self._db(write=True) as c:
                c.execute(t.update().where(t.c.code == norm).values(**values))
        state = self.class_state(norm or "")
        if state is None:
            raise ClassError(said("this class has ended or expired"))
        return state

    # -- ending --
    def end_class(self, code: str, key: str) -> int:
        """End a class: its students' names, their drawings and its board go with it. Returns how many students."""
        return self.end_class_receipt(code, key).counts["students' names"]

    def end_class_receipt(self, code: str, key: str) -> Receipt:
        """End a class (as :meth:`end_class`); the receipt counts what was deleted, and says when."""
        self._teacher(code, key)
        return self._delete_class(normalize_code(code) or "")

    def _delete_class(self, norm: str) -> Receipt:
        """The class's row first (it waits for a join or a drawing that holds it: :meth:`_hold_class`), then its
        students, drawings, board and guesses, each read after that: nothing joined meanwhile is left behind."""
        counts = {}
        with self._db(write=True) as c:
            c.execute(self.t_classes.delete().where(self.t_classes.c.code == norm))
            for kind, t in (
                (N_("students' names"), self.t_students),
                (N_("drawings"), self.t_digits),
                (N_("board entries"), self.t_board),
                (N_("wrong keys counted"), self.t_guesses),
            ):
                counts[kind] = int(c.execute(t.delete().where(t.c.class_code == norm)).rowcount or 0)
        return Receipt(time.time(), counts)

    def _hold_class(self, c: Any, norm: str) -> None:
        """In a write transaction: the class is still there and within its hours, and stays so until the
        transaction ends (its row is locked on PostgreSQL; SQLite's writer lock holds the whole database), so a
        join or a drawing racing End the class either lands before it (and goes with it) or is refused."""
        k = self.t_classes
        row = c.execute(self.sa.select(k.c.expires).where(k.c.code == norm).with_for_update()).first()
        if row is None or row.expires <= time.time():
            raise ClassError(
                said("class {code} has ended (or expired): check the code with your teacher", code=shown_code(norm))
            )

    def purge_expired(self, now: float | None = None) -> int:
        """End every class past its expiry (as :meth:`end_class` does); returns how many."""
        now = time.time() if now is None else now
        with self._db() as c:
            codes = [
                r.code for r in c.execute(self.sa.select(self.t_classes.c.code).where(self.t_classes.c.expires <= now)).all()
            ]
        for code in codes:
            self._delete_class(code)
        with self._db(write=True) as c:  # wrong keys and passwords are counted for GUESS_WINDOW_S, then forgotten
            c.execute(self.t_guesses.delete().where(self.t_guesses.c.at <= now - GUESS_WINDOW_S))
        return len(codes)
