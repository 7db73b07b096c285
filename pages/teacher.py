"""Teacher: make a class, see every student on a live roster, steer the class, look at a student's model, export."""

from __future__ import annotations

import time

import streamlit as st

from explorer import DATASETS, normalize
from explorer.core import (
    MAX_CLASS_NAME,
    MAX_CODE_CHARS,
    MAX_KEY_CHARS,
    MAX_LESSON_BYTES,
    MAX_MESSAGE,
    confusion_matrix,
    inference_seconds,
    predict_proba,
)
from explorer.interpret import capture_activations, conv_layers, kernels
from explorer.lessons import parse_lesson
from explorer.plots import confusion_heatmap, describe_confusion, describe_kernels, kernel_mosaic
from explorer.serve import (
    COOKIELESS,
    Workspace,
    class_hours,
    roster_csv,
    shown_code,
)
from pages._inspect import layer_strip
from pages._keys import DATASET, OWNER, PERSON, TEACHER
from pages._lang import file_upload, fixed_labels, md_text, reason, tr, translate
from pages._nav import PAGES
from pages._predict import INLINE_PREDICT_S
from pages._server import (
    BOARD_REFRESH_S,
    leave_legacy_pages_routing,
    server,
    workspace_store,
)
from pages._state import get_dataset

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py

NEW_KEY = "teacher_new_key"  # the key of the class just made: shown in the next run of the page only
LOOK = "teacher_look"  # (student, their model, the class's dataset, its confusion matrix measured at the Look)
STEER_PAGES = [t for items in PAGES.values() for f, t, _ in items if t != "Teacher"]


def knocker() -> str:
    """Who tries a teacher key, for the wait that wrong keys earn: the person; for a browser that keeps no cookie,
    this tab (every such browser shares one person: students trying keys there must not lock out a teacher there;
    the class-wide slowdown still bounds guessing from new tabs)."""
    person = st.session_state.get(PERSON, "")
    return f"{person}:{st.session_state.get(OWNER, '')}" if person == COOKIELESS else person


def sign_in(store) -> None:
    """Sign in to a class with its key, or make a new class."""
    st.caption(
        tr(
            "Your class's console: who is where, who is stuck, and one click to bring everyone to a page, "
            "pause them, or give them a lesson. Students never see this page: they join with the class code."
        )
    )
    have, make = st.tabs([tr("Sign in to my class"), tr("Make a class")])
    with have.form("teacher-sign-in"):
        code = st.text_input(tr("Class code"), placeholder=tr("e.g. {code}", code="K7M-R4Q"), max_chars=MAX_CODE_CHARS)
        key = st.text_input(tr("Teacher key"), type="password", max_chars=MAX_KEY_CHARS)
        if st.form_submit_button(tr("Sign in"), icon=":material/login:"):
            try:
                norm = store.sign_in(code, key, knocker())
                st.session_state[TEACHER] = {"code": norm, "key": key.strip()}
                st.rerun()
            except ValueError as e:
                st.error(tr("Not signed in: {reason}.", reason=reason(e)))
    with make.form("teacher-make"):
        names = list(DATASETS)
        current = st.session_state.get(DATASET)
        dataset = st.selectbox(
            tr("The class's dataset"),
            names,
            index=names.index(current) if current in names else 0,
            help=tr("The board and the roster's best accuracy count runs on this dataset only."),
        )
        wanted = server().school_password()
        password = (
            st.text_input(
                tr("School password"),
                type="password",
                max_chars=MAX_KEY_CHARS,
                help=tr(
                    "Whoever started this app has it: it is shown where the app was started, or set by your school's "
                    "administrator. It keeps students from making look-alike classes."
                ),
            )
            if wanted
            else ""
        )
        if st.form_submit_button(tr("Make a class"), icon=":material/add:", type="primary"):
            try:
                code, key = store.create_class(dataset, password, who=st.session_state.get(PERSON, ""), wanted=wanted)
            except ValueError as e:
                st.error(tr("No class made: {reason}.", reason=reason(e)))
                return
            st.session_state[TEACHER] = {"code": code, "key": key}
            st.session_state[NEW_KEY] = key
            st.rerun()
    st.caption(
        tr(
            "A class lasts {hours} hours (the server's `EXPLORER_CLASS_HOURS`); then its roster, drawings and "
            "board are deleted.",
            hours=f"{class_hours():g}",
        )
    )


