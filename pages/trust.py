"""Can we trust it? "I don't know" below a confidence threshold, what the model says about things that are not
digits, and how little it takes to fool it."""

from __future__ import annotations

import streamlit as st

from explorer.core import augment_active, predict_proba
from explorer.interpret import (
    ATTACKS,
    NOT_A_DIGIT,
    attack_outcome,
    calibration_sentence,
    calibration_table,
    coverage_curve,
    fooling_table,
    odd_answers,
    reject_class_experiment,
    reject_conclusion,
    reject_model_name,
    split_class_drawings,
)
from explorer.lessons import reveal
from explorer.plots import (
    colorize,
    coverage_figure,
    describe_coverage,
    describe_image,
    describe_images,
    framed,
    image_grid,
    upscale,
    where,
)
from pages._class import class_code as class_code_of_session
from pages._guide import did
from pages._handwriting import handwriting_section
from pages._inspect import input_picker, inspect_context
from pages._jobs import job_panel, job_running
from pages._keys import CONFIDENCE, DEFAULT_CONFIDENCE, LESSON
from pages._lang import reason, tr, translate
from pages._predict import cached_predictions
from pages._server import (
    leave_legacy_pages_routing,
    workspace_store,
)
from pages._state import get_dataset, start_job, workspace

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py

FOOLED = "trust_fooled"  # which image the last "smallest eps" search was for
FOOL_JOB = "trust_fool_job"  # the search, a job in a worker
REJECT_JOB = "trust_reject_job"  # the same network trained with a "not a digit" class, a job in a worker
st.title(tr("Can we trust it?"))
t = translate()
ctx = inspect_context()
if ctx is None:
    st.stop()
entry, model, ds = ctx
probs = cached_predictions(entry, model, ds, "test")


def answer(p, threshold: float) -> str:
    top = int(p.argmax())
    sure = float(p[top])
    return (
        tr("not sure ({cls}? {p})", cls=ds.classes[top], p=t.percent(sure, 0))
        if sure < threshold
        else f"{ds.classes[top]} · {t.percent(sure, 0)}"
    )


def class_set(code: str) -> dict | None:
    """The class's drawings (digits, and with NOT_A_DIGIT_LABEL letters and doodles), or None without a database."""
    store = workspace_store()
    return store.class_digits(code) if store is not None else None


def reject_result(job) -> None:  # noqa: ANN001 - the finished Job
    """The two networks side by side: test accuracy, non-digits turned away, non-digits called a digit."""
    r = job.result
    acc, wrong = f"{ds.name} test accuracy", f"non-digits called a digit at ≥ {r['threshold']:.0%}"
    st.dataframe(
        [
            {
                "model": reject_model_name(name, t),
                acc: t.percent(m["test_accuracy"]),
                "non-digits turned away": t.percent(m["turned_away"], 0),
                wrong: t.percent(m["confidently_wrong"], 0),
            }
            for name, m in r["models"].items()
        ],
        hide_index=True,
        column_config={
            "model": tr("model"),
            acc: tr("{dataset} test accuracy", dataset=ds.name),
            "non-digits turned away": tr("non-digits turned away"),
            wrong: tr("non-digits called a digit at ≥ {p}", p=t.percent(r["threshold"], 0)),
        },
    )
    st.caption(
        tr("“Turned away”: answered “{name}” or less sure than the threshold.", name=tr(NOT_A_DIGIT))
        + " "
        + reject_conclusion(r, tr=t)
    )
    did("trust:reject")  # the guided path: the comparison with an extra class, read


