"""The multi-user runtime that only the app needs: workspaces, the Ray workers, the database.

The face is lazy: a name loads its module on first use, so the store does not start Ray and the
launcher does not load torch."""

from __future__ import annotations

import importlib
from typing import Any

_HOME = {
    "Cluster": "cluster",
    "ClusterSettings": "cluster",
    "Presence": "cluster",
    "RemoteTrainer": "cluster",
    "RemoteJob": "cluster",
    "QueueInfo": "cluster",
    "cap_gpu_memory": "cluster",
    "run_actor_name": "cluster",
    "WorkspaceStore": "store",
    "SavedWorkspace": "store",
    "StoreError": "store",
    "StaleWorkspaceError": "store",
    "default_state_dir": "store",
    "dataset_to_bytes": "store",
    "dataset_from_bytes": "store",
    "Run": "workspace",
    "ModelEntry": "workspace",
    "Workspace": "workspace",
    "Job": "workspace",
    "JobState": "workspace",
}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)


def __dir__() -> list[str]:
    return __all__
