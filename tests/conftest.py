"""Shared fixtures: the real MNIST from ../shared/data and the embedded mnist-5k, loaded once."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Saved workspaces of the tests (app and browser tests included) go to a folder of their own, never to ~/.cache.
os.environ.setdefault("EXPLORER_STATE_DIR", tempfile.mkdtemp(prefix="explorer-test-state-"))

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EXPLORER_DATA_DIR") or ROOT.parent / "shared" / "data")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (SHARED_DATA / "MNIST" / "raw").is_dir():
        pytest.skip(f"full MNIST not found in {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def mnist5k():
    from explorer.data import load_dataset

    return load_dataset("mnist-5k")


@pytest.fixture(scope="session")
def mnist(data_dir):
    from explorer.data import load_dataset

    return load_dataset("mnist", data_dir, download=False)


@pytest.fixture(scope="session")
def trained_default(mnist5k):
    """The default preset trained briefly on the embedded digits (about 10 s on 2 CPU cores)."""
    from explorer.presets import get_preset
    from explorer.spec import build_model
    from explorer.train import TrainConfig, Trainer

    spec = get_preset("default")
    model = build_model(spec, seed=0)
    hist = Trainer(model, mnist5k, TrainConfig(epochs=3, eval_splits=("test",))).run()
    model.eval()
    return model, spec, hist
