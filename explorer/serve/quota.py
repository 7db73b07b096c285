"""What saved work may take in the database: one person's (all their workspaces) and everyone's, counted by the
database itself (the length of each checkpoint and upload), checked inside the save's own transaction so that a
save past a quota leaves nothing behind.

``Quotas`` is part of :class:`explorer.serve.store.WorkspaceStore` (its tables and ``self.sa``).
"""

from __future__ import annotations

from typing import Any

from ..core.budget import budget
from ..i18n import said
from .classroom import OnStore, StoreError

__all__ = ["Quotas", "QuotaError"]


class QuotaError(StoreError):
    """A save refused because it would take someone's saved work past its quota; the message says what to do."""


def _mb(n: int) -> str:
    """Bytes in MB as a sentence says them: 2.4 MB, 1,536 MB."""
    return f"{n / 2**20:,.1f}" if n < 10 << 20 else f"{n / 2**20:,.0f}"


class Quotas(OnStore):
    """Counting saved bytes and refusing a save past a quota (``EXPLORER_MAX_STORED_PERSON_MB``,
    ``EXPLORER_MAX_STORED_MB``)."""

    t_ws: Any
    t_models: Any
    t_uploads: Any

    def stored_bytes(self, c: Any, ws_id: str | None = None, person: str | None = None) -> int:
        """The bytes of saved models and uploads: of one workspace, of one person's workspaces, or of everyone's.

        Each save counts again rather than keeping a running total that could drift: ``length`` of a blob is read
        from its row's header (SQLite) or its TOAST pointer (PostgreSQL), not from the blob. Measured on SQLite,
        2,400 saved models of 200 KB (300 workspaces): everyone's 2.7 ms, one person's 0.4 ms."""
        sa, total = self.sa, 0
        for t, blob in ((self.t_models, self.t_models.c.checkpoint), (self.t_uploads, self.t_uploads.c.data)):
            q = sa.select(sa.func.coalesce(sa.func.sum(sa.func.length(blob)), 0))
            if ws_id is not None:
                q = q.where(t.c.ws == ws_id)
            elif person is not None:
                q = q.select_from(t.join(self.t_ws, self.t_ws.c.id == t.c.ws)).where(self.t_ws.c.person == person)
            total += int(c.execute(q).scalar() or 0)
        return total

    def stored_bytes_of(self, ws_id: str | None = None, person: str | None = None) -> int:
        """:meth:`stored_bytes` in a transaction of its own."""
        with self._db() as c:
            return self.stored_bytes(c, ws_id, person)

    def _check_quota(self, c: Any, p: Any) -> None:
        """Refuse (StoreError, with a sentence) a save that takes its person's saved work, or everyone's, past the
        budget (``EXPLORER_MAX_STORED_PERSON_MB``, ``EXPLORER_MAX_STORED_MB``)."""
        b = budget()
        if p.person and (mine := self.stored_bytes(c, person=p.person)) > b.stored_person_mb << 20:
            raise QuotaError(
                said(
                    "your saved work would take {mb} MB, past the {most} MB one person may keep here: "
                    "remove a model or an upload you no longer need, then go on",
                    mb=_mb(mine),
                    most=f"{b.stored_person_mb:,}",
                )
            )
        if (everyone := self.stored_bytes(c)) > b.stored_mb << 20:
            raise QuotaError(
                said(
                    "the class's saved work would take {mb} MB, past the {most} MB this app may keep: "
                    "remove a model you no longer need, and tell your teacher",
                    mb=_mb(everyone),
                    most=f"{b.stored_mb:,}",
                )
            )
