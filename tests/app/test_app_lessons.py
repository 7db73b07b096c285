"""The Lessons pages through AppTest."""

from __future__ import annotations

import math
import re

import pytest

from pages._keys import CLASS, DATASET, HIDDEN, LESSON, TEACHER, TRAIN_CFG, UPLOADS, WS, WS_ID
from tests.apptest import app, button, fresh, start_default_on_train_page, wait_training


@pytest.mark.parametrize("page", ["pages/lab.py", "pages/augment.py", "pages/experiments.py", "pages/lesson.py"])
def test_lesson_pages_render(page):
    at = fresh()
    at.switch_page(page).run()
    assert not at.exception and at.title


@pytest.mark.parametrize("name", ["sobel x", "laplacian", "diagonal up", "Gabor"])
def test_lab_explains_one_pixel_and_it_matches_the_map(name):
    at = fresh()
    at.switch_page("pages/lab.py").run()
    at.selectbox(key="lab_k").set_value(name).run()
    at.slider(key="lab_stride").set_value(2).run()
    text = next(m.value for m in at.markdown if m.value.startswith("Sum of the products"))
    a, b = re.findall(r"\*\*(-?[\d.]+)\*\*", text)
    assert float(a) == pytest.approx(float(b), abs=1e-3)
    sizes = next(m.value for m in at.markdown if m.value.startswith("**Output size**"))
    formula, real = re.search(r"= \*\*(\d+)\*\*; by the real operation: \*\*(\d+)×", sizes).groups()
    assert formula == real
    assert not at.exception


def test_augmentation_preview_uses_and_sets_the_train_settings():
    at = fresh()
    at.switch_page("pages/augment.py").run()
    at.slider(key="aug_rot").set_value(30).run()
    assert at.session_state[TRAIN_CFG]["augment"]["rotation"] == 30
    button(at, "Redraw").click().run()
    assert at.session_state["aug_seed"] == 1 and not at.exception


def test_an_experiment_runs_from_its_button():
    at = fresh()
    at.switch_page("pages/experiments.py").run()
    at.number_input(key="exp_epochs").set_value(1).run()
    at.select_slider(key="exp_limit").set_value(1000).run()
    at.select_slider(key="exp_limit").set_value(500)
    at.button(key="run-shuf").click().run()  # the new limit and the click in one rerun: the new limit counts
    job = at.session_state["experiment_jobs"]["shuf"]
    job.join(180)
    at.run()
    assert job.error is None and not at.exception
    assert any("shuffled" in i.value for i in at.info)
    assert any("on 500 training images per model" in c.value for c in at.caption)
    at.toggle(key="table-shuf").set_value(True).run()  # the chart's numbers, as a table
    table = at.dataframe[-1].value
    assert set(table["model"]) == {"CNN", "MLP"} and all(v.endswith("%") for v in table["test_accuracy"])


def test_the_data_size_experiment_trains_its_seeds_side_by_side(monkeypatch):
    import explorer.lessons

    # the page's wiring is under test here, not learning: 20 updates a model, passed with the job to the workers
    monkeypatch.setattr(explorer.lessons, "DATA_SIZE_STEPS", 20)
    at = fresh()
    at.switch_page("pages/experiments.py").run()
    at.number_input(key="exp_epochs").set_value(1).run()
    at.select_slider(key="exp_limit").set_value(500).run()
    at.button(key="run-size").click().run()
    group = at.session_state["experiment_jobs"]["size"]
    ws = at.session_state[WS]  # one part per seed in this process; on Ray, at most half the workers
    assert len(group.parts) == ws.side_by_side(3) and (ws.cluster is not None or len(group.parts) == 3)
    assert group.join(300) and group.error is None
    at.run()
    assert not at.exception and any("over 3 repeats" in i.value for i in at.info)
    assert sorted({r["seed"] for r in group.result["rows"]}) == [0, 1, 2]


def a_class() -> tuple[str, str]:
    """A class made by its teacher on the embedded digits (what the app tests train on): (code, key)."""
    from pages._server import server

    return server().store().create_class("mnist-5k")


