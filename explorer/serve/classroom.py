"""A class's shared records, kept beside the workspaces: the board (what students publish) and the class's own
drawings. Nothing here holds a student's workspace; the board keeps only what a student publishes, trimmed to its
epochs. Both belong to a class its teacher made (``explorer.serve.teaching``): an unknown or expired code is
refused, and ending the class deletes them.

``ClassRecords`` is part of :class:`explorer.serve.store.WorkspaceStore` (one database, one engine).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch

from ..core.limits import MAX_BOARD_ENTRIES, MAX_CLASS_DIGITS, MAX_CLASS_NAME, MAX_ENTRIES_PER_STUDENT, MAX_PUBLISHED_EPOCHS
from ..core.safejson import bounded_name, parse_json
from ..i18n import Refusal, said
from ..interpret.reject import NOT_A_DIGIT_LABEL

if TYPE_CHECKING:
    from .workspace import Run

__all__ = [
    "ClassRecords",
    "OnStore",
    "StoreError",
    "published_history",
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "normalize_code",
    "shown_code",
]

CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"  # a class code's letters: no 0/O, 1/I/L, 2/Z, 5/S, 8/B to mishear
CODE_LENGTH = 6
EPOCH_FIELDS = (
    "epoch",
    "step",
    "seconds",
    "lr",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "test_loss",
    "test_accuracy",
)


class StoreError(Refusal):
    """A workspace or class record that cannot be saved or read, with the reason in a sentence."""


def normalize_code(text: Any) -> str | None:
    """A typed class code as stored (``k7m r4q`` and ``K7M-R4Q`` are the same), or None if it cannot be one."""
    if not isinstance(text, str):
        return None
    raw = "".join(c for c in text.upper() if not c.isspace() and c != "-")
    if len(raw) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in raw):
        return None
    return raw


def shown_code(code: str) -> str:
    """A code as people read it: two groups of three."""
    return f"{code[:3]}-{code[3:]}"


def _fraction(v: Any) -> float | None:
    """A value between 0 and 1 (an accuracy), or None."""
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0 <= v <= 1:
        return float(v)
    return None


def published_history(hist: dict[str, Any]) -> dict[str, Any]:
    """What the board keeps of a run's history: its last epochs, each with only the known figures (finite
    numbers), and its status. A loaded checkpoint's history is checked the same way, never taken as it is."""
    epochs = hist.get("epochs") if isinstance(hist.get("epochs"), list) else []
    kept = []
    for e in [e for e in epochs if isinstance(e, dict)][-MAX_PUBLISHED_EPOCHS:]:
        kept.append(
            {
                k: float(e[k])
                for k in EPOCH_FIELDS
                if isinstance(e.get(k), (int, float)) and not isinstance(e.get(k), bool) and math.isfinite(e[k])
            }
        )
    out: dict[str, Any] = {"epochs": kept, "steps": []}
    if isinstance(hist.get("status"), str):
        out["status"] = hist["status"][:20]
    hand = _fraction(hist.get("handwriting_accuracy"))
    if hand is not None:
        out["handwriting_accuracy"] = hand
    return out


class OnStore:
    """What each part of :class:`explorer.serve.store.WorkspaceStore` uses of the store: SQLAlchemy (``sa``) and
    a connection in a transaction (``_db``), which the store defines."""

    sa: Any

    def _db(self, write: bool = False) -> Iterator[Any]:  # pragma: no cover - the store's own
        raise NotImplementedError


