"""AppTest helpers shared by the app tests: start the default CNN from the Train page, wait for a run to end."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from pages._keys import WS
from tests.waits import wait_until


def start_default_on_train_page(at: AppTest) -> None:
    """On the Train page: create the default CNN for the dataset and press Start (the run trains in a worker)."""
    at.switch_page("pages/train.py").run()
    next(b for b in at.button if b.label == "Create the default CNN for this dataset").click().run()
    next(b for b in at.button if b.label == "Start").click().run()


def wait_training(at: AppTest, timeout: float = 120) -> None:
    """Wait until the current model's last run has ended (finished, stopped, diverged or failed)."""
    ws = at.session_state[WS]
    def ended() -> bool:
        e = ws.entry()
        return bool(e and e.runs and e.active_run is None)

    wait_until(ended, timeout, "training to finish", every=0.2)
