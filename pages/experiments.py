"""Experiments from the lecture notes: one button each, a progress bar, a chart and a conclusion."""

from __future__ import annotations

import streamlit as st

from explorer import TrainConfig
from explorer.lessons import (
    DATA_SIZE_STEPS,
    compare_architectures,
    data_size_experiment,
    imbalance_experiment,
    merge_data_size,
    pixel_shuffle_experiment,
    rotation_experiment,
    translation_sweep,
)
from explorer.plots import describe_experiment, describe_images, experiment_figure, experiment_table, image_grid
from pages._class import paused, refuse_if_paused
from pages._jobs import job_panel
from pages._path import did
from pages._server import leave_legacy_pages_routing  # noqa: E402
from pages._state import current_dataset, flash, workspace

leave_legacy_pages_routing()  # its address typed into a freshly started server: run it through app.py

JOBS = "experiment_jobs"  # name -> Job, this session's
st.title("Experiments")
ds = current_dataset()
ws = workspace()
jobs: dict = st.session_state.setdefault(JOBS, {})  # name -> Job or RemoteJob
used: dict = st.session_state.setdefault("experiment_settings", {})  # name -> the settings it ran with, in words
st.caption(f"On **{ds.name}** ({ds.sizes()['train']:,} training images). Each experiment trains its own models "
           "in the background; your current model is not changed.")
c1, c2 = st.columns(2)
epochs = c1.number_input("Epochs per model", 1, 20, 2, key="exp_epochs")
n_train = ds.sizes()["train"]
sizes = [v for v in (500, 1000, 2000, 5000, 10000, 20000) if v < n_train] + [n_train]
limit = c2.select_slider("Training images per model", sizes, value=5000 if 5000 in sizes else n_train,
                         key="exp_limit")


def settings() -> TrainConfig:
    """The settings on screen, read when a Run button is clicked (a value typed just before the click counts)."""
    return TrainConfig(epochs=int(st.session_state["exp_epochs"]), limit_train=int(st.session_state["exp_limit"]),
                       eval_splits=("test",))


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
    if old is not None and not old.finished:
        old.cancel()
    made = make()
    try:
        if len(made) == 2:
            parts, combine = made
            jobs[name] = ws.start_job_group(f"the experiment “{title or name}”", parts, combine)
            kwargs = parts[0][2]
        else:
            fn, args, kwargs = made
            jobs[name] = ws.start_job(f"the experiment “{title or name}”", fn, *args, **kwargs)
    except ValueError as e:  # one job at a time per person, or a budget: a sentence, the last result stays
        flash(f"Not started: {e}.", "warning")
        return
    cfg = kwargs.get("config")
    used[name] = (f"Ran with {cfg.epochs} epoch(s) on {cfg.limit_train:,} training images per model."
                  if cfg is not None else "")


def panel(name: str, title: str, explain: str, make, render) -> None:
    st.subheader(title)
    st.caption(explain)
    job = jobs.get(name)
    busy = job is not None and not job.finished
    st.button("Run", key=f"run-{name}", type="primary", icon=":material/science:", disabled=busy or bool(paused()),
              on_click=launch, args=(name, make, title))

    def show(job) -> None:  # noqa: ANN001 - the finished Job
        did(f"experiment:{name}")  # the guided path: this experiment has run
        render(job.result)
        if st.toggle("Show as table", key=f"table-{name}"):
            st.dataframe(experiment_table(name, job.result), hide_index=True)
        st.info(job.result["conclusion"])
        if used.get(name):
            st.caption(used[name])

    job_panel(lambda: jobs.get(name), title, show)


def arch_render(res) -> None:
    st.plotly_chart(experiment_figure("arch", res), key="arch-fig", alt=describe_experiment(res))
    st.dataframe([{"model": r["name"], "parameters": r["params"], "in the last layer": r.get("last_params"),
                   "numbers the last layer reads": r.get("last_inputs"),
                   "test accuracy": f"{r['test_accuracy'][-1]:.1%}"} for r in res["rows"]], hide_index=True)


def chart(name: str, **labels: str):
    """A renderer that draws experiment ``name``'s chart of its result."""
    return lambda res: st.plotly_chart(experiment_figure(name, res, **labels), key=f"{name}-fig",
                                       alt=describe_experiment(res))


def shuffle_render(res) -> None:
    st.plotly_chart(experiment_figure("shuf", res), key="shuf-fig", alt=describe_experiment(res))
    st.image(image_grid(res["example"], ncols=8, scale=3), caption="what the shuffled images look like",
             alt=describe_images(res["example"], "pixel-shuffled images: scattered dots, no strokes left"))


tabs = st.tabs(["Architectures", "Rotation", "Pixel shuffling", "Translation", "How much data", "Imbalance"])
with tabs[0]:
    panel("arch", "Linear vs one conv block vs wider vs deeper (the lecture's first notebook)",
          "The four models of the notes, fitted to this dataset, trained with the same settings.",
          lambda: (compare_architectures, (ds,), {"config": settings()}), arch_render)
with tabs[1]:
    model, mname, mspec = current_model()
    panel("rot", "Accuracy against rotation (the lecture's third notebook)",
          "Test images rotated 0–360° in steps of 10, for "
          + (f"your model **{mname}** and for a fresh copy of its layers trained with random rotations."
             if mname else "the default CNN and for a second default CNN trained with random rotations."),
          lambda: (rotation_experiment, (ds,), {"config": settings(), "model": current_model()[0],
                                                "spec": current_model()[2]}),
          chart("rot"))
with tabs[2]:
    panel("shuf", "Training on pixel-shuffled images (the lecture's third notebook)",
          "Every image's pixels permuted by one fixed permutation: a CNN and an MLP, on real and shuffled images.",
          lambda: (pixel_shuffle_experiment, (ds,), {"config": settings()}), shuffle_render)
with tabs[3]:
    model, mname, _ = current_model()
    if model is None:
        st.info("Train a model on this dataset first (Train page): this experiment tests your model.")
    else:
        panel("shift", f"Accuracy against shifting the test images ({mname})",
              "Every test image moved right by k pixels; what leaves the frame is lost.",
              lambda: (translation_sweep, (current_model()[0] or model, ds), {}),
              chart("shift", model_name=mname))
with tabs[4]:
    panel("size", "How much data is enough?",
          "The default CNN trained on 10, 50, 100, 300 and all images per class, three times each (other images, "
          "other starting weights), and tested on the same test images. Small sets get more epochs, so each model "
          "gets about the same number of updates.",
          lambda: ([(data_size_experiment, (ds,), {"config": settings(), "only_seeds": tuple(range(i, 3, n)),
                                              "steps": DATA_SIZE_STEPS})
                    for n in [ws.side_by_side(3)] for i in range(n)], merge_data_size), chart("size"))
with tabs[5]:
    rare = st.selectbox("The class that becomes rare", range(ds.num_classes), format_func=lambda i: ds.classes[i],
                        key="exp_rare")

    panel("imb", "One rare class: its recall collapses, the overall accuracy hides it",
          "The default CNN trained with 100%, 30%, 10%, 3% and 1% of one class's training images (all the others "
          "kept), each tested on the balanced test split.",
          lambda: (imbalance_experiment, (ds, int(st.session_state.get("exp_rare", 0))), {"config": settings()}),
          lambda res: st.plotly_chart(experiment_figure("imb", res, rare_name=ds.classes[res.get("cls", rare)]),
                                      key="imb-fig", alt=describe_experiment(res)))
