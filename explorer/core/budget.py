"""What one request may cost a shared server, in one place: the limits every spec, upload, view and run is
checked against *before* the work starts.

The defaults fit a 2-core laptop serving a class; a GPU server raises them through the environment (one
variable each, read at every check, so an operator's change needs no code):

======================  ==============================  ==========================================
limit                   environment variable            default
======================  ==============================  ==========================================
parameters              ``EXPLORER_MAX_PARAMS``         10,000,000 (40 MB of float32 weights)
multiply-adds / image   ``EXPLORER_MAX_MULT_ADDS``      1,000,000,000
activations / image     ``EXPLORER_MAX_ACTIVATIONS``    16,000,000 values (64 MB)
classes of a dataset    ``EXPLORER_MAX_CLASSES``        1,000
decoded upload          ``EXPLORER_MAX_DATASET_MB``     512 MB of uint8 pixels
kernel snapshots / run  ``EXPLORER_MAX_SNAPSHOT_MB``    64 MB
one look-inside view    ``EXPLORER_MAX_VIEW_MB``        256 MB of float32 values held at once
a view's work           ``EXPLORER_MAX_VIEW_VALUES``    20,000,000 activation values computed
models of a workspace   ``EXPLORER_MAX_MODELS``         24
a session's uploads     ``EXPLORER_MAX_UPLOADS_MB``     512 MB, all its uploaded datasets together
runs waiting per owner  ``EXPLORER_MAX_QUEUED_RUNS``    3 (beside the one in the workers)
one run's time          ``EXPLORER_MAX_RUN_MINUTES``    30 minutes of a worker
one job's time          ``EXPLORER_MAX_JOB_MINUTES``    10 minutes (filter images, experiments, attacks)
a worker's speed        ``EXPLORER_MULT_ADDS_PER_S``    5,000,000,000 multiply-adds a second (for estimates)
one person's models     ``EXPLORER_MAX_PERSON_MODELS_MB`` 512 MB, all their tabs' models (weights and a copy)
the server's memory     ``EXPLORER_MAX_SERVER_MB``      0: 80% of the machine's memory; new models refused past it
one person's saved work ``EXPLORER_MAX_STORED_PERSON_MB`` 1,024 MB in the database, all their workspaces together
all saved work          ``EXPLORER_MAX_STORED_MB``      10,240 MB in the database, everyone's together
one download of My data ``EXPLORER_MAX_EXPORT_MB``      256 MB of saved models and uploads in one zip
======================  ==============================  ==========================================
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields

from ..i18n import Said, said

__all__ = ["Budget", "budget", "words", "said_count"]


@dataclass(frozen=True)
class Budget:
    """The server's limits (see the module's table)."""

    params: int = 10_000_000
    mult_adds: int = 1_000_000_000
    activations: int = 16_000_000
    classes: int = 1_000
    dataset_mb: int = 512
    snapshot_mb: int = 64
    view_mb: int = 256
    view_values: int = 20_000_000
    models: int = 24
    uploads_mb: int = 512
    queued_runs: int = 3
    run_minutes: int = 30
    job_minutes: int = 10
    mult_adds_per_s: int = 5_000_000_000  # what a job is estimated at before it starts (a 2-core CPU does more)
    person_models_mb: int = 512
    server_mb: int = 0  # 0: 80% of the machine's memory
    stored_person_mb: int = 1_024
    stored_mb: int = 10_240
    export_mb: int = 256

    ENV = {
        "params": "EXPLORER_MAX_PARAMS",
        "mult_adds": "EXPLORER_MAX_MULT_ADDS",
        "activations": "EXPLORER_MAX_ACTIVATIONS",
        "classes": "EXPLORER_MAX_CLASSES",
        "dataset_mb": "EXPLORER_MAX_DATASET_MB",
        "snapshot_mb": "EXPLORER_MAX_SNAPSHOT_MB",
        "view_mb": "EXPLORER_MAX_VIEW_MB",
        "view_values": "EXPLORER_MAX_VIEW_VALUES",
        "models": "EXPLORER_MAX_MODELS",
        "uploads_mb": "EXPLORER_MAX_UPLOADS_MB",
        "queued_runs": "EXPLORER_MAX_QUEUED_RUNS",
        "run_minutes": "EXPLORER_MAX_RUN_MINUTES",
        "job_minutes": "EXPLORER_MAX_JOB_MINUTES",
        "mult_adds_per_s": "EXPLORER_MULT_ADDS_PER_S",
        "person_models_mb": "EXPLORER_MAX_PERSON_MODELS_MB",
        "server_mb": "EXPLORER_MAX_SERVER_MB",
        "stored_person_mb": "EXPLORER_MAX_STORED_PERSON_MB",
        "stored_mb": "EXPLORER_MAX_STORED_MB",
        "export_mb": "EXPLORER_MAX_EXPORT_MB",
    }

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Budget:
        """The defaults, with each limit the environment sets; a value that is not a positive whole number is
        refused with a sentence naming the variable."""
        env = dict(os.environ if env is None else env)
        values = {}
        for f in fields(cls):
            raw = env.get(cls.ENV[f.name], "").replace("_", "").strip()
            if not raw:
                continue
            try:
                v = int(float(raw))
            except ValueError:
                raise ValueError(f"{cls.ENV[f.name]} must be a positive whole number, got {raw[:20]!r}") from None
            if v < 1 or not math.isfinite(float(raw)):
                raise ValueError(f"{cls.ENV[f.name]} must be a positive whole number, got {raw[:20]!r}")
            values[f.name] = v
        return cls(**values)

    @property
    def dataset_bytes(self) -> int:
        return self.dataset_mb << 20

    @property
    def snapshot_bytes(self) -> int:
        return self.snapshot_mb << 20

    @property
    def view_bytes(self) -> int:
        return self.view_mb << 20

    @property
    def uploads_bytes(self) -> int:
        return self.uploads_mb << 20

    @property
    def person_models_bytes(self) -> int:
        return self.person_models_mb << 20

    @property
    def server_bytes(self) -> int:
        """The most memory the server process may hold before it refuses new models."""
        if self.server_mb:
            return self.server_mb << 20
        try:
            return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 0.8)
        except (ValueError, OSError, AttributeError):  # pragma: no cover - not a POSIX system
            return 16 << 30


def budget() -> Budget:
    """The limits in force now (the environment is read each time)."""
    return Budget.from_env()


def said_count(n: float) -> Said | str:
    """:func:`words` said again in a student's language (``million``, ``billion``, ``trillion`` translated)."""
    for size, name in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if n >= size:
            v = n / size
            count = f"{v:.0f}" if v >= 100 or v == int(v) else f"{v:.1f}"
            return {
                "trillion": said("{n} trillion", n=count),
                "billion": said("{n} billion", n=count),
                "million": said("{n} million", n=count),
            }[name]
    return f"{int(n):,}"


def words(n: float) -> str:
    """A large count the way a teacher says it: 38.4 billion, 2 million, 12,544."""
    for size, name in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if n >= size:
            v = n / size
            return f"{v:.0f} {name}" if v >= 100 or v == int(v) else f"{v:.1f} {name}"
    return f"{int(n):,}"
