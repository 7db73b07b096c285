"""The Look-inside pages through AppTest, with a trained model in the session."""

from __future__ import annotations

import math
import re

import pytest
import torch
from streamlit.testing.v1 import AppTest

from explorer.core.limits import MAX_IMAGE_FILE_BYTES
from pages._keys import CLASS, CONFIDENCE, DATASET, DRAWING, TRAIN_CFG, UPLOADS, WS
from tests.apptest import app, button, fresh, start_default_on_train_page, wait_training


def html_blocks(at: AppTest) -> list[str]:
    """The bodies of the page's st.html blocks (the Draw page's answer is one)."""
    return [e.proto.body for e in at.get("html")]


@pytest.fixture(scope="module")
def trained_app() -> AppTest:
    at = fresh()
    at.session_state[TRAIN_CFG].update(epochs=3)
    start_default_on_train_page(at)
    wait_training(at)
    ws = at.session_state[WS]
    assert ws.entry().state == "trained", f"training did not finish: {ws.entry().state}"
    assert ws.entry().test_accuracy > 0.9
    return at


@pytest.mark.parametrize(
    "page", ["pages/kernels.py", "pages/features.py", "pages/filters.py", "pages/confusion.py"]
)  # (Draw has its own one-click test below)
def test_look_inside_pages_without_a_model_say_what_to_do(page):
    at = app(60).run()
    at.switch_page(page).run()
    assert not at.exception and any("No model yet" in i.value for i in at.info)


def test_kernels_page_shows_the_layers_and_the_time_machine(trained_app):
    at = trained_app
    at.switch_page("pages/kernels.py").run()
    assert not at.exception
    assert at.selectbox[0].options == ["layer 0: 8×1×5×5", "layer 4: 16×8×5×5"]
    run = at.session_state[WS].entry().runs[-1]
    assert len(run.kernel_snapshots()) > 50 and run.kernel_snapshots()[0]["step"] == 0  # about 100 snapshots from step 0
    step = next(s for s in at.slider if s.label == "Step")
    step.set_value(0).run()
    assert not at.exception


def test_the_time_machine_picks_between_a_models_runs():
    """A model trained, then trained more: its Kernels page offers both runs' snapshots (the runs are offered by
    their place: a run itself, with its trainer's lock, cannot be a widget's option, which Streamlit copies)."""
    at = fresh()
    at.session_state[TRAIN_CFG].update(limit_train=256, epochs=1)
    start_default_on_train_page(at)
    wait_training(at)
    at.run()
    button(at, "Train more").click().run()
    wait_training(at)
    at.switch_page("pages/kernels.py").run()
    assert not at.exception, at.exception
    pick = at.selectbox(key="time_machine_run")
    assert pick.options == [r.label for r in at.session_state[WS].entry().runs]
    pick.set_value(0).run()
    assert not at.exception
    assert (
        next(s for s in at.slider if s.label == "Step").value
        == len(at.session_state[WS].entry().runs[0].kernel_snapshots()) - 1
    )


def test_feature_maps_page_captures_and_diagnoses(trained_app):
    at = trained_app
    at.switch_page("pages/features.py").run()
    assert not at.exception
    assert any(m.label == "Layer" for m in at.selectbox)
    at.radio(key="fm-src").set_value("test").run()
    at.selectbox(key="fm-cls").set_value("7").run()
    assert not at.exception
    for scale in ("layer", "global"):
        next(r for r in at.radio if r.label == "Colour scale").set_value(scale).run()
        assert not at.exception


def test_filter_images_page_runs_a_job(trained_app):
    at = trained_app
    at.switch_page("pages/filters.py").run()
    next(s for s in at.select_slider if s.label == "Steps").set_value(32).run()
    next(n for n in at.number_input if n.label == "Channels").set_value(4)
    button(at, "Generate").click().run()  # 4, typed just before the click, counts
    job = at.session_state["filter_job"]
    job.join(60)
    at.run()
    assert not at.exception and job.error is None
    res = job.result["res"]
    assert res.images.shape == (4, 1, 28, 28) and (res.end > res.start).all()
    assert job.result["top"].shape[1] == 9