def test_students_publish_to_the_class_board_and_the_teacher_sees_it():
    code, _ = a_class()
    student = fresh()
    student.session_state[CLASS] = {"code": code, "name": "Grace"}
    student.session_state[TRAIN_CFG].update(epochs=1, limit_train=256)
    start_default_on_train_page(student)
    wait_training(student)
    student.run()
    student.text_input(key="board_name").input("Grace")
    student.button(key="board_publish").click().run()  # the name typed and the click in one rerun
    assert not student.exception

    teacher = fresh()
    teacher.switch_page("pages/board.py").run()
    assert any("Type your class's code" in i.value for i in teacher.info)
    teacher.text_input(key="board_code").input(code.lower()).run()  # as typed: any case, no dash
    assert not teacher.exception
    assert any("**1** run published" in m.value and "Grace" in m.value for m in teacher.markdown)
    columns = list(teacher.dataframe[0].value.columns)
    assert columns[:2] == ["name", "test accuracy"] and not any(c.endswith(" s") for c in columns)  # no clock
    nobody = fresh()
    nobody.switch_page("pages/board.py").run()
    other, _ = a_class()
    nobody.text_input(key="board_code").input(other).run()
    assert any(f"Nothing published to **{other[:3]}-{other[3:]}**" in i.value for i in nobody.info)


def _published(store, code: str, name: str, hist: dict | None = None, handwriting: float | None = None) -> None:
    from explorer.core.presets import get_preset
    from explorer.serve.workspace import Run

    hist = hist or {
        "status": "finished",
        "steps": [{"step": 1, "loss": 1.0, "accuracy": 0.5}],
        "epochs": [{"epoch": 1, "step": 1, "test_accuracy": 0.9, "test_loss": 0.3, "seconds": 1.0}],
    }
    run = Run(1, "m", "mnist-5k", {}, 20_570, history=hist)
    store.publish(code, store.new_id(), run, get_preset("default"), name, handwriting=handwriting)


def test_the_board_shows_hostile_names_as_text_and_survives_malformed_entries():
    import json

    from pages._server import server

    store = server().store()
    code, _ = a_class()
    _published(store, code, '<a href="http://evil.example">click</a>')
    _published(store, code, "![x](http://evil.example/pixel.png) **loud**")
    _published(store, code, "no steps", {"status": "finished", "epochs": [{"epoch": 1, "test_accuracy": 0.8}]})
    with store.engine.begin() as c:  # an entry whose stored JSON is broken
        c.execute(
            store.t_board.insert().values(
                class_code=code,
                ws="x" * 20,
                run=9,
                name="broken",
                published=0.0,
                params=1,
                accuracy=0.5,
                seconds=1.0,
                architecture="?",
                spec="{not json",
                history="[]",
            )
        )
    teacher = fresh()
    teacher.switch_page("pages/board.py").run()
    teacher.text_input(key="board_code").input(code).run()
    assert not teacher.exception, teacher.exception
    line = next(m.value for m in teacher.markdown if "runs published" in m.value)
    assert line.startswith("**4** runs published")  # light rows: the broken entry's row reads fine
    broken = next(r for r in store.board(code) if r["name"] == "broken")
    with pytest.raises(ValueError, match="cannot be read any more"):  # opening it is a sentence
        store.board_entry(code, broken["id"])
    assert "![" not in line.replace("\\!\\[", "") and "](" not in line.replace("\\]\\(", "")  # no image, no link
    chart = json.loads(teacher.get("plotly_chart")[0].proto.spec)
    texts = chart["data"][0]["text"]
    assert any("&lt;a href=" in t for t in texts) and not any("<a " in t for t in texts)
    # the entry whose epochs have no step draws its curves without a KeyError
    from explorer.plots import training_curves

    no_steps = next(r for r in store.board(code) if r["name"] == "no steps")
    opened = store.board_entry(code, no_steps["id"])
    assert len(training_curves([("no steps", opened["history"])], "accuracy").data) == 0


