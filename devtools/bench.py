"""``python -m explorer bench``: speed figures, printed, never asserted.

Sections:
- trainer: one epoch (a training pass plus a test pass) of the same model on the same images at batch 64:
  the seed notebooks' loop (per-sample PIL + ToTensor + Normalize through a DataLoader) against ours;
- default: the ``default`` preset on full MNIST with the default settings, epoch by epoch;
- dashboard: training throughput with the app's Train page open in a browser vs the headless trainer;
- featureviz: filter images of a 64-channel layer, batched vs channel by channel;
- confusion: predictions and confusion matrix for 10,000 test images;
- draw: the Draw page's server-side path per stroke, and Integrated Gradients (50 steps, one batch);
- first: a newcomer's first minute in Chromium on a freshly started server (cold) and on the same server again
  (warm): the menu's first paint, the Start page, one click to a trained default CNN; and where that click's
  time goes (Ray's start, the worker's start, the data to the object store, the epochs, the end), measured with
  the same library calls the app makes;
- pen: the Draw page in Chromium: pen-up -> answer on screen, as shipped and with Streamlit's default
  garbage collection (a full collection after every script run, ``runner.postScriptGC``, no frozen heap).
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
# the classroom simulation (``--classroom N``) is tools/classroom.py


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


class _SeedStyleDataset(torch.utils.data.Dataset):
    """What ``torchvision.datasets.MNIST.__getitem__`` does per sample: uint8 -> PIL image -> transform."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform: Any) -> None:
        self.x, self.y, self.transform = x, y, transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        return self.transform(Image.fromarray(self.x[i, 0].numpy(), mode="L")), int(self.y[i])


def seed_style_epoch(
    model: torch.nn.Module,
    dataset: Any,
    batch_size: int = 64,
    limit: int | None = None,
    device: str = "cpu",
    lr: float = 1e-3,
) -> dict[str, float]:
    """The lecture notebooks' way, on the same images as ours: per-sample ToTensor + Normalize through a
    DataLoader, the classic loop, then a test pass."""
    from torch.utils.data import DataLoader
    from torchvision import transforms

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize(dataset.mean, dataset.std)])
    n = limit or len(dataset.train_y)
    train = _SeedStyleDataset(dataset.train_x[:n], dataset.train_y[:n], tf)
    test = _SeedStyleDataset(dataset.test_x, dataset.test_y, tf)
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
    from explorer.core.config import TrainConfig
    from explorer.core.data import load_dataset
    from explorer.core.presets import get_preset
    from explorer.core.spec import build_model
    from explorer.core.train import Trainer

    limit = 6000 if quick else None
    for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
        ds = load_dataset("mnist", data_dir, download=False)
        seed = seed_style_epoch(build_model(get_preset("default"), seed=0), ds, 64, limit, device)
        cfg = TrainConfig(
            epochs=1, batch_size=64, lr=1e-3, schedule="constant", device=device, limit_train=limit, eval_splits=("test",)
        )
        ours = Trainer(build_model(get_preset("default"), seed=0), ds, cfg).run()["epochs"][-1]
        report(
            "trainer",
            {
                "device": device,
                "model": "default",
                "batch_size": 64,
                "train_images": limit or ds.sizes()["train"],
                "seed_loop_s": round(seed["seconds"], 2),
                "ours_s": round(ours["seconds"], 2),
                "speedup": round(seed["seconds"] / ours["seconds"], 2),
                "seed_loop_acc": round(seed["test_accuracy"], 4),
                "ours_acc": round(ours["test_accuracy"], 4),
            },
        )


def _bench_default(data_dir: str, quick: bool, report: Callable[[str, dict[str, Any]], None]) -> None:
    from explorer.core.config import TrainConfig
    from explorer.core.data import load_dataset
    from explorer.core.presets import get_preset
    from explorer.core.spec import build_model
    from explorer.core.train import Trainer

    for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
        ds = load_dataset("mnist", data_dir, download=False)
        cfg = TrainConfig(device=device, eval_splits=("test",), limit_train=6000 if quick else None)
        hist = Trainer(build_model(get_preset("default"), seed=0), ds, cfg).run()
        train_s = 0.0
        for e in hist["epochs"]:
            train_s += e["train_seconds"]
            report(
                "default",
                {
                    "device": device,
                    "epoch": e["epoch"],
                    "test_accuracy": round(e["test_accuracy"], 4),
                    "train_seconds_total": round(train_s, 1),
                    "samples_per_s": round(e["samples_per_s"]),
                },
            )


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else float("nan")


