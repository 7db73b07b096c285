"""Teacher: make a class, see every student on a live roster, steer the class, look at a student's model, export."""

from __future__ import annotations

import time

import streamlit as st

from explorer import DATASETS, normalize
from explorer.core import (
    MAX_CLASS_NAME,
    MAX_CODE_CHARS,
    MAX_KEY_CHARS,
    MAX_MESSAGE,
    confusion_matrix,
    inference_seconds,
    predict_proba,
)
from explorer.interpret import capture_activations, conv_layers, kernels
from explorer.lessons import parse_lesson
from explorer.plots import confusion_heatmap, describe_confusion, describe_kernels, kernel_mosaic
from explorer.serve import (
    Workspace,
    class_hours,
    roster_csv,
    shown_code,
)
from pages._nav import PAGES
from pages._predict import INLINE_PREDICT_S
from pages._server import (
    BOARD_REFRESH_S,
    leave_legacy_pages_routing,
    server,
    workspace_store,
)
from pages._state import DATASET, PERSON, TEACHER, get_dataset
from pages._widgets import layer_strip, md_text

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py

NEW_KEY = "teacher_new_key"  # the key of the class just made: shown in the next run of the page only
LOOK = "teacher_look"  # (student, their model, the class's dataset, its confusion matrix measured at the Look)
STEER_PAGES = [t for items in PAGES.values() for f, t, _ in items if t != "Teacher"]


def sign_in(store) -> None:
    """Sign in to a class with its key, or make a new class."""
    st.caption("Your class's console: who is where, who is stuck, and one click to bring everyone to a page, pause "
               "them, or give them a lesson. Students never see this page: they join with the class code.")
    have, make = st.tabs(["Sign in to my class", "Make a class"])
    with have.form("teacher-sign-in"):
        code = st.text_input("Class code", placeholder="e.g. K7M-R4Q", max_chars=MAX_CODE_CHARS)
        key = st.text_input("Teacher key", type="password", max_chars=MAX_KEY_CHARS)
        if st.form_submit_button("Sign in", icon=":material/login:"):
            try:
                norm = store.sign_in(code, key, st.session_state.get(PERSON, ""))
                st.session_state[TEACHER] = {"code": norm, "key": key.strip()}
                st.rerun()
            except ValueError as e:
                st.error(f"Not signed in: {e}.")
    with make.form("teacher-make"):
        names = list(DATASETS)
        current = st.session_state.get(DATASET)
        dataset = st.selectbox("The class's dataset", names, index=names.index(current) if current in names else 0,
                               help="The board and the roster's best accuracy count runs on this dataset only.")
        wanted = server().school_password()
        password = st.text_input("School password", type="password", max_chars=MAX_KEY_CHARS, help=(
            "Whoever started this app has it: it is shown where the app was started, or set by your school's "
            "administrator. It keeps students from making look-alike classes.")) if wanted else ""
        if st.form_submit_button("Make a class", icon=":material/add:", type="primary"):
            try:
                code, key = store.create_class(dataset, password, who=st.session_state.get(PERSON, ""),
                                               wanted=wanted)
            except ValueError as e:
                st.error(f"No class made: {e}.")
                return
            st.session_state[TEACHER] = {"code": code, "key": key}
            st.session_state[NEW_KEY] = key
            st.rerun()
    st.caption(f"A class lasts {class_hours():g} hours (the server's `EXPLORER_CLASS_HOURS`); then its roster, "
               "drawings and board are deleted.")


def new_key_once(code: str) -> None:
    """The key of the class just made (or just replaced), hidden until Show, until the teacher says it is written
    down: then nobody can show it again."""
    slot = st.container()  # always there, so that what follows keeps its place (and an open panel stays open)
    key = st.session_state.get(NEW_KEY)
    if not key:
        return
    with slot.container(border=True):
        st.markdown(f"Class **{shown_code(code)}**: tell the students its code (it is safe to project). **Your "
                    "teacher key** is hidden: show it only where the class cannot see your screen, and write it "
                    "down: it signs you back in after a reload, and nobody can show it again.")
        if st.toggle("Show the teacher key", key="teacher-key-show", help="Not while the screen is projected."):
            st.code(key, language=None)
        st.button("I have written it down", key="teacher-key-noted", on_click=_forget_new_key)


