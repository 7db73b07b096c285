"""How the app reaches its Ray cluster and what each run and job asks of it, from the environment."""

from __future__ import annotations

import math
import os
import secrets
import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["ClusterSettings", "start_ray", "school_password"]


@dataclass
class ClusterSettings:
    """How the cluster is reached and what each run asks of it (environment variables in brackets).

    address: join this Ray cluster instead of starting a local one [RAY_ADDRESS];
    num_cpus: CPUs of the local instance, default all [EXPLORER_RAY_CPUS];
    cpus_per_run: CPUs (and torch threads) per run or job [EXPLORER_CPUS_PER_RUN];
    gpus_per_run: fraction of a GPU per run when the cluster has GPUs [EXPLORER_GPUS_PER_RUN];
    lease_s: a worker whose lease is not renewed for this long stops itself [EXPLORER_LEASE_S];
    object_store_mb: shared memory for datasets of the local instance [EXPLORER_OBJECT_STORE_MB];
    long_run_s: a run estimated past this many seconds is a long run; long runs hold at most half the places
        [EXPLORER_LONG_RUN_S];
    turn_s: while another long run waits for a place, a long run that has trained this long gives its place back
        at its epoch's end and waits its next turn [EXPLORER_LONG_TURN_S];
    warm: idle workers kept started for the next run or job [EXPLORER_WARM_WORKERS]; default 2 on a server with
        its own Ray, 0 on a joined cluster (there an idle worker would hold CPUs another server process needs).
    """

    address: str | None = None
    num_cpus: int | None = None
    cpus_per_run: float = 0.5  # two runs share a core: a keen student's long runs do not hold a class's turn
    gpus_per_run: float = 0.25
    lease_s: float = 60.0
    poll_s: float = 0.25  # the keeper asks every busy worker for news this often (a run's end: seen within it)
    object_store_mb: int = 1024
    warm: int | None = None
    long_run_s: float = 60.0
    turn_s: float = 60.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ClusterSettings:
        env = dict(os.environ if env is None else env)

        def num(key: str, default: float, lo: float, hi: float) -> float:
            raw = env.get(key)
            if raw in (None, ""):
                return default
            try:
                v = float(raw)
            except ValueError:
                raise ValueError(f"{key} must be a number, got {raw!r}") from None
            if not (math.isfinite(v) and lo <= v <= hi):
                raise ValueError(f"{key} must be between {lo:g} and {hi:g}, got {raw}")
            return v

        cpus = env.get("EXPLORER_RAY_CPUS")
        return cls(
            address=env.get("RAY_ADDRESS") or None,
            num_cpus=int(num("EXPLORER_RAY_CPUS", 0, 1, 4096)) if cpus else None,
            cpus_per_run=num("EXPLORER_CPUS_PER_RUN", 0.5, 0.1, 256),
            gpus_per_run=num("EXPLORER_GPUS_PER_RUN", 0.25, 0.01, 8),
            lease_s=num("EXPLORER_LEASE_S", 60.0, 2, 3600),
            object_store_mb=int(num("EXPLORER_OBJECT_STORE_MB", 1024, 100, 1 << 20)),
            warm=int(num("EXPLORER_WARM_WORKERS", 0, 0, 256)) if env.get("EXPLORER_WARM_WORKERS") else None,
            long_run_s=num("EXPLORER_LONG_RUN_S", 60.0, 1, 86400),
            turn_s=num("EXPLORER_LONG_TURN_S", 60.0, 1, 86400),
        )


def start_ray(ray: Any, s: ClusterSettings, stop: threading.Event) -> None:
    """Start or join Ray from a thread that lives until ``stop`` is set: Ray's own processes (GCS, raylet) are
    tied to the thread that started them, and Streamlit's script threads end after every rerun."""
    ready, errors = threading.Event(), []
    # Ray's usage statistics would ask the cloud's metadata address (169.254.169.254) which cloud this is, and
    # could report to Ray's servers: nothing of a class leaves the school's machines (tests/app/test_outbound.py)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

    def host() -> None:
        try:
            if s.address:
                ray.init(address=s.address, namespace="cnn-explorer", log_to_driver=False)
            else:
                # "local": a new instance of our own, even where a `ray start` cluster runs on this machine
                ray.init(
                    address="local",
                    num_cpus=s.num_cpus or os.cpu_count() or 1,
                    include_dashboard=False,
                    _node_ip_address="127.0.0.1",
                    namespace="cnn-explorer",
                    log_to_driver=False,
                    object_store_memory=s.object_store_mb << 20,
                )
        except BaseException as e:  # noqa: BLE001 - handed to the caller below
            errors.append(e)
        ready.set()
        if not errors:
            stop.wait()

    threading.Thread(target=host, daemon=True, name="explorer-ray-host").start()
    ready.wait()
    if errors:
        raise errors[0]


def school_password(env: dict[str, str] | None = None) -> str | None:
    """The password that making a class needs on this server: ``EXPLORER_TEACHER_PASSWORD`` if set; None (anyone
    may make a class) only where ``EXPLORER_OPEN_CLASSES=1``; otherwise a new random one, which the server prints
    once to whoever started it (as a notebook server prints its token)."""
    env = os.environ if env is None else env
    if env.get("EXPLORER_TEACHER_PASSWORD"):
        return env["EXPLORER_TEACHER_PASSWORD"]
    if env.get("EXPLORER_OPEN_CLASSES", "").strip().lower() in ("1", "true", "yes"):
        return None
    return "-".join(secrets.token_hex(2) for _ in range(3))  # 48 bits, read aloud or typed easily: 1f3a-09bc-e4d2