def test_a_loaded_checkpoint_is_published_with_the_accuracy_the_server_measures(mnist5k):
    from explorer.core.checkpoint import load_checkpoint, save_checkpoint
    from explorer.core.presets import get_preset
    from explorer.core.spec import build_model
    from explorer.serve.workspace import Workspace
    from pages._predict import measured_accuracy

    spec = get_preset("default")
    claims = {"status": "finished", "steps": [], "epochs": [{"epoch": 1, "step": 1, "test_accuracy": 1.0}]}
    data = save_checkpoint(build_model(spec, seed=3), spec, mnist5k.info(), claims)  # untrained, claims 100%
    ws = Workspace()
    entry = ws.add_checkpoint(load_checkpoint(data), "boaster")
    assert entry.runs[-1].final()["test_accuracy"] == 1.0
    measured = measured_accuracy(entry)
    assert measured is not None and measured < 0.5  # what the weights really do on the test split


def test_a_loaded_checkpoints_claimed_accuracy_never_reaches_the_roster(mnist5k):
    """A student loads a file whose history claims 100% and says nothing of its settings: the teacher's roster
    shows the model with no accuracy, and the Train page lists the file's run without breaking."""
    from explorer.core.checkpoint import load_checkpoint, save_checkpoint
    from explorer.core.presets import get_preset
    from explorer.core.spec import build_model
    from pages._server import server

    code, _ = a_class()
    student = fresh()
    server().store().join(code, "Boaster", student.session_state[WS_ID])
    student.session_state[CLASS] = {"code": code, "name": "Boaster"}
    spec = get_preset("default")
    claims = {"status": "finished", "steps": [], "epochs": [{"epoch": 1, "step": 1, "test_accuracy": 1.0}]}
    data = save_checkpoint(build_model(spec, seed=3), spec, mnist5k.info(), claims)
    student.session_state[WS].add_checkpoint(load_checkpoint(data), "boaster")
    student.run()
    row = next(r for r in server().store().roster(code) if r["name"] == "Boaster")
    assert row["model"] == "boaster" and row["best_accuracy"] is None  # the file's claim is not on the roster
    student.switch_page("pages/train.py").run()
    assert not student.exception  # the file's run without settings: "—" in the runs' table


def test_a_large_loaded_model_is_not_measured_in_the_server_at_publish(mnist5k, monkeypatch):
    from explorer.core.checkpoint import load_checkpoint, save_checkpoint
    from explorer.core.presets import get_preset
    from explorer.core.spec import build_model
    from explorer.serve.workspace import Workspace
    from pages._predict import measured_accuracy

    spec = get_preset("default")
    data = save_checkpoint(build_model(spec, seed=3), spec, mnist5k.info(), {"status": "finished", "epochs": []})
    entry = Workspace().add_checkpoint(load_checkpoint(data), "heavy here")
    monkeypatch.setenv("EXPLORER_MULT_ADDS_PER_S", "1000")  # on this server, even the default CNN is large
    with pytest.raises(
        ValueError,
        match=r"this model is large, so its accuracy is measured on its own page first: open "
        r"\*\*Confusion matrix\*\* \(it measures the test images\)",
    ):
        measured_accuracy(entry)


def test_opening_a_lesson_lands_on_its_start_page():
    from explorer.core.presets import get_preset
    from explorer.lessons.lesson import Lesson, lesson_to_json

    text = lesson_to_json(
        Lesson("Trust", "mnist-5k", get_preset("default"), {"epochs": 1}, ["Build"], "", "", "Can we trust it?")
    )
    at = fresh()
    at.switch_page("pages/lesson.py").run()
    at.file_uploader(key="lesson_up").set_value(("trust.json", text.encode(), "application/json")).run()
    button(at, "Open").click().run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Can we trust it?"]
    assert at.session_state[HIDDEN] == ["Build"]