def _forget_new_key() -> None:
    st.session_state.pop(NEW_KEY, None)
    st.session_state.pop("teacher-key-show", None)


def replace_key(store, code: str, key: str) -> None:
    """A new teacher key (after the old one was seen by someone): the old one stops working at once."""
    try:
        new = store.replace_key(code, key)
    except ValueError as e:
        st.session_state["flash_end"] = f"The key was not replaced: {e}."
        return
    st.session_state[TEACHER] = {"code": code, "key": new}
    st.session_state[NEW_KEY] = new


def ago(t: float) -> str:
    s = max(0, int(time.time() - t))
    return f"{s} s ago" if s < 90 else f"{s // 60} min ago"


@st.fragment(run_every=BOARD_REFRESH_S)
def roster(store, code: str) -> None:
    """The live roster: one row per student (read from their rows only: no model is loaded)."""
    try:
        rows = store.roster(code)
    except ValueError as e:
        st.warning(f"{e}.")
        return
    stuck = [r for r in rows if r["stuck"]]
    st.markdown(f"**{len(rows)}** student(s) joined · **{len(stuck)}** stuck"
                + "".join(f"  \n:material/warning: **{md_text(r['name'])}**: {md_text(r['stuck'])}" for r in stuck))
    if not rows:
        st.info(f"Nobody yet. Students type **{shown_code(code)}** and their name in *Join your class* (on Start or "
                "in the sidebar). This roster refreshes itself every few seconds.")
        return
    st.dataframe([{"name": r["name"], "stuck": ("⚠ " + r["stuck"]) if r["stuck"] else "", "page": r["page"],
                   "model": r["model"], "parameters": r["params"], "runs": r["runs"], "last run": r["run_state"],
                   "path": r.get("path", ""),
                   "best test accuracy": None if r["best_accuracy"] is None else round(100 * r["best_accuracy"], 2),
                   "last progress": ago(r["progress_at"]), "last seen": ago(r["seen"])} for r in rows],
                 hide_index=True, key="teacher-roster",
                 column_config={"best test accuracy": st.column_config.NumberColumn(format="%.2f %%"),
                                "parameters": st.column_config.NumberColumn(format="localized")})
    st.download_button("Export the roster and results (CSV)", data=lambda: roster_csv(store.roster(code)),
                       file_name=f"class-{shown_code(code)}.csv", mime="text/csv", icon=":material/download:",
                       on_click="ignore", key="teacher-csv")


def steer(store, code: str, key: str) -> None:
    """Bring everyone to a page, pause the class with a message, push a lesson file."""
    state = store.class_state(code)
    if done := st.session_state.pop(DONE, None):
        st.success(done)
    c1, c2 = st.columns(2)
    with c1.container(border=True):
        page = st.selectbox("Bring everyone to", STEER_PAGES, index=STEER_PAGES.index("Draw a digit"), key="steer-page")
        if st.button("Bring everyone here", icon=":material/near_me:", key="steer-go"):
            act(lambda: store.steer(code, key, page=page), f"Every student's app goes to **{page}** now.")
    with c2.container(border=True):
        if state is not None and state.paused:
            st.markdown(f"**Paused**: “{md_text(state.paused)}”")
            if st.button("Resume the class", icon=":material/play_arrow:", type="primary", key="steer-resume"):
                act(lambda: store.steer(code, key, resume=True), "The class carries on.")
        else:
            message = st.text_input("Message while paused", key="steer-message", max_chars=MAX_MESSAGE,
                                    placeholder="Eyes to the front: we look at one model together.")
            if st.button("Pause the class", icon=":material/pause:", key="steer-pause"):
                act(lambda: store.steer(code, key, pause=message), "Paused: Train and the experiments wait.")
    with st.container(border=True):
        up = st.file_uploader("Push a lesson file to the class (its dataset, model, settings and hidden pages)",
                              type=["json"], key="steer-lesson")
        if up is not None and st.button("Push it to every student", icon=":material/send:", key="steer-push"):
            act(lambda: store.steer(code, key, lesson=_checked_lesson(up.getvalue())),
                "Pushed: every student's app opens the lesson within a few seconds.")


