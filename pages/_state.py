"""A browser session's state: every session key in one place, the workspace (opened from the page's ``?ws=``
link, saved after each script run), flash messages and the session's datasets. Streamlit only; no widgets.
"""

from __future__ import annotations

import json
import time

import streamlit as st

from explorer import DATASETS, DataError, Dataset, TrainConfig, get_preset
from explorer.core import DEFAULT_DATASET
from explorer.serve import (
    BackgroundSaver,
    Quota,
    SavedWorkspace,
    SaveOutcome,
    SavePayload,
    Workspace,
    WorkspaceStore,
    data_dir,
    save_now_or_later,
)
from pages._keys import (
    CLASS,
    CONFIDENCE,
    DATASET,
    DEFAULT_CONFIDENCE,
    DRAFT,
    DRAWING,
    FLASH,
    LAST_ERROR,
    OWNER,
    PERSON,
    PERSON_SET,
    SAVED_KEYS,
    TRAIN_CFG,
    UNASKED,
    UPLOADS,
    WS,
    WS_ID,
    WS_SAVED,
    WS_VERSION,
)
from pages._lang import md_text, reason, tr
from pages._person import identify
from pages._server import (
    leave_legacy_pages_routing,
    presence,
    server,
    session_id,
    workspace_store,
)


def init_session() -> None:
    """Session defaults (setdefault: never overwrite what the user has). A ``?ws=`` id in the URL opens that
    saved workspace; otherwise a new id is made and put in the URL. The workspace id owns the runs: a run
    still training for this workspace (the tab was reloaded) is taken up again."""
    leave_legacy_pages_routing()  # this page file was run without app.py: rerun through it
    if WS not in st.session_state:
        _open_workspace()
    st.session_state.setdefault(DATASET, DEFAULT_DATASET)
    st.session_state.setdefault(UPLOADS, {})
    server().people().hold_uploads(st.session_state[PERSON], session_id(), st.session_state[UPLOADS])
    st.session_state.setdefault(TRAIN_CFG, TrainConfig().to_dict())
    st.session_state.setdefault(DRAFT, get_preset("default"))
    st.session_state.setdefault(CONFIDENCE, DEFAULT_CONFIDENCE)


def _open_workspace() -> None:
    """This session's workspace: the saved one its address names (with its settings and uploads), or a new one
    with a new id; its runs still training are taken up again, and it counts against this browser's person."""
    ws = Workspace(owner=session_id(), cluster=server().cluster, job_owner=session_id())
    store, ws_id = workspace_store(), st.query_params.get("ws")
    saved = _load_saved(store, ws_id, ws) if store is not None and ws_id else None
    identify(ws_id)  # whose limits this tab counts against (the address's workspace, before a new id is made)
    if saved is not None and not _room_for(ws, st.session_state[PERSON], ws_id):  # its models: past this person's budget
        ws, saved = Workspace(owner=session_id(), cluster=server().cluster, job_owner=session_id()), None
    if saved is not None:
        _restore_settings(saved)
    else:
        ws_id = store.new_id() if store is not None else None
        st.session_state[WS_VERSION] = None
    if store is not None and store.notice:
        flash(reason(store.notice), "warning")
    if ws_id:
        ws.owner = ws_id
        presence().hold(ws_id, session_id())
        for run in ws.adopt_running():
            flash(
                tr(
                    "Run #{id} of **{model}** was still training: it carries on here.",
                    id=run.id,
                    model=md_text(run.model_name),
                ),
                "info",
            )
    st.session_state[WS_ID] = ws_id
    identify(ws_id)
    ws.quota = Quota(server().people(), st.session_state[PERSON])
    server().people().hold_workspace(st.session_state[PERSON], session_id(), ws)  # its models count as theirs
    st.session_state[WS] = ws


def _room_for(ws: Workspace, person: str, ws_id: str) -> bool:
    """Whether a restored workspace's models fit what this person may hold (with their other tabs' models) and the
    server's memory; if not, a sentence says what to do, and this tab opens a new workspace."""
    try:
        server().people().check_model(person, sum(e.params for e in ws.models.values()))
        return True
    except ValueError as e:
        flash(
            tr(
                "This link's workspace was not opened here: {reason}. Its work is kept: open this link again once "
                "there is room.",
                reason=reason(e),
            ),
            "warning",
        )
        return False


SETTLE_S = 3.0  # how long opening a workspace waits for its own saves still waiting for a busy database


def _load_saved(store: WorkspaceStore, ws_id: str, ws: Workspace) -> SavedWorkspace | None:
    """The saved workspace ``ws_id`` loaded into ``ws``; None (and a sentence) when it cannot be opened."""
    saved = None
    server().saver().settle(ws_id, SETTLE_S)  # a save of it still waiting for the database lands first
    try:
        saved = store.load(ws_id, ws)
    except ValueError as e:
        flash(tr("The saved workspace could not be opened ({reason}); this is a new one.", reason=reason(e)), "warning")
    if saved is None:
        flash(tr("No saved workspace has this link (it may have expired): this is a new one."), "info")
    return saved


