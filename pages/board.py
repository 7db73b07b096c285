"""Class board: the runs students published, live on the teacher's projector; click one to open it read-only."""

from __future__ import annotations

import html

import streamlit as st

from explorer import summarize
from explorer.core import MAX_CODE_CHARS
from explorer.plots import board_figure, describe_board, describe_curves, summary_rows, training_curves
from explorer.serve import normalize_code, shown_code
from pages._class import class_code
from pages._keys import TEACHER
from pages._lang import fixed_labels, md_text, reason, tr, translate
from pages._server import (
    BOARD_REFRESH_S,
    leave_legacy_pages_routing,
    workspace_store,
)

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py

st.title(tr("Class board"))
store = workspace_store()
if store is None:
    st.warning(tr("The board is not available just now: its records could not be opened."))
    st.stop()
mine = class_code()
typed = st.text_input(
    tr("Class code"),
    value=shown_code(mine) if mine else "",
    key="board_code",
    max_chars=MAX_CODE_CHARS,
    help=tr("The code your teacher made on **{teacher}** (students who joined see theirs here).", teacher=tr("Teacher")),
)
code = normalize_code(typed) or ""
if not code:
    st.info(
        tr(
            "Type your class's code (e.g. K7M-R4Q). Students who joined the class publish runs from **{train}**; "
            "they appear here as they come.",
            train=tr("Train"),
        )
        if not typed.strip()
        else tr("A class code is six letters and digits, like K7M-R4Q.")
    )
    st.stop()


@st.fragment(run_every=BOARD_REFRESH_S)
def board() -> None:
    try:
        rows = store.board(code)
    except ValueError as e:  # the database is busy or out of reach: a sentence, and the next refresh tries again
        st.warning(tr("{error}.", error=reason(e)))
        return
    if not rows:
        st.info(tr("Nothing published to **{code}** yet. This board refreshes itself as runs come.", code=shown_code(code)))
        return
    best, t = max(rows, key=lambda r: r["accuracy"]), translate()
    values = {
        "n": len(rows),
        "name": md_text(best["name"]),
        "acc": t.percent(best["accuracy"]),
        "params": t.number(best["params"]),
    }
    st.markdown(
        tr("**{n}** run published · best: **{name}** with {acc} ({params} parameters)", **values)
        if len(rows) == 1
        else tr("**{n}** runs published · best: **{name}** with {acc} ({params} parameters)", **values)
    )
    picked = st.plotly_chart(
        board_figure(rows, tr=t), on_select="rerun", selection_mode="points", key="board-fig", alt=describe_board(rows, tr=t)
    )
    # no training time: its seconds would say how busy the server was, not how good the network is
    table = st.dataframe(
        [
            {
                "name": r["name"],
                "test accuracy": round(r["accuracy"] * 100, 2),
                **(
                    {"our handwriting": None if r["handwriting"] is None else round(r["handwriting"] * 100, 1)}
                    if any(x["handwriting"] is not None for x in rows)
                    else {}
                ),
                "parameters": r["params"],
                "architecture": r["architecture"],
            }
            for r in rows
        ],
        hide_index=True,
        placeholder="",  # a run not measured on the class's digits: an empty cell, not the word None
        on_select="rerun",
        selection_mode="single-row",
        key="board-table",
        column_config={
            "name": tr("name"),
            "test accuracy": st.column_config.NumberColumn(tr("test accuracy"), format="%.2f %%"),
            "our handwriting": st.column_config.NumberColumn(
                tr("our handwriting"), format="%.1f %%", help=tr("on the digits the class drew")
            ),
            "parameters": st.column_config.NumberColumn(tr("parameters"), format="localized"),
            "architecture": tr("architecture"),
        },
    )
    st.caption(tr("Click a dot or a row to open that run. Click a column header to sort."))
    points = (picked or {}).get("selection", {}).get("points", []) if picked else []
    chosen = points[0]["point_index"] if points else (table.selection.rows[0] if table and table.selection.rows else None)
    if chosen is not None and chosen < len(rows):
        show_run(rows[chosen])


def show_run(r: dict) -> None:
    """One published run, read-only: its curves and its network's summary (read for this entry only)."""
    t = translate()
    st.subheader(
        tr(
            "{name}: {acc} with {params} parameters",
            name=md_text(r["name"]),
            acc=t.percent(r["accuracy"]),
            params=t.number(r["params"]),
        )
    )
    try:
        full = store.board_entry(code, r["id"])
    except ValueError as e:
        st.warning(tr("{error}.", error=reason(e)))
        return
    if full is None:
        st.caption(tr("This entry is no longer on the board."))
        return
    r = {**r, **full}
    c1, c2 = st.columns(2)
    label = html.escape(r["name"])
    for col, metric in ((c1, "loss"), (c2, "accuracy")):
        col.plotly_chart(
            training_curves([(label, r["history"])], metric, 0.6, tr=t),
            key="board-loss" if metric == "loss" else "board-acc",
            alt=describe_curves([(r["name"], r["history"])], metric, tr=t),
        )
    try:
        st.dataframe(
            summary_rows(summarize(r["spec"]), tr=t),
            hide_index=True,
            column_config={c: tr(c) for c in ("layer", "type", "output shape", "params", "mult-adds", "receptive field")},
        )
    except ValueError as e:  # a published spec this server no longer accepts: say so, keep the board
        st.caption(tr("Its network cannot be shown here: {error}.", error=reason(e)))


def teacher_tools() -> None:
    """For the class's teacher, signed in on the Teacher page: hide one entry, or clear the board."""
    teacher = st.session_state.get(TEACHER) or {}
    if teacher.get("code") != code:
        return
    with st.expander(tr("Teacher: hide an entry or clear the board")):
        try:
            rows = store.board(code)
            c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
            pick = c1.selectbox(
                tr("Entry"),
                rows,
                key="board_hide",
                format_func=fixed_labels(lambda r: f"{r['name']} · {translate().percent(r['accuracy'])}"),
            )
            if c2.button(tr("Hide it"), disabled=pick is None, key="board_hide_btn"):
                store.hide_entry(code, teacher["key"], pick["id"])
                st.rerun()
            if st.button(tr("Clear the board"), key="board_clear", type="primary"):
                st.success(tr("Cleared {n} entries.", n=store.clear_board(code, teacher["key"])))
        except ValueError as e:
            st.warning(tr("{error}.", error=reason(e)))


board()
teacher_tools()