def _checked_lesson(data: bytes) -> str:
    lesson = parse_lesson(data)
    if lesson.dataset not in DATASETS:
        raise ValueError(f"this lesson uses {lesson.dataset!r}, which is not a dataset of this server; a class's "
                         "lesson uses a built-in one")
    return data.decode()


DONE = "teacher_done"  # what the last steering click did, shown after the page redraws with its effect


def names(store, code: str, key: str) -> None:
    """Take a name off the roster, or rename a student (a name that should not be there, or a typo)."""
    with st.expander("Remove or rename a student"):
        students = [r["name"] for r in store.roster(code)]
        if not students:
            st.caption("Nobody has joined yet.")
            return
        who = st.selectbox("Student", students, key="names-who")
        new = st.text_input("New name", max_chars=MAX_CLASS_NAME, key="names-new")
        with st.container(horizontal=True):
            if st.button("Rename", icon=":material/edit:", key="names-rename", disabled=not new.strip()):
                act(lambda: store.rename_student(code, key, who, new), f"**{md_text(who)}** is now "
                    f"**{md_text(new.strip())}** on the roster.")
            if st.button("Remove from the roster", icon=":material/person_remove:", key="names-remove"):
                act(lambda: store.remove_student(code, key, who), f"**{md_text(who)}** is off the roster; their "
                    "own work stays theirs, and they may join again.")


def act(fn, done: str) -> None:
    try:
        fn()
    except ValueError as e:
        st.error(f"Not done: {e}.")
        return
    st.session_state[DONE] = done
    st.rerun()


def look_at(store, code: str, key: str) -> None:
    """A student's current model, read-only: kernels, feature maps, confusion matrix. Their workspace is untouched."""
    names = [r["name"] for r in store.roster(code)]
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    name = c1.selectbox("Student", names, key="look-student", index=None, placeholder="Pick a student")
    if name is None or not c2.button("Look", icon=":material/visibility:", key="look-go"):
        if LOOK in st.session_state and st.session_state[LOOK][0] == name:
            _show_model(*st.session_state[LOOK][1:])
        return
    try:
        ws_id = store.student_workspace(code, key, name)
        ws = Workspace()
        if ws_id is None or store.load(ws_id, ws) is None or ws.entry() is None:
            st.info(f"**{md_text(name)}** has no saved model yet.")
            return
        ds = store.class_state(code).dataset
    except (ValueError, AttributeError) as e:
        st.error(f"Cannot look: {e}.")
        return
    entry, data = ws.entry(), get_dataset(ds)
    cm = None
    model = entry.inference_model()
    if list(entry.spec["input_shape"]) == data.input_shape and inference_seconds(
            model, data.input_shape, len(data.test_y)) <= INLINE_PREDICT_S:  # measured once, at the click
        probs = predict_proba(model, data.test_x, data.mean, data.std)
        cm = confusion_matrix(data.test_y, probs.argmax(1), list(data.classes))
    st.session_state[LOOK] = (name, entry, data, cm)
    _show_model(entry, data, cm)


