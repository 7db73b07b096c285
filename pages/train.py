"""Train: settings, start/pause/resume/stop, live curves, runs compared, checkpoints."""

from __future__ import annotations

import streamlit as st

from explorer import TrainConfig, load_checkpoint
from explorer.core import (
    INT_SETTINGS,
    LIMITS,
    MAX_CHECKPOINT_BYTES,
    OPTIMIZERS,
    SCHEDULES,
    RunStatus,
    available_devices,
    resolve_device,
)
from explorer.i18n import N_
from explorer.lessons import RunFacts
from explorer.plots import describe_curves, training_curves
from pages._class import paused, refuse_if_paused
from pages._guide import did
from pages._keys import TRAIN_CFG, TRAIN_ERROR
from pages._lang import file_upload, fixed_labels, fmt_acc, reason, tr, translate
from pages._live import augment_controls, ensure_model, live_run, read_augment
from pages._publish import publish_to_board
from pages._server import leave_legacy_pages_routing  # noqa: E402
from pages._sidebar import notebook_download
from pages._state import current_dataset, flash, workspace

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py

ws = workspace()
ds = current_dataset()
cfg: dict = st.session_state[TRAIN_CFG]

st.title(tr("Train"))
t = translate()
entry = ws.entry()
if entry is None:
    st.info(tr("No model yet."))
    if st.button(tr("Create the default CNN for this dataset"), type="primary"):
        ensure_model(ws, ds)
        st.rerun()
    st.stop()

st.markdown(
    tr(
        "Model **{name}** ({params} parameters) on **{dataset}** ({n} training images).",
        name=entry.name,
        params=t.number(entry.params),
        dataset=ds.name,
        n=t.number(ds.sizes()["train"]),
    )
)
active = entry.active_run

# --- settings (kept in session state so they survive leaving the page) ---
# Every setting widget has a key "train_<field>"; read_settings() reads them, so an action reads what is on
# screen at the moment of the click (a callback runs before this script, with the new widget values).
SCHEDULE_NAMES = {"constant": N_("constant"), "step": N_("step"), "onecycle": N_("one cycle")}
# the runs table's columns, named in the student's language
RUN_COLUMNS = {
    "run": N_("run"),
    "params": N_("params"),
    "optimizer": N_("optimizer"),
    "lr": N_("lr"),
    "batch": N_("batch"),
    "epochs": N_("epochs"),
    "train acc": N_("train acc"),
    "val acc": N_("val acc"),
    "test acc": N_("test acc"),
    "test loss": N_("test loss"),
    "status": N_("status"),
}
KEYS = (
    "optimizer",
    "lr",
    "batch_size",
    "epochs",
    "schedule",
    "seed",
    "device",
    "momentum",
    "weight_decay",
    "step_epochs",
    "gamma",
)


def read_settings() -> TrainConfig:
    """The settings on screen now, written back into the session's settings; raises ValueError if bad."""
    ss = st.session_state
    for k in KEYS:
        if f"train_{k}" in ss:
            cfg[k] = ss[f"train_{k}"]
    if "train_limit" in ss:
        cfg["limit_train"] = int(ss["train_limit"]) or None
    read_augment(cfg["augment"], key="train_aug")
    try:
        return TrainConfig.from_dict(cfg).validate()
    except TypeError as e:
        raise ValueError(str(e)) from None


def bounds(name: str) -> dict[str, float]:
    """The widget's min_value and max_value: the library's own limits (``explorer.core.train.LIMITS``)."""
    lo, hi = LIMITS[name]
    kind = int if name in INT_SETTINGS else float
    return {"min_value": kind(lo), "max_value": kind(hi)}


def _optimiser_details() -> None:
    """The optimiser's and the schedule's finer settings: momentum, weight decay, the step schedule's period and
    factor."""
    c = st.columns(4)
    c[0].number_input(
        tr("Momentum (SGD)"), value=float(cfg["momentum"]), **bounds("momentum"), step=0.05, key="train_momentum"
    )
    c[1].number_input(
        tr("Weight decay"),
        value=float(cfg["weight_decay"]),
        **bounds("weight_decay"),
        format="%g",
        step=1e-4,
        key="train_weight_decay",
    )
    c[2].number_input(
        tr("Step every N epochs"), value=int(cfg["step_epochs"]), **bounds("step_epochs"), key="train_step_epochs"
    )
    c[3].number_input(tr("gamma"), value=float(cfg["gamma"]), **bounds("gamma"), step=0.05, key="train_gamma")


