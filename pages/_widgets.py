"""Widgets and panels shared by the pages: the sidebar, the warm-up line, training controls and the live run
panel, the class board's publish box, the look-inside helpers. Session state lives in ``pages/_state.py`` and
what the server shares in ``pages/_server.py``; pages import those from there. No tensor math here: that is
the explorer library's job.
"""

from __future__ import annotations

import json
import random
from typing import Any

import streamlit as st

from explorer import DataError, Dataset, TrainConfig, get_preset
from explorer.core import AUGMENT_LIMITS, DEFAULT_DATASET, MAX_CLASS_NAME, RunStatus, is_digits, predict_proba
from explorer.plots import describe_curves, epoch_table, training_curves
from explorer.serve import ModelEntry, Run, Workspace, shown_code
from pages._class import class_code, join_box, paused, watch
from pages._keys import DATASET, DRAWING, LESSON, TRAIN_ERROR, UPLOADS, WS_ID
from pages._lang import tr, translate
from pages._path import path_panel
from pages._person import keep_cookies_off_in_url, remember_person
from pages._server import (
    JOB_POLL_S,
    REFRESH_S,
    VIEW_REFRESH_S,
    WARMUP_POLL_S,
    server,
    set_torch_threads,
    workspace_store,
)
from pages._state import (
    current_dataset,
    flash,
    get_dataset,
    init_session,
    keep_workspace_id_in_url,
    save_workspace,
    show_flash,
    workspace,
)


def job_poll(busy: bool) -> float | None:
    """A job's fragment redraws every :data:`JOB_POLL_S` while the job runs, and not at all after."""
    return JOB_POLL_S if busy else None


def start_session() -> None:
    """What every page needs before it draws: the session (its workspace, from the URL or new), torch's threads,
    the sidebar, the person's cookie, messages left for this run, the class's watcher, the warm-up line.
    ``app.py`` calls it before a page; Start calls it itself after its first words and button, so a newcomer has
    them before torch loads."""
    init_session()
    set_torch_threads()
    keep_workspace_id_in_url()
    keep_cookies_off_in_url()
    sidebar()
    remember_person()
    path_panel()  # the guided path, at the top of the page: checked against what this run's state shows
    show_flash()  # (a step just completed says so here)
    watch()  # a student in a class: the teacher's pause banner, and their steering followed about once a second
    warmup_notice()


def warmup_notice() -> None:
    """While the server warms up (the first seconds after it starts), one line says what it is doing; a run
    asked for meanwhile waits for the workers and then starts by itself."""
    srv = server()
    if srv.ready:
        return

    @st.fragment(run_every=WARMUP_POLL_S)
    def _line() -> None:
        if not srv.ready:
            st.caption(":material/hourglass_top: " + tr("Getting the trainer ready (once, when the app starts). You "
                                                        "can look around meanwhile; a run you start waits for it."))

    _line()


def md_text(text: str) -> str:
    """A user's text (a name on the board, a file's name) for ``st.markdown``: every character that Markdown
    would read as markup (``![x](…)`` an image, ``[a](…)`` a link, ``**``, ``<…>``) is shown as itself."""
    return "".join("\\" + c if c in "\\`*_{}[]()#+-.!|<>~$:" else c for c in str(text))


def fmt_acc(v: float | None) -> str:
    return "—" if v is None else f"{v:.1%}"


LIVE = (RunStatus.READY, RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.STOPPING)  # a run whose worker has it
STATE_ICON = {"untrained": ":material/radio_button_unchecked:", "running": ":green[:material/play_circle:]",
              "paused": ":orange[:material/pause_circle:]", "trained": ":green[:material/check_circle:]",
              "stopped": ":material/stop_circle:", "queued": ":blue[:material/hourglass_top:]",
              "stopping": ":material/stop_circle:", "diverged": ":red[:material/warning:]",
              "failed": ":red[:material/error:]", "loaded": ":material/inventory_2:"}


