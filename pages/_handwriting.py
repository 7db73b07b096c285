"""Can we trust it? Its fifth section, the class's own handwriting: how much a model loses on new writers (the
class's digits drawn on Draw), a copy fine-tuned on half of them, stump the model, and the teacher's removal of a
digit from the set."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st

from explorer.core import MAX_CLASS_NAME, confusion_matrix
from explorer.interpret import finetune_on_handwriting, handwriting_report, stump_scores
from explorer.plots import confusion_heatmap, describe_confusion, describe_image, describe_images, framed, image_grid
from explorer.serve import shown_code
from pages._class import class_code as class_code_of_session
from pages._guide import did
from pages._jobs import job_panel, job_running
from pages._keys import TEACHER
from pages._lang import fixed_labels, reason, tr, translate
from pages._server import workspace_store
from pages._state import start_job

if TYPE_CHECKING:
    from explorer import Dataset

__all__ = ["handwriting_section"]

TUNE_JOB = "trust_tune_job"  # fine-tuning a copy on the class's handwriting, a job in a worker


def stump_panel(store: object, code: str, ours: dict, answers) -> None:
    """Stump the model: a point for each digit a classmate confirmed as legible that the model misreads."""
    t = translate()
    st.markdown(
        tr(
            "**Stump the model.** A point for each of your digits that a classmate confirms as legible and the "
            "model still gets wrong."
        )
    )
    left, right = st.columns([2, 3])
    with left:
        who = st.text_input(tr("Your name"), key="stump_name", max_chars=MAX_CLASS_NAME)
        others = [
            i
            for i, (a, ok) in enumerate(zip(ours["authors"], ours["confirmed_by"]))
            if ok is None and a.casefold() != who.strip().casefold()
        ]
        if who.strip() and others:
            pick = st.selectbox(
                tr("A classmate's digit"),
                others,
                key="stump_pick",
                format_func=fixed_labels(
                    lambda i: tr(
                        "#{id}: drawn as a {digit} by {name}",
                        id=ours["ids"][i],
                        digit=int(ours["y"][i]),
                        name=ours["authors"][i],
                    )
                ),
            )
            st.image(
                framed(ours["x"][pick], 84),
                alt=describe_image(ours["x"][pick], tr("a classmate's {digit}", digit=int(ours["y"][pick])), tr=t),
            )
            if st.button(tr("I can read it as a {digit}", digit=int(ours["y"][pick])), key="stump_confirm"):
                try:
                    store.confirm_digit(code, ours["ids"][pick], who)
                    st.rerun()
                except ValueError as e:
                    st.error(reason(e))
        elif who.strip():
            st.caption(tr("No classmate's digit waits for a confirmation."))
    right.dataframe(
        stump_scores(ours["y"], answers, ours["authors"], ours["confirmed_by"]),
        hide_index=True,
        column_config={"name": tr("name"), "points": tr("points")},
    )


def handwriting_shift(ours: dict, model: Any, ds: Dataset, test_answers: Any) -> dict:
    """The model on MNIST's writers and on ours, class by class, and the digits it gets wrong; returns the report."""
    t = translate()
    rep = handwriting_report(model, ds, ours["x"], ours["y"], test_answers)  # the page's cached answers
    h = st.columns(3)
    h[0].metric(tr("Digits the class drew"), t.number(len(ours["ids"])))
    h[1].metric(tr("Right on the test images of {dataset}", dataset=ds.name), t.percent(rep["test_accuracy"]))
    gap = (rep["ours_accuracy"] - rep["test_accuracy"]) * 100
    h[2].metric(
        tr("Right on our handwriting"),
        t.percent(rep["ours_accuracy"]),
        delta=tr("{n} points", n=("+" if gap >= 0 else "-") + t.number(abs(gap), 1)),
    )  # the sign: its arrow
    wrong = rep["wrong"][:24]
    left, right = st.columns([2, 3])
    shift = confusion_matrix(ours["y"], rep["answers"], list(ds.classes)).matrix
    left.plotly_chart(
        confusion_heatmap(shift, ds.classes, tr=t), key="trust-ours-cm", alt=describe_confusion(shift, ds.classes, tr=t)
    )
    left.caption(tr("The shift, class by class: rows are what the class drew, columns what the model said."))
    if wrong:
        right.image(
            image_grid(ours["x"][wrong], ncols=min(8, len(wrong)), scale=2),
            alt=describe_images(
                ours["x"][wrong],
                tr("digits of the class it gets wrong"),
                [
                    tr("{digit} read as {said}", digit=int(ours["y"][i]), said=ds.classes[int(rep["answers"][i])])
                    for i in wrong
                ],
                tr=t,
            ),
            caption=tr("The class's digits it gets wrong, and what it said:")
            + " "
            + " · ".join(f"{int(ours['y'][i])}→{ds.classes[int(rep['answers'][i])]}" for i in wrong),
        )
    return rep


