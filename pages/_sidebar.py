"""The sidebar: the current model at a glance, the switcher between this session's models, its files (checkpoint,
ONNX, spec, notebook), removing a model, and where the work is kept.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import streamlit as st

from explorer.i18n import N_
from pages._class import join_box
from pages._keys import DATASET, LESSON, WS_ID
from pages._lang import fmt_acc, md_text, tr, translate
from pages._server import workspace_store
from pages._state import (
    flash,
    workspace,
)

if TYPE_CHECKING:
    from explorer.serve import ModelEntry

STATE_ICON = {
    "untrained": ":material/radio_button_unchecked:",
    "running": ":green[:material/play_circle:]",
    "paused": ":orange[:material/pause_circle:]",
    "trained": ":green[:material/check_circle:]",
    "stopped": ":material/stop_circle:",
    "queued": ":blue[:material/hourglass_top:]",
    "stopping": ":material/stop_circle:",
    "diverged": ":red[:material/warning:]",
    "failed": ":red[:material/error:]",
    "loaded": ":material/inventory_2:",
}
STATE_WORDS = {
    "untrained": N_("untrained"),
    "running": N_("running"),
    "paused": N_("paused"),
    "trained": N_("trained"),
    "stopped": N_("stopped"),
    "queued": N_("queued"),
    "stopping": N_("stopping"),
    "diverged": N_("diverged"),
    "failed": N_("failed"),
    "loaded": N_("loaded"),
}


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
    sb.markdown("### " + tr("Current model"))
    if not ws.models:
        sb.caption(
            tr(
                "No model yet: pick a preset on **{build}**, or press *{train}* on **{start}**.",
                build=tr("Build"),
                train=tr("Train the default CNN"),
                start=tr("Start"),
            )
        )
        return
    names = list(ws.models)
    if ws.current not in names:
        ws.current = names[0]
    # the picker shows the current model, also one that a page made current (a model created on Build); a pick
    # made here changes it in the callback, before the page runs
    st.session_state["sidebar_model"] = ws.current
    sb.selectbox(
        tr("Model"),
        names,
        key="sidebar_model",
        label_visibility="collapsed",
        on_change=lambda: setattr(workspace(), "current", st.session_state["sidebar_model"]),
    )
    e = ws.entry()
    assert e is not None
    ds = e.dataset["name"] if e.dataset else st.session_state.get(DATASET)
    state = tr(STATE_WORDS[e.state]) if e.state in STATE_WORDS else e.state
    sb.markdown(
        f"**{md_text(e.name)}** · "
        + tr("{n} params", n=translate().number(e.params))
        + "  \n"
        + tr("data: `{dataset}` · device: `{device}`", dataset=ds, device=e.device)
        + "  \n"
        f"{STATE_ICON.get(e.state, '')} {state} · " + tr("test accuracy **{acc}**", acc=fmt_acc(e.test_accuracy))
    )
    _model_files(sb, e)
    workspace_link(sb)


def _model_files(sb: Any, e: ModelEntry) -> None:
    """The current model's files to download (its checkpoint once it has trained, ONNX) and its removal."""
    c1, c2 = sb.columns([3, 2])
    if e.runs:  # both files are made at the click, not on every rerun
        c1.download_button(
            tr("Checkpoint"),
            icon=":material/download:",
            data=e.checkpoint_bytes,
            file_name=f"{_slug(e.name)}.safetensors",
            key="dl_checkpoint",
            mime="application/octet-stream",
            on_click="ignore",
            width="stretch",
            help=tr("Spec, weights, dataset info and history in one safe file: load it on Train."),
        )
    c2.download_button(
        "ONNX",
        icon=":material/download:",
        data=e.onnx_bytes,
        key="dl_onnx",
        file_name=f"{_slug(e.name)}.onnx",
        mime="application/octet-stream",
        on_click="ignore",
        width="stretch",
        help=tr(
            "The model for Netron, onnxruntime and other tools: input `pixels` "
            "(N, C, H, W) in 0..255 once trained, output `logits`; class names "
            "in its metadata."
        ),
    )
    with sb.popover(tr("Remove this model"), icon=":material/delete:", width="stretch"):
        st.caption(tr("**{model}**, its runs and its weights leave this workspace for good.", model=md_text(e.name)))
        st.button(
            tr("Remove {model}", model=e.name), key="sidebar_remove", on_click=_remove_model, args=(e.name,), type="primary"
        )


def _remove_model(name: str) -> None:
    workspace().remove(name)
    flash(tr("Removed **{model}**.", model=md_text(name)), "info")


def workspace_link(where: Any) -> None:
    """Where the work is kept, and the plain truth about the link."""
    if workspace_store() is None or not st.session_state.get(WS_ID):
        where.caption(tr("Your models live as long as this tab: download the ones you want to keep."))
        return
    where.caption(
        ":material/cloud_done: "
        + tr(
            "Your work is saved under this page's link: reload, or come back "
            "later with the same link. **Whoever has the link has the work**: "
            "share it only on purpose."
        )
    )


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name).strip("-") or "model"


def notebook_download(spec: dict[str, Any], config: dict[str, Any], dataset: str, key: str) -> None:
    """The notebook to take home: this model's run (its spec, these settings, this dataset) as a Jupyter notebook
    that trains with torch and torchvision only. Written at the click."""
    from explorer.lessons import export_refusal, to_notebook

    name = _slug(str(spec.get("name") or "model"))
    if export_refusal(dataset):  # said now, not at the click
        st.caption(no_export_sentence(dataset))
        return
    st.download_button(
        tr("Notebook to take home (.ipynb)"),
        lambda: to_notebook(spec, config, dataset),
        key=key,
        file_name=f"{name}.ipynb",
        mime="application/x-ipynb+json",
        icon=":material/menu_book:",
        on_click="ignore",
        help=tr(
            "Data, model, training, evaluation and a look inside, as cells you "
            "run in Jupyter; it trains the way the app does (same split, random "
            "start and settings)."
        ),
    )


def no_export_sentence(dataset: str) -> str:
    """Why this dataset's run has no script or notebook to take home, in the student's words."""
    return tr(
        "No script or notebook for **{dataset}**: they load their images with torchvision, which cannot load an upload.",
        dataset=dataset,
    )


def spec_download(spec: dict[str, Any], label: str = "") -> None:
    st.download_button(
        label or tr("Spec (JSON)"),
        json.dumps(spec, indent=2),
        file_name=f"{_slug(spec.get('name', 'spec'))}.json",
        mime="application/json",
        on_click="ignore",
        icon=":material/download:",
    )