def sidebar() -> None:
    """The current model at a glance, a switcher between this session's models, and its checkpoint."""
    ws = workspace()
    sb = st.sidebar
    lesson = st.session_state.get(LESSON)
    if lesson:
        sb.markdown(f"### :material/school: {lesson['title']}")
        if lesson.get("notes"):
            sb.caption(lesson["notes"])
    join_box(sb, "side-join", folded=True)
    sb.markdown("### Current model")
    if not ws.models:
        sb.caption("No model yet: pick a preset on **Build**, or press *Train the default CNN* on **Start**.")
        return
    names = list(ws.models)
    if ws.current not in names:
        ws.current = names[0]
    # the picker shows the current model, also one that a page made current (a model created on Build); a pick
    # made here changes it in the callback, before the page runs
    st.session_state["sidebar_model"] = ws.current
    sb.selectbox("Model", names, key="sidebar_model", label_visibility="collapsed",
                 on_change=lambda: setattr(workspace(), "current", st.session_state["sidebar_model"]))
    e = ws.entry()
    assert e is not None
    ds = e.dataset["name"] if e.dataset else st.session_state.get(DATASET)
    sb.markdown(
        f"**{e.name}** · {e.params:,} params  \n"
        f"data: `{ds}` · device: `{e.device}`  \n"
        f"{STATE_ICON.get(e.state, '')} {e.state} · test accuracy **{fmt_acc(e.test_accuracy)}**")
    c1, c2 = sb.columns([3, 2])
    if e.runs:  # both files are made at the click, not on every rerun
        c1.download_button("Checkpoint", icon=":material/download:", data=e.checkpoint_bytes,
                           file_name=f"{_slug(e.name)}.safetensors", key="dl_checkpoint",
                           mime="application/octet-stream", on_click="ignore", width="stretch",
                           help="Spec, weights, dataset info and history in one safe file: load it on Train.")
    c2.download_button("ONNX", icon=":material/download:", data=e.onnx_bytes, key="dl_onnx",
                       file_name=f"{_slug(e.name)}.onnx", mime="application/octet-stream", on_click="ignore",
                       width="stretch", help="The model for Netron, onnxruntime and other tools: input `pixels` "
                       "(N, C, H, W) in 0..255 once trained, output `logits`; class names in its metadata.")
    with sb.popover("Remove this model", icon=":material/delete:", width="stretch"):
        st.caption(f"**{e.name}**, its runs and its weights leave this workspace for good.")
        st.button(f"Remove {e.name}", key="sidebar_remove", on_click=_remove_model, args=(e.name,), type="primary")
    workspace_link(sb)


def _remove_model(name: str) -> None:
    workspace().remove(name)
    flash(f"Removed **{name}**.", "info")


def workspace_link(where: Any) -> None:
    """Where the work is kept, and the plain truth about the link."""
    if workspace_store() is None or not st.session_state.get(WS_ID):
        where.caption("Your models live as long as this tab: download the ones you want to keep.")
        return
    where.caption(":material/cloud_done: Your work is saved under this page's link: reload, or come "
                  "back later with the same link. **Whoever has the link has the work**: share it only on purpose.")


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name).strip("-") or "model"


def ensure_model(ws: Workspace, ds: Dataset) -> ModelEntry:
    """The current model, or the default preset fitted to ``ds`` if the session has none yet."""
    e = ws.entry()
    if e is None:
        spec = get_preset("default", num_classes=ds.num_classes, input_shape=ds.input_shape)
        e = ws.add_model(spec, "default")
    return e


def train_default(ds: Dataset) -> None:
    """One click: the default CNN fitted to ``ds``, trained with the default settings in the background.

    Reuses the current model if it is that same untrained network; otherwise adds a fresh one. A refusal is
    kept for the page to show (``TRAIN_ERROR``).
    """
    if paused():
        st.session_state[TRAIN_ERROR] = tr("Not started: your teacher paused the class ({message}).", message=paused())
        return
    ws = workspace()
    spec = get_preset("default", num_classes=ds.num_classes, input_shape=ds.input_shape)
    entry = ws.entry()
    try:
        if entry is None or entry.runs or entry.spec != spec:
            ws.add_model(spec, "default")
        ws.start_training(ds, TrainConfig())
    except ValueError as e:  # a refusal (the server's budget, a queue that is full) is shown by the page
        st.session_state[TRAIN_ERROR] = str(e)


def augment_controls(aug: dict[str, Any], ds: Dataset, key: str) -> None:
    """The trainer's augmentation settings as widgets, written back into ``aug`` (the Train settings' dict).

    One row: rotation, shift, zoom-crop, shear, flip, and colour jitter for colour datasets.
    """
    c = st.columns(6)
    lim = AUGMENT_LIMITS  # the library's ranges: a value accepted there is never refused here

    def degrees(col: Any, label: str, name: str) -> int:
        return col.slider(label, int(lim[name][0]), int(lim[name][1]), int(aug[name]), key=f"{key}_{AUGMENT_KEYS[name]}")

    def fraction(col: Any, label: str, name: str, **kw: Any) -> float:
        lo, hi = map(float, lim[name])
        return col.slider(label, lo, hi, float(aug[name]), 0.05, key=f"{key}_{AUGMENT_KEYS[name]}", **kw)

    aug["rotation"] = degrees(c[0], "Rotation ±°", "rotation")
    aug["shift"] = fraction(c[1], "Shift ± (of side)", "shift")
    aug["scale"] = fraction(c[2], "Zoom crop (min)", "scale", help="1 = off")
    aug["shear"] = degrees(c[3], "Shear ±°", "shear")
    aug["flip"] = c[4].checkbox("Mirror", value=bool(aug["flip"]), key=f"{key}_flip",
                                help="flips images left to right at random; not for digits: 2 ≠ mirrored 2")
    if ds.input_shape[0] == 3:
        aug["brightness"] = fraction(c[5], "Brightness ±", "brightness")
        aug["contrast"] = fraction(c[5], "Contrast ±", "contrast")
    else:
        c[5].caption("Colour jitter applies to colour datasets.")