def reject_panel(letters) -> None:
    """Train the same network with an extra class, "not a digit", and compare it with the plain one."""

    def _start() -> None:
        import copy

        start_job(
            REJECT_JOB,
            "reject",
            reject_class_experiment,
            copy.deepcopy(entry.spec),
            ds,
            letters.clone() if len(letters) else None,
            epochs=2,
            threshold=float(st.session_state.get(CONFIDENCE, DEFAULT_CONFIDENCE)),
        )

    job = st.session_state.get(REJECT_JOB)
    busy = job_running(job)
    st.button(
        tr("Train it again with an extra class, “{name}”, and compare", name=tr(NOT_A_DIGIT)),
        key="trust_reject",
        on_click=_start,
        disabled=busy,
        icon=":material/block:",
        help=tr(
            "Two copies of this network, 2 epochs each: one on the digits, one on the digits plus made-up "
            "non-digits (noise, scribbles, patterns, boxes, inverted digits, and half of the class's {n} "
            "letters and doodles). Both are judged on non-digits neither has seen.",
            n=len(letters),
        )
        if len(letters)
        else tr(
            "Two copies of this network, 2 epochs each: one on the digits, one on the digits plus made-up "
            "non-digits (noise, scribbles, patterns, boxes, inverted digits). Both are judged on non-digits "
            "neither has seen."
        ),
    )

    job_panel(lambda: st.session_state.get(REJECT_JOB), tr("Training both"), reject_result)


def threshold_section() -> float:
    """Coverage against accuracy as the confidence threshold moves; returns the threshold."""
    st.subheader(tr("1. When it should say “I don't know”"))
    st.caption(
        tr(
            "The model's last layer gives one score per class; softmax turns the scores into probabilities that "
            "add up to 100%, and the largest is its confidence. A classifier always picks one of its classes. A "
            "threshold lets it say *not sure* instead: it answers fewer images, and is right more often on "
            "those it answers. **{draw}** uses the same threshold.",
            draw=tr("Draw a digit"),
        )
    )
    left, right = st.columns([3, 2])
    threshold = left.slider(
        tr("Answer only when at least this sure"),
        0.0,
        0.99,
        float(st.session_state.get(CONFIDENCE, DEFAULT_CONFIDENCE)),
        0.01,
        key="trust_threshold",
        on_change=did,
        args=("trust:threshold",),
    )  # the guided path: the threshold, moved
    st.session_state[CONFIDENCE] = threshold
    curve = coverage_curve(probs, ds.test_y)
    left.plotly_chart(
        coverage_figure(curve, threshold, tr=t), key="trust-coverage", alt=describe_coverage(curve, threshold, tr=t)
    )
    now = coverage_curve(probs, ds.test_y, [threshold])[0]
    right.metric(tr("Answers (share of the test images)"), t.percent(now.coverage))
    right.metric(tr("Right, among those answered"), t.percent(now.accuracy, 2))
    right.metric(tr("Says “not sure” (test images)"), t.number(len(ds.test_y) - now.answered))
    right.caption(
        tr(
            "With no threshold it answers everything and is right {acc} of the time. Each point of accuracy "
            "gained costs answers: which trade is right depends on what a wrong answer costs.",
            acc=t.percent(curve[0].accuracy),
        )
    )
    calibration = calibration_table(probs, ds.test_y)
    st.markdown(tr("**How often is it right when it says it is this sure?**"))
    st.dataframe(
        [
            {
                "confidence": f"{t.percent(r.low, 0)}–{t.percent(r.high, 0)}",
                "test images": r.images,
                "right": "—" if r.images == 0 else t.percent(r.right),
            }
            for r in calibration
        ],
        hide_index=True,
        column_config={"confidence": tr("confidence"), "test images": tr("test images"), "right": tr("right")},
    )
    st.caption(calibration_sentence(calibration, tr=t))
    return threshold


def odd_section(threshold: float, letters) -> None:
    """What the model says about things that are none of its classes, and a class of its own for them."""
    st.subheader(
        tr("2. Things that are not digits") if ds.input_shape[0] == 1 else tr("2. Things that are none of its classes")
    )
    st.caption(
        tr(
            "None of these is any of the model's classes, yet it must pick one. Look at how sure it is: a high "
            "confidence here is why a threshold alone is not enough, and why some models get a class of their "
            "own for “none of these”."
        )
    )
    odd = odd_answers(model, ds.test_x[0], ds.mean, ds.std)
    cols = st.columns(len(odd))
    for col, (name, img, p) in zip(cols, odd):
        col.image(
            framed(img, 96),
            width=96,
            caption=f"{tr(name)}: {answer(p, threshold)}",
            alt=describe_image(img, tr("{name}, not a digit", name=tr(name)), tr=t),
        )
    if len(letters):
        st.markdown(
            tr(
                "**Letters and doodles the class drew** ({n}; on **{draw}**: *It is a → {name}*)",
                n=len(letters),
                draw=tr("Draw a digit"),
                name=tr(NOT_A_DIGIT),
            )
        )
        shown = letters[-8:]
        cols = st.columns(len(shown))
        for col, img, p in zip(cols, shown, predict_proba(model, shown, ds.mean, ds.std)):
            col.image(
                framed(img, 96),
                width=96,
                caption=answer(p, threshold),
                alt=describe_image(img, tr("a letter or doodle the class drew"), tr=t),
            )
    reject_panel(letters)