def test_the_teacher_makes_a_class_signs_back_in_with_the_key_and_hides_an_entry_on_the_board():
    from pages._server import server

    store = server().store()
    teacher = fresh()
    teacher.switch_page("pages/teacher.py").run()
    teacher.button(key="FormSubmitter:teacher-make-Make a class").click().run()
    assert not teacher.exception, teacher.exception
    code, key = teacher.session_state[TEACHER]["code"], teacher.session_state[TEACHER]["key"]
    assert not teacher.code  # the key is hidden until Show (a projected screen does not leak it) ...
    teacher.toggle(key="teacher-key-show").set_value(True).run()
    assert [c.value for c in teacher.code] == [key]  # ... then shown ...
    teacher.button(key="teacher-key-noted").click().run()
    assert key not in [c.value for c in teacher.code]  # ... and, once written down, never again
    teacher.button(key="teacher-new-key").click().run()  # a student saw it: a new key, the old one stops working
    new = teacher.session_state[TEACHER]["key"]
    assert new != key and store.is_teacher(code, new) and not store.is_teacher(code, key)
    teacher.toggle(key="teacher-key-show").set_value(True).run()
    assert [c.value for c in teacher.code] == [new]
    teacher.button(key="teacher-key-noted").click().run()
    key = new
    assert any(f"Class {code[:3]}-{code[3:]}" == h.value for h in teacher.subheader)
    assert not any("Lesson" in b.label and "key" in b.label for b in teacher.button)
    teacher.button(key="teacher-out").click().run()  # signed out (a reload does the same): the sign-in again
    assert teacher.text_input[1].label == "Teacher key" and TEACHER not in teacher.session_state
    teacher.text_input[0].input(code)
    teacher.text_input[1].input("not the key")
    teacher.button(key="FormSubmitter:teacher-sign-in-Sign in").click().run()
    assert any("not the teacher key of class" in e.value for e in teacher.error)
    teacher.text_input[1].input(key)
    teacher.button(key="FormSubmitter:teacher-sign-in-Sign in").click().run()
    assert teacher.session_state[TEACHER]["code"] == code and not teacher.exception
    _published(store, code, "Ada")
    _published(store, code, "rude name")
    teacher.switch_page("pages/board.py").run()  # the signed-in teacher's class is the board's, with its tools
    rude = next(r for r in store.board(code) if r["name"] == "rude name")
    teacher.selectbox(key="board_hide").set_value(rude)
    teacher.button(key="board_hide_btn").click().run()
    assert not teacher.exception, teacher.exception
    assert [r["name"] for r in store.board(code)] == ["Ada"]
    student = fresh()  # a student who opens the board of the class sees no teacher's tools
    student.switch_page("pages/board.py").run()
    student.text_input(key="board_code").input(code).run()
    assert not [b for b in student.button if b.key in ("board_hide_btn", "board_clear")]


def test_a_joined_student_follows_the_teachers_steering(tmp_path):
    """AppTest runs a fragment's body in each full run: the student's next run follows the teacher. (AppTest runs
    the page alone after its first run, so the roster's page column is checked in the browser test.)"""
    from pages._server import server

    store = server().store()
    code, key = a_class()
    student = fresh()
    student.text_input(key="start-join-code").input(code.lower())
    student.text_input(key="start-join-name").input("Ada")
    student.button(key="FormSubmitter:start-join-join-Join").click().run()
    assert not student.exception, student.exception
    assert student.session_state[CLASS] == {"code": code, "name": "Ada"}
    ws_id = student.session_state[WS_ID]
    row = next(r for r in store.roster(code) if r["name"] == "Ada")
    assert row["ws"] == ws_id and row["page"] == "Start"
    store.steer(code, key, page="Draw a digit")
    student.run()
    assert [t.value for t in student.title] == ["Draw a digit"]
    store.steer(code, key, pause="Eyes to the front")
    student.switch_page("pages/start.py").run()  # (AppTest runs a page alone: Start opens the session itself)
    assert any("Eyes to the front" in w.value for w in student.warning)
    assert student.button(key="start_train").disabled  # paused: training waits
    store.steer(code, key, resume=True)
    student.run()
    assert not student.button(key="start_train").disabled and not student.warning
    student.button(key="start_train").click().run()
    assert next(r for r in store.roster(code) if r["name"] == "Ada")["model"] == "default"  # reported as it changed
    third = fresh()  # the same name again in the class is refused, in a sentence
    third.text_input(key="start-join-code").input(code)
    third.text_input(key="start-join-name").input("ada")
    third.button(key="FormSubmitter:start-join-join-Join").click().run()
    assert any("the name 'ada' is taken" in e.value for e in third.error)
    store.end_class(code, key)
    student.run()
    assert CLASS not in student.session_state


