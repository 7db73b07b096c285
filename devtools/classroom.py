"""``python -m explorer bench --classroom N``: N simulated students press "Train the default CNN" at the same moment,
all training in Ray workers; with ``--mistakes`` a further student makes the expensive mistakes meanwhile. Prints
the times (one alone, all N together), the Start page's latency on a real app server joined to the same Ray
instance, and the server's peak memory. Figures are printed, never asserted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from explorer.core.train import RunStatus

from .bench import machine_line

__all__ = ["run_classroom"]


def _page_latencies(url: str, stop: Any, out: list[float]) -> None:
    """Open the Start page in a fresh Chromium tab again and again until ``stop`` is set: seconds from the
    request to the page drawn (a new session each time, so each is a full script run on the server)."""
    from .browser import chromium

    with chromium() as browser:
        page = browser.new_page()
        while not stop.is_set():
            t0 = time.perf_counter()
            page.goto(url)
            page.get_by_text("Train the default CNN").first.wait_for(timeout=120_000)
            out.append(time.perf_counter() - t0)
            stop.wait(1.0)


def _probe_student(url: str, ready: Any, stop: Any, out: dict[str, list[float]]) -> None:
    """One student in Chromium on the real app server: trains the default CNN from Draw (before ``ready``), then,
    until ``stop``, goes to Kernels and back to Draw (each page switch's seconds, click to page drawn, into
    ``out["switch_s"]``) and draws three strokes (each pen-up to its answer on screen into ``out["pen_ms"]``)."""
    from .browser import chromium, digit_strokes, draw_strokes, nav, open_app, open_draw_pad

    with chromium() as browser:
        try:
            page = open_draw_pad(open_app(browser, url)).page
        finally:
            ready.set()
        while not stop.is_set():
            for title in ("Kernels", "Draw a digit"):
                t0 = time.perf_counter()
                nav(page, title)
                out["switch_s"].append(time.perf_counter() - t0)
            canvas = page.locator("canvas").last
            box = canvas.bounding_box()
            out["pen_ms"] += draw_strokes(
                page, canvas, digit_strokes(box["x"] + box["width"] / 2, box["y"] + 40, n=3)
            ).latencies_ms


@contextmanager
def _page_watch(on: bool, latencies: list[float], probe: dict[str, list[float]] | None = None) -> Iterator[None]:
    """While the body runs, a real app server joined to this Ray instance is loaded again and again in
    Chromium (when ``on`` and Chromium is there); each load's seconds go to ``latencies``. With ``probe``, a
    student on that server switches pages and draws meanwhile (:func:`_probe_student`; its model is trained
    before the body starts)."""
    import threading

    import ray

    from .browser import chromium_available, streamlit_server

    if not (on and chromium_available()):
        yield
        return
    stop, ready = threading.Event(), threading.Event()
    with streamlit_server(env={"RAY_ADDRESS": ray.get_runtime_context().gcs_address}) as url:
        _page_latencies_warm(url)
        threads = [threading.Thread(target=_page_latencies, args=(url, stop, latencies), daemon=True)]
        if probe is not None:  # its model trained first, so that its own run is not the class's
            threads.append(threading.Thread(target=_probe_student, args=(url, ready, stop, probe), daemon=True))
            threads[-1].start()
            ready.wait(300)
        threads[0].start()
        try:
            yield
        finally:
            stop.set()
            for t in threads:
                t.join(180)


def run_classroom(
    n: int,
    dataset: str = "mnist-5k",
    data_dir: str | None = None,
    with_page: bool = True,
    epochs: int = 3,
    mistakes: bool = False,
) -> dict[str, Any]:
    """N simulated sessions press "Train the default CNN" at the same moment; all train in Ray workers.

    Prints one run alone, then all N at once (time for all to finish against N x one alone), and, when Chromium
    is there, the Start page's latency on a real app server joined to the same Ray instance meanwhile.
    ``mistakes``: then the N runs once more while a further student walks through the expensive mistakes
    (:func:`_mistakes`) in this process: the N runs' time against the clean batch, this process's peak memory
    above its start, and each mistake's answer.
    """
    from explorer.core.config import TrainConfig
    from explorer.core.data import load_dataset
    from explorer.core.presets import get_preset
    from explorer.core.spec import build_model
    from explorer.serve.cluster import Cluster, ClusterSettings

    if n < 1 or n > 500:
        raise ValueError(f"--classroom takes 1 to 500 sessions, got {n}")
    ds = load_dataset(dataset, data_dir, download=False)
    spec = get_preset("default", num_classes=ds.num_classes, input_shape=ds.input_shape)
    cfg = TrainConfig(epochs=epochs)
    cluster = Cluster(ClusterSettings.from_env())
    print(f"machine: {machine_line()}", flush=True)
    print(
        f"classroom: {n} sessions, default CNN, {epochs} epochs on {ds.name} ({len(ds.train_y):,} images); "
        f"{cluster.capacity()} runs at once on this cluster",
        flush=True,
    )

    def batch(k: int) -> tuple[float, list[Any]]:
        t0 = time.perf_counter()
        hs = [cluster.submit_run(f"bench-{k}-{i}", build_model(spec, seed=i), ds, cfg) for i in range(k)]
        for h in hs:
            h.join()
        return time.perf_counter() - t0, hs

    alone, (h,) = batch(1)
    print(f"[classroom] one run alone: {alone:.1f} s (test accuracy {h.epochs[-1]['test_accuracy']:.1%})", flush=True)
    latencies: list[float] = []
    with _page_watch(with_page, latencies):
        total, hs = batch(n)
    ok = sum(h.status == RunStatus.FINISHED for h in hs)
    row: dict[str, Any] = {
        "sessions": n,
        "finished": ok,
        "all_s": round(total, 1),
        "one_alone_s": round(alone, 1),
        "ratio_to_n_alone": round(total / (n * alone), 3),
        "median_test_accuracy": round(sorted(h.epochs[-1]["test_accuracy"] for h in hs if h.epochs)[len(hs) // 2], 4),
    }
    if latencies:
        lat = sorted(latencies)
        row.update(page_loads=len(lat), page_median_s=round(lat[len(lat) // 2], 2), page_max_s=round(lat[-1], 2))
    print("[classroom] " + "  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    if mistakes:  # compared with the same N runs alone again (no browser reloading the page meanwhile)
        row["mistakes"] = _classroom_mistakes(cluster, ds, n, batch(n)[0], batch)
    cluster.close()
    return row


def _classroom_mistakes(
    cluster: Any, ds: Any, n: int, clean_s: float, batch: Callable[[int], tuple[float, list[Any]]]
) -> dict[str, Any]:
    """The N runs again while a further student makes the expensive mistakes in this process."""
    import threading

    steps = _mistakes(cluster, ds)
    rss = _PeakRSS()
    said: list[tuple[str, str]] = []
    walker = threading.Thread(target=lambda: said.extend((name, _attempt(fn)) for name, fn in steps), daemon=True)
    walker.start()
    total, hs = batch(n)
    walker.join(600)
    peak = rss.stop()
    row = {
        "sessions": len(hs),
        "with_mistakes_s": round(total, 1),
        "clean_s": round(clean_s, 1),
        "ratio": round(total / clean_s, 2),
        "peak_memory_above_start_mb": peak >> 20,
    }
    print("[mistakes] " + "  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    for name, answer in said:
        print(f"[mistakes] {name}: {answer}", flush=True)
    return row


class _PeakRSS:
    """This process's resident memory, sampled every 50 ms in a thread: the peak above the start."""

    def __init__(self) -> None:
        import threading

        self.base = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    @staticmethod
    def _rss() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) << 10
        return 0

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self._rss())

    def stop(self) -> int:
        """Bytes of the peak above the start."""
        self._stop.set()
        self._thread.join(1)
        return self.peak - self.base