AUGMENT_KEYS = {"rotation": "rot", "shift": "shift", "scale": "scale", "shear": "shear", "flip": "flip",
                "brightness": "b", "contrast": "c"}


def read_augment(aug: dict[str, Any], key: str) -> None:
    """Copy the augmentation widgets' current values (made by ``augment_controls`` with ``key``) into ``aug``:
    callbacks call this to act on what is on screen at the moment of a click."""
    for name, suffix in AUGMENT_KEYS.items():
        if f"{key}_{suffix}" in st.session_state:
            aug[name] = st.session_state[f"{key}_{suffix}"]


def run_status_line(hist: dict[str, Any]) -> str:
    """Where a live run is, in the course's words: epoch, step, loss and batch accuracy (no clock: the bar shows how
    far it has come)."""
    steps = hist.get("steps", [])
    if not steps:
        return tr("starting…")
    s, t = steps[-1], translate()
    return tr("epoch {epoch} · step {step}/{total} · loss {loss} · batch accuracy {acc}", epoch=s["epoch"],
              step=t.number(s["step"]), total=t.number(hist["total_steps"]), loss=t.number(s["loss"], 3),
              acc=t.percent(s["accuracy"]))


def _run_message(run: Run, hist: dict[str, Any], status: str) -> None:
    """The live panel's line: where the run waits, its progress, or how it ended."""
    queue = run.queue if status in (RunStatus.QUEUED, RunStatus.WAITING) else None
    if queue is not None:
        st.info(queue.sentence().capitalize() + ". " + tr("It starts by itself; you can leave this page meanwhile."),
                icon=":material/hourglass_top:")
    elif status in LIVE:
        st.progress(min(hist.get("step", 0) / max(hist.get("total_steps", 1), 1), 1.0),
                    text=("⏸ " + tr("paused") + " · " if status == RunStatus.PAUSED else "") + run_status_line(hist))
    elif status == RunStatus.FINISHED:
        final = run.final()
        st.success(tr("Done after {n} epoch(s): validation accuracy {val}, test accuracy {test}. Choose what to "
                      "change by validation; the test accuracy is for the end.", n=len(hist["epochs"]),
                      val=fmt_acc(final.get("val_accuracy")), test=fmt_acc(final.get("test_accuracy"))))
    elif status == RunStatus.STOPPED:
        st.info(f"{hist.get('message', tr('stopped'))}. " + tr("The model keeps the weights it had reached."))
    else:
        st.warning(hist.get("message", status))


def live_run(run: Run, smoothing: float = 0.6, key: str = "live") -> None:
    """Progress, live curves and the end message of one run; redraws itself once a second while it trains or
    waits for a worker."""
    running = run.trainer is not None and not run.trainer.done
    drawn = _run_signature(run)  # what the page around this panel was drawn for

    @st.fragment(run_every=REFRESH_S if running else None)
    def _panel() -> None:
        _await_end(run)
        save_workspace()  # while a run trains, every 15 s (a reloaded tab then finds its latest weights)
        with st.container(key=f"live-{key}"):  # redrawn every second: kept from a browser's own translation
            _panel_body()

    def _panel_body() -> None:
        hist = run.current()
        status = hist.get("status", RunStatus.READY)
        _run_message(run, hist, status)
        if not hist.get("steps") and not hist.get("epochs"):
            return  # nothing to draw yet (queued, or starting)
        live = status in LIVE  # lighter charts while the trainer needs the CPU
        c1, c2 = st.columns(2)
        for col, metric in ((c1, "loss"), (c2, "accuracy")):
            col.plotly_chart(training_curves([(run.label, hist)], metric, smoothing, max_points=200, raw=not live),
                             key=f"{key}-{metric}", alt=describe_curves([(run.label, hist)], metric))
        if hist.get("epochs") and st.toggle(tr("Show as table"), key=f"{key}-table"):
            st.dataframe(epoch_table(hist), hide_index=True)
        if _run_signature(run) != drawn:
            st.rerun()  # the run changed state, or has its first test accuracy: the page, its buttons and the
            # sidebar (and a page that waits for the run, such as Draw) are drawn again

    _panel()


