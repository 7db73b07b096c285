"""The door to a teacher's classes: making one (the school's password, a cap per person) and signing in with its
key. Wrong passwords and wrong keys are counted in the database (so a second replica does not reset the count)
and slow further tries from the same browser; they never refuse the right key. Keys are stored as salted scrypt
hashes and compared in constant time.

``Door`` is part of :class:`explorer.serve.teaching.Teaching` (and so of the store): it uses the store's
database (``self.sa``, ``self._db``, the reflected tables).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
import threading
import time
from typing import Any

from ..core.limits import MAX_BROWSER_WAIT_S, MAX_CLASS_GUESSES, MAX_CLASSES_PER_HOUR, MAX_GUESSES, MAX_REMEMBERED_KEYS
from ..core.safejson import bounded_name
from ..i18n import Said, said, said_n
from .classroom import CODE_ALPHABET, CODE_LENGTH, OnStore, StoreError, normalize_code, shown_code

__all__ = ["Door", "ClassError", "browser_wait", "class_hours"]

KEY_BYTES = 12  # 96 random bits, 16 characters
SCHOOL = "(school)"  # the wrong school passwords are counted as a class's wrong keys are, under this name
GUESS_WINDOW_S = 600  # ... within ten minutes
CLASS_SLOW_S = 1.0  # past MAX_CLASS_GUESSES wrong keys in a class, one key check per this many seconds
SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class ClassError(StoreError):
    """A class request that is refused, with the reason in a sentence."""


def class_hours(env: dict[str, str] | None = None) -> float:
    """How long a class lasts after it is made: ``EXPLORER_CLASS_HOURS`` (default 12)."""
    try:
        hours = float((os.environ if env is None else env).get("EXPLORER_CLASS_HOURS") or 12)
    except ValueError:
        hours = 12.0
    return hours if math.isfinite(hours) and hours > 0 else 12.0


def browser_wait(wrong: int) -> float:
    """Seconds a browser waits before its next try after ``wrong`` wrong keys (within the window): none up to
    :data:`MAX_GUESSES`, then 2, 4, 8 … up to :data:`MAX_BROWSER_WAIT_S`."""
    return 0.0 if wrong < MAX_GUESSES else float(min(2 ** (wrong - MAX_GUESSES + 1), MAX_BROWSER_WAIT_S))


def _tries_left(left: int) -> Said:
    """How many wrong tries are left before each try waits longer."""
    return said_n("{n} more try, then each try waits longer", "{n} more tries, then each try waits longer", left)


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


class Door(OnStore):
    """Making classes and signing in to them, on the store's database."""

    t_classes: Any
    t_guesses: Any

    def purge_expired(self, now: float | None = None) -> int:  # pragma: no cover - Teaching's own
        raise NotImplementedError

    def _live(self, code: Any, now: float) -> str:  # pragma: no cover - Teaching's own
        raise NotImplementedError

    # -- making a class, signing in --
    def create_class(
        self, dataset: str, password: str = "", now: float | None = None, who: str = "", wanted: str | None = ""
    ) -> tuple[str, str]:
        """A new class on ``dataset``: returns ``(code, key)``. The key is shown once; only its hash is kept.

        ``wanted``: the school's password (None: none needed; "" by default: ``EXPLORER_TEACHER_PASSWORD``, if
        set). Wrong passwords from ``who`` (the browser's person) slow its further tries as wrong keys do; and
        one person makes at most :data:`MAX_CLASSES_PER_HOUR` classes an hour."""
        now = time.time() if now is None else now
        wanted = (os.environ.get("EXPLORER_TEACHER_PASSWORD") or None) if wanted == "" else wanted
        who = who[:64]
        if wanted is not None:
            self._check_school_password(password, wanted, who, now)
        self.purge_expired(now)
        self._check_classes_made(who, now)
        key = secrets.token_urlsafe(KEY_BYTES)
        row = {
            "key_hash": _hash(key),
            "dataset": bounded_name(dataset, 200, "mnist"),
            "created": now,
            "expires": now + class_hours() * 3600,
            "page_seq": 0,
            "lesson_seq": 0,
            "made_by": who,
        }
        for _ in range(8):  # a new code never takes over one in use (the primary key refuses it)
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            try:
                with self._db(write=True) as c:
                    c.execute(self.t_classes.insert().values(code=code, **row))
                return code, key
            except self.sa.exc.IntegrityError:
                continue
        raise ClassError(said("no free class code was found just now; try again"))  # pragma: no cover - 25^6 codes

    def _check_school_password(self, password: str, wanted: str, who: str, now: float) -> None:
        """The school's password, tried as a class's key is: wrong ones counted per browser, each past
        :data:`MAX_GUESSES` doubling that browser's wait; the right one always works once its wait is over."""
        mine, my_last, _ = self._wrong_tries(SCHOOL, who, now)
        wait = browser_wait(mine) - (now - my_last)
        if wait > 0:
            raise ClassError(
                said(
                    "too many wrong school passwords from this browser: wait {n} s before the next try "
                    "(each wrong one doubles the wait)",
                    n=math.ceil(wait),
                )
            )
        if hmac.compare_digest(password.strip().encode(), wanted.encode()):
            return
        self._count_wrong(SCHOOL, who, now)
        left = MAX_GUESSES - mine - 1
        wrong = said(
            "that is not this school's password for making a class: whoever started the server has it (it "
            "was shown where the server started)"
        )
        raise ClassError(said("{reason} ({tries})", reason=wrong, tries=_tries_left(left)) if left > 0 else wrong)

    def _check_classes_made(self, who: str, now: float) -> None:
        t = self.t_classes
        with self._db() as c:
            made = (
                c.execute(
                    self.sa.select(self.sa.func.count()).where(
                        (t.c.made_by == who) & (t.c.created > now - 3600) & (t.c.expires > now)
                    )
                ).scalar()
                or 0
            )
        if who and made >= MAX_CLASSES_PER_HOUR:
            raise ClassError(
                said(
                    "you have made {n} classes in the last hour, the most one person may make ({most}): "
                    "sign in to one of them with its key, or end one you do not use",
                    n=made,
                    most=MAX_CLASSES_PER_HOUR,
                )
            )

    def _wrong_tries(self, code: str, who: str, now: float) -> tuple[int, float, int]:
        """Within :data:`GUESS_WINDOW_S`: this browser's wrong tries against ``code``, when its last was, and
        everyone's."""
        t, since = self.t_guesses, now - GUESS_WINDOW_S
        with self._db() as c:

            def tally(cond: Any) -> tuple[int, float]:
                row = c.execute(
                    self.sa.select(self.sa.func.count(), self.sa.func.max(t.c.at)).where(
                        (t.c.class_code == code) & (t.c.at > since) & cond
                    )
                ).first()
                return int(row[0] or 0), float(row[1] or 0.0)

            (mine, my_last), (everyone, _) = tally(t.c.who == who[:64]), tally(self.sa.true())
        return mine, my_last, everyone

    def _count_wrong(self, code: str, who: str, now: float) -> None:
        t = self.t_guesses
        with self._db(write=True) as c:
            c.execute(t.delete().where(t.c.at <= now - GUESS_WINDOW_S))
            c.execute(t.insert().values(class_code=code, who=who[:64], at=now))

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
        mine, my_last, everyone = self._wrong_tries(norm, who, now)
        wait = browser_wait(mine) - (now - my_last)
        if wait > 0:
            raise ClassError(
                said(
                    "too many wrong keys from this browser for class {code}: wait {n} s before the next "
                    "try (each wrong key doubles the wait)",
                    code=shown_code(norm),
                    n=math.ceil(wait),
                )
            )
        if everyone >= MAX_CLASS_GUESSES:
            self._take_turn(norm)  # many wrong keys in this class: one check every CLASS_SLOW_S, in turn
        if self.is_teacher(norm, key):
            return norm
        self._count_wrong(norm, who, now)
        left = MAX_GUESSES - mine - 1
        wrong = said("that is not the teacher key of class {code}", code=shown_code(norm))
        raise ClassError(said("{reason} ({tries})", reason=wrong, tries=_tries_left(left)) if left > 0 else wrong)

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
        return row is not None and row.expires > time.time() and self._key_matches(key.strip(), row.key_hash, known_only)

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
            raise ClassError(said("that is not the teacher key of this class (or the class has ended)"))
