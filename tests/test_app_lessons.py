"""The Lessons pages through AppTest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import start_default_on_train_page, wait_training

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def fresh() -> AppTest:
    return AppTest.from_file(APP, default_timeout=120).run()


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
    assert at.session_state["train_config"]["augment"]["rotation"] == 30
    next(b for b in at.button if b.label == "Redraw").click().run()
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


def test_students_publish_to_the_class_board_and_the_teacher_sees_it():
    student = fresh()
    student.session_state["lesson"] = {"title": "Week 4", "notes": "", "class_code": "week4-test"}
    student.session_state["train_config"].update(epochs=1, limit_train=256)
    start_default_on_train_page(student)
    wait_training(student)
    student.run()
    student.text_input(key="board_name").input("Grace")
    student.button(key="board_publish").click().run()  # the name typed and the click in one rerun
    assert not student.exception

    teacher = fresh()
    teacher.switch_page("pages/board.py").run()
    assert any("Type the class code" in i.value for i in teacher.info)
    teacher.text_input(key="board_code").input("week4-test").run()
    assert not teacher.exception
    assert any("**1** run(s) published" in m.value and "Grace" in m.value for m in teacher.markdown)
    nobody = fresh()
    nobody.switch_page("pages/board.py").run()
    nobody.text_input(key="board_code").input("another-class").run()
    assert any("Nothing published to **another-class**" in i.value for i in nobody.info)
