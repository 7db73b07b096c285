"""The multi-user runtime that only the app needs: workspaces, the Ray workers, the database.

The face is lazy: a name loads its module on first use, so opening the database does not start Ray."""

from __future__ import annotations

from ..core.lazy import lazy_face

_HOME = {
    "Cluster": "cluster",
    "WorkerPool": "pool",
    "find_worker": "pool",
    "Door": "door",
    "ClusterSettings": "settings",
    "Presence": "presence",
    "RemoteTrainer": "handles",
    "RemoteJob": "handles",
    "QueueInfo": "handles",
    "cap_gpu_memory": "workers",
    "worker_name": "workers",
    "WORKER_PREFIX": "workers",
    "BackgroundSaver": "saver",
    "Retention": "retention",
    "purge_every_s": "retention",
    "SaveOutcome": "saver",
    "WorkspaceStore": "store",
    "SavedWorkspace": "store",
    "SavePayload": "store",
    "db_reason": "store",
    "StoreError": "classroom",
    "ClassRecords": "classroom",
    "published_history": "classroom",
    "normalize_code": "classroom",
    "CODE_ALPHABET": "classroom",
    "CODE_LENGTH": "classroom",
    "Teaching": "teaching",
    "shown_code": "classroom",
    "ClassError": "door",
    "ClassState": "teaching",
    "Progress": "teaching",
    "roster_csv": "roster",
    "CSV_FIELDS": "roster",
    "stuck_reason": "teaching",
    "class_hours": "door",
    "school_password": "door",
    "browser_wait": "door",
    "StaleWorkspaceError": "store",
    "QuotaError": "store",
    "default_state_dir": "store",
    "dataset_to_bytes": "store",
    "dataset_from_bytes": "store",
    "People": "people",
    "Quota": "people",
    "model_bytes": "people",
    "process_bytes": "people",
    "PERSON_COOKIE": "people",
    "Run": "workspace",
    "ModelEntry": "workspace",
    "Workspace": "workspace",
    "Job": "workspace",
    "JobState": "workspace",
}
__all__ = sorted(_HOME)
__getattr__, __dir__ = lazy_face(__name__, _HOME)