def _live_app_rates(epochs: int, threads: int, seconds_cap: float = 240) -> list[float]:
    """Train the default CNN on mnist-5k in the real app with the Train page open in headless Chromium; return
    the training speeds (samples/s) between the progress bar's successive readings (the page shows the step,
    never a speed: the bench times the steps itself)."""
    import re

    from explorer.core.config import TrainConfig

    from .browser import chromium, nav, open_app, start_training, streamlit_server, wait_idle

    batch = TrainConfig().batch_size
    rates: list[float] = []
    with streamlit_server(env={"EXPLORER_TORCH_THREADS": str(threads)}) as url, chromium() as browser:
        page = open_app(browser, url)
        nav(page, "Train")
        page.get_by_role("button", name="Create the default CNN for this dataset").click()
        wait_idle(page)
        progress = start_training(page, epochs)
        deadline = time.time() + seconds_cap
        last: tuple[float, int] | None = None
        while time.time() < deadline and page.locator("text=Done after").count() == 0:
            try:
                text = progress.inner_text(timeout=2000)
            except Exception:  # noqa: BLE001 - the bar is replaced by the result when the run ends
                continue
            m = re.search(r"step ([\d,]+)/", text)
            if m:
                now, step = time.perf_counter(), int(m.group(1).replace(",", ""))
                if last is not None and step > last[1]:
                    rates.append((step - last[1]) * batch / (now - last[0]))
                if last is None or step > last[1]:
                    last = (now, step)
            time.sleep(0.25)
    return rates


def _bench_dashboard(data_dir: str, quick: bool, report: Callable[[str, dict[str, Any]], None]) -> None:
    """Training throughput with the Train page open and redrawing, against the headless trainer, same threads."""
    import os

    from explorer.core.config import TrainConfig
    from explorer.core.data import load_dataset
    from explorer.core.presets import get_preset
    from explorer.core.spec import build_model
    from explorer.core.train import Trainer

    from .browser import chromium_available

    threads = max(1, (os.cpu_count() or 2) - 1)  # what the app uses (pages/_server.set_torch_threads)
    epochs = 4 if quick else 25
    ds = load_dataset("mnist-5k")

    def headless() -> float:
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            hist = Trainer(build_model(get_preset("default"), seed=0), ds, TrainConfig(epochs=epochs)).run()
        finally:
            torch.set_num_threads(before)
        return _median([s["samples_per_s"] for s in hist["steps"][2:]])

    first = headless()
    row: dict[str, Any] = {"dataset": "mnist-5k", "epochs": epochs, "torch_threads": threads}
    if not chromium_available():
        report(
            "dashboard",
            {**row, "headless_samples_per_s": round(first), "note": "chromium/playwright missing: live figure not measured"},
        )
        return
    rates = _live_app_rates(epochs, threads)
    base = (first + headless()) / 2  # headless before and after the live run: the machine drifts
    if not rates:  # a run over before the page read its progress bar once (--quick on a fast machine)
        report(
            "dashboard",
            {
                **row,
                "headless_samples_per_s": round(base),
                "note": "the run ended before the page showed a reading: run without --quick",
            },
        )
        return
    live = _median(rates[2:] or rates)  # the first readings include the start
    report(
        "dashboard",
        {
            **row,
            "headless_samples_per_s": round(base),
            "live_page_samples_per_s": round(live),
            "ratio": round(live / base, 3),
            "note": "browser runs on the same 2 cores as the server",
        },
    )


def _bench_featureviz(data_dir: str, quick: bool, report: Callable[[str, dict[str, Any]], None]) -> None:
    """Filter images for the 64 channels of seed 004's last conv (28x28 input): batched vs one by one."""
    from explorer.core.presets import get_preset
    from explorer.core.spec import build_model
    from explorer.interpret.featureviz import visualize_filters

    model = build_model(get_preset("mnist-features"), seed=0)
    steps = 16 if quick else 128
    visualize_filters(model, "6", steps=2)  # warm-up
    t0 = time.perf_counter()
    visualize_filters(model, "6", steps=steps)
    batched = time.perf_counter() - t0
    t0 = time.perf_counter()
    for c in range(64):
        visualize_filters(model, "6", channels=[c], steps=steps)
    single = time.perf_counter() - t0
    report(
        "featureviz",
        {
            "layer": "mnist-features conv 6 (64 channels)",
            "steps": steps,
            "batched_s": round(batched, 2),
            "one_by_one_s": round(single, 2),
            "speedup": round(single / batched, 2),
        },
    )