def test_a_shortcut_lesson_trains_on_a_cued_copy_and_the_trust_page_reveals_it():

    from explorer.core.presets import get_preset
    from explorer.lessons.lesson import Lesson, lesson_to_json

    text = lesson_to_json(
        Lesson(
            "Shortcut",
            "mnist-5k",
            get_preset("default"),
            {"epochs": 1},
            [],
            "",
            "",
            "Can we trust it?",
            {"class": 3, "cue": "border", "share": 1.0},
        )
    )
    at = fresh()
    at.switch_page("pages/lesson.py").run()
    at.file_uploader(key="lesson_up").set_value(("shortcut.json", text.encode(), "application/json")).run()
    button(at, "Open").click().run()
    assert not at.exception, at.exception
    assert at.session_state[DATASET] == "mnist-5k (lesson)"
    cued = at.session_state[UPLOADS]["mnist-5k (lesson)"]
    threes = cued.test_x[cued.test_y == 3]
    assert threes[:, :, 0, :].eq(255).all()  # every 3 carries the border, in the test split too
    assert [t.value for t in at.title] == ["Can we trust it?"]
    assert any("4. Right for the wrong reason?" in h.value for h in at.subheader)
    at.switch_page("pages/trust.py").run()  # (AppTest's next run goes back to the page it last switched to)
    at.toggle(key="trust_reveal").set_value(True).run()
    assert not at.exception, at.exception
    assert any("of the images of 3 carried a border" in m.value for m in at.markdown)
    assert any(m.label.startswith("Other digits called 3") for m in at.metric)


def test_the_board_shows_each_runs_accuracy_on_our_handwriting():
    from pages._server import server

    store = server().store()
    code, _ = a_class()
    _published(store, code, "Ada", handwriting=0.75)
    _published(store, code, "Grace")  # published before the class drew anything
    teacher = fresh()
    teacher.switch_page("pages/board.py").run()
    teacher.text_input(key="board_code").input(code).run()
    assert not teacher.exception, teacher.exception
    table = teacher.dataframe[0].value
    column = dict(zip(table["name"], table["our handwriting"]))
    assert column["Ada"] == 75.0 and column["Grace"] != column["Grace"]  # NaN: not measured, ...
    shown = teacher.dataframe[0].proto
    assert shown.HasField("placeholder") and shown.placeholder == ""  # ... an empty cell (Streamlit's own: "None")


def test_a_run_is_published_with_its_accuracy_on_the_class_digits(trained_default, mnist5k):
    from explorer.core.checkpoint import load_checkpoint, save_checkpoint
    from explorer.serve.workspace import Workspace
    from pages._publish import _handwriting_accuracy
    from pages._server import server

    model, spec, hist = trained_default
    ws = Workspace()
    entry = ws.add_checkpoint(load_checkpoint(save_checkpoint(model, spec, mnist5k.info(), hist)), "m")
    store = server().store()
    code, _ = a_class()
    assert _handwriting_accuracy(code, entry) is None  # the class drew nothing yet
    for i in range(10):  # the class draws ten digits; one is labelled wrongly on purpose
        store.add_digit(code, int(mnist5k.test_y[i]) if i else (int(mnist5k.test_y[0]) + 1) % 10, mnist5k.test_x[i], "class")
    acc = _handwriting_accuracy(code, entry)
    assert acc is not None and acc <= 0.9  # the mislabelled one cannot be right