def settings_panel(expanded: bool) -> None:
    """Every training setting; each widget's key is ``train_<field>`` (read by :func:`read_settings`)."""
    with st.expander(tr("Settings"), expanded=expanded):
        c = st.columns(4)
        c[0].selectbox(tr("Optimiser"), OPTIMIZERS, index=OPTIMIZERS.index(cfg["optimizer"]), key="train_optimizer")
        c[1].number_input(
            tr("Learning rate"),
            value=float(cfg["lr"]),
            **bounds("lr"),
            format="%g",
            step=cfg["lr"] / 2,
            key="train_lr",
            help=tr("Adam: 0.001–0.01. SGD: 0.01–0.1. Adadelta: about 1."),
        )
        sizes = [16, 32, 64, 128, 256, 512, 1024]
        c[2].select_slider(
            tr("Batch size"), sizes, value=cfg["batch_size"] if cfg["batch_size"] in sizes else 128, key="train_batch_size"
        )
        c[3].number_input(tr("Epochs"), value=int(cfg["epochs"]), **bounds("epochs"), step=1, key="train_epochs")
        c = st.columns(4)
        c[0].selectbox(
            tr("Schedule"),
            SCHEDULES,
            index=SCHEDULES.index(cfg["schedule"]),
            key="train_schedule",
            format_func=fixed_labels(lambda s: tr(SCHEDULE_NAMES.get(s, s))),
            help=tr("constant: the same rate throughout; step: × gamma every N epochs; one cycle: warm up, then anneal"),
        )
        c[1].number_input(
            tr("Random start"),
            value=int(cfg["seed"]),
            **bounds("seed"),
            step=1,
            key="train_seed",
            help=tr("The same number gives the same starting weights and the same order of images: the same run."),
        )
        devices = available_devices()
        c[2].selectbox(
            tr("Device"),
            devices,
            index=devices.index(cfg["device"]) if cfg["device"] in devices else 0,
            key="train_device",
            format_func=fixed_labels(lambda d: tr("automatic") if d == "auto" else d),
            help=tr("automatic uses {device} here", device=resolve_device("auto")),
        )
        c[3].number_input(
            tr("Use only N training images (0 = all)"),
            value=int(cfg["limit_train"] or 0),
            min_value=0,
            step=500,
            key="train_limit",
        )
        _optimiser_details()
        st.markdown(tr("**Augmentation** (random, per image, on the training device)"))
        augment_controls(cfg["augment"], ds, key="train_aug")


settings_panel(expanded=active is None)
config: TrainConfig | None = None
try:
    config = read_settings()
except ValueError as e:
    st.error(tr("Settings: {error}", error=reason(e)))


# --- controls ---
def _start() -> None:
    if refuse_if_paused():
        return
    try:
        ws.start_training(ds, read_settings())  # the values on screen at the click, not the last rerun's
    except ValueError as e:
        st.session_state[TRAIN_ERROR] = reason(e)


def controls(config: TrainConfig | None) -> None:
    """Start (or Train more), Pause or Resume, Stop."""
    trainer = active.trainer if active else None
    b = st.container(horizontal=True)  # each button as wide as its words (columns cut them short at 1280 px)
    b.button(
        tr("Start training") if not entry.runs else tr("Train more"),
        icon=":material/play_arrow:",
        type="primary",
        on_click=_start,
        disabled=active is not None or config is None or bool(paused()),
        help=tr("Paused by your teacher")
        if paused()
        else tr("Trains from the current weights; a new run is added to the comparison below."),
    )
    if trainer is not None and trainer.status == "paused":
        b.button(tr("Resume"), icon=":material/resume:", on_click=trainer.resume)
    else:
        b.button(
            tr("Pause"),
            icon=":material/pause:",
            on_click=trainer.pause if trainer else None,
            disabled=trainer is None or trainer.status != RunStatus.RUNNING,
        )
    b.button(
        tr("Stop"),
        icon=":material/stop:",
        on_click=trainer.stop if trainer else None,
        disabled=trainer is None or trainer.status == RunStatus.STOPPING,
    )
    if err := st.session_state.pop(TRAIN_ERROR, None):
        st.error(err)


