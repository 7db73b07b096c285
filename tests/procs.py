"""The suite's own processes: every process a test starts inherits ``EXPLORER_TEST_RUN`` (a fresh id per run), so
the run can list what it left behind, even processes that were re-parented (Ray's, a server's children)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.waits import wait_until

MARK = "EXPLORER_TEST_RUN"


def marked(value: str, key: str = MARK) -> dict[int, str]:
    """Processes (pid -> command line) whose environment holds ``key=value``, this process left out."""
    needle, out = f"{key}={value}".encode(), {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            if needle in (d / "environ").read_bytes().split(b"\0"):
                state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":  # a zombie has ended; its parent has not read its exit status yet
                    out[int(d.name)] = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:160]
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return out


def left_after(value: str, seconds: float, key: str = MARK) -> dict[int, str]:
    """The marked processes still running once ``seconds`` have passed (polled; returns as soon as none is)."""
    wait_until(lambda: not marked(value, key), seconds)
    return marked(value, key)


def kill_all(pids: dict[int, str]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