def _await_end(run: Run) -> None:
    """A run that its last reading says ends before the next redraw is waited for (up to most of a redraw's
    interval: this session's own wait, no work), so its result shows when it comes, not up to a second later."""
    trainer, hist = run.trainer, run.current()
    steps = hist.get("steps") if trainer is not None and hist.get("status") == RunStatus.RUNNING else None
    if steps and steps[-1].get("eta_s", REFRESH_S) < REFRESH_S:
        trainer.join(0.8 * REFRESH_S)


def _run_signature(run: Run) -> tuple[str, bool]:
    """What the pages show of a run beyond its live panel: its status, and whether it has a test accuracy."""
    hist = run.current()
    return hist.get("status", RunStatus.READY), bool(hist.get("epochs"))


def _handwriting_accuracy(code: str, entry: ModelEntry) -> float | None:
    """The model's accuracy on the class's own drawn digits (None when the class drew none, or the model does not
    read 28x28 digits)."""
    store = workspace_store()
    classes = (entry.dataset or {}).get("classes") or []
    if store is None or not is_digits(entry.spec["input_shape"], classes):
        return None
    ours = store.class_digits(code)
    if not len(ours["ids"]):
        return None

    d = entry.dataset
    pred = predict_proba(entry.inference_model(), ours["x"], d["mean"], d["std"]).argmax(1)
    return float((pred == ours["y"]).float().mean())


def publish_to_board(entry: ModelEntry) -> None:
    """For a student in a class: put the current model's last finished run on the class board under a name they
    choose. Nothing else of the workspace is shown to anyone."""
    code = class_code()
    run = next((r for r in reversed(entry.runs) if r.final().get("test_accuracy") is not None), None)
    if not code or run is None or workspace_store() is None:
        return

    def _publish() -> None:
        from pages._predict import measured_accuracy

        try:  # the name typed just before the click counts
            workspace_store().publish(code, st.session_state[WS_ID], run, entry.spec,
                                      st.session_state.get("board_name", ""), accuracy=measured_accuracy(entry),
                                      handwriting=_handwriting_accuracy(code, entry),
                                      from_upload=run.dataset in st.session_state.get(UPLOADS, {}))
            flash(f"Published run #{run.id} to the board of class **{shown_code(code)}**.")
        except ValueError as e:
            st.session_state["board_error"] = str(e)

    with st.container(border=True):
        st.markdown(f"**Class board** of *{shown_code(code)}*: publish run #{run.id} "
                    f"(test accuracy {fmt_acc(run.final().get('test_accuracy'))}) under a name of your choice.")
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        c1.text_input("Name on the board", key="board_name", max_chars=MAX_CLASS_NAME, placeholder="e.g. Ada's deep one")
        c2.button("Publish", icon=":material/publish:", on_click=_publish, key="board_publish")
        st.caption("The board shows this run's name, accuracy, parameters, time, architecture and curves: nothing "
                   "else of your work.")
        if err := st.session_state.pop("board_error", None):
            st.error(err)


def notebook_download(spec: dict[str, Any], config: dict[str, Any], dataset: str, key: str) -> None:
    """The notebook to take home: this model's run (its spec, these settings, this dataset) as a Jupyter notebook
    that trains with torch and torchvision only. Written at the click."""
    from explorer.lessons import export_refusal, to_notebook

    name = _slug(str(spec.get("name") or "model"))
    if refusal := export_refusal(dataset):  # said now, not at the click
        st.caption(f"No notebook: {refusal}")
        return
    st.download_button("Notebook to take home (.ipynb)", lambda: to_notebook(spec, config, dataset), key=key,
                       file_name=f"{name}.ipynb", mime="application/x-ipynb+json", icon=":material/menu_book:",
                       on_click="ignore", help="Data, model, training, evaluation and a look inside, as cells you "
                       "run in Jupyter; it trains the way the app does (same split, random start and settings).")


def spec_download(spec: dict[str, Any], label: str = "Spec (JSON)") -> None:
    st.download_button(label, json.dumps(spec, indent=2), file_name=f"{_slug(spec.get('name', 'spec'))}.json",
                       mime="application/json", on_click="ignore", icon=":material/download:")


# --- shared by the "Look inside" and "Explain" pages ---

