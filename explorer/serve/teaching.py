"""A class run by its teacher, kept in the database so that it holds across replicas.

- **Made by its teacher** (:meth:`Teaching.create_class`): the server picks the code (six characters from an
  alphabet with no look-alikes, read aloud as ``K7M-R4Q``) and a teacher key, shown once and stored only as a
  salted scrypt hash, compared in constant time. A school may require a password to create classes
  (``EXPLORER_TEACHER_PASSWORD``). Classes expire (``EXPLORER_CLASS_HOURS``, 12 by default).
- **Wrong keys slow further tries, never the right key**: past :data:`MAX_GUESSES` within :data:`GUESS_WINDOW_S`, a
  browser waits twice as long before each try; past :data:`MAX_CLASS_GUESSES` from all browsers, the class checks
  one key at a time (the count is in the database, so a second replica does not reset it). The key has 96 random
  bits: the limits bound the key checks' cost to the server, not the odds of a guess.
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

import hashlib
import hmac
import json
import math
import os
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..core.limits import MAX_BROWSER_WAIT_S, MAX_CLASS_GUESSES, MAX_GUESSES, MAX_MESSAGE, MAX_REMEMBERED_KEYS, MAX_STUDENTS
from ..core.safejson import bounded_name, name_skeleton, parse_json
from .classroom import CODE_ALPHABET, CODE_LENGTH, MAX_CLASS_NAME, StoreError, normalize_code, shown_code

__all__ = ["Teaching", "ClassError", "ClassState", "Progress", "stuck_reason", "class_hours",
           "password_required", "browser_wait"]

KEY_BYTES = 12  # 96 random bits, 16 characters
GUESS_WINDOW_S = 600  # ... within ten minutes
CLASS_SLOW_S = 1.0  # past MAX_CLASS_GUESSES wrong keys in a class, one key check per this many seconds
STUCK_MINUTES = 5  # no progress for this long: marked stuck
ERROR_FRESH_S = 120  # an error shown this recently marks a student stuck
SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


class ClassError(StoreError):
    """A class request that is refused, with the reason in a sentence."""


def class_hours() -> float:
    """How long a class lasts after it is made: ``EXPLORER_CLASS_HOURS`` (default 12)."""
    try:
        hours = float(os.environ.get("EXPLORER_CLASS_HOURS") or 12)
    except ValueError:
        hours = 12.0
    return hours if math.isfinite(hours) and hours > 0 else 12.0


def browser_wait(wrong: int) -> float:
    """Seconds a browser waits before its next try after ``wrong`` wrong keys (within the window): none up to
    :data:`MAX_GUESSES`, then 2, 4, 8 … up to :data:`MAX_BROWSER_WAIT_S`."""
    return 0.0 if wrong < MAX_GUESSES else float(min(2 ** (wrong - MAX_GUESSES + 1), MAX_BROWSER_WAIT_S))


def password_required() -> bool:
    """Whether this school asks a password to create a class (``EXPLORER_TEACHER_PASSWORD`` is set)."""
    return bool(os.environ.get("EXPLORER_TEACHER_PASSWORD"))


def _hash(key: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(key.encode(), salt=salt, dklen=32, **SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def _matches(key: str, stored: str) -> bool:
    try:
        kind, salt, _ = stored.split("$")
        expected = _hash(key, bytes.fromhex(salt))
    except ValueError:
        return False
    return kind == "scrypt" and hmac.compare_digest(expected.encode(), stored.encode())


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
        return {"page": bounded_name(self.page, 40, ""), "model": bounded_name(self.model, 200, ""),
                "params": max(0, int(self.params)), "runs": max(0, int(self.runs)),
                "run_state": bounded_name(self.run_state, 20, ""), "best_accuracy": float(acc) if ok else None,
                "error": bounded_name(self.error, 200, ""), "path": bounded_name(self.path, 20, "")}


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


class Teaching:
    """The teacher's classes, on the store's database (``self.sa``, ``self._db``, the reflected tables)."""

    sa: Any
    t_classes: Any
    t_students: Any
    t_guesses: Any
    t_board: Any
    t_digits: Any

    def _db(self, write: bool = False) -> Iterator[Any]:  # pragma: no cover - the store's own
        raise NotImplementedError

    # -- making a class, signing in --
    def create_class(self, dataset: str, password: str = "", now: float | None = None) -> tuple[str, str]:
        """A new class on ``dataset``: returns ``(code, key)``. The key is shown once; only its hash is kept."""
        wanted = os.environ.get("EXPLORER_TEACHER_PASSWORD") or ""
        if wanted and not hmac.compare_digest(password.encode(), wanted.encode()):
            raise ClassError("that is not this school's password for making a class (ask whoever runs the server)")
        now = time.time() if now is None else now
        self.purge_expired(now)
        key = secrets.token_urlsafe(KEY_BYTES)
        row = {"key_hash": _hash(key), "dataset": bounded_name(dataset, 200, "mnist"), "created": now,
               "expires": now + class_hours() * 3600, "page_seq": 0, "lesson_seq": 0}
        for _ in range(8):  # a new code never takes over one in use (the primary key refuses it)
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            try:
                with self._db(write=True) as c:
                    c.execute(self.t_classes.insert().values(code=code, **row))
                return code, key
            except self.sa.exc.IntegrityError:
                continue
        raise ClassError("no free class code was found just now; try again")  # pragma: no cover - 25^6 codes

    def class_state(self, code: str, now: float | None = None) -> ClassState | None:
        """The class as its students' apps read it; None if there is no such class or it has expired."""
        code = normalize_code(code) or ""
        if not code:
            return None
        t = self.t_classes
        with self._db() as c:
            r = c.execute(self.sa.select(t.c.code, t.c.dataset, t.c.expires, t.c.paused, t.c.page, t.c.page_seq,
                                         t.c.lesson, t.c.lesson_seq).where(t.c.code == code)).first()
        if r is None or r.expires <= (time.time() if now is None else now):
            return None
        return ClassState(r.code, r.dataset, r.expires, r.paused, r.page, int(r.page_seq), r.lesson, int(r.lesson_seq))

    def _live(self, code: Any, now: float) -> str:
        """The stored code of a class that exists and has not expired; a ClassError sentence otherwise."""
        norm = normalize_code(code)
        if norm is None:
            raise ClassError(f"a class code is six letters and digits, like {shown_code('K7MR4Q')}; check it with your "
                             "teacher")
        if self.class_state(norm, now) is None:
            raise ClassError(f"there is no class {shown_code(norm)} on this server (or it has ended or expired): check "
                             "the code with your teacher")
        return norm

    def sign_in(self, code: str, key: str, who: str, now: float | None = None) -> str:
        """The teacher signs in with the class's key; returns the stored code. The right key always works: wrong
        keys only slow further tries. ``who`` (the browser) counts its wrong keys: after :data:`MAX_GUESSES`
        within :data:`GUESS_WINDOW_S`, each further try from that browser waits twice as long as the one before
        (:func:`browser_wait`, refused at once, without a key check); after :data:`MAX_CLASS_GUESSES` from all
        browsers, the class checks one key every :data:`CLASS_SLOW_S` (a try waits its turn, then is checked:
        the teacher's right key from a new device still gets in)."""
        now = time.time() if now is None else now
        norm = self._live(code, now)
        if self.is_teacher(norm, key, known_only=True):
            return norm  # a key this server has already checked: no scrypt, nothing counted, no wait
        t = self.t_guesses
        since = now - GUESS_WINDOW_S
        with self._db() as c:
            def tally(cond: Any) -> tuple[int, float]:
                row = c.execute(self.sa.select(self.sa.func.count(), self.sa.func.max(t.c.at)).where(
                    (t.c.class_code == norm) & (t.c.at > since) & cond)).first()
                return int(row[0] or 0), float(row[1] or 0.0)
            (mine, my_last), (everyone, _) = tally(t.c.who == who[:64]), tally(self.sa.true())
        wait = browser_wait(mine) - (now - my_last)
        if wait > 0:
            raise ClassError(f"too many wrong keys from this browser for class {shown_code(norm)}: wait {math.ceil(wait)} "
                             "s before the next try (each wrong key doubles the wait)")
        if everyone >= MAX_CLASS_GUESSES:
            self._take_turn(norm)  # many wrong keys in this class: one check every CLASS_SLOW_S, in turn
        if self.is_teacher(norm, key):
            return norm
        with self._db(write=True) as c:
            c.execute(t.delete().where(t.c.at <= since))
            c.execute(t.insert().values(class_code=norm, who=who[:64], at=now))
        left = MAX_GUESSES - mine - 1
        tries = f"{left} more {'try' if left == 1 else 'tries'}"
        raise ClassError(f"that is not the teacher key of class {shown_code(norm)}"
                         + (f" ({tries}, then each try waits longer)" if left > 0 else ""))

    def _take_turn(self, norm: str) -> None:
        """Wait for this class's next key check: at most one every :data:`CLASS_SLOW_S` in this server (each check
        costs a scrypt). The wait is this session's own; nobody else's page waits for it."""
        locks: dict[str, threading.Lock] = self.__dict__.setdefault("_turns", {})
        lock = locks.setdefault(norm, threading.Lock())
        with lock:
            last = self.__dict__.setdefault("_last_turn", {})
            time.sleep(max(0.0, last.get(norm, 0.0) + CLASS_SLOW_S - time.monotonic()))
            last[norm] = time.monotonic()

    def is_teacher(self, class_code: str, key: str, known_only: bool = False) -> bool:
        """Whether ``key`` is the teacher key of a class that has not expired (no count: see :meth:`sign_in`).
        ``known_only``: only if this server has checked that key already (no scrypt: a cheap first look)."""
        code = normalize_code(class_code)
        if not code or not isinstance(key, str) or not key.strip():
            return False
        t = self.t_classes
        with self._db() as c:
            row = c.execute(self.sa.select(t.c.key_hash, t.c.expires).where(t.c.code == code)).first()
        return row is not None and row.expires > time.time() and self._key_matches(key.strip(), row.key_hash,
                                                                                 known_only)

    def _key_matches(self, key: str, stored: str, known_only: bool = False) -> bool:
        """:func:`_matches`, with its scrypt (about 70 ms and 16 MB) run once per key and stored hash: the teacher's
        console checks its key on every redraw and every click. Later checks compare a SHA-256 of the key kept
        beside the stored hash, in this server's memory only (never written); a wrong key always pays the scrypt."""
        seen: dict[str, bytes] = self.__dict__.setdefault("_keys_seen", {})
        digest = hashlib.sha256(key.encode()).digest()
        if hmac.compare_digest(seen.get(stored, b""), digest):
            return True
        if known_only or not _matches(key, stored):
            return False
        if len(seen) >= MAX_REMEMBERED_KEYS:
            seen.clear()
        seen[stored] = digest
        return True

    def replace_key(self, code: str, key: str) -> str:
        """A new teacher key for class ``code`` (the old one, ``key``, stops working at once); returns it. Only the
        new key's hash is kept, as at :meth:`create_class`."""
        self._teacher(code, key)
        norm = normalize_code(code) or ""
        new = secrets.token_urlsafe(KEY_BYTES)
        with self._db(write=True) as c:
            c.execute(self.t_classes.update().where(self.t_classes.c.code == norm).values(key_hash=_hash(new)))
        return new

    def _teacher(self, class_code: str, key: str) -> None:
        if not self.is_teacher(class_code, key):
            raise ClassError("that is not the teacher key of this class (or the class has ended)")

    # -- students --
    def join(self, code: str, name: str, ws_id: str, now: float | None = None) -> str:
        """Join class ``code`` as ``name`` (unique in the class by its look: case, full-width forms, invisible
        characters and look-alike letters of other scripts do not make a new name) from workspace ``ws_id``;
        returns the stored code. Joining again from the same workspace under the same name is a no-op."""
        now = time.time() if now is None else now
        norm = self._live(code, now)
        name = bounded_name(name, MAX_CLASS_NAME, "")
        if not name:
            raise ClassError("type the name your teacher will see")
        t, key = self.t_students, name_skeleton(name)[:MAX_CLASS_NAME]
        try:
            with self._db(write=True) as c:
                self._hold_class(c, norm)
                row = c.execute(self.sa.select(t.c.ws).where((t.c.class_code == norm) & (t.c.name_key == key))).first()
                if row is not None:
                    if row.ws != ws_id:
                        raise ClassError(f"the name {name!r} is taken in this class: add an initial or a number")
                    return norm
                n = c.execute(self.sa.select(self.sa.func.count()).select_from(t).where(t.c.class_code == norm)).scalar()
                if (n or 0) >= MAX_STUDENTS:
                    raise ClassError(f"class {shown_code(norm)} is full ({MAX_STUDENTS} students)")
                c.execute(t.delete().where((t.c.class_code == norm) & (t.c.ws == ws_id)))  # a new name for this tab
                c.execute(t.insert().values(class_code=norm, name=name, name_key=key, ws=ws_id, joined=now, seen=now,
                                            progress_at=now, report="{}"))
        except self.sa.exc.IntegrityError:  # another replica took the name a moment ago
            raise ClassError(f"the name {name!r} is taken in this class: add an initial or a number") from None
        return norm

    def member_name(self, code: str, ws_id: str) -> str | None:
        """The name under which workspace ``ws_id`` joined class ``code`` (None: it is not in the class)."""
        t = self.t_students
        with self._db() as c:
            row = c.execute(self.sa.select(t.c.name).where((t.c.class_code == (normalize_code(code) or ""))
                                                           & (t.c.ws == ws_id))).first()
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
            moved = {k: v for k, v in new.items() if k != "error"} != {k: v for k, v in old.items()
                                                                        if k not in ("error", "error_at")}
            new["error_at"] = old.get("error_at", 0.0) if new["error"] == old.get("error") else now
            if not new["error"]:
                new["error_at"] = 0.0
            c.execute(t.update().where(where).values(seen=now, report=json.dumps(new),
                                                     progress_at=now if moved else row.progress_at))
        return True

    def roster(self, code: str, now: float | None = None) -> list[dict[str, Any]]:
        """One row per student, by name: what their app reported, when, and a stuck mark (a reason, or "").
        Reads the students' rows only: no workspace, no model."""
        now = time.time() if now is None else now
        t = self.t_students
        with self._db() as c:
            rows = c.execute(self.sa.select(t.c.name, t.c.ws, t.c.joined, t.c.seen, t.c.progress_at, t.c.report)
                             .where(t.c.class_code == (normalize_code(code) or "")).order_by(t.c.name_key)).all()
        out = []
        blank = Progress().cleaned()
        for r in rows:
            try:
                rep = json.loads(r.report)
            except ValueError:
                rep = {}
            row = {**blank, **(rep if isinstance(rep, dict) else {}), "name": r.name, "ws": r.ws, "joined": r.joined,
                   "seen": r.seen, "progress_at": r.progress_at}
            row["stuck"] = stuck_reason(row, now)
            out.append(row)
        return out

    def student_workspace(self, code: str, key: str, name: str) -> str | None:
        """The workspace id of student ``name`` (the teacher's key is needed), to look at their model read-only."""
        self._teacher(code, key)
        t = self.t_students
        with self._db() as c:
            row = c.execute(self.sa.select(t.c.ws).where((t.c.class_code == normalize_code(code))
                                                         & (t.c.name_key == name_skeleton(name)[:MAX_CLASS_NAME]))).first()
        return None if row is None else str(row.ws)

    def remove_student(self, code: str, key: str, name: str) -> bool:
        """The teacher takes ``name`` off the roster (a name that should not be there, a student who left); their
        own work stays theirs. True if there was such a student."""
        self._teacher(code, key)
        t = self.t_students
        with self._db(write=True) as c:
            gone = c.execute(t.delete().where((t.c.class_code == normalize_code(code))
                                              & (t.c.name_key == name_skeleton(name)[:MAX_CLASS_NAME]))).rowcount
        return bool(gone)

    def rename_student(self, code: str, key: str, name: str, new: str) -> str:
        """The teacher renames student ``name`` to ``new`` (unique in the class by its look, as at :meth:`join`);
        returns the name as stored."""
        self._teacher(code, key)
        new = bounded_name(new, MAX_CLASS_NAME, "")
        if not new:
            raise ClassError("type the new name")
        t, norm = self.t_students, normalize_code(code)
        old_key, new_key = name_skeleton(name)[:MAX_CLASS_NAME], name_skeleton(new)[:MAX_CLASS_NAME]
        try:
            with self._db(write=True) as c:
                taken = c.execute(self.sa.select(t.c.ws).where((t.c.class_code == norm) & (t.c.name_key == new_key)
                                                               & (t.c.name_key != old_key))).first()
                if taken is not None:
                    raise ClassError(f"the name {new!r} is taken in this class")
                done = c.execute(t.update().where((t.c.class_code == norm) & (t.c.name_key == old_key))
                                 .values(name=new, name_key=new_key)).rowcount
        except self.sa.exc.IntegrityError:
            raise ClassError(f"the name {new!r} is taken in this class") from None
        if not done:
            raise ClassError(f"there is no student {name!r} in this class")
        return new

    # -- steering --
    def steer(self, code: str, key: str, *, page: str | None = None, pause: str | None = None,
              resume: bool = False, lesson: str | None = None) -> ClassState:
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
            raise ClassError("this class has ended or expired")
        return state

    # -- ending --
    def end_class(self, code: str, key: str) -> int:
        """End a class: its students' names, their drawings and its board go with it. Returns how many students."""
        self._teacher(code, key)
        return self._delete_class(normalize_code(code) or "")

    def _delete_class(self, norm: str) -> int:
        """The class's row first (it waits for a join or a drawing that holds it: :meth:`_hold_class`), then its
        students, drawings, board and guesses, each read after that: nothing joined meanwhile is left behind."""
        with self._db(write=True) as c:
            c.execute(self.t_classes.delete().where(self.t_classes.c.code == norm))
            n = c.execute(self.t_students.delete().where(self.t_students.c.class_code == norm)).rowcount
            for t in (self.t_digits, self.t_board, self.t_guesses):
                c.execute(t.delete().where(t.c.class_code == norm))
        return int(n or 0)

    def _hold_class(self, c: Any, norm: str) -> None:
        """In a write transaction: the class is still there and within its hours, and stays so until the
        transaction ends (its row is locked on PostgreSQL; SQLite's writer lock holds the whole database), so a
        join or a drawing racing End the class either lands before it (and goes with it) or is refused."""
        k = self.t_classes
        row = c.execute(self.sa.select(k.c.expires).where(k.c.code == norm).with_for_update()).first()
        if row is None or row.expires <= time.time():
            raise ClassError(f"class {shown_code(norm)} has ended (or expired): check the code with your teacher")

    def purge_expired(self, now: float | None = None) -> int:
        """End every class past its expiry (as :meth:`end_class` does); returns how many."""
        now = time.time() if now is None else now
        with self._db() as c:
            codes = [r.code for r in c.execute(self.sa.select(self.t_classes.c.code)
                                               .where(self.t_classes.c.expires <= now)).all()]
        for code in codes:
            self._delete_class(code)
        return len(codes)