def test_confusion_page_matches_the_model_and_shows_cell_images(trained_app):
    at = trained_app
    at.switch_page("pages/confusion.py").run()
    assert not at.exception
    entry = at.session_state[WS].entry()
    acc = next(m for m in at.metric if m.label == "Accuracy").value
    assert acc == f"{entry.test_accuracy:.2%}"  # the matrix agrees with the trainer's test accuracy
    at.selectbox(key="cm-true").set_value(3).run()
    at.selectbox(key="cm-pred").set_value(3).run()
    assert not at.exception
    assert any("images in this cell" in c.value for c in at.caption)


def test_draw_page_says_not_sure_below_the_threshold(trained_app, mnist5k):
    at = trained_app
    at.session_state[DRAWING] = mnist5k.test_x[int((mnist5k.test_y == 7).nonzero()[0])]
    at.switch_page("pages/draw.py").run()
    at.slider(key="draw_threshold").set_value(0.0).run()
    said = next(h for h in html_blocks(at) if "Prediction:" in h)
    assert '<span style="color:#b3202a">7</span>' in said and 'aria-label="it reads 7, ' in said  # shown and spoken
    at.session_state[DRAWING] = torch.zeros(1, 28, 28, dtype=torch.uint8).index_fill_(2, torch.arange(5, 23), 255)
    at.slider(key="draw_threshold").set_value(0.99).run()  # a bar across the pad: no digit at all
    answer = next(h for h in html_blocks(at) if "Prediction:" in h)
    assert "not sure" in answer and 'aria-label="not sure; perhaps ' in answer and not at.exception
    assert at.session_state[CONFIDENCE] == 0.99  # shared with "Can we trust it?"
    at.slider(key="draw_threshold").set_value(0.0).run()


def test_trust_page_shows_coverage_non_digits_and_an_attack(trained_app):
    at = trained_app
    at.switch_page("pages/trust.py").run()
    assert not at.exception, at.exception
    assert any(m.label == "Right, among those answered" for m in at.metric)
    at.slider(key="trust_eps").set_value(0.3).run()
    assert any(e.value.startswith("Fooled") for e in at.error)  # eps 0.3 fools the default CNN
    at.slider(key="trust_eps").set_value(0.0).run()
    assert any(s.value.startswith("Not fooled at ε = 0") for s in at.success)
    at.button(key="trust_find").click().run()  # a job in a worker, not the server's own work
    job = at.session_state["trust_fool_job"]
    assert job.join(180) and job.error is None
    rows = job.result
    assert rows and rows[0]["model"] == "default" and rows[0]["smallest ε, FGSM"] != "over 0.5"
    at.run()
    assert any("A larger ε means a harder model to fool" in c.value for c in at.caption)
    assert not at.exception


def test_draw_page_without_a_model_offers_one_click_training():
    at = fresh()
    at.switch_page("pages/draw.py").run()
    assert any("Drawing needs a trained model" in i.value for i in at.info)
    button(at, "Train the default CNN").click().run()
    wait_training(at)
    ws = at.session_state[WS]
    at.run()
    assert not at.exception and ws.entry().state == "trained"
    assert any("Draw a digit on the black square" in i.value for i in at.info)  # empty canvas: no prediction
    assert not any("Prediction:" in h for h in html_blocks(at))