def finetune_panel(ours: dict, model: Any, ds: Dataset) -> None:
    """Fine-tune a copy on half of the class's digits, in a worker; judged on the other half."""
    t = translate()

    def _finetune() -> None:
        import copy

        start_job(
            TUNE_JOB, "finetune", finetune_on_handwriting, copy.deepcopy(model), ds, ours["x"].clone(), ours["y"].clone()
        )

    tune = st.session_state.get(TUNE_JOB)
    tuning = job_running(tune)
    st.button(
        tr("Fine-tune a copy on half of our handwriting, test on the other half"),
        key="trust_tune",
        on_click=_finetune,
        disabled=tuning or len(ours["ids"]) < 4,
    )

    def tune_result(job) -> None:  # noqa: ANN001 - the finished Job
        r = job.result
        st.dataframe(
            [
                {"model": name, "ours": t.percent(r[key]["ours_accuracy"]), "test": t.percent(r[key]["test_accuracy"])}
                for name, key in ((tr("before"), "before"), (tr("fine-tuned"), "after"))
            ],
            hide_index=True,
            column_config={
                "model": tr("model"),
                "ours": tr("our handwriting (held out)"),
                "test": tr("{dataset} test", dataset=ds.name),
            },
        )
        st.caption(
            tr(
                "Trained on {n} of the class's digits, judged on the other {k}. If the test score falls while "
                "ours rises, the copy forgot MNIST's writers while it learned ours: mixing both in training "
                "avoids that.",
                n=r["trained_on"],
                k=r["held_out"],
            )
        )

    job_panel(lambda: st.session_state.get(TUNE_JOB), tr("Fine-tuning"), tune_result)


def remove_digit_panel(store: object, class_code: str, ours: dict) -> None:
    """For the class's teacher (signed in on the Teacher page): take a digit out of the class's set."""
    t = translate()
    key = (st.session_state.get(TEACHER) or {}).get("key") if class_code_of_session() == class_code else None
    if not key:
        return
    with st.expander(tr("Teacher: remove a digit from the class's set")):
        if key:
            pick = st.selectbox(
                tr("Digit"),
                list(range(len(ours["ids"]))),
                key="digits_pick",
                format_func=fixed_labels(
                    lambda i: tr(
                        "#{id}: a {digit} by {name}", id=ours["ids"][i], digit=int(ours["y"][i]), name=ours["authors"][i]
                    )
                ),
            )
            st.image(
                framed(ours["x"][pick], 84),
                alt=describe_image(ours["x"][pick], tr("digit #{id}", id=ours["ids"][pick]), tr=t),
            )
            if st.button(tr("Remove it"), key="digits_remove"):
                try:
                    store.remove_digit(class_code, key, ours["ids"][pick])
                except ValueError as e:
                    st.error(tr("Not removed: {error}.", error=reason(e)))
                    return
                st.rerun()


def handwriting_section(class_code: str, ours: dict, model: Any, ds: Dataset, test_answers: Any) -> None:
    """The class's own digits: how much ``model`` (whose answers on ``ds``'s test images are ``test_answers``)
    loses on new writers, fine-tuning a copy, stump the model."""
    st.subheader(tr("5. Our class's handwriting"))
    st.caption(
        tr(
            "The digits the class **{code}** drew on **{draw}** (*{add}*). A model trained on MNIST's writers "
            "meets new writers here: how much does it lose?",
            code=shown_code(class_code),
            draw=tr("Draw a digit"),
            add=tr("Add this drawing to our class's handwriting ({code})", code=shown_code(class_code)),
        )
    )
    if not len(ours["ids"]):
        st.info(
            tr(
                "No digits yet: draw one on **{draw}** and add it, and ask the class to do the same.",
                draw=tr("Draw a digit"),
            )
        )
        return
    rep = handwriting_shift(ours, model, ds, test_answers)
    did("trust:handwriting")  # the guided path: the model on the class's own digits, read
    finetune_panel(ours, model, ds)
    store = workspace_store()
    stump_panel(store, class_code, ours, rep["answers"])
    remove_digit_panel(store, class_code, ours)