def _restore_settings(saved: SavedWorkspace) -> None:
    for k in SAVED_KEYS:
        if k in saved.settings:
            st.session_state[k] = saved.settings[k]
    st.session_state[UPLOADS] = saved.uploads
    st.session_state[WS_VERSION] = saved.version
    for kept in saved.kept:  # e.g. a model over this server's budget: reported, never deleted
        sentence = reason(kept)
        flash(sentence[0].upper() + sentence[1:] + ".", "warning")


def start_over() -> None:
    """Leave this tab's workspace behind (its data deleted, or this computer forgotten): its runs and jobs stop,
    nothing of it is saved again, the address loses its link, and the next run opens a new, empty workspace."""
    ws = st.session_state.pop(WS, None)
    if ws is not None:
        ws.close()
    for key in (WS_ID, WS_VERSION, WS_SAVED, UPLOADS, PERSON_SET, DRAWING, "cached_predictions", *SAVED_KEYS):
        st.session_state.pop(key, None)
    st.query_params.pop("ws", None)


def person_uploads() -> dict[str, Dataset]:
    """The uploads this person holds: this tab's and those of their other live tabs (for the upload budget)."""
    others = server().people().other_uploads(st.session_state[PERSON], session_id())
    return {**others, **st.session_state.get(UPLOADS, {})}


def keep_workspace_id_in_url() -> None:
    """The workspace id stays in the address bar (page changes drop query parameters)."""
    ws_id = st.session_state.get(WS_ID)
    if ws_id and st.query_params.get("ws") != ws_id:
        st.query_params["ws"] = ws_id


def _fingerprint(ws: Workspace) -> str:
    """What a save would change: models, runs and their progress, settings, uploads."""
    runs = [(r.id, h.get("status"), len(h.get("epochs", []))) for r in ws.all_runs() for h in [r.current()]]
    settings = json.dumps({k: st.session_state.get(k) for k in SAVED_KEYS}, sort_keys=True, default=str)
    return json.dumps([list(ws.models), ws.current, runs, settings, sorted(st.session_state.get(UPLOADS, {}))])


def save_workspace(every_s: float = 15.0) -> None:
    """Save the workspace when something changed (and every ``every_s`` while a run trains, so that a reload
    finds its latest weights). Called at the end of every full run of the app.

    A database that does not take the save within about a second (locked, busy, out of reach) never holds the
    page: the save is handed to the server's background saver, which writes it as soon as it can; the page
    says so, and later saves join it there until it is written."""
    store, ws_id = workspace_store(), st.session_state.get(WS_ID)
    ws = st.session_state.get(WS)
    if ws is not None:
        ws.settle()  # ended runs keep their results and let their trainers go
    if store is None or not ws_id or ws is None:
        return
    saver = server().saver()
    _take_background_outcome(saver.take(ws_id, session_id()))
    fp = _fingerprint(ws)
    if not _worth_saving(ws, fp, every_s):
        return
    settings = {k: st.session_state.get(k) for k in SAVED_KEYS if st.session_state.get(k) is not None}
    if settings.get(CLASS):  # the class's code only: the student's name lives in the class's roster, which ending
        settings[CLASS] = {"code": settings[CLASS]["code"]}  # the class deletes
    try:
        payload = store.prepare(
            ws_id, ws, settings, st.session_state.get(UPLOADS, {}), person=st.session_state.get(OWNER, "")
        )
    except ValueError as e:  # a model that cannot be written as a checkpoint, say: kept in this tab
        st.warning(tr("Not saved: {reason}. Your work is kept in this tab.", reason=reason(e)), icon=":material/cloud_off:")
        return
    _write(store, saver, payload, fp)


def _worth_saving(ws: Workspace, fp: str, every_s: float) -> bool:
    """Something changed since the last save (or a run trains and the last save is ``every_s`` old), and there
    is something to keep (a visitor who only looks leaves no row)."""
    last_fp, last_t = st.session_state.get(WS_SAVED, ("", 0.0))
    training = any(e.active_run is not None for e in ws.models.values())
    if fp == last_fp and not (training and time.time() - last_t > every_s):
        return False
    return bool(ws.models or st.session_state.get(UPLOADS) or last_fp)