def test_draw_page_predicts_and_explains_a_drawing(trained_app, mnist5k):
    at = trained_app
    seven = mnist5k.test_x[int((mnist5k.test_y == 7).nonzero()[0])]
    at.session_state[DRAWING] = seven  # what the canvas leaves after a stroke
    at.switch_page("pages/draw.py").run()
    image_mb = math.ceil(MAX_IMAGE_FILE_BYTES / 2**20)  # an uploaded image names its own limit, under the server's
    assert at.file_uploader(key="draw_up").proto.max_upload_size_mb == image_mb < 200
    assert not at.exception
    answer = next(h for h in html_blocks(at) if "Prediction:" in h)
    assert '<span style="color:#b3202a">7</span>' in answer and 'data-drawing="v' in answer
    assert " ms" not in answer and "server" not in answer  # no timings or machinery in what a student reads
    assert any("neither for nor against" in h for h in html_blocks(at))  # saliency is a size, not for/against
    assert 'role="status" aria-live="polite"' in answer  # a screen reader hears each new answer
    assert answer.count("data:image/png;base64,") == 2  # the 28x28 and its saliency, inline
    for method in ("integrated_gradients", "gradcam", "occlusion", "guided_backprop"):
        at.selectbox(key="draw_method").set_value(method).run()
        assert not at.exception
        black = any("cannot show that missing ink matters" in c.value for c in at.caption)
        assert black == (method in ("integrated_gradients", "occlusion"))  # the two that compare with black
    at.toggle(key="draw_compare").set_value(True).run()
    at.toggle(key="draw_occ").set_value(True).run()
    at.toggle(key="draw_maps").set_value(True).run()
    assert not at.exception
    at.toggle(key="draw_learned").set_value(True).run()  # the map of what it learned, with the drawing on it
    assert not at.exception
    chart = next(c for c in at.get("plotly_chart") if "your drawing" in c.proto.spec)
    assert '"symbol":"star"' in chart.proto.spec.replace(" ", "")
    assert any("nearest to your drawing" in m.value for m in at.markdown)
    button(at, "Run the check").click().run()
    assert not at.exception and "draw_sanity" in at.session_state
    method, steps = at.session_state["draw_sanity"]
    assert method == "guided_backprop" and [n for n, _, _ in steps] == ["original", "11", "9", "4", "0"]


def test_confusion_page_with_hundreds_of_classes_draws_the_part_with_errors():
    """A many-class upload: the page stays readable and cheap (a heatmap of the classes with errors)."""
    import numpy as np

    from explorer.core.uploads import load_csv

    rng = np.random.default_rng(0)
    k, per = 150, 10
    labels = np.repeat(np.arange(k), per)
    pixels = rng.integers(0, 256, (len(labels), 16))
    body = "\n".join(f"{lab}," + ",".join(map(str, row)) for lab, row in zip(labels, pixels))
    ds = load_csv(("label," + ",".join(f"pixel{i}" for i in range(1, 17)) + "\n" + body).encode(), name="many")
    at = fresh()
    at.session_state[UPLOADS] = {"many": ds}
    at.session_state[DATASET] = "many"
    ws = at.session_state[WS]
    ws.add_model(
        {"input_shape": [1, 4, 4], "num_classes": k, "layers": [{"type": "Flatten"}, {"type": "Linear", "out_features": k}]},
        "wide",
    )
    at.switch_page("pages/confusion.py").run()
    assert not at.exception, at.exception
    chart = at.get("plotly_chart")[0].proto.spec
    import json

    heat = json.loads(chart)["data"][0]
    assert len(heat["x"]) == 40 and len(heat["z"]) == 40  # 40 of 150 classes drawn
    assert any("150 classes, the 40 most involved in errors are drawn" in c.value for c in at.caption)