def _mistakes(cluster: Any, ds: Any) -> list[tuple[str, Callable[[], str]]]:
    """A seventh student's expensive mistakes, through the calls the app's pages make (to be run in this
    process, as in the server's), each with its name."""
    from explorer.core.uploads import load_csv
    from explorer.core.zipupload import load_image_zip

    csv_bytes, zip_bytes = _mistaken_uploads()  # made before the clock runs: the browser, not the server, makes them

    def many_classes() -> str:
        load_csv(csv_bytes, name="many")
        return "accepted"

    def tiny_images() -> str:
        load_image_zip(zip_bytes, size=64, name="tiny")
        return "accepted"

    return [
        ("no pooling before Flatten", _no_pooling),
        ("a 4096-channel model on Kernels and Feature maps", lambda: _wide_views(ds)),
        ("a CSV with 20,000 labels", many_classes),
        ("a zip of 60,000 tiny images at 64 px", tiny_images),
        ("a lesson with snapshots every step", lambda: _snapshot_lesson(cluster, ds)),
    ]


def _no_pooling() -> str:
    from explorer.core.spec import summarize

    summarize(
        {
            "input_shape": [1, 28, 28],
            "num_classes": 10,
            "layers": [
                {"type": "Conv2d", "out_channels": 64, "kernel_size": 3, "padding": 1},
                {"type": "ReLU"},
                {"type": "Flatten"},
                {"type": "Linear", "out_features": 1000},
                {"type": "Linear", "out_features": 10},
            ],
        }
    )
    return "accepted"


