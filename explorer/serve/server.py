"""What one app server holds for all its sessions, made once, each at its first need: the workers (Ray), the
workspace database and its background saver, who holds which workspace, what each person holds, the registry
datasets shared read-only; and a warm-up that gets the heavy parts ready in a background thread.

No Streamlit here, and light to import (the app imports it before torch loads): the app gives :class:`Server` the
two things only it knows, whether a browser session still lives and what to do once the heavy imports are done.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.data import Dataset
    from .cluster import Cluster
    from .people import People
    from .presence import Presence
    from .saver import BackgroundSaver
    from .store import WorkspaceStore

__all__ = ["Server", "data_dir"]

STORE_RETRY_S = 30.0  # a database that could not be opened (locked, unreachable) is tried again after this
SHUTDOWN_WAIT_S = 20.0  # a stop while Ray starts waits this long for it, then stops it
FIRST_PAGE_WAIT_S = 5.0  # the warm-up starts Ray once the first page is drawn, or after this long


def data_dir() -> str | None:
    """Where registry datasets are read from (``EXPLORER_DATA_DIR``; None: the library's default)."""
    return os.environ.get("EXPLORER_DATA_DIR") or None


def _serving() -> bool:
    """Whether this process is the app's server (``streamlit run``, as ``cnn-explorer`` execs it), where a stop
    ends with exit status 0. Anywhere else (a test run that imported the app through AppTest, a notebook) the
    process keeps its own exit status: a test run that failed must not end with 0."""
    first = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    return "run" in sys.argv[1:2] and "streamlit" in (first.name, first.parent.name)


class Server:
    """The server's shared resources, made once, each at its first need; the slow ones (imports, Ray) are
    started by :meth:`warm_up` in a background thread.

    ``phase`` says what the warm-up is doing, in words for the page ("starting the workers"); ``times`` holds
    how long each phase took (printed to the server's log when it is ready).
    """

    def __init__(
        self, session_alive: Callable[[str], bool] = lambda _s: True, after_imports: Callable[[], Any] = lambda: None
    ) -> None:
        self._session_alive = session_alive  # whether a browser session still lives (the app's runtime knows)
        self._after_imports = after_imports  # the heavy imports done: the app freezes its startup heap there
        self._lock = threading.RLock()
        self._warm_started = False
        self._cluster_ready = threading.Event()
        self._on_workers: list[Callable[[], Any]] = []  # called once the workers are up (or could not start)
        self._ready = threading.Event()
        self._shut_down = False
        self._first_page = threading.Event()  # the server's first page is on screen: Ray may take the CPU now
        self._cluster: Cluster | None = None
        self._presence: Presence | None = None
        self._store: WorkspaceStore | None | bool = False  # False: not opened yet; None: cannot be opened now
        self._store_failed_at = 0.0
        self._saver: BackgroundSaver | None = None
        self._retention: Any = None  # the hourly purge, once the database is open
        self._people: People | None = None
        self._datasets: dict[tuple[str, str | None], Dataset] = {}
        self._dataset_locks: dict[tuple[str, str | None], threading.Lock] = {}
        self.phase = "waiting to start"
        self.times: dict[str, float] = {}
        self.error = ""
        from .settings import school_password

        self._school = school_password()  # making a class needs it: the environment's, else one of this server's

    def school_password(self) -> str | None:
        """The password making a class needs here (None: anyone may make one, ``EXPLORER_OPEN_CLASSES=1``)."""
        return self._school

    # -- the warm-up --
    def warm_up(self) -> None:
        """Start the background warm-up (once): imports, the workers, the embedded digits in the object store. It
        waits for the first page to be drawn, or ``FIRST_PAGE_WAIT_S`` (``server.py`` starts it at the launch: with
        no visitor in the first seconds, the workers are warm before anyone asks)."""
        with self._lock:
            if self._warm_started:
                return
            self._warm_started = True
        if self._school and not os.environ.get("EXPLORER_TEACHER_PASSWORD"):
            print(
                f"Teachers make a class with this server's school password: {self._school}\n(set "
                "EXPLORER_TEACHER_PASSWORD to choose it; EXPLORER_OPEN_CLASSES=1 lets anyone make a class)",
                file=sys.stderr,
                flush=True,
            )
        threading.Thread(target=self._warm, daemon=True, name="explorer-warmup").start()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def page_drawn(self) -> None:
        """A page has been drawn: the warm-up starts the workers now, if it was waiting for that."""
        self._first_page.set()

    @property
    def workers_ready(self) -> bool:
        return self._cluster_ready.is_set()

    def when_workers_ready(self, callback: Callable[[], Any]) -> None:
        """Call ``callback`` once the workers are up or could not start (in the warm-up's thread), or now if that
        has happened: for a caller that must not block (``server.py``'s event loop) nor poll."""
        with self._lock:
            if not self._cluster_ready.is_set():
                self._on_workers.append(callback)
                return
        callback()

    def _workers_settled(self) -> None:
        with self._lock:
            self._cluster_ready.set()
            callbacks, self._on_workers = self._on_workers, []
        for callback in callbacks:
            callback()

    def _phase(self, name: str, fn: Any) -> Any:
        self.phase, t = name, time.perf_counter()
        try:
            return fn()
        finally:
            self.times[name] = time.perf_counter() - t

    def _warm(self) -> None:
        try:
            # The warm-up is CPU work for seconds (imports, then Ray): on a small server it would slow the first
            # page, which a newcomer is waiting for, while a run is asked for only after that page is read
            self._phase("starting", lambda: self._first_page.wait(FIRST_PAGE_WAIT_S))
            self._phase("loading PyTorch, starting the workers", self._torch_and_cluster)
            self._phase("loading the digits", self._load_default_data)
        except Exception as e:  # noqa: BLE001 - the app still works; the page and the log say what failed
            self.error = f"{type(e).__name__}: {e}"
            print(f"warm-up: {self.phase} failed: {self.error}", file=sys.stderr)
        finally:
            self._workers_settled()
            self._ready.set()
            self.phase = "ready"
            print("warm-up: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.times.items()), file=sys.stderr)

    def _torch_and_cluster(self) -> None:
        """Ray's start is mostly other processes (its store, its scheduler) and torch's import is this one's: side
        by side, the first worker is up about a second sooner on a small server."""
        failed: list[BaseException] = []

        def start() -> None:
            try:
                self._start_cluster()
            except BaseException as e:  # noqa: BLE001 - raised below, in the warm-up's own thread
                failed.append(e)

        starter = threading.Thread(target=start, daemon=True, name="explorer-cluster-start")
        starter.start()
        self._after_imports()
        starter.join()
        if failed:
            raise failed[0]

    def _start_cluster(self) -> None:
        if os.environ.get("EXPLORER_RUNNER", "ray") == "local":
            return
        from .cluster import Cluster, ClusterSettings

        # the server's shutdown (SIGTERM from a service manager, Ctrl-C) ends the runs and stops this process's Ray
        # instance before the interpreter goes, so none of its processes is left behind. Registered before Ray
        # starts (a stop while Ray is starting waits for it, then stops it) and again after (atexit runs the last
        # registered first: before Ray's own exit handler, which would end Ray under the runs' feet)
        atexit.register(self.shutdown)
        try:
            self._cluster = Cluster(ClusterSettings.from_env(), is_alive=self.presence().alive)
            atexit.register(self.shutdown)
        finally:
            self._workers_settled()

    def shutdown(self, end_process: bool | None = None) -> None:
        """Write the saves still waiting for the database (a few seconds at most), end every run and job, stop
        the Ray instance this server started (waiting for it first if it is still starting). Once is enough.

        ``end_process``: then end this process with exit status 0 (``server.py`` asks for it at the server's stop);
        by default only a ``streamlit run app.py`` server that started Ray itself does."""
        with self._lock:
            if self._shut_down:
                return
            self._shut_down = True
        self._cluster_ready.wait(SHUTDOWN_WAIT_S)
        if self._retention is not None:
            self._retention.stop(0.0)
        if self._saver is not None:
            self._saver.flush(3.0)
        if self._cluster is not None:
            try:
                self._cluster.close()
            except Exception as e:  # noqa: BLE001 - shutting down: say it, go on
                print(f"shutdown: the workers did not stop cleanly: {e}", file=sys.stderr)
        if end_process is None:
            end_process = self._cluster is not None and self._cluster.started_here and _serving()
        if end_process:
            # Ray is stopped and the saves are written: end the process here. The interpreter's own finalization
            # would meet Ray's C++ threads, which sometimes abort it (SIGABRT: the service manager saw exit -6
            # instead of 0, and Ray's agents were left to linger); and behind ``server.py`` the web server would
            # raise the stop's signal again once its own shutdown is over (exit 143 instead of 0)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)

    def _load_default_data(self) -> None:
        from ..core.data import DEFAULT_DATASET

        ds = self.dataset(DEFAULT_DATASET, data_dir())
        if self._cluster is not None:
            self._cluster.dataset_ref(ds)  # into the object store now, not at the first click on Train

    def has_dataset(self, name: str, root: str | None) -> bool:
        return (name, root) in self._datasets

    def dataset(self, name: str, root: str | None) -> Dataset:
        """A registry dataset, loaded once per server and shared read-only by all sessions (two sessions asking
        at once load it once). Raises DataError with the reason."""
        from ..core.data import load_dataset
        from ..core.limits import MAX_SHARED_DATASETS

        key = (name, root)
        with self._lock:
            if key in self._datasets:
                self._datasets[key] = self._datasets.pop(key)  # most recently used last
                return self._datasets[key]
            lock = self._dataset_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._datasets:
                ds = load_dataset(name, root, download=True)
                with self._lock:
                    self._datasets[key] = ds
                    while len(self._datasets) > MAX_SHARED_DATASETS:
                        self._datasets.pop(next(iter(self._datasets)))
            return self._datasets[key]

    # -- the resources --
    def cluster(self, timeout: float = 120) -> Cluster | None:
        """The workers, once started (this waits for the warm-up's Ray start, at most ``timeout`` s); None when
        ``EXPLORER_RUNNER=local`` (training in this process, one user, no Ray) or when Ray could not start."""
        self.warm_up()
        self._first_page.set()  # someone waits for the workers: the warm-up holds back no longer
        self._cluster_ready.wait(timeout)
        return self._cluster

    def presence(self) -> Presence:
        """Which browser sessions hold which workspace: a workspace's runs go on while a tab of it lives."""
        from .presence import Presence

        return self._once("_presence", lambda: Presence(self._session_alive))

    def store(self) -> WorkspaceStore | None:
        """The workspace database (``EXPLORER_DATABASE_URL``, else SQLite in ``EXPLORER_STATE_DIR``); old
        workspaces and classes are expired when it opens (a class also when a new one is made). None if it cannot
        be opened (work then lasts as long as the tab)."""
        with self._lock:
            if self._store is None and time.monotonic() - self._store_failed_at > STORE_RETRY_S:
                self._store = False  # it could not be opened a while ago (locked, say): try again
            if self._store is False:
                from .store import WorkspaceStore

                try:
                    from .retention import Retention

                    store = WorkspaceStore()
                    store.expire()
                    store.purge_expired()  # classes past their hours: their names, drawings and boards go
                    self._store = store
                    self._retention = Retention(store).start()  # and again every hour while the server runs
                except Exception as e:  # noqa: BLE001 - the app still works, for each tab's lifetime
                    print(f"workspaces are not saved for now: {e}", file=sys.stderr)
                    self._store, self._store_failed_at = None, time.monotonic()
            return self._store  # type: ignore[return-value]

    def people(self) -> People:
        """What each person (a browser, all its tabs) holds: one job at a time, their runs, their uploads.
        ``EXPLORER_SECRET`` signs the identity cookies (set it alike on a school's replicas)."""
        from .people import People

        return self._once("_people", lambda: People(os.environ.get("EXPLORER_SECRET"), self._session_alive))

    def saver(self) -> BackgroundSaver:
        """Saves the database did not take within about a second, retried in the background until it does."""
        from .saver import BackgroundSaver

        return self._once("_saver", lambda: BackgroundSaver(self.store))

    def _once(self, attr: str, make: Callable[[], Any]) -> Any:
        """The part kept in ``attr``, made by ``make()`` at its first need (once, under the lock)."""
        with self._lock:
            if getattr(self, attr) is None:
                setattr(self, attr, make())
            return getattr(self, attr)