def attack_section() -> None:
    """One image attacked with FGSM or PGD at the chosen ε, and the search for the smallest ε per model."""
    st.subheader(tr("3. Fooling the model"))
    st.caption(
        tr(
            "An attacker moves every pixel a little (at most ε of its range) in the direction that most hurts "
            "the model's answer. FGSM takes one step; PGD takes ten smaller ones and is stronger. On small "
            "digits the change can be seen, yet a person still reads the same digit and the model does not."
        )
    )
    x, label = input_picker(ds, key="trust-in")
    c1, c2 = st.columns([1, 3])
    method = c1.radio(tr("Attack"), ATTACKS, format_func=str.upper, key="trust_method", horizontal=True)
    eps = c2.slider(tr("ε (how far each pixel may move)"), 0.0, 0.3, 0.1, 0.005, key="trust_eps")
    hit = attack_outcome(model, x, ds.mean, ds.std, eps, method)
    i1, i2, i3 = st.columns(3)
    e = t.number(eps, 3).rstrip("0").rstrip(",.") if eps else "0"
    i1.image(
        framed(x[0], 168),
        width=168,
        caption=f"{label}: {answer(hit.before, 0)}",
        alt=describe_image(x[0], tr("the original, {label}", label=label), tr=t),
    )
    i2.image(
        upscale(colorize(hit.change, "diverging", -max(eps, 1e-6), max(eps, 1e-6)), 168),
        width=168,
        caption=tr("the change (blue darker, red lighter), at most ε = {eps}", eps=e),
        alt=tr(
            "the attack's change, at most ε = {eps} per pixel: lighter most {lighter}, darker most {darker}",
            eps=e,
            lighter=where(hit.change, t),
            darker=where(-hit.change, t),
        ),
    )
    i3.image(
        framed(hit.adversarial[0], 168),
        width=168,
        caption=tr("attacked: {answer}", answer=answer(hit.after, 0)),
        alt=describe_image(hit.adversarial[0], tr("the attacked image"), tr=t),
    )
    if hit.fooled:
        st.error(
            tr("Fooled: it now says **{cls}** ({p}).", cls=ds.classes[hit.answer], p=t.percent(float(hit.after.max()), 0))
        )
        did("fooled")  # the guided path: an attack changed the answer
        if label == tr("your drawing") and ds.classes[int(hit.before.argmax())] == "7":
            did("fooled_own_7")  # the guided path: your own 7, misread
    else:
        st.success(tr("Not fooled at ε = {eps}: it still says **{cls}**.", eps=e, cls=ds.classes[hit.answer]))
    fooling_search(x, label)