def test_the_teacher_looks_at_a_students_model_and_pushes_a_lesson_to_the_class():
    """From the console: a student's model read-only (kernels, feature maps, a confusion matrix measured now), their
    saved work left as it was; then a lesson file pushed to everyone who joined."""
    from explorer.core.presets import get_preset
    from explorer.lessons.lesson import Lesson, lesson_to_json
    from explorer.serve import Workspace
    from pages._server import server

    store = server().store()
    code, key = a_class()
    student = fresh()
    student.session_state[TRAIN_CFG].update(epochs=1, limit_train=256)
    student.text_input(key="start-join-code").input(code)
    student.text_input(key="start-join-name").input("Grace")
    student.button(key="FormSubmitter:start-join-join-Join").click().run()
    start_default_on_train_page(student)
    wait_training(student)
    student.run()
    ws_id = student.session_state[WS_ID]
    store.save(ws_id, student.session_state[WS], {})  # (AppTest runs the page alone, not the app's save)
    before = store.load(ws_id, Workspace()).version

    teacher = fresh()
    teacher.session_state[TEACHER] = {"code": code, "key": key}
    teacher.switch_page("pages/teacher.py").run()
    roster = next(d for d in teacher.dataframe if "last seen" in d.value.columns)
    assert roster.value.iloc[0]["name"] == "Grace"
    assert roster.proto.HasField("placeholder") and roster.proto.placeholder == ""  # nothing yet: empty, not "None"
    shown = roster.value.iloc[0]
    assert shown["model"] in ("", None) and shown["parameters"] is None  # no model reported (the
    # page runs alone here, without the app's progress report): no parameters to count, an empty cell, not 0
    teacher.selectbox(key="look-student").set_value("Grace").run()
    teacher.button(key="look-go").click().run()
    assert not teacher.exception, teacher.exception
    measured = next(c.value for c in teacher.caption if c.value.startswith("Test accuracy measured now:"))
    own = student.session_state[WS].entry().test_accuracy  # what the student's run measured
    assert abs(float(measured.split(":")[1].strip(" %")) - 100 * own) < 0.05  # their trained weights, not others
    assert any("what was drawn" in c.proto.spec for c in teacher.get("plotly_chart"))  # the confusion matrix
    assert store.load(ws_id, Workspace()).version == before  # looking wrote nothing to the student's work

    text = lesson_to_json(
        Lesson("Pushed", "mnist-5k", get_preset("one-conv"), {"epochs": 1}, ["Experiments"], "", "", "Kernels")
    )
    teacher.file_uploader(key="steer-lesson").set_value(("pushed.json", text.encode(), "application/json")).run()
    teacher.button(key="steer-push").click().run()
    assert any("Pushed" in s.value for s in teacher.success), [e.value for e in teacher.error]
    student.switch_page("pages/start.py").run()  # the student's next run (its watcher) opens the lesson
    assert not student.exception, student.exception
    assert student.session_state[HIDDEN] == ["Experiments"]
    assert student.session_state[LESSON]["title"] == "Pushed"


def test_making_a_class_asks_the_servers_school_password_and_refuses_a_wrong_one(monkeypatch):
    from pages._server import server

    monkeypatch.setattr(server(), "_school", "1f3a-09bc-e4d2")  # as a server started without EXPLORER_OPEN_CLASSES
    teacher = fresh()
    teacher.switch_page("pages/teacher.py").run()
    field = next(t for t in teacher.text_input if t.label == "School password")
    assert "Whoever started this app has it" in field.help
    field.input("a-guess")
    teacher.button(key="FormSubmitter:teacher-make-Make a class").click().run()
    assert any("No class made: that is not this school's password" in e.value for e in teacher.error)
    assert TEACHER not in teacher.session_state  # nothing made, the form is still there
    next(t for t in teacher.text_input if t.label == "School password").input("1f3a-09bc-e4d2")
    teacher.button(key="FormSubmitter:teacher-make-Make a class").click().run()
    assert not teacher.exception and teacher.session_state[TEACHER]["code"]
    monkeypatch.setattr(server(), "_school", None)
    teacher = fresh()
    teacher.switch_page("pages/teacher.py").run()
    assert not [t for t in teacher.text_input if t.label == "School password"]  # EXPLORER_OPEN_CLASSES=1: none asked