def _publishable(run: Run, dataset: str, accuracy: float | None, from_upload: bool) -> float:
    """The test accuracy ``run`` goes on the board with (``accuracy`` if the server measured one, else the run's
    own last), or a :class:`StoreError` saying why it cannot go: trained on another dataset or on an upload,
    no test accuracy yet, a value that is no accuracy."""
    if run.dataset != dataset or from_upload:
        raise StoreError(
            said(
                "this class's board counts runs on {dataset} only (this run trained on an upload called {other})",
                dataset=repr(dataset),
                other=repr(run.dataset),
            )
            if from_upload
            else said(
                "this class's board counts runs on {dataset} only (this run trained on {other})",
                dataset=repr(dataset),
                other=repr(run.dataset),
            )
        )
    final = run.final()
    if final.get("test_accuracy") is None:
        raise StoreError(said("only a run with a test accuracy can be published: train at least one epoch"))
    measured = float(final["test_accuracy"] if accuracy is None else accuracy)
    if not 0.0 <= measured <= 1.0:
        raise StoreError(said("a test accuracy is between 0 and 1, not {value}", value=f"{measured:g}"))
    return measured


class ClassRecords(OnStore):
    """The class's records, on the store's database (``self.sa``, ``self._db``, the reflected tables)."""

    t_board: Any
    t_digits: Any
    t_classes: Any

    def _live(self, code: Any, now: float) -> str:  # pragma: no cover - explorer.serve.teaching's
        raise NotImplementedError

    def _hold_class(self, c: Any, norm: str) -> None:  # pragma: no cover - explorer.serve.teaching's
        raise NotImplementedError

    def _teacher(self, class_code: str, key: str) -> None:  # pragma: no cover - explorer.serve.teaching's
        raise NotImplementedError

    # -- the class board: only what a student publishes, nothing else of their workspace --
    def publish(
        self,
        class_code: str,
        ws_id: str,
        run: Run,
        spec: dict[str, Any],
        name: str,
        accuracy: float | None = None,
        handwriting: float | None = None,
        from_upload: bool = False,
    ) -> None:
        """Put one finished run on the class board under ``name`` (publishing it again replaces it).

        The class is one its teacher made (not ended, not expired). The run trained on the class's dataset: a
        built-in one, never an upload (``from_upload``) that carries the same name. ``accuracy``: the test
        accuracy the server measured itself (the app does, for a model loaded from a checkpoint, whose history
        only claims one); by default the run's own last test accuracy, measured by the server's worker.
        ``handwriting``: its accuracy on the class's own drawn digits, measured by the server (kept with the
        entry's history). A class holds at most :data:`MAX_BOARD_ENTRIES` entries, a student
        :data:`MAX_ENTRIES_PER_STUDENT`."""
        from ..core.spec import summarize

        code = self._live(class_code, time.time())
        dataset = self.class_state(code).dataset  # type: ignore[attr-defined]
        name = bounded_name(name, MAX_CLASS_NAME, default="")
        if not name:
            raise StoreError(said("give a name to show on the board"))
        measured = _publishable(run, dataset, accuracy, from_upload)
        hist = published_history(run.current())
        hand = _fraction(handwriting)
        if hand is not None:
            hist["handwriting_accuracy"] = hand
        s = summarize(spec)
        arch = " → ".join(r.type for r in s.layers if r.depth == 0)
        row = {
            "class_code": code,
            "ws": ws_id,
            "run": run.id,
            "name": name,
            "published": time.time(),
            "params": s.total_params,
            "accuracy": measured,
            "seconds": float(sum(e.get("seconds", 0.0) for e in hist.get("epochs", []))),
            "architecture": arch,
            "spec": json.dumps(spec),
            "history": json.dumps(hist),
            "handwriting": hand,
        }
        with self._db(write=True) as c:
            self._room_on_board(c, code, ws_id, run.id)
            c.execute(self.t_board.insert().values(**row))

    def _room_on_board(self, c: Any, code: str, ws_id: str, run_id: int) -> None:
        """Make room for one entry of ``ws_id``'s run (its earlier entry goes), or refuse in a sentence."""
        t, count = self.t_board, self.sa.func.count()
        c.execute(t.delete().where((t.c.class_code == code) & (t.c.ws == ws_id) & (t.c.run == run_id)))
        mine = c.execute(self.sa.select(count).select_from(t).where((t.c.class_code == code) & (t.c.ws == ws_id)))
        if (mine.scalar() or 0) >= MAX_ENTRIES_PER_STUDENT:
            raise StoreError(
                said(
                    "you have {n} runs on the board already: ask your teacher to hide one, or publish "
                    "your best again to replace it",
                    n=MAX_ENTRIES_PER_STUDENT,
                )
            )
        n = c.execute(self.sa.select(count).select_from(t).where(t.c.class_code == code)).scalar()
        if (n or 0) >= MAX_BOARD_ENTRIES:
            raise StoreError(said("the board is full ({n} runs); ask your teacher", n=MAX_BOARD_ENTRIES))

    def board(self, class_code: str) -> list[dict[str, Any]]:
        """The published runs of a class, newest first, as light rows: name, accuracy, parameters, training time,
        architecture, handwriting accuracy (no workspace id, no spec, no history: :meth:`board_entry` reads those
        for the one entry opened)."""
        t = self.t_board
        cols = (t.c.id, t.c.name, t.c.params, t.c.accuracy, t.c.seconds, t.c.architecture, t.c.published, t.c.handwriting)
        code = normalize_code(class_code) or ""
        with self._db() as c:
            k = self.t_classes
            ended = c.execute(self.sa.select(k.c.expires).where(k.c.code == code)).first()
            if ended is not None and ended.expires <= time.time():
                return []  # a class past its hours, not purged yet: its board is gone already
            rows = c.execute(
                self.sa.select(*cols)
                .where(t.c.class_code == (normalize_code(class_code) or ""))
                .order_by(t.c.published.desc())
                .limit(MAX_BOARD_ENTRIES)
            ).all()
        out = []
        for r in rows:  # an entry that cannot be read is left out; the board never breaks on one
            try:
                out.append(
                    {
                        "id": int(r.id),
                        "name": str(r.name),
                        "params": int(r.params),
                        "accuracy": float(r.accuracy),
                        "seconds": float(r.seconds),
                        "architecture": str(r.architecture),
                        "published": float(r.published),
                        "handwriting": _fraction(r.handwriting),
                    }
                )
            except (TypeError, ValueError):
                continue
        return out

    def board_entry(self, class_code: str, entry_id: int) -> dict[str, Any] | None:
        """One published run with its spec and history (its epochs); None if it is gone, a StoreError (a sentence)
        if what was stored cannot be read."""
        t = self.t_board
        with self._db() as c:
            r = c.execute(
                self.sa.select(t.c.spec, t.c.history).where(
                    (t.c.class_code == (normalize_code(class_code) or "")) & (t.c.id == int(entry_id))
                )
            ).first()
        if r is None:
            return None
        unreadable = StoreError(said("this entry's network or curves cannot be read any more"))
        try:
            spec = parse_json(r.spec, "published spec", StoreError)
            hist = parse_json(r.history, "published history", StoreError)
        except StoreError:
            raise unreadable from None
        if not isinstance(spec, dict) or not isinstance(hist, dict):
            raise unreadable
        return {"spec": spec, "history": published_history(hist)}

    # -- our class's handwriting: digits the students drew, labelled, shared by the class --
    def add_digit(self, class_code: str, label: int, pixels: torch.Tensor, author: str) -> int:
        """Add one drawing (uint8 ``(1, 28, 28)``, as the Draw page prepares it) to the class's set: a digit, or
        with ``NOT_A_DIGIT_LABEL`` a letter or a doodle (the "I don't know" lesson uses those)."""
        code = self._live(class_code, time.time())
        if not isinstance(label, int) or isinstance(label, bool) or not 0 <= label <= NOT_A_DIGIT_LABEL:
            raise StoreError(said("a drawing's label is a digit from 0 to 9, or {n} for “not a digit”", n=NOT_A_DIGIT_LABEL))
        if pixels.dtype != torch.uint8 or tuple(pixels.shape) != (1, 28, 28):
            raise StoreError(said("only a 28x28 drawing can join the class's set"))
        t = self.t_digits
        with self._db(write=True) as c:
            self._hold_class(c, code)  # a drawing racing End the class lands before it or is refused
            n = c.execute(self.sa.select(self.sa.func.count()).select_from(t).where(t.c.class_code == code)).scalar()
            if (n or 0) >= MAX_CLASS_DIGITS:
                raise StoreError(
                    said("the class's set is full ({n} digits): ask your teacher to remove some", n=MAX_CLASS_DIGITS)
                )
            row = c.execute(
                t.insert().values(
                    class_code=code,
                    label=label,
                    pixels=pixels.contiguous().numpy().tobytes(),
                    author=bounded_name(author, MAX_CLASS_NAME, default="someone"),
                    created=time.time(),
                )
            )
            return int(row.inserted_primary_key[0])

    def class_digits(self, class_code: str) -> dict[str, Any]:
        """The class's digits: ``x`` uint8 ``(N, 1, 28, 28)``, ``y (N,)``, their ``ids`` and ``authors``."""
        t = self.t_digits
        with self._db() as c:
            rows = c.execute(
                self.sa.select(t).where(t.c.class_code == (normalize_code(class_code) or "")).order_by(t.c.id)
            ).all()
        rows = [r for r in rows if len(r.pixels) == 28 * 28]
        x = (
            torch.stack([torch.frombuffer(bytearray(r.pixels), dtype=torch.uint8).view(1, 28, 28) for r in rows])
            if rows
            else torch.zeros(0, 1, 28, 28, dtype=torch.uint8)
        )
        return {
            "x": x,
            "y": torch.tensor([r.label for r in rows], dtype=torch.long),
            "ids": [r.id for r in rows],
            "authors": [r.author for r in rows],
            "confirmed_by": [r.confirmed_by for r in rows],
        }

    def confirm_digit(self, class_code: str, digit_id: int, who: str) -> None:
        """A classmate confirms that a digit is legible as its label (for "stump the model"): not its author."""
        who = bounded_name(who, MAX_CLASS_NAME, default="")
        if not who:
            raise StoreError(said("give your name to confirm a classmate's digit"))
        t = self.t_digits
        with self._db(write=True) as c:
            row = c.execute(
                self.sa.select(t.c.author, t.c.confirmed_by).where(
                    (t.c.class_code == (normalize_code(class_code) or "")) & (t.c.id == int(digit_id))
                )
            ).first()
            if row is None:
                raise StoreError(said("that digit is not in the class's set any more"))
            if row.author.casefold() == who.casefold():
                raise StoreError(said("a digit is confirmed by a classmate, not by the one who drew it"))
            if row.confirmed_by is None:
                c.execute(t.update().where(t.c.id == int(digit_id)).values(confirmed_by=who))

    def remove_digit(self, class_code: str, key: str, digit_id: int) -> None:
        """Take one digit out of the class's set (the teacher's key is needed)."""
        self._teacher(class_code, key)
        with self._db(write=True) as c:
            c.execute(
                self.t_digits.delete().where(
                    (self.t_digits.c.class_code == normalize_code(class_code)) & (self.t_digits.c.id == int(digit_id))
                )
            )

    def hide_entry(self, class_code: str, key: str, entry_id: int) -> None:
        """Take one entry off a class's board (the teacher's key is needed)."""
        self._teacher(class_code, key)
        with self._db(write=True) as c:
            c.execute(
                self.t_board.delete().where(
                    (self.t_board.c.class_code == normalize_code(class_code)) & (self.t_board.c.id == int(entry_id))
                )
            )

    def clear_board(self, class_code: str, key: str) -> int:
        """Take every entry off a class's board; returns how many (the teacher's key is needed)."""
        self._teacher(class_code, key)
        with self._db(write=True) as c:
            return c.execute(self.t_board.delete().where(self.t_board.c.class_code == normalize_code(class_code))).rowcount
