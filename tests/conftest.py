"""Shared fixtures: the real MNIST from ../shared/data and the embedded mnist-5k, loaded once."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.procs import MARK, kill_all, left_after

# Saved workspaces of the tests (app and browser tests included) go to a folder of their own, never to ~/.cache.
os.environ.setdefault("EXPLORER_STATE_DIR", tempfile.mkdtemp(prefix="explorer-test-state-"))
# The tests' servers let anyone make a class (a school password is the default; its own tests set one).
os.environ.setdefault("EXPLORER_OPEN_CLASSES", "1")
# The app's clusters made in this process (AppTest pages) share one Ray instance with the cluster tests: they keep
# no idle warm workers, whose CPUs the cluster tests' own workers would wait for (the browser tests' servers, other
# processes, keep the default: tests/browser.py).
os.environ.setdefault("EXPLORER_WARM_WORKERS", "0")
# Every process a test starts inherits this mark: the run ends by checking that none of them is left.
RUN_ID = os.environ[MARK] = uuid.uuid4().hex
LEFT_GRACE_S = 15.0  # how long the run's processes get to end after the last test


def pytest_sessionfinish(session, exitstatus):
    """The suite ends what it starts: after the last test (and this process's own Ray instance, ended here),
    a process that a test started and left running fails the run, with its command line, and is stopped."""
    ray = sys.modules.get("ray")
    if ray is not None and getattr(ray, "is_initialized", lambda: False)():  # (an import cut short: not started)
        ray.shutdown()
    left = left_after(RUN_ID, LEFT_GRACE_S)
    if left:
        print(f"\nthe suite left {len(left)} of its processes running (stopped now):", file=sys.stderr)
        for pid, cmd in left.items():
            print(f"  {pid}: {cmd}", file=sys.stderr)
        kill_all(left)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EXPLORER_DATA_DIR") or ROOT.parent / "shared" / "data")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (SHARED_DATA / "MNIST" / "raw").is_dir():
        pytest.skip(f"full MNIST not found in {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def mnist5k():
    from explorer.core.data import load_dataset

    return load_dataset("mnist-5k")


@pytest.fixture(scope="session")
def mnist(data_dir):
    from explorer.core.data import load_dataset

    return load_dataset("mnist", data_dir, download=False)


@pytest.fixture(scope="session")
def _trained_default_once(mnist5k):
    """The default preset trained briefly on the embedded digits (about 10 s on 2 CPU cores), once per run."""
    from explorer.core.config import TrainConfig
    from explorer.core.presets import get_preset
    from explorer.core.spec import build_model
    from explorer.core.train import Trainer

    spec = get_preset("default")
    model = build_model(spec, seed=0)
    hist = Trainer(model, mnist5k, TrainConfig(epochs=3, eval_splits=("test",))).run()
    model.eval()
    return model, spec, hist


@pytest.fixture()
def trained_default(_trained_default_once):
    """The shared trained model, and after the test the check that it was left as found: in eval mode, with its
    weights and no hooks (a test that changes it fails, instead of changing the tests after it)."""
    import torch

    model = _trained_default_once[0]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    yield _trained_default_once
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    hooks = [n for n, m in model.named_modules() if m._forward_hooks or m._backward_hooks or m._forward_pre_hooks]
    left = {"training mode": model.training, "changed weights": changed[:3], "hooks": hooks[:3]}
    model.eval()
    model.load_state_dict(before)
    assert not any(left.values()), f"the shared trained model was not left as found: {left}"


class _FileChromium:
    """One headless Chromium for a test file's browser tests: starting it for each test cost about 1.5 s of a core
    each time (Playwright's driver and the browser's processes). Each test's tabs are still their own browsers'
    worth (a new context has its own cookies and cache). A browser that crashed or was closed is started again
    for the next test, so one crash fails one test, not the rest of its file."""

    def __init__(self) -> None:
        self._running: contextlib.ExitStack | None = None
        self._browser = None

    def get(self):
        from tests.browser import browser_or_skip

        if self._browser is None or not self._browser.is_connected():
            self.close()
            self._running = contextlib.ExitStack()
            self._browser = self._running.enter_context(browser_or_skip())
        return self._browser

    def close(self) -> None:
        running, self._running, self._browser = self._running, None, None
        if running is not None:
            try:
                running.close()
            except Exception:  # noqa: BLE001 (a crashed browser closes with an error; it is gone either way)
                pass


@pytest.fixture(scope="module")
def _file_chromium():
    chromium = _FileChromium()
    yield chromium
    chromium.close()


@pytest.fixture()
def browser(_file_chromium):
    """Headless Chromium for one test (skipped where Chromium or Playwright is missing); the tabs the test opened
    are closed after it."""
    b = _file_chromium.get()
    yield b
    for context in list(b.contexts):
        try:
            context.close()
        except Exception:  # noqa: BLE001 (a context whose tab crashed closes with an error; it is gone either way)
            pass


def pytest_collection_modifyitems(items):
    """A browser test drives a real server and a real browser on a shared 2-core machine: one that fails is run
    once more (pytest-rerunfailures; the report counts it as a rerun), and fails for good if it fails again."""
    limit = items[0].config.getini("timeout") if items else None
    for item in items:
        if item.get_closest_marker("browser") and not item.get_closest_marker("flaky"):
            item.add_marker(pytest.mark.flaky(reruns=1))
            # pytest-timeout arms its timer once around both attempts, so a rerun would run with none
            # (pytest-rerunfailures#99); timing the test's own call arms it again for every attempt
            if limit and not item.get_closest_marker("timeout"):
                item.add_marker(pytest.mark.timeout(float(limit), func_only=True))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test's report says what each open tab showed (address, run state, text) and keeps a
    screenshot in out/screenshots/FAILED-<test>.png."""
    report = yield
    browser = item.funcargs.get("browser") if hasattr(item, "funcargs") else None
    if report.failed and call.when == "call" and browser is not None:
        from tests.browser import describe_pages, shot

        report.sections.append(("open tabs", describe_pages(browser)))
        for i, page in enumerate(p for c in browser.contexts for p in c.pages):
            try:
                shot(page, f"FAILED-{item.name}-{i}")
            except Exception:  # noqa: BLE001 (a crashed tab has no screenshot; its text is in the report)
                pass
    return report