def new_key_once(code: str) -> None:
    """The key of the class just made (or just replaced), hidden until Show, until the teacher says it is written
    down: then nobody can show it again."""
    slot = st.container()  # always there, so that what follows keeps its place (and an open panel stays open)
    key = st.session_state.get(NEW_KEY)
    if not key:
        return
    with slot.container(border=True):
        st.markdown(
            tr(
                "Class **{code}**: tell the students its code (it is safe to project). **Your teacher key** "
                "is hidden: show it only where the class cannot see your screen, and write it down: it signs "
                "you back in after a reload, and nobody can show it again.",
                code=shown_code(code),
            )
        )
        if st.toggle(tr("Show the teacher key"), key="teacher-key-show", help=tr("Not while the screen is projected.")):
            st.code(key, language=None)
        st.button(tr("I have written it down"), key="teacher-key-noted", on_click=_forget_new_key)


def _forget_new_key() -> None:
    st.session_state.pop(NEW_KEY, None)
    st.session_state.pop("teacher-key-show", None)


def replace_key(store, code: str, key: str) -> None:
    """A new teacher key (after the old one was seen by someone): the old one stops working at once."""
    try:
        new = store.replace_key(code, key)
    except ValueError as e:
        st.session_state["flash_end"] = tr("The key was not replaced: {reason}.", reason=reason(e))
        return
    st.session_state[TEACHER] = {"code": code, "key": new}
    st.session_state[NEW_KEY] = new