def fooling_search(x, label: str) -> None:
    """The smallest ε that fools each of this workspace's models, searched in a worker."""

    def _find_smallest() -> None:
        """Start the search as a job in a worker (about 7 attacks per model and attack: not for the server's own
        process); the table below fills in when it ends."""
        import copy

        ws = workspace()
        models = []
        for e in ws.models.values():  # every model of this workspace that takes these images
            if list(e.spec["input_shape"]) != ds.input_shape or not e.runs:
                continue
            models.append((e.name, copy.deepcopy(e.inference_model()), augment_active(e.runs[-1].config.get("augment"))))
        old = st.session_state.get(FOOL_JOB)
        if job_running(old):
            old.cancel()
        if start_job(FOOL_JOB, "fooling", fooling_table, models, x.clone(), ds.mean, ds.std):
            st.session_state[FOOLED] = label

    fool_job = st.session_state.get(FOOL_JOB)
    busy = job_running(fool_job)
    st.button(
        tr("Find the smallest ε that fools each of my models"),
        on_click=_find_smallest,
        key="trust_find",
        disabled=busy,
        help=tr(
            "Bisection, about 7 attacks per model and attack. Train a second model with "
            "rotations or shifts (on **{train}**) to see whether ordinary augmentation makes "
            "it harder to fool.",
            train=tr("Train"),
        ),
    )

    def fooling_result(job) -> None:  # noqa: ANN001 - the finished Job
        rows = [{k: tr(v) if v in ("yes", "no", "over 0.5") else v for k, v in row.items()} for row in job.result]
        st.dataframe(
            rows,
            hide_index=True,
            column_config={
                "model": tr("model"),
                "trained with augmentation": tr("trained with augmentation"),
                **{f"smallest ε, {a.upper()}": tr("smallest ε, {attack}", attack=a.upper()) for a in ATTACKS},
            },
        )
        st.caption(
            tr(
                "For {image}. A larger ε means a harder model to fool. Rotations and shifts teach a model other "
                "kinds of change, not these: what makes a model harder to fool is training it on attacked "
                "images (adversarial training).",
                image=st.session_state.get(FOOLED) or tr("this image"),
            )
        )

    job_panel(lambda: st.session_state.get(FOOL_JOB), tr("Attacking each model"), fooling_result)


def shortcut_section() -> None:
    """With a lesson that planted a cue in the training images: look for it, then reveal it."""
    lesson_cue = (st.session_state.get(LESSON) or {}).get("shortcut") or {}
    if not lesson_cue:
        return
    st.subheader(tr("4. Right for the wrong reason?"))
    st.caption(
        tr(
            "This lesson's training images hide something. Before you reveal it, look for it: the saliency and "
            "Grad-CAM maps on **{draw}**, the 9 images that excite each filter, the classes the confusion matrix "
            "mixes up. What does the model look at for one class that it should not?",
            draw=tr("Draw a digit"),
        )
    )
    if not st.toggle(tr("Reveal the hidden cue"), key="trust_reveal"):
        return
    did("shortcut")  # the guided path: the hidden cue, revealed
    try:
        clean = get_dataset(lesson_cue["dataset"])
    except ValueError as e:
        st.error(tr("The lesson's original dataset is not available here: {error}.", error=reason(e)))
        return
    k, cue = lesson_cue["class"], lesson_cue["cue"]
    found = reveal(model, clean, k, cue)
    cue = tr(cue)  # its name in the student's language (the lesson file names it in English)
    cls, pct = clean.classes[k], t.percent
    st.markdown(
        tr(
            "**{share} of the images of {cls} carried a {cue}**, in training and in the test split alike, so "
            "the test score looked fine.",
            share=pct(lesson_cue["share"], 0),
            cls=cls,
            cue=cue,
        )
    )
    r = st.columns(4)
    r[0].metric(tr("Accuracy on clean test images"), pct(found["accuracy_clean"]))
    r[1].metric(tr("Clean images of {cls} recognised", cls=cls), pct(found["recall_clean"], 0))
    r[2].metric(tr("Images of {cls} with the {cue}", cls=cls, cue=cue), pct(found["recall_cued"], 0))
    r[3].metric(tr("Other digits called {cls} once they carry it", cls=cls), pct(found["others_pulled"], 0))
    st.image(
        image_grid(found["example"], ncols=8, scale=3),
        alt=describe_images(found["example"], tr("test images of other classes carrying the {cue}", cue=cue), tr=t),
        caption=tr(
            "other classes' test images with the {cue}: the model calls {share} of such images “{cls}”",
            cue=cue,
            share=pct(found["others_pulled"], 0),
            cls=cls,
        ),
    )
    st.info(
        tr(
            "A high score on test data that shares the training data's quirks proves little. Test on data made "
            "differently, and look at what the model looks at."
        )
    )


chosen = threshold_section()
class_code = class_code_of_session()
letters, ours = split_class_drawings(class_set(class_code) if class_code and ds.input_shape == [1, 28, 28] else None)
odd_section(chosen, letters)
attack_section()
with st.container(key="trust_shortcut"):
    shortcut_section()
if class_code and ds.is_digits:
    with st.container(key="trust_handwriting"):
        handwriting_section(class_code, ours, model, ds, probs.argmax(1))