def _wide_views(ds: Any) -> str:
    """A 4096-channel 1x1 convolution on the Kernels page (mosaic, histograms) and the Feature maps page."""
    from explorer.core.data import normalize
    from explorer.core.spec import build_model
    from explorer.interpret.inspect import kernels, layer_stats, stats_images
    from explorer.plots import kernel_mosaic, weight_histograms

    model = build_model(
        {
            "input_shape": [1, 28, 28],
            "num_classes": 10,
            "layers": [
                {"type": "Conv2d", "out_channels": 4096, "kernel_size": 1},
                {"type": "ReLU"},
                {"type": "AdaptiveAvgPool2d", "output_size": 1},
                {"type": "Flatten"},
                {"type": "Linear", "out_features": 10},
            ],
        },
        seed=0,
    )
    img = kernel_mosaic(kernels(model, "0"), cell=72)
    weight_histograms([("0", model[0].weight), ("4", model[4].weight)])
    batch = normalize(ds.test_x[:256], ds.mean, ds.std)  # what the Feature maps page does
    used = stats_images(model, batch)
    stats = layer_stats(model, batch[:used])
    return (
        f"Kernels: a {img.shape[1]}x{img.shape[0]} mosaic; Feature maps: statistics of {len(stats)} layers "
        f"over {used} of 256 images"
    )


def _mistaken_uploads() -> tuple[bytes, bytes]:
    """A CSV with 20,000 labels and a zip of 60,000 2x2 images, as bytes (what an upload hands the server)."""
    import io
    import zipfile

    from PIL import Image

    rows = "\n".join(f"{i},{','.join(['0'] * 16)}" for i in range(20_000))
    csv_bytes = ("label," + ",".join(f"pixel{i}" for i in range(1, 17)) + "\n" + rows).encode()
    png = io.BytesIO()
    Image.new("RGB", (2, 2), (200, 10, 10)).save(png, format="PNG")
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(60_000):
            zf.writestr(f"c{i % 2}/{i}.png", png.getvalue())
    return csv_bytes, z.getvalue()


def _snapshot_lesson(cluster: Any, ds: Any) -> str:
    """A lesson file that asks for a kernel snapshot every step of a wide model, trained on the cluster."""
    from explorer.core.config import TrainConfig
    from explorer.core.spec import build_model
    from explorer.lessons.lesson import Lesson, lesson_to_json, parse_lesson

    spec = {
        "name": "heavy",
        "input_shape": [1, 28, 28],
        "num_classes": 10,
        "layers": [
            {"type": "Conv2d", "out_channels": 128, "kernel_size": 5},
            {"type": "ReLU"},
            {"type": "Conv2d", "out_channels": 128, "kernel_size": 5},
            {"type": "ReLU"},
            {"type": "AdaptiveAvgPool2d", "output_size": 1},
            {"type": "Flatten"},
            {"type": "Linear", "out_features": 10},
        ],
    }
    lesson = parse_lesson(
        lesson_to_json(
            Lesson(
                "every step",
                "mnist-5k",
                spec,
                {"epochs": 1, "limit_train": 128, "batch_size": 16, "snapshot_every": 1, "eval_splits": []},
                [],
                "",
            )
        )
    )
    h = cluster.submit_run("bench-mistakes", build_model(lesson.spec, seed=0), ds, TrainConfig.from_dict(lesson.train))
    h.join()
    held = sum(t.numel() * 4 for snap in h.snapshots for t in snap["kernels"].values())
    return f"{h.step} steps, {len(h.snapshots)} kernel snapshots kept here: {held / 2**20:.1f} MB"


def _attempt(fn: Callable[[], str]) -> str:
    """What one mistake got, and how long the server worked on it."""
    t0 = time.perf_counter()
    try:
        said = fn()
    except ValueError as e:
        said = f"refused: {e}"
    return f"{said} ({time.perf_counter() - t0:.2f} s)"


def _page_latencies_warm(url: str) -> None:
    """One page load first, so the server's own start (its connection to Ray) is not counted."""
    from .browser import chromium

    with chromium() as browser:
        page = browser.new_page()
        page.goto(url)
        page.get_by_text("Train the default CNN").first.wait_for(timeout=120_000)


def _p90(xs: list[float], digits: int = 2) -> float | None:
    xs = sorted(xs)
    return round(xs[int(0.9 * (len(xs) - 1))], digits) if xs else None