def _bench_confusion(data_dir: str, quick: bool, report: Callable[[str, dict[str, Any]], None]) -> None:
    """Predict the 10,000 MNIST test images and build the confusion matrix, default model."""
    from explorer.core.data import load_dataset
    from explorer.core.evaluate import confusion_matrix, predict_proba
    from explorer.core.presets import get_preset
    from explorer.core.spec import build_model

    try:
        ds = load_dataset("mnist", data_dir, download=False)
    except ValueError:
        ds = load_dataset("mnist-5k")
    model = build_model(get_preset("default"), seed=0)
    predict_proba(model, ds.test_x[:100], ds.mean, ds.std)  # warm-up
    t0 = time.perf_counter()
    probs = predict_proba(model, ds.test_x, ds.mean, ds.std)
    confusion_matrix(ds.test_y, probs.argmax(1), list(ds.classes))
    report("confusion", {"dataset": ds.name, "images": len(ds.test_y), "seconds": round(time.perf_counter() - t0, 3)})


def _bench_draw(data_dir: str, quick: bool, report: Callable[[str, dict[str, Any]], None]) -> None:
    """The Draw page's server-side hot path: a 280x280 canvas -> MNIST-style 28x28 -> prediction + saliency;
    and Integrated Gradients with 50 steps batched in one call."""
    import numpy as np

    from explorer.core.data import load_dataset, normalize
    from explorer.core.preprocess import prepare_image
    from explorer.core.presets import get_preset
    from explorer.core.spec import build_model
    from explorer.interpret.attribution import attribute, predict_and_explain

    ds = load_dataset("mnist-5k")
    model = build_model(get_preset("default"), seed=0).eval()
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[60:220, 120:150] = 255  # a stroke, opaque white on the canvas
    times, ig = [], []
    for _ in range(30 if not quick else 5):
        t0 = time.perf_counter()
        x = normalize(prepare_image(canvas, ds.input_shape)[None], ds.mean, ds.std)
        predict_and_explain(model, x)
        times.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        attribute(model, x, 1, "integrated_gradients", steps=50)
        ig.append((time.perf_counter() - t0) * 1e3)
    report(
        "draw",
        {
            "prepare_predict_saliency_ms_median": round(sorted(times[1:])[len(times[1:]) // 2], 1),
            "integrated_gradients_50_steps_ms_median": round(sorted(ig[1:])[len(ig[1:]) // 2], 1),
        },
    )


def _bench_pen(data_dir: str, quick: bool, report: Callable[[str, dict[str, Any]], None]) -> None:
    """Draw a digit in Chromium on the app's Draw page: each stroke's pen-up -> its answer on screen.

    Chromium, Playwright and the server share this machine, as in a classroom laptop demo. Measured twice: as
    shipped, then with Streamlit's ``gc.collect(2)`` after every script run switched back on and the startup
    heap left unfrozen (Streamlit's defaults; about 165 ms a collection with torch and Ray loaded)."""
    from .browser import (
        chromium,
        chromium_available,
        digit_strokes,
        draw_strokes,
        open_app,
        open_draw_pad,
        streamlit_server,
    )

    if not chromium_available():
        report("pen", {"note": "chromium/playwright missing: not measured"})
        return
    variants = (
        {"as shipped": {}}
        if quick
        else {
            "as shipped": {},
            "Streamlit's GC defaults": {"STREAMLIT_RUNNER_POST_SCRIPT_GC": "true", "EXPLORER_GC_FREEZE": "0"},
        }
    )
    for name, env in variants.items():
        with streamlit_server(env=env) as url, chromium() as browser:
            canvas = open_draw_pad(open_app(browser, url))
            box = canvas.bounding_box()
            strokes = digit_strokes(box["x"] + box["width"] / 2, box["y"] + 40, n=6 if quick else 12)
            times = draw_strokes(canvas.page, canvas, strokes)
        report(
            "pen",
            {
                "server": name,
                "strokes": len(strokes),
                "pen_up_to_answer_ms_median": round(times.median_ms),
                "p90_ms": round(times.p90_ms),
                "first_stroke_ms": round(times.latencies_ms[0]),
                "answers_per_stroke": round(times.answers / len(strokes), 1),
            },
        )


LATE_VISITOR_S = 12.0  # a teacher starts the server, then opens the page: the warm-up starts at the launch


def _bench_first(data_dir: str, quick: bool, report: Callable[[str, dict[str, Any]], None]) -> None:
    from .browser import chromium, chromium_available, first_minute, streamlit_server

    if chromium_available():
        with streamlit_server() as url, chromium() as browser:
            report("first", {"server": "cold (just started)", **first_minute(browser, url)})
            report("first", {"server": "warm (a new tab)", **first_minute(browser, url)})
        with streamlit_server() as url, chromium() as browser:
            time.sleep(LATE_VISITOR_S)  # not a synchronisation: the teacher opens the page a little after the start
            report(
                "first",
                {"server": f"its first visitor {LATE_VISITOR_S:.0f} s after the start", **first_minute(browser, url)},
            )
    else:
        report("first", {"note": "chromium/playwright missing: the browser figures are not measured"})
    _bench_first_breakdown(report)


def _bench_first_breakdown(report: Callable[[str, dict[str, Any]], None]) -> None:
    """Where one click's time goes, with the app's own calls: a cluster started here (as the app's warm-up does),
    the embedded digits put into the object store, then the default CNN trained twice (cold and warm worker)."""
    from explorer.core.config import TrainConfig
    from explorer.core.data import load_dataset
    from explorer.core.presets import get_preset
    from explorer.core.spec import build_model
    from explorer.serve.cluster import Cluster, ClusterSettings

    t0 = time.perf_counter()
    cluster = Cluster(ClusterSettings.from_env())
    ray_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ds = load_dataset("mnist-5k")
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    cluster.dataset_ref(ds)
    put_s = time.perf_counter() - t0
    try:
        for which in ("first run", "next run"):
            t0 = time.perf_counter()
            h = cluster.submit_run(f"bench-first-{which}", build_model(get_preset("default"), seed=0), ds, TrainConfig())
            h.join()
            total = time.perf_counter() - t0
            worker = (h.started_at or h.submitted_at or 0) - (h.submitted_at or 0)
            epochs = sum(e["seconds"] for e in h.epochs)
            report(
                "first",
                {
                    "breakdown": which,
                    "ray_start_s": round(ray_s, 2) if which == "first run" else 0,
                    "load_digits_s": round(load_s, 2),
                    "data_to_object_store_s": round(put_s, 2),
                    "worker_start_s": round(worker, 2),
                    "epochs_s": round(epochs, 2),
                    "end_and_weights_s": round(total - worker - epochs, 2),
                    "run_total_s": round(total, 2),
                    "test_accuracy": round(h.epochs[-1]["test_accuracy"], 4) if h.epochs else None,
                },
            )
    finally:
        cluster.close()


def _bench_console(data_dir: str, quick: bool, report: Callable[[str, dict[str, Any]], None]) -> None:
    """The teacher's console for a class of 30 on the class's database (``EXPLORER_DATABASE_URL``, else a fresh
    SQLite file): the server's time per roster refresh and per CSV export, and what each student's app costs it
    (one poll of the class's row, one progress report)."""
    import os
    import tempfile

    from explorer.serve.roster import roster_csv
    from explorer.serve.store import WorkspaceStore
    from explorer.serve.teaching import Progress

    with tempfile.TemporaryDirectory() as tmp:
        store = WorkspaceStore(url=os.environ.get("EXPLORER_DATABASE_URL") or None, state_dir=tmp)
        code, key = store.create_class("mnist")
        students = [(f"Student {i:02d}", f"bench-{code}-{i:02d}".ljust(20, "x")) for i in range(30)]
        polls, reports = [], []
        for i, (name, ws) in enumerate(students):
            store.join(code, name, ws)
            t0 = time.perf_counter()
            store.report(code, ws, Progress("Train", "default", 20_570, 1 + i % 3, "running", 0.9 + i / 1000))
            reports.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            store.class_state(code)
            polls.append(time.perf_counter() - t0)
        refreshes, exports = [], []
        for _ in range(5 if quick else 20):
            t0 = time.perf_counter()
            rows = store.roster(code)
            refreshes.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            roster_csv(rows)
            exports.append(time.perf_counter() - t0)
        store.end_class(code, key)
        store.engine.dispose()
    ms = lambda xs: round(1000 * _median(xs), 2)  # noqa: E731
    report(
        "console",
        {
            "students": len(students),
            "database": store.url.split(":")[0],
            "refresh_ms_median": ms(refreshes),
            "refresh_ms_max": round(1000 * max(refreshes), 2),
            "csv_ms": ms(exports),
            "student_poll_ms": ms(polls),
            "student_report_ms": ms(reports),
            "goal_refresh_ms": 300,
        },
    )


def _bench_class(data_dir: str, quick: bool, report: Callable[[str, dict[str, Any]], None]) -> None:
    from .classroom import bench_class

    bench_class(report, quick)


SECTIONS: dict[str, Callable[[str, bool, Callable[[str, dict[str, Any]], None]], None]] = {
    "trainer": _bench_trainer,
    "default": _bench_default,
    "dashboard": _bench_dashboard,
    "featureviz": _bench_featureviz,
    "confusion": _bench_confusion,
    "draw": _bench_draw,
    "pen": _bench_pen,
    "first": _bench_first,
    "console": _bench_console,
    "class": _bench_class,
}


def run_bench(
    data_dir: str | None = None, only: str | None = None, quick: bool = False, json_out: bool = False
) -> list[dict[str, Any]]:
    """Run the chosen sections (all by default); print each figure as it comes; return them all."""
    from explorer.core.data import default_data_dir

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