def test_a_drawing_joins_the_class_set_and_the_trust_page_tests_the_model_on_it(trained_app, mnist5k):
    from pages._server import server

    at = trained_app
    code, _ = server().store().create_class("mnist-5k")
    at.session_state[CLASS] = {"code": code, "name": "Ada"}
    try:
        at.session_state[DRAWING] = mnist5k.test_x[int((mnist5k.test_y == 7).nonzero()[0])]
        at.switch_page("pages/draw.py").run()
        at.selectbox(key="draw_add_label").set_value(7)
        at.text_input(key="draw_add_name").input("Ada")
        at.button(key="draw_add").click().run()  # label, name and click in one rerun
        assert not at.exception, at.exception
        assert any("Added as a 7" in c.value for c in at.caption)
        at.switch_page("pages/trust.py").run()
        assert any(s.value == "5. Our class's handwriting" for s in at.subheader)
        assert any(m.label == "Digits the class drew" and m.value == "1" for m in at.metric)
        assert any(m.label == "Right on our handwriting" for m in at.metric) and not at.exception
        assert any('"what was drawn"' in c.proto.spec for c in at.get("plotly_chart"))  # the shift's confusion
        at.text_input(key="stump_name").input("Grace").run()  # a classmate confirms Ada's digit as legible
        at.button(key="stump_confirm").click().run()
        assert not at.exception, at.exception
        assert server().store().class_digits(code)["confirmed_by"][-1] == "Grace"
        scores = at.dataframe[-1].value
        assert "Ada" in list(scores["name"])
        # a letter drawn and added as "not a digit": among the non-digits, not in the handwriting score
        at.session_state[DRAWING] = 255 - mnist5k.test_x[0]
        at.switch_page("pages/draw.py").run()
        at.selectbox(key="draw_add_label").set_value(10)
        at.button(key="draw_add").click().run()
        assert any("Added as “not a digit”" in c.value for c in at.caption), [c.value for c in at.caption]
        at.switch_page("pages/trust.py").run()
        assert any("Letters and doodles the class drew" in m.value for m in at.markdown)
        assert any(m.label == "Digits the class drew" and m.value == "1" for m in at.metric)  # still one digit
        at.button(key="trust_reject").click().run()
        job = at.session_state["trust_reject_job"]
        assert job.join(300) and job.error is None, job.error
        at.run()
        table = next(d.value for d in at.dataframe if "non-digits turned away" in d.value.columns)
        assert list(table["model"]) == ["digits only", "with “not a digit”"] and not at.exception
    finally:
        at.session_state[CLASS] = None


# what a student reads must not speak of the machinery: no timings in ms, no server, worker, CPU, unpickling or seeds
MACHINERY = re.compile(
    r"\b\d+(\.\d+)?\s?ms\b|\bCPU\b|samples/s|\b(s|min) left\b|"
    r"(?i:\bserver|\bworkers?\b|unpickl|\bseeds?\b)"
)
TEXT_TYPES = (
    "markdown",
    "caption",
    "info",
    "warning",
    "error",
    "success",
    "title",
    "header",
    "subheader",
    "button",
    "selectbox",
    "slider",
    "select_slider",
    "number_input",
    "toggle",
    "radio",
    "checkbox",
    "text_input",
    "multiselect",
    "metric",
    "expander",
    "tab",
    "html",
)


def student_text(at: AppTest) -> list[str]:
    """Every text of the page a student reads: bodies, labels, help, metric values, HTML blocks (without tags)."""
    out = []
    for kind in TEXT_TYPES:
        for e in at.get(kind):
            p = e.proto
            for field in ("body", "label", "help", "body", "placeholder"):
                value = getattr(p, field, "")
                if isinstance(value, str) and value:
                    out.append(re.sub(r"<[^>]+>", " ", value) if kind == "html" else value)
    return out


def test_a_live_runs_line_says_where_it_is_in_the_courses_words_with_no_clock():
    from pages._live import run_status_line

    step = {"epoch": 2, "step": 1234, "loss": 0.2345, "accuracy": 0.953, "samples_per_s": 8000.0, "eta_s": 30.0}
    line = run_status_line({"steps": [step], "total_steps": 4000})
    assert "epoch 2" in line and "1,234/4,000" in line and "0.234" in line and "95.3%" in line
    assert not MACHINERY.search(line), line  # no speed, no time left: the bar shows how far it has come


def test_no_page_a_student_reads_speaks_of_timings_servers_workers_or_seeds(trained_app, mnist5k):
    from pages._nav import PAGES

    at = trained_app
    at.session_state[DRAWING] = mnist5k.test_x[0]  # Draw answers a drawing: its answer is read too
    found = {}
    for file, title, _ in (item for items in PAGES.values() for item in items):
        if title == "Teacher":  # the teacher's console speaks to the teacher
            continue
        at.switch_page(file).run()
        texts = student_text(at)
        assert texts, title
        found[title] = [t for t in texts if MACHINERY.search(t)]
    assert not any(found.values()), {k: v for k, v in found.items() if v}
