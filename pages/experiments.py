"""Experiments from the lecture notes: one button each, a progress bar, a chart and a conclusion."""

from __future__ import annotations

import streamlit as st

from explorer import TrainConfig
from explorer.i18n import N_
from explorer.lessons import (
    DATA_SIZE_STEPS,
    compare_architectures,
    data_size_experiment,
    experiment_conclusion,
    imbalance_experiment,
    merge_data_size,
    pixel_shuffle_experiment,
    rotation_experiment,
    translation_sweep,
)
from explorer.plots import describe_images, experiment_figure, experiment_table, image_grid
from pages._class import paused, refuse_if_paused
from pages._guide import did
from pages._jobs import job_panel, job_running
from pages._lang import reason, tr, translate
from pages._server import leave_legacy_pages_routing  # noqa: E402
from pages._state import current_dataset, flash, workspace

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py

JOBS = "experiment_jobs"  # name -> Job, this session's
st.title(tr("Experiments"))
ds = current_dataset()
ws = workspace()
jobs: dict = st.session_state.setdefault(JOBS, {})  # name -> Job or RemoteJob
used: dict = st.session_state.setdefault("experiment_settings", {})  # name -> the settings it ran with, in words
st.caption(
    tr(
        "On **{dataset}** ({n} training images). Each experiment trains its own models in the background; "
        "your current model is not changed.",
        dataset=ds.name,
        n=translate().number(ds.sizes()["train"]),
    )
)
c1, c2 = st.columns(2)
epochs = c1.number_input(tr("Epochs per model"), 1, 20, 2, key="exp_epochs")
n_train = ds.sizes()["train"]
sizes = [v for v in (500, 1000, 2000, 5000, 10000, 20000) if v < n_train] + [n_train]
limit = c2.select_slider(tr("Training images per model"), sizes, value=5000 if 5000 in sizes else n_train, key="exp_limit")


def settings() -> TrainConfig:
    """The settings on screen, read when a Run button is clicked (a value typed just before the click counts)."""
    return TrainConfig(
        epochs=int(st.session_state["exp_epochs"]), limit_train=int(st.session_state["exp_limit"]), eval_splits=("test",)
    )


def current_model():
    """The current model, its name and its spec, when it was trained on this dataset and is not training now."""
    e = ws.entry()
    if e and e.runs and e.dataset and e.dataset.get("name") == ds.name and not e.active_run:
        return e.inference_model(), e.name, e.spec
    return None, None, None


def launch(name: str, make, title: str = "") -> None:
    """Start an experiment in a worker; it trains its own models and works on copies of yours. ``make`` gives
    ``(fn, args, kwargs)``, or ``(parts, combine)``: parts that run side by side on workers of their own."""
    if refuse_if_paused():
        return
    old = jobs.get(name)
    if job_running(old):
        old.cancel()
    made = make()
    try:
        if len(made) == 2:
            parts, combine = made
            jobs[name] = ws.start_job_group(tr("the experiment “{title}”", title=title or name), parts, combine)
            kwargs = parts[0][2]
        else:
            fn, args, kwargs = made
            jobs[name] = ws.start_job(tr("the experiment “{title}”", title=title or name), fn, *args, **kwargs)
    except ValueError as e:  # one job at a time per person, or a budget: a sentence, the last result stays
        flash(tr("Not started: {error}.", error=reason(e)), "warning")
        return
    cfg = kwargs.get("config")
    used[name] = (cfg.epochs, cfg.limit_train) if cfg is not None else None


def used_sentence(name: str) -> str:
    """The settings an experiment ran with, in words (kept as numbers: the language may change meanwhile)."""
    if not used.get(name):
        return ""
    epochs, images = used[name]
    n = translate().number(images)
    return (
        tr("Ran with one epoch on {n} training images per model.", n=n)
        if epochs == 1
        else tr("Ran with {epochs} epochs on {n} training images per model.", epochs=epochs, n=n)
    )


def panel(name: str, title: str, explain: str, make, render) -> None:
    st.subheader(title)
    st.caption(explain)
    job = jobs.get(name)
    busy = job_running(job)
    st.button(
        tr("Run"),
        key=f"run-{name}",
        type="primary",
        icon=":material/science:",
        disabled=busy or bool(paused()),
        on_click=launch,
        args=(name, make, title),
    )

    def show(job) -> None:  # noqa: ANN001 - the finished Job
        did(f"experiment:{name}")  # the guided path: this experiment has run
        conclusion = experiment_conclusion(name, job.result, tr=translate())
        render(job.result, conclusion)
        if st.toggle(tr("Show as table"), key=f"table-{name}"):
            table = experiment_table(name, job.result)
            st.dataframe(
                table,
                hide_index=True,
                column_config={c: tr(TABLE_COLUMNS[c]) for c in (table[0] if table else {}) if c in TABLE_COLUMNS},
            )
        st.info(conclusion)
        if used_sentence(name):
            st.caption(used_sentence(name))

    job_panel(lambda: jobs.get(name), title, show)


# the tables' columns, named in the student's language
TABLE_COLUMNS = {
    "model": N_("model"),
    "parameters": N_("parameters"),
    "in the last layer": N_("in the last layer"),
    "numbers the last layer reads": N_("numbers the last layer reads"),
    "test accuracy": N_("test accuracy"),
    "test_accuracy": N_("test accuracy"),
    "rotation (degrees)": N_("rotation (degrees)"),
    "trained upright": N_("trained upright"),
    "trained with rotations": N_("trained with rotations"),
    "shift (pixels)": N_("shift (pixels)"),
    "images": N_("images"),
    "per_class": N_("images per class"),
    "seed": N_("repeat"),
    "recall": N_("recall"),
    "accuracy": N_("accuracy"),
    "share": N_("share"),
}