class _Roster:
    """The class's own records for ``n`` simulated students, as their apps write them: a teacher's class (SQLite in
    a temporary folder), all ``n`` join at once (timed), and once trained each reports its row and adds a drawn
    digit to the class's set (:meth:`draw`, timed)."""

    def __init__(self, n: int, ds: Any) -> None:
        self.n, self.ds, self.joined_s, self.drew_s = n, ds, 0.0, 0.0

    def __enter__(self) -> _Roster:
        import tempfile

        from explorer.serve.store import WorkspaceStore

        self._dir = tempfile.TemporaryDirectory()
        self.store = WorkspaceStore(state_dir=self._dir.name)
        self.code, _key = self.store.create_class(self.ds.name, wanted=None)
        t0 = time.perf_counter()
        for i in range(self.n):
            self.store.join(self.code, f"Student {i + 1}", f"bench-ws-{i}")
        self.joined_s = round(time.perf_counter() - t0, 2)
        return self

    def draw(self) -> None:
        import torch

        from explorer.serve.teaching import Progress

        t0 = time.perf_counter()
        for i in range(self.n):
            self.store.report(self.code, f"bench-ws-{i}", Progress(page="Draw a digit", model="default", runs=1))
            pixels = self.ds.test_x[i].to(torch.uint8).reshape(1, 28, 28)  # a drawing as the Draw page keeps it
            self.store.add_digit(self.code, int(self.ds.test_y[i]), pixels, f"Student {i + 1}")
        self.drew_s = round(time.perf_counter() - t0, 2)

    def __exit__(self, *exc: object) -> None:
        self.store.engine.dispose()
        self._dir.cleanup()


def bench_class(report: Callable[[str, dict[str, Any]], None], quick: bool = False) -> None:
    """``bench --only class``: a class on one server, through the calls the app makes (each simulated student is
    a workspace of its own on one cluster): one default run alone; the same while two keen students' 200-epoch
    runs hold two places (goal: at most 4x alone); twenty at once (goal: the slowest within 40 s); then the whole
    class at once (30, or 8 with ``quick``), with the Start page loaded again and again in Chromium on a real app
    server joined to the same Ray (its p90), and this process's peak memory above its start."""
    from explorer.core.config import TrainConfig
    from explorer.core.data import load_dataset
    from explorer.core.presets import get_preset
    from explorer.core.spec import build_model
    from explorer.serve.cluster import Cluster, ClusterSettings

    ds = load_dataset("mnist-5k")
    spec = get_preset("default")
    cluster = Cluster(ClusterSettings.from_env())
    cluster.dataset_ref(ds)
    time.sleep(6)  # the warm workers start, as they do on a server before its first student

    def together(k: int, tag: str) -> list[float]:
        t0 = time.perf_counter()
        hs = [cluster.submit_run(f"{tag}-{i}", build_model(spec, seed=i), ds, TrainConfig()) for i in range(k)]
        ends = []
        for h in hs:
            h.join()
            ends.append(time.perf_counter() - t0)
        return ends  # each run's click-to-trained, in the order submitted (joins return once all before are done)

    try:
        alone = together(1, "alone")[0]
        keen = [cluster.submit_run(f"keen-{i}", build_model(spec, seed=i), ds, TrainConfig(epochs=200)) for i in range(2)]
        time.sleep(3)  # both are training
        behind = together(1, "behind-keen")[0]
        for h in keen:
            h.stop()
        report(
            "class",
            {
                "case": "one default run",
                "alone_s": round(alone, 2),
                "behind_two_200_epoch_runs_s": round(behind, 2),
                "ratio": round(behind / alone, 2),
                "goal_ratio": 4,
            },
        )
        twenty = sorted(together(20, "twenty"))
        report(
            "class",
            {
                "case": "twenty at once",
                "slowest_s": round(twenty[-1], 1),
                "median_s": round(twenty[len(twenty) // 2], 1),
                "goal_slowest_s": 40,
            },
        )
        n, latencies, probe = (8 if quick else 30), [], {"switch_s": [], "pen_ms": []}
        with _page_watch(True, latencies, probe), _Roster(n, ds) as roster:
            rss = _PeakRSS()
            everyone = sorted(together(n, "class"))
            roster.draw()
        report(
            "class",
            {
                "case": f"a class of {n} at once",
                "all_trained_s": round(everyone[-1], 1),
                "median_s": round(everyone[len(everyone) // 2], 1),
                "all_joined_s": roster.joined_s,
                "all_drew_s": roster.drew_s,
                "start_page_loads": len(latencies),
                "start_page_p90_s": _p90(latencies),
                "probe_page_switches": len(probe["switch_s"]),
                "probe_page_switch_p90_s": _p90(probe["switch_s"]),
                "probe_strokes": len(probe["pen_ms"]),
                "probe_pen_up_to_answer_p90_ms": _p90(probe["pen_ms"], 0),
                "peak_memory_above_start_mb": rss.stop() >> 20,
                "warm_workers_started": cluster.pool.started,
            },
        )
    finally:
        cluster.close()
