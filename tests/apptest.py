"""AppTest helpers shared by the app tests: a new session of the app, a button by its label, start the default CNN
from the Train page, wait for a run to end."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from pages._keys import WS
from tests.waits import wait_until

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def app(timeout: float = 120) -> AppTest:
    """A new session of the app, not run yet (set its query parameters first)."""
    return AppTest.from_file(APP, default_timeout=timeout)


def fresh() -> AppTest:
    """A new session of the app, its first page drawn."""
    return app().run()


def button(at: AppTest, label: str):  # noqa: ANN201 - AppTest's Button
    return next(b for b in at.button if b.label == label)


def start_default_on_train_page(at: AppTest) -> None:
    """On the Train page: create the default CNN for the dataset and press Start (the run trains in a worker)."""
    at.switch_page("pages/train.py").run()
    button(at, "Create the default CNN for this dataset").click().run()
    button(at, "Start training").click().run()


def wait_training(at: AppTest, timeout: float = 120) -> None:
    """Wait until the current model's last run has ended (finished, stopped, diverged or failed)."""
    ws = at.session_state[WS]

    def ended() -> bool:
        e = ws.entry()
        return bool(e and e.runs and e.active_run is None)

    wait_until(ended, timeout, "training to finish", every=0.2)
