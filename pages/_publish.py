"""The class board from a student's side: publishing the current model's last finished run, measured here."""

from __future__ import annotations

import streamlit as st

from explorer.core import MAX_CLASS_NAME, accuracy, is_digits, predict_proba
from explorer.serve import ModelEntry, shown_code
from pages._class import class_code
from pages._keys import UPLOADS, WS_ID
from pages._lang import fmt_acc, reason
from pages._server import (
    workspace_store,
)
from pages._state import (
    flash,
)


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
    return accuracy(pred, ours["y"])


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
            workspace_store().publish(
                code,
                st.session_state[WS_ID],
                run,
                entry.spec,
                st.session_state.get("board_name", ""),
                accuracy=measured_accuracy(entry),
                handwriting=_handwriting_accuracy(code, entry),
                from_upload=run.dataset in st.session_state.get(UPLOADS, {}),
            )
            flash(f"Published run #{run.id} to the board of class **{shown_code(code)}**.")
        except ValueError as e:
            st.session_state["board_error"] = reason(e)

    with st.container(border=True):
        st.markdown(
            f"**Class board** of *{shown_code(code)}*: publish run #{run.id} "
            f"(test accuracy {fmt_acc(run.final().get('test_accuracy'))}) under a name of your choice."
        )
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        c1.text_input("Name on the board", key="board_name", max_chars=MAX_CLASS_NAME, placeholder="e.g. Ada's deep one")
        c2.button("Publish", icon=":material/publish:", on_click=_publish, key="board_publish")
        st.caption(
            "The board shows this run's name, accuracy, parameters, time, architecture and curves: nothing "
            "else of your work."
        )
        if err := st.session_state.pop("board_error", None):
            st.error(err)