def arch_render(res, conclusion: str) -> None:
    t = translate()
    st.plotly_chart(experiment_figure("arch", res, tr=translate()), key="arch-fig", alt=conclusion)
    rows = [
        {
            "model": r["name"],
            "parameters": r["params"],
            "in the last layer": r.get("last_params"),
            "numbers the last layer reads": r.get("last_inputs"),
            "test accuracy": t.percent(r["test_accuracy"][-1]),
        }
        for r in res["rows"]
    ]
    st.dataframe(rows, hide_index=True, column_config={c: tr(TABLE_COLUMNS[c]) for c in rows[0]} if rows else None)


def chart(name: str, **labels: str):
    """A renderer that draws experiment ``name``'s chart of its result, its conclusion as its text."""
    return lambda res, conclusion: st.plotly_chart(
        experiment_figure(name, res, tr=translate(), **labels), key=f"{name}-fig", alt=conclusion
    )


def shuffle_render(res, conclusion: str) -> None:
    st.plotly_chart(experiment_figure("shuf", res, tr=translate()), key="shuf-fig", alt=conclusion)
    st.image(
        image_grid(res["example"], ncols=8, scale=3),
        caption=tr("what the shuffled images look like"),
        alt=describe_images(res["example"], tr("pixel-shuffled images: scattered dots, no strokes left"), tr=translate()),
    )


def rotation_tab() -> None:
    """Accuracy against rotation: the student's model (or the default CNN) and a copy trained with rotations."""
    _, mname, _ = current_model()
    panel(
        "rot",
        tr("Accuracy against rotation (the lecture's third notebook)"),
        tr(
            "Test images rotated 0–360° in steps of 10, for your model **{name}** and for a fresh copy of its layers "
            "trained with random rotations.",
            name=mname,
        )
        if mname
        else tr(
            "Test images rotated 0–360° in steps of 10, for the default CNN and for a second default CNN trained "
            "with random rotations."
        ),
        lambda: (
            rotation_experiment,
            (ds,),
            {"config": settings(), "model": current_model()[0], "spec": current_model()[2]},
        ),
        chart("rot"),
    )


def translation_tab() -> None:
    """Accuracy of the student's trained model against shifting the test images."""
    model, mname, _ = current_model()
    if model is None:
        st.info(
            tr("Train a model on this dataset first (on **{train}**): this experiment tests your model.", train=tr("Train"))
        )
    else:
        panel(
            "shift",
            tr("Accuracy against shifting the test images ({name})", name=mname),
            tr("Every test image moved right by k pixels; what leaves the frame is lost."),
            lambda: (translation_sweep, (current_model()[0] or model, ds), {}),
            chart("shift", model_name=mname),
        )


def data_size_tab() -> None:
    """How much data is enough: the default CNN on 10 to all images per class, three seeds each."""
    panel(
        "size",
        tr("How much data is enough?"),
        tr(
            "The default CNN trained on 10, 50, 100, 300 and all images per class, three times each (other images, "
            "other starting weights), and tested on the same test images. Small sets get more epochs, so each model "
            "gets about the same number of updates."
        ),
        lambda: (
            [
                (
                    data_size_experiment,
                    (ds,),
                    {"config": settings(), "only_seeds": tuple(range(i, 3, n)), "steps": DATA_SIZE_STEPS},
                )
                for n in [ws.side_by_side(3)]
                for i in range(n)
            ],
            merge_data_size,
        ),
        chart("size"),
    )


def imbalance_tab() -> None:
    """One rare class: its recall against the overall accuracy."""
    rare = st.selectbox(
        tr("The class that becomes rare"), range(ds.num_classes), format_func=lambda i: ds.classes[i], key="exp_rare"
    )
    panel(
        "imb",
        tr("One rare class: its recall collapses, the overall accuracy hides it"),
        tr(
            "The default CNN trained with 100%, 30%, 10%, 3% and 1% of one class's training images (all the others "
            "kept), each tested on the balanced test split."
        ),
        lambda: (imbalance_experiment, (ds, int(st.session_state.get("exp_rare", 0))), {"config": settings()}),
        lambda res, conclusion: st.plotly_chart(
            experiment_figure("imb", res, tr=translate(), rare_name=ds.classes[res.get("cls", rare)]),
            key="imb-fig",
            alt=conclusion,
        ),
    )


tabs = st.tabs(
    [tr("Architectures"), tr("Rotation"), tr("Pixel shuffling"), tr("Translation"), tr("How much data"), tr("Imbalance")]
)
with tabs[0]:
    panel(
        "arch",
        tr("Linear vs one conv block vs wider vs deeper (the lecture's first notebook)"),
        tr("The four models of the notes, fitted to this dataset, trained with the same settings."),
        lambda: (compare_architectures, (ds,), {"config": settings()}),
        arch_render,
    )
with tabs[1]:
    rotation_tab()
with tabs[2]:
    panel(
        "shuf",
        tr("Training on pixel-shuffled images (the lecture's third notebook)"),
        tr("Every image's pixels permuted by one fixed permutation: a CNN and an MLP, on real and shuffled images."),
        lambda: (pixel_shuffle_experiment, (ds,), {"config": settings()}),
        shuffle_render,
    )
with tabs[3]:
    translation_tab()
with tabs[4]:
    data_size_tab()
with tabs[5]:
    imbalance_tab()