def ago(t: float) -> str:
    s = max(0, int(time.time() - t))
    return tr("{s} s ago", s=s) if s < 90 else tr("{m} min ago", m=s // 60)


@st.fragment(run_every=BOARD_REFRESH_S)
def roster(store, code: str) -> None:
    """The live roster: one row per student (read from their rows only: no model is loaded)."""
    try:
        rows = store.roster(code)
    except ValueError as e:
        st.warning(tr("{error}.", error=reason(e)))
        return
    stuck = [r for r in rows if r["stuck"]]
    st.markdown(
        tr("**{n}** student(s) joined · **{stuck}** stuck", n=len(rows), stuck=len(stuck))
        + "".join(f"  \n:material/warning: **{md_text(r['name'])}**: {md_text(r['stuck'])}" for r in stuck)
    )
    if not rows:
        st.info(
            tr(
                "Nobody yet. Students type **{code}** and their name in *Join your class* (on Start or in the "
                "sidebar). This roster refreshes itself every few seconds.",
                code=shown_code(code),
            )
        )
        return
    best, params = tr("best test accuracy"), tr("parameters")
    st.dataframe(
        [
            {
                tr("name"): r["name"],
                tr("stuck"): ("⚠ " + r["stuck"]) if r["stuck"] else "",
                tr("page"): tr(r["page"]) if r["page"] else "",
                tr("model"): r["model"],
                params: r["params"] if r["model"] else None,  # no model yet: nothing to count
                tr("runs"): r["runs"],
                tr("last run"): r["run_state"],
                tr("path"): r.get("path", ""),
                best: None if r["best_accuracy"] is None else round(100 * r["best_accuracy"], 2),
                tr("last progress"): ago(r["progress_at"]),
                tr("last seen"): ago(r["seen"]),
            }
            for r in rows
        ],
        hide_index=True,
        placeholder="",  # nothing yet (no model, no run): an empty cell, not the word None
        key="teacher-roster",
        column_config={
            best: st.column_config.NumberColumn(format="%.2f %%"),
            params: st.column_config.NumberColumn(format="localized"),
        },
    )
    st.download_button(
        tr("Export the roster and results (CSV)"),
        data=lambda: roster_csv(store.roster(code)),
        file_name=f"class-{shown_code(code)}.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
        key="teacher-csv",
    )


def steer(store, code: str, key: str) -> None:
    """Bring everyone to a page, pause the class with a message, push a lesson file."""
    state = store.class_state(code)
    if done := st.session_state.pop(DONE, None):
        st.success(done)
    c1, c2 = st.columns(2)
    with c1.container(border=True):
        page = st.selectbox(
            tr("Bring everyone to"),
            STEER_PAGES,
            index=STEER_PAGES.index("Draw a digit"),
            format_func=fixed_labels(tr),
            key="steer-page",
        )  # each student's app shows it in their language
        if st.button(tr("Bring everyone here"), icon=":material/near_me:", key="steer-go"):
            act(lambda: store.steer(code, key, page=page), tr("Every student's app goes to **{page}** now.", page=tr(page)))
    with c2.container(border=True):
        if state is not None and state.paused:
            st.markdown(tr("**Paused**: “{message}”", message=md_text(state.paused)))
            if st.button(tr("Resume the class"), icon=":material/play_arrow:", type="primary", key="steer-resume"):
                act(lambda: store.steer(code, key, resume=True), tr("The class carries on."))
        else:
            message = st.text_input(
                tr("Message while paused"),
                key="steer-message",
                max_chars=MAX_MESSAGE,
                placeholder=tr("Eyes to the front: we look at one model together."),
            )
            if st.button(tr("Pause the class"), icon=":material/pause:", key="steer-pause"):
                act(lambda: store.steer(code, key, pause=message), tr("Paused: Train and the experiments wait."))
    with st.container(border=True):
        up = file_upload(
            tr("Push a lesson file to the class (its dataset, model, settings and hidden pages)"),
            ["json"],
            "steer-lesson",
            MAX_LESSON_BYTES,
        )
        if up is not None and st.button(tr("Push it to every student"), icon=":material/send:", key="steer-push"):
            act(
                lambda: store.steer(code, key, lesson=_checked_lesson(up.getvalue())),
                tr("Pushed: every student's app opens the lesson within a few seconds."),
            )


def _checked_lesson(data: bytes) -> str:
    lesson = parse_lesson(data)
    if lesson.dataset not in DATASETS:
        raise ValueError(
            f"this lesson uses {lesson.dataset!r}, which is not a dataset of this server; a class's "
            "lesson uses a built-in one"
        )
    return data.decode()


DONE = "teacher_done"  # what the last steering click did, shown after the page redraws with its effect


def names(store, code: str, key: str) -> None:
    """Take a name off the roster, or rename a student (a name that should not be there, or a typo)."""
    with st.expander(tr("Remove or rename a student")):
        students = [r["name"] for r in store.roster(code)]
        if not students:
            st.caption(tr("Nobody has joined yet."))
            return
        who = st.selectbox(tr("Student"), students, key="names-who")
        new = st.text_input(tr("New name"), max_chars=MAX_CLASS_NAME, key="names-new")
        with st.container(horizontal=True):
            if st.button(tr("Rename"), icon=":material/edit:", key="names-rename", disabled=not new.strip()):
                act(
                    lambda: store.rename_student(code, key, who, new),
                    tr("**{old}** is now **{new}** on the roster.", old=md_text(who), new=md_text(new.strip())),
                )
            if st.button(tr("Remove from the roster"), icon=":material/person_remove:", key="names-remove"):
                act(
                    lambda: store.remove_student(code, key, who),
                    tr(
                        "**{name}** is off the roster; their own work stays theirs, and they may join again.",
                        name=md_text(who),
                    ),
                )


def act(fn, done: str) -> None:
    try:
        fn()
    except ValueError as e:
        st.error(tr("Not done: {reason}.", reason=reason(e)))
        return
    st.session_state[DONE] = done
    st.rerun()


def look_at(store, code: str, key: str) -> None:
    """A student's current model, read-only: kernels, feature maps, confusion matrix. Their workspace is untouched."""
    names = [r["name"] for r in store.roster(code)]
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    name = c1.selectbox(tr("Student"), names, key="look-student", index=None, placeholder=tr("Pick a student"))
    if name is None or not c2.button(tr("Look"), icon=":material/visibility:", key="look-go"):
        if LOOK in st.session_state and st.session_state[LOOK][0] == name:
            _show_model(*st.session_state[LOOK][1:])
        return
    try:
        ws_id = store.student_workspace(code, key, name)
        ws = Workspace()
        if ws_id is None or store.load(ws_id, ws) is None or ws.entry() is None:
            st.info(tr("**{name}** has no saved model yet.", name=md_text(name)))
            return
        ds = store.class_state(code).dataset
    except (ValueError, AttributeError) as e:
        st.error(tr("Cannot look: {reason}.", reason=reason(e)))
        return
    entry, data = ws.entry(), get_dataset(ds)
    cm = None
    model = entry.inference_model()
    if (
        list(entry.spec["input_shape"]) == data.input_shape
        and inference_seconds(model, data.input_shape, len(data.test_y)) <= INLINE_PREDICT_S
    ):  # measured once, at the click
        probs = predict_proba(model, data.test_x, data.mean, data.std)
        cm = confusion_matrix(data.test_y, probs.argmax(1), list(data.classes))
    st.session_state[LOOK] = (name, entry, data, cm)
    _show_model(entry, data, cm)


def _show_model(entry, ds, cm) -> None:
    model = entry.inference_model()
    st.markdown(
        tr(
            "**{model}** · {params} parameters · read-only: the student's work is untouched",
            model=md_text(entry.name),
            params=translate().number(entry.params),
        )
    )
    if cm is None and list(entry.spec["input_shape"]) == ds.input_shape:
        st.caption(
            tr(
                "This model is large: its confusion matrix is not measured here, so that the console stays "
                "quick for the class (the student's own **Confusion matrix** page measures it)."
            )
        )
    elif cm is None:
        st.caption(
            tr("This model reads {shape} inputs, not {dataset}'s images.", shape=entry.spec["input_shape"], dataset=ds.name)
        )
        return
    k, f, c = st.tabs([tr("Kernels"), tr("Feature maps"), tr("Confusion matrix")])
    convs = conv_layers(model)
    if convs:
        w = kernels(model, convs[0][0])
        k.image(
            kernel_mosaic(w, "shared", cell=56),
            alt=describe_kernels(w, convs[0][0]),
            caption=tr("layer {layer}, the first convolution", layer=convs[0][0]),
        )
    else:
        k.caption(tr("No convolution layer."))
    with f:
        layer_strip(model, capture_activations(model, normalize(ds.test_x[:1], ds.mean, ds.std)))
    c.plotly_chart(
        confusion_heatmap(cm.matrix, list(ds.classes), height=460, tr=translate()),
        key="look-cm",
        alt=describe_confusion(cm.matrix, ds.classes),
    )
    c.caption(tr("Test accuracy measured now: {acc}", acc=translate().percent(cm.accuracy, 2)))


def end_class(store, code: str, key: str) -> None:
    st.markdown("#### " + tr("End the class"))
    with st.container(border=True):
        st.caption(
            tr(
                "Deletes the roster (the students' names), the class's drawings and its board. Each student "
                "keeps their own work under their own link."
            )
        )
        sure = st.checkbox(
            tr("Yes, end class {code} and delete its names, drawings and board", code=shown_code(code)), key="end-sure"
        )
        if st.button(tr("End the class"), disabled=not sure, type="primary", key="end-go"):
            try:
                receipt = store.end_class_receipt(code, key)
            except ValueError as e:
                st.error(tr("Not ended: {reason}.", reason=reason(e)))
                return
            st.session_state.pop(TEACHER, None)
            n = receipt.counts["students' names"]
            st.session_state["flash_end"] = (
                tr("Class {code} ended: {n} student(s)' names were deleted.", code=shown_code(code), n=n),
                tr("Class {code}", code=shown_code(code)) + "\n" + receipt.text(translate()),
            )
            st.rerun()


st.title(tr("Teacher"))
store = workspace_store()
if store is None:
    st.warning(tr("The teacher's console needs the workspace database, which this server could not open."))
    st.stop()


def data_pack_panel() -> None:
    """What the app keeps about the students, written from this server's own settings."""
    from explorer.serve import data_pack

    with st.expander(tr("What the app keeps about your students (the data pack)"), icon=":material/privacy_tip:"):
        pack = data_pack()
        st.markdown(pack)
        st.download_button(
            tr("Download the data pack"), pack, file_name="cnn-explorer-data-pack.md", icon=":material/download:"
        )


if ended := st.session_state.pop("flash_end", None):
    st.success(ended[0])
    st.code(ended[1], language=None)
    st.download_button(
        tr("Download the deletion receipt"), ended[1], file_name="class-deletion-receipt.txt", icon=":material/receipt_long:"
    )
data_pack_panel()
teacher = st.session_state.get(TEACHER)
if not teacher or not store.is_teacher(teacher["code"], teacher["key"]):
    st.session_state.pop(TEACHER, None)
    sign_in(store)
    st.stop()
code, key = teacher["code"], teacher["key"]
state = store.class_state(code)
head, out = st.columns([5, 1], vertical_alignment="bottom")
head.subheader(tr("Class {code}", code=shown_code(code)))
head.caption(
    tr(
        "Dataset **{dataset}** · ends at {time}",
        dataset=state.dataset,
        time=time.strftime("%H:%M", time.localtime(state.expires)),
    )
)
with out:
    st.button(tr("Sign out"), key="teacher-out", on_click=st.session_state.pop, args=(TEACHER,))
    st.button(
        tr("New key"),
        key="teacher-new-key",
        on_click=replace_key,
        args=(store, code, key),
        help=tr("Replaces the teacher key (if a student saw it): the old one stops working at once."),
    )
new_key_once(code)
roster(store, code)
names(store, code, key)
st.markdown("#### " + tr("Steer the class"))
steer(store, code, key)
st.markdown("#### " + tr("Look at a student's model"))
look_at(store, code, key)
end_class(store, code, key)
