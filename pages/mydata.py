"""My data: what the app keeps about me, read from its database now; take it home as one zip; delete all of it
with a receipt; forget this computer (a shared lab PC)."""

from __future__ import annotations

import json

import streamlit as st

from pages._server import leave_legacy_pages_routing, server, workspace_store

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py

from explorer.serve import PERSON_COOKIE, build_export, shown_code  # noqa: E402
from pages._jobs import job_panel, job_running  # noqa: E402
from pages._keys import OWNER, WS_ID  # noqa: E402
from pages._lang import md_text, reason, tr, translate  # noqa: E402
from pages._state import show_flash, start_job, start_over  # noqa: E402

EXPORT_JOB = "mydata_export"  # the zip being built in a worker; its result is offered for download
RECEIPT = "mydata_receipt"  # the last deletion's receipt (text), shown after the page started over


def _date(t: float) -> str:
    return translate().date(t)


def inventory_words(inv) -> list[str]:  # noqa: ANN001 - an explorer.serve.Inventory
    """What is kept, in plain sentences, with when each part goes."""
    lines = []
    if inv.workspaces:
        models = ", ".join(f"**{md_text(m)}**" for m in inv.models) or tr("none yet")
        days = f"{server().store().ttl_days:g}"
        lines.append(
            tr(
                "**Your work**: models {models}; {runs} training run(s); {uploads} upload(s). Kept under your "
                "link, and deleted {days} days after your last change",
                models=models,
                runs=inv.runs,
                uploads=len(inv.uploads),
                days=days,
            )
            + (
                " " + tr("(on {date} unless you work again).", date=_date(inv.workspace_expires))
                if inv.workspace_expires
                else "."
            )
        )
    for code, name, expires in inv.classes:
        lines.append(
            tr(
                "**In class {code}** as **{name}**: your name on your teacher's list, {drawings} drawing(s) "
                "you added, {entries} board entr(ies). Deleted with the class when your teacher ends it, at "
                "the latest on {date}.",
                code=shown_code(code),
                name=md_text(name),
                drawings=inv.drawings,
                entries=inv.board_entries,
                date=_date(expires),
            )
        )
    if inv.key_tries:
        lines.append(
            tr(
                "**Wrong teacher keys or school passwords** tried from this browser: {n} (counted for ten "
                "minutes, so that guessing is slow).",
                n=inv.key_tries,
            )
        )
    return lines or [tr("Nothing: the app keeps nothing about you yet (your work is kept once you build or train).")]


def _download(job) -> None:  # noqa: ANN001 - the export's Job (or None)
    """The zip's progress while a worker builds it, then its download button."""
    show_flash()  # a refusal to start (one job at a time per person)
    if job is None:
        return
    job_panel(
        lambda: job,
        tr("Preparing your download"),
        lambda done: st.download_button(
            tr("Download all of it (zip)"),
            done.result,
            file_name="my-cnn-explorer-data.zip",
            mime="application/zip",
            icon=":material/download:",
            type="primary",
        ),
    )


st.title(tr("My data"))
store = workspace_store()
if store is None:
    st.info(tr("Your work is kept in this tab only: nothing about you is stored."))
    st.stop()
ws_id, person = st.session_state.get(WS_ID) or "", st.session_state.get(OWNER) or ""
st.caption(
    tr(
        "What this app keeps about you, read from its database just now. Nothing is sent anywhere else: no "
        "analytics, no other website. Your teacher sees your name, your page and your best accuracy while "
        "your class runs."
    )
)
if RECEIPT in st.session_state:
    st.success(tr("All of it is deleted. Your receipt:"))
    st.code(st.session_state[RECEIPT], language=None)
    st.download_button(
        tr("Download the receipt"),
        st.session_state[RECEIPT],
        file_name="deletion-receipt.txt",
        icon=":material/receipt_long:",
    )
inv = store.inventory(ws_id, person)
for line in inventory_words(inv):
    st.markdown(f"- {line}")

st.subheader(tr("Take it home"))
st.caption(
    tr(
        "One zip: your models (they load back on **Train**), your runs (JSON and CSV), your uploads, your "
        "drawings (PNG), what you published, and a README that says what each file is."
    )
)
export = st.session_state.get(EXPORT_JOB)
if st.button(
    tr("Prepare the download"),
    icon=":material/folder_zip:",
    disabled=inv.empty or job_running(export),
):
    try:  # read here (size checked first), zipped in a worker: the models' ONNX is tensor work
        start_job(EXPORT_JOB, "your download", build_export, store.export_parts(ws_id, person))
    except ValueError as e:
        st.warning(tr("Not prepared: {reason}.", reason=reason(e)))
_download(st.session_state.get(EXPORT_JOB))

st.subheader(tr("Delete all of it"))
sure = st.checkbox(
    tr("I understand: my models, runs, uploads and drawings, my name in my class and what I published are deleted for good"),
    key="mydata_sure",
    disabled=inv.empty,
)
if st.button(tr("Delete all of it"), icon=":material/delete_forever:", disabled=not sure or inv.empty):
    receipt = store.delete_mine(ws_id, person)
    start_over()  # this tab opens a new, empty workspace: nothing of the old one is saved again
    st.session_state.pop(EXPORT_JOB, None)
    st.session_state[RECEIPT] = receipt.text(translate())
    st.rerun()

st.subheader(tr("Forget this computer"))
st.caption(
    tr(
        "On a shared computer, at the end of a lesson: this browser forgets who you were and your link, so "
        "the next person here cannot open your work. Keep your link (or your download) to come back to it."
    )
)
if st.button(tr("Forget this computer"), icon=":material/logout:"):
    cookie = f"{PERSON_COOKIE}=; path=/; max-age=0; SameSite=Strict"
    st.success(tr("This browser has forgotten you. The next tab opens a new, empty workspace."))
    st.html(
        f"<script>document.cookie = {json.dumps(cookie)}; window.location.replace(window.location.pathname);</script>",
        unsafe_allow_javascript=True,
    )  # a new session, with no link and no cookie
    start_over()
    st.session_state.pop(EXPORT_JOB, None)
    st.stop()