controls(config)
last = entry.runs[-1] if entry.runs else None  # the notebook reproduces the last run (else the settings on screen)
notebook_download(
    {**entry.spec, "name": entry.name},
    last.config if last else (config or TrainConfig()).to_dict(),
    last.dataset if last else ds.name,
    key="train-notebook",
)
smoothing = st.slider(tr("Smoothing"), 0.0, 0.95, 0.6, 0.05, key="smoothing")
if entry.runs:
    live_run(entry.runs[-1], smoothing, key="train")
    publish_to_board(entry)


def overlaid_kinds(labels: set[str]) -> None:
    """The guided path: a linear and a convolutional run, overlaid."""
    facts = [RunFacts.of(e.spec, r.dataset, r.current()) for e in ws.models.values() for r in e.runs if r.label in labels]
    if any(f.linear for f in facts) and any(f.convs for f in facts):
        did("overlay:linear+conv")


def compare_runs(smoothing: float) -> None:
    """Every run of this session in a table, and the chosen ones' curves overlaid."""
    runs = ws.all_runs()
    if runs:
        st.subheader(tr("Compare runs"))
        rows = []
        for r in runs:
            h, f, c = r.current(), r.final(), r.config or {}  # a loaded file's run may not say how it was trained
            rows.append(
                {
                    "run": r.label,
                    "params": r.params,
                    "optimizer": c.get("optimizer", "—"),
                    "lr": c.get("lr"),
                    "batch": c.get("batch_size"),
                    "epochs": f"{len(h.get('epochs', []))}/{c.get('epochs', '?')}",
                    "train acc": fmt_acc(f.get("train_accuracy")),
                    "val acc": fmt_acc(f.get("val_accuracy")),
                    "test acc": fmt_acc(f.get("test_accuracy")),
                    "test loss": round(f["test_loss"], 4) if "test_loss" in f else None,
                    "status": h.get("status"),
                }
            )
        st.dataframe(rows, hide_index=True, column_config={c: tr(label) for c, label in RUN_COLUMNS.items()})
        labels = [r.label for r in runs]
        chosen = st.multiselect(tr("Overlay"), labels, default=labels[-min(4, len(labels)) :])
        per = st.radio(
            tr("x axis"),
            ["epoch", "step"],
            horizontal=True,
            format_func=fixed_labels(lambda x: tr("epoch") if x == "epoch" else tr("step")),
        )
        picked = [
            (r.label, r.current())
            for r in runs
            if r.label in chosen and (r.current().get("steps") or r.current().get("epochs"))
        ]  # a queued run has nothing to draw yet
        if picked:
            overlaid_kinds({r.label for r in runs if r.label in chosen})
            c1, c2 = st.columns(2)
            c1.plotly_chart(
                training_curves(picked, "loss", smoothing, per=per, tr=t),
                key="cmp-loss",
                alt=describe_curves(picked, "loss", tr=t),
            )
            c2.plotly_chart(
                training_curves(picked, "accuracy", smoothing, per=per, tr=t),
                key="cmp-acc",
                alt=describe_curves(picked, "accuracy", tr=t),
            )
            st.caption(
                tr(
                    "Solid: training (smoothed). Dotted: validation. Dashed: test. Overfitting shows on the "
                    "validation curves: validation loss that rises (or validation accuracy that falls) while "
                    "the training loss keeps falling. Decide what to change by validation; keep the test set "
                    "for one last look at the end, so that it still measures images the choices never saw."
                )
            )


def load_checkpoint_panel() -> None:
    with st.expander(tr("Load a checkpoint")):
        st.caption(
            tr(
                "A `.safetensors` file saved by CNN Explorer (the sidebar's download, or the command line). "
                "It is checked before use, and only its numbers are read."
            )
        )
        up = file_upload(tr("Checkpoint"), ["safetensors"], "ckpt_upload", MAX_CHECKPOINT_BYTES)
        if up is not None and st.button(tr("Load checkpoint")):
            try:
                e = ws.add_checkpoint(load_checkpoint(up.getvalue()), up.name.rsplit(".", 1)[0])
                flash(
                    tr(
                        "Loaded **{name}** ({params} parameters); it is now the current model.",
                        name=e.name,
                        params=t.number(e.params),
                    )
                )
                st.rerun()
            except ValueError as e:  # CheckpointError, or a sentence about the file
                st.error(tr("Not loaded: {error}", error=reason(e)))


with st.container(key="train_compare"):
    compare_runs(smoothing)
load_checkpoint_panel()