def inspect_context() -> tuple[ModelEntry, Any, Dataset] | None:
    """The current model (a consistent copy while it trains) and the dataset it was made for.

    Shows what to do instead and returns None when there is no usable model.
    """
    ws = workspace()
    e = ws.entry()
    if e is None:
        st.info("No model yet. Train one in a click on **Start**, build one on **Build**, or load a checkpoint on "
                "**Train**.")
        st.page_link("pages/home.py", label="Go to Start", icon=":material/home:")
        return None
    name = e.dataset["name"] if e.dataset else st.session_state.get(DATASET, DEFAULT_DATASET)
    try:
        ds = get_dataset(name)
    except DataError:
        ds = current_dataset()
    if list(e.spec["input_shape"]) != ds.input_shape:
        st.warning(f"**{e.name}** takes {e.spec['input_shape']} inputs, but the dataset **{ds.name}** has "
                   f"{ds.input_shape} images. Pick the matching dataset on **Data** or another model in the sidebar.")
        return None
    if not e.runs and e.source != "loaded":
        st.caption(f"**{e.name}** is untrained: you are looking at random weights.")
    return e, e.inference_model(), ds


def refresh_while_training(e: ModelEntry) -> float | None:
    """Seconds between redraws of a look-inside view while its model trains (latest weights), else None."""
    return VIEW_REFRESH_S if e.active_run is not None else None


def input_picker(ds: Dataset, key: str) -> tuple[Any, str]:
    """Choose one input image: a test image (by class and index, or random), an upload, or the drawing.

    Returns ``(uint8 (1, C, H, W), caption)``.
    """
    from explorer.core import load_image_file, prepare_image

    sources = ["Test image", "Upload an image"] + (["My drawing"] if DRAWING in st.session_state and
                                                    ds.input_shape[0] == 1 else [])
    src = st.radio("Input", sources, horizontal=True, key=f"{key}-src")
    if src == "My drawing":
        x = st.session_state[DRAWING]
        if list(x.shape) != ds.input_shape:
            x = prepare_image(x[0], ds.input_shape)
        return x[None], "your drawing"
    if src == "Upload an image":
        up = st.file_uploader("Image", type=["png", "jpg", "jpeg", "bmp", "gif", "webp"], key=f"{key}-up")
        if up is not None:
            try:
                return prepare_image(load_image_file(up.getvalue()), ds.input_shape)[None], up.name
            except ValueError as err:
                st.error(f"{err}. Showing a test image instead.")
    c1, c2, c3 = st.columns([2, 2, 1.5], vertical_alignment="bottom")  # "Random" whole in a narrow left column
    cls = c1.selectbox("Class", list(ds.classes), key=f"{key}-cls")
    idx = ds.of_class(ds.classes.index(cls))
    if c3.button("Random", key=f"{key}-rnd", icon=":material/casino:"):
        st.session_state[f"{key}-i"] = random.randrange(max(len(idx), 1))
    i = c2.number_input(f"Index (of {len(idx)})", 0, max(len(idx) - 1, 0), key=f"{key}-i")
    j = idx[min(int(i), len(idx) - 1)]
    return ds.test_x[j:j + 1], f"test image #{j}, class {cls}"


def layer_strip(model: Any, acts: dict[str, Any], n: int = 8) -> None:
    """The first ``n`` channels of every image-shaped layer for one input, one row per layer."""
    from explorer.plots import channel_strip, describe_map

    st.caption(f"The first {n} channels of every image-shaped layer for this input (each map on its own range): "
               "early layers keep the strokes, later ones keep where the telling parts are.")
    modules = dict(model.named_modules())
    for name, t in acts.items():
        if t.ndim != 4:
            continue
        c1, c2 = st.columns([1, 6], vertical_alignment="center")
        c1.markdown(f"**{name}** {type(modules[name]).__name__}  \n{'×'.join(map(str, t.shape[1:]))}")
        c2.image(channel_strip(t[0], n), alt=f"the first {min(n, t.shape[1])} feature maps of layer {name}; "
                 + describe_map(t[0, :n].amax(0), "their brightest points together"))


def job_status(job: Any, was_busy: bool, title: str) -> bool:
    """Inside a polling fragment: progress while ``job`` runs, its error when it failed. Returns True when its
    result is ready to show (and reruns the page once when it just finished, to refresh the buttons)."""
    if job is None:
        return False
    if not job.finished:
        st.progress(job.progress, text=f"{title}: {job.done_steps}/{job.total_steps}")
        return False
    if was_busy:
        st.rerun()
    if job.error:
        st.error(job.error)
        return False
    return True