def _write(store: WorkspaceStore, saver: BackgroundSaver, payload: SavePayload, fp: str) -> None:
    """Save by the library's policy (``save_now_or_later``: now, or in the background when the database does not
    take it at once), and say what became of it."""
    result = save_now_or_later(store, saver, payload, st.session_state.get(WS_VERSION), session_id())
    if result.version is not None:
        st.session_state[WS_VERSION] = result.version
    if result.saved:
        st.session_state[WS_SAVED] = (fp, time.time())
    if result.kind == "stale":  # another tab saved this workspace meanwhile: said once, this tab's work kept
        if st.session_state.get(WS_SAVED, ("", 0))[0] != "stale":
            st.warning(tr("Not saved: {reason}.", reason=reason(result.reason)))
        st.session_state[WS_SAVED] = ("stale", time.time())
    elif result.kind == "over_quota":  # past what this person (or everyone) may keep: said once, until it changes
        st.warning(
            tr("Not saved: {reason}. Your work is kept in this tab.", reason=reason(result.reason)),
            icon=":material/cloud_off:",
        )
    elif result.kind == "kept":
        st.warning(
            tr(
                "Not saved just now: {reason}. Your work is kept in this tab, and saving is tried again at your next step.",
                reason=reason(result.reason),
            ),
            icon=":material/cloud_off:",
        )
    elif result.kind == "deferred":
        st.info(
            tr("Saving waits a moment: your work is kept here and is saved by itself as soon as it can be."),
            icon=":material/cloud_sync:",
        )


def _take_background_outcome(outcome: SaveOutcome | None) -> None:
    """What the background saver did with this workspace's save: its new version, or why it was not written."""
    if outcome is None:
        return
    if outcome.version is not None:
        st.session_state[WS_VERSION] = outcome.version
    elif outcome.error:
        st.warning(tr("Not saved: {reason}.", reason=reason(outcome.error)))
        st.session_state[WS_SAVED] = ("stale", time.time())


def workspace() -> Workspace:
    """This session's workspace (opened on the session's first call). A pure read: ``app.py`` saves once after
    each script run, and the live run panel saves while a run trains."""
    init_session()
    return st.session_state[WS]


def start_job(key: str, name: str, fn, *args, **kwargs) -> bool:  # noqa: ANN001, ANN002, ANN003 - as Workspace's
    """Start this session's job into ``st.session_state[key]`` (see ``Workspace.start_job``). A refusal (one job
    at a time per person, a budget) is shown as a sentence at the next run, and the page's last result stays."""
    try:
        st.session_state[key] = workspace().start_job(name, fn, *args, **kwargs)
        return True
    except ValueError as e:
        flash(tr("Not started: {error}.", error=reason(e)), "warning")
        return False


def flash(message: str, kind: str = "success") -> None:
    """A message to show once, after the rerun that usually follows an action. A warning or an error is also
    what the class's roster shows as this student's last error."""
    st.session_state.setdefault(FLASH, []).append((kind, message))
    if kind in ("warning", "error"):
        st.session_state[LAST_ERROR] = (message.replace("**", ""), time.time())


FLASH_SHOWN = "flash_shown"  # the messages the last full run showed at the page's top


def show_flash(top: bool = False) -> None:
    """The messages left for this run, each once: at the page's ``top`` (the session's start, first in every run),
    or where a page shows what it said meanwhile (a refusal under its button). A run the page started by itself
    (:func:`rerun_unasked`: a run ended, say) shows the top's messages of the run before again: a message does
    not go while nobody acts, and the page under it does not move under a pen mid-stroke."""
    messages = st.session_state.pop(FLASH, [])
    if top:
        kept = st.session_state.pop(FLASH_SHOWN, []) if st.session_state.pop(UNASKED, False) else []
        messages = st.session_state[FLASH_SHOWN] = kept + messages
    for kind, message in messages:
        getattr(st, kind)(message)


def shared_dataset(name: str, root: str | None) -> Dataset:
    """Registry datasets are loaded once per server and shared read-only by all sessions."""
    srv = server()
    if srv.has_dataset(name, root):
        return srv.dataset(name, root)
    with st.spinner(f"Loading {name} (once for the whole class)…"):
        return srv.dataset(name, root)


def get_dataset(name: str | None = None) -> Dataset:
    """The dataset ``name`` (default: the session's choice); raises DataError with the reason."""
    name = name or st.session_state.get(DATASET, DEFAULT_DATASET)
    uploads: dict[str, Dataset] = st.session_state.get(UPLOADS, {})
    if name in uploads:
        return uploads[name]
    if name not in DATASETS:
        raise DataError(f"dataset {name!r} is not available in this session any more")
    return shared_dataset(name, data_dir())


def current_dataset() -> Dataset:
    """The chosen dataset; if it cannot be loaded, say why and fall back to the embedded digits."""
    try:
        return get_dataset()
    except ValueError as e:  # DataError, and any other sentence the library raises
        st.error(tr("{reason}. Using the embedded {dataset} instead.", reason=reason(e), dataset=DEFAULT_DATASET))
        return get_dataset(DEFAULT_DATASET)


def dataset_names() -> list[str]:
    return list(DATASETS) + list(st.session_state.get(UPLOADS, {}))
