"""The kernel snapshots a run keeps (a lesson's "time machine" of its first convolution): how many fit the
server's budget, which ones stay when there are more, and what each weighs."""

from __future__ import annotations

from typing import Any

from .budget import budget
from .limits import MAX_SNAPSHOTS

__all__ = ["snapshot_cap", "thin_snapshots", "snapshot_bytes"]


def snapshot_cap(bytes_each: int) -> int:
    """How many kernel snapshots of ``bytes_each`` bytes a run keeps: at most :data:`MAX_SNAPSHOTS`, and at most
    the server's snapshot budget in bytes (:func:`explorer.core.budget.budget`)."""
    return min(MAX_SNAPSHOTS, budget().snapshot_bytes // max(bytes_each, 1))


def thin_snapshots(snaps: list[dict[str, Any]], cap: int) -> list[dict[str, Any]]:
    """Every other snapshot (the first kept) until at most ``cap`` are left: evenly spread over the run."""
    while len(snaps) > max(cap, 1):
        snaps = snaps[::2]
    return snaps


def snapshot_bytes(snap: dict[str, Any]) -> int:
    return sum(t.numel() * t.element_size() for t in snap["kernels"].values())