def _show_model(entry, ds, cm) -> None:
    model = entry.inference_model()
    st.markdown(f"**{md_text(entry.name)}** · {entry.params:,} parameters · read-only: the student's work is untouched")
    if cm is None and list(entry.spec["input_shape"]) == ds.input_shape:
        st.caption("This model is large: its confusion matrix is not measured here, so that the console stays quick "
                   "for the class (the student's own **Confusion matrix** page measures it).")
    elif cm is None:
        st.caption(f"This model reads {entry.spec['input_shape']} inputs, not {ds.name}'s images.")
        return
    k, f, c = st.tabs(["Kernels", "Feature maps", "Confusion matrix"])
    convs = conv_layers(model)
    if convs:
        w = kernels(model, convs[0][0])
        k.image(kernel_mosaic(w, "shared", cell=56), alt=describe_kernels(w, convs[0][0]),
                caption=f"layer {convs[0][0]}, the first convolution")
    else:
        k.caption("No convolution layer.")
    with f:
        layer_strip(model, capture_activations(model, normalize(ds.test_x[:1], ds.mean, ds.std)))
    c.plotly_chart(confusion_heatmap(cm.matrix, list(ds.classes), height=460), key="look-cm",
                   alt=describe_confusion(cm.matrix, ds.classes))
    c.caption(f"Test accuracy measured now: {cm.accuracy:.2%}")


def end_class(store, code: str, key: str) -> None:
    st.markdown("#### End the class")
    with st.container(border=True):
        st.caption("Deletes the roster (the students' names), the class's drawings and its board. Each student keeps "
                   "their own work under their own link.")
        sure = st.checkbox(f"Yes, end class {shown_code(code)} and delete its names, drawings and board",
                           key="end-sure")
        if st.button("End the class", disabled=not sure, type="primary", key="end-go"):
            try:
                receipt = store.end_class_receipt(code, key)
            except ValueError as e:
                st.error(f"Not ended: {e}.")
                return
            st.session_state.pop(TEACHER, None)
            n = receipt.counts["students' names"]
            st.session_state["flash_end"] = (f"Class {shown_code(code)} ended: {n} student(s)' names were deleted.",
                                             f"Class {shown_code(code)}\n" + receipt.text())
            st.rerun()


st.title("Teacher")
store = workspace_store()
if store is None:
    st.warning("The teacher's console needs the workspace database, which this server could not open.")
    st.stop()
def data_pack_panel() -> None:
    """What the app keeps about the students, written from this server's own settings."""
    from explorer.serve import data_pack

    with st.expander("What the app keeps about your students (the data pack)", icon=":material/privacy_tip:"):
        pack = data_pack()
        st.markdown(pack)
        st.download_button("Download the data pack", pack, file_name="cnn-explorer-data-pack.md",
                           icon=":material/download:")


if ended := st.session_state.pop("flash_end", None):
    st.success(ended[0])
    st.code(ended[1], language=None)
    st.download_button("Download the deletion receipt", ended[1], file_name="class-deletion-receipt.txt",
                       icon=":material/receipt_long:")
data_pack_panel()
teacher = st.session_state.get(TEACHER)
if not teacher or not store.is_teacher(teacher["code"], teacher["key"]):
    st.session_state.pop(TEACHER, None)
    sign_in(store)
    st.stop()
code, key = teacher["code"], teacher["key"]
state = store.class_state(code)
head, out = st.columns([5, 1], vertical_alignment="bottom")
head.subheader(f"Class {shown_code(code)}")
head.caption(f"Dataset **{state.dataset}** · ends at {time.strftime('%H:%M', time.localtime(state.expires))}")
with out:
    st.button("Sign out", key="teacher-out", on_click=st.session_state.pop, args=(TEACHER,))
    st.button("New key", key="teacher-new-key", on_click=replace_key, args=(store, code, key),
              help="Replaces the teacher key (if a student saw it): the old one stops working at once.")
new_key_once(code)
roster(store, code)
names(store, code, key)
st.markdown("#### Steer the class")
steer(store, code, key)
st.markdown("#### Look at a student's model")
look_at(store, code, key)
end_class(store, code, key)
