"""``python -m explorer bench``: speed figures, printed, never asserted.

Sections:
- trainer: one epoch (a training pass plus a test pass) of the same model at batch 64, the seed
  notebooks' loop (torchvision dataset, per-sample ToTensor + Normalize, DataLoader) against ours;
- default: the ``default`` preset on full MNIST with the default settings, epoch by epoch.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["run_bench", "seed_style_epoch", "machine_line"]


def machine_line() -> str:
    """The machine the figures come from, for the README."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {torch.get_num_threads()} torch threads, {gpu}, torch {torch.__version__}"


def seed_style_epoch(model: torch.nn.Module, data_dir: str, batch_size: int = 64, limit: int | None = None,
                     device: str = "cpu", lr: float = 1e-3) -> dict[str, float]:
    """The lecture notebooks' way: a torchvision dataset with per-sample transforms through a DataLoader."""
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train = datasets.MNIST(data_dir, train=True, download=False, transform=tf)
    test = datasets.MNIST(data_dir, train=False, download=False, transform=tf)
    if limit:
        train = Subset(train, range(limit))
    dev = torch.device(device)
    model.to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    t0 = time.perf_counter()
    for x, y in DataLoader(train, batch_size=batch_size, shuffle=True):
        x, y = x.to(dev), y.to(dev)
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    train_s = time.perf_counter() - t0
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in DataLoader(test, batch_size=1000):
            correct += (model(x.to(dev)).argmax(1) == y.to(dev)).sum().item()
    return {"seconds": time.perf_counter() - t0, "train_seconds": train_s, "test_accuracy": correct / len(test)}


def _bench_trainer(data_dir: str, quick: bool, report: Callable[[str, dict[str, Any]], None]) -> None:
    from .data import load_dataset
    from .presets import get_preset
    from .spec import build_model
    from .train import TrainConfig, Trainer

    limit = 6000 if quick else None
    for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
        ds = load_dataset("mnist", data_dir, download=False)
        seed = seed_style_epoch(build_model(get_preset("default"), seed=0), data_dir, 64, limit, device)
        cfg = TrainConfig(epochs=1, batch_size=64, lr=1e-3, schedule="constant", device=device,
                          limit_train=limit, eval_splits=("test",))
        ours = Trainer(build_model(get_preset("default"), seed=0), ds, cfg).run()["epochs"][-1]
        report("trainer", {"device": device, "model": "default", "batch_size": 64,
                           "train_images": limit or ds.sizes()["train"],
                           "seed_loop_s": round(seed["seconds"], 2), "ours_s": round(ours["seconds"], 2),
                           "speedup": round(seed["seconds"] / ours["seconds"], 2),
                           "seed_loop_acc": round(seed["test_accuracy"], 4), "ours_acc": round(ours["test_accuracy"], 4)})


def _bench_default(data_dir: str, quick: bool, report: Callable[[str, dict[str, Any]], None]) -> None:
    from .data import load_dataset
    from .presets import get_preset
    from .spec import build_model
    from .train import TrainConfig, Trainer

    for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
        ds = load_dataset("mnist", data_dir, download=False)
        cfg = TrainConfig(device=device, eval_splits=("test",), limit_train=6000 if quick else None)
        hist = Trainer(build_model(get_preset("default"), seed=0), ds, cfg).run()
        train_s = 0.0
        for e in hist["epochs"]:
            train_s += e["train_seconds"]
            report("default", {"device": device, "epoch": e["epoch"], "test_accuracy": round(e["test_accuracy"], 4),
                               "train_seconds_total": round(train_s, 1),
                               "samples_per_s": round(e["samples_per_s"])})


SECTIONS: dict[str, Callable[[str, bool, Callable[[str, dict[str, Any]], None]], None]] = {
    "trainer": _bench_trainer,
    "default": _bench_default,
}


def run_bench(data_dir: str | None = None, only: str | None = None, quick: bool = False,
              json_out: bool = False) -> list[dict[str, Any]]:
    """Run the chosen sections (all by default); print each figure as it comes; return them all."""
    from .data import default_data_dir

    root = str(data_dir or default_data_dir())
    names = [s.strip() for s in only.split(",")] if only else list(SECTIONS)
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise ValueError(f"unknown bench section {unknown[0]!r}; sections: {', '.join(SECTIONS)}")
    rows: list[dict[str, Any]] = []

    def report(section: str, row: dict[str, Any]) -> None:
        rows.append({"section": section, **row})
        if json_out:
            print(json.dumps(rows[-1]), flush=True)
        else:
            print(f"[{section}] " + "  ".join(f"{k}={v}" for k, v in row.items()), flush=True)

    if not json_out:
        print(f"machine: {machine_line()}", flush=True)
    for n in names:
        SECTIONS[n](root, quick, report)
    return rows