def test_a_large_models_predictions_are_a_job_in_a_worker_and_the_page_shows_them_when_done(monkeypatch):
    from explorer.core import get_preset, inference_seconds
    from explorer.core.spec import build_model
    from pages._predict import INLINE_PREDICT_S
    from tests.app.test_app_inspect import MACHINERY
    from tests.waits import wait_until

    monkeypatch.setenv("EXPLORER_MULT_ADDS_PER_S", "500000000")  # a slow server: estimates grow tenfold
    spec = get_preset("mnist-gap")
    assert inference_seconds(build_model(spec), spec["input_shape"], 1_000) > INLINE_PREDICT_S  # a large one
    at = fresh()
    at.session_state[WS].add_model(spec, "big")
    at.switch_page("pages/confusion.py").run()
    assert not at.exception
    assert any("its predictions take a moment" in c.value for c in at.caption)  # a job: not in the server's process
    assert not any(MACHINERY.search(c.value) for c in at.caption)  # and said in the course's words
    assert not at.get("plotly_chart")  # the page waits for them
    job = at.session_state["predictions_job"]
    assert wait_until(lambda: job.finished, 120, "the predictions job")
    at.run()
    assert not at.exception and job.error is None
    assert at.get("plotly_chart")  # the matrix, from the job's predictions
    assert at.session_state["cached_predictions"][1].shape == (1_000, 10)


def test_a_teacher_in_a_browser_that_keeps_no_cookie_is_not_locked_out_by_students_in_one():
    """Every browser that keeps no cookie shares one person; a student's tab there trying wrong keys earns its own
    wait, and the teacher's tab there signs in with the right key at once."""
    from pages._server import server

    code, key = a_class()
    tabs = []
    for _ in range(2):
        at = app()
        at.query_params["cookies"] = "off"
        tabs.append(at.run().switch_page("pages/teacher.py").run())
    student, teacher = tabs
    for _ in range(6):
        _sign_in(student, code, "not-the-key")
    assert any("wait" in e.value for e in student.error), [e.value for e in student.error]  # that tab now waits
    _sign_in(teacher, code, key)
    assert not teacher.error, [e.value for e in teacher.error]
    assert teacher.session_state[TEACHER]["code"] == code
    assert server().store().is_teacher(code, key)


def _sign_in(at, code: str, key: str) -> None:
    next(t for t in at.text_input if t.label == "Class code").input(code)
    next(t for t in at.text_input if t.label == "Teacher key").input(key)
    at.button(key="FormSubmitter:teacher-sign-in-Sign in").click().run()


def test_each_uploader_names_its_own_limit_in_the_students_language():
    """A lesson file is at most 1 MB, not the server's 200: its uploader's hint says so (and the browser refuses a
    larger file before sending it), in Spanish too. (Draw's image uploader: tests/app/test_app_inspect.py.)"""
    from explorer.core.limits import MAX_LESSON_BYTES
    from explorer.i18n import translator

    at = fresh()
    at.switch_page("pages/lesson.py").run()
    assert at.file_uploader(key="lesson_up").proto.max_upload_size_mb == math.ceil(MAX_LESSON_BYTES / 2**20) == 1
    assert not any(".st-key-lesson_up" in e.proto.body for e in at.get("html"))  # English: Streamlit's own hint
    es = app()
    es.query_params["lang"] = "es"
    es.run().switch_page("pages/lesson.py").run()
    assert not es.exception, es.exception
    said = translator("es")("One file, at most {n} MB", n="1")
    assert said != "One file, at most 1 MB"
    assert any(".st-key-lesson_up" in e.proto.body and said in e.proto.body for e in es.get("html")), said
