"""The guided path: steps are data (the lecture's path is a file of records), checks are small pure functions of
the student's own state; a step completes when its check holds, and a new goal is one record and one function."""

from __future__ import annotations

import re

import pytest

from explorer.core.presets import get_preset
from explorer.lessons.lesson import Lesson, lesson_to_json, parse_lesson
from explorer.lessons.path import CHECKS, Learner, PathProgress, RunFacts, advance, check, load_path, parse_steps
from pages._nav import PAGES

TITLES = {t for items in PAGES.values() for _, t, _ in items}


def run(preset: str, status: str = "finished", acc: float | None = 0.9, dataset: str = "mnist-5k") -> RunFacts:
    epochs = [{"epoch": 1, "test_accuracy": acc}] if acc is not None else []
    return RunFacts.of(get_preset(preset), dataset, {"status": status, "epochs": epochs})


def test_the_lecture_path_follows_the_lecture_on_the_apps_own_pages():
    steps = load_path("lecture", TITLES)
    assert 10 <= len(steps) <= 14
    assert [s.id for s in steps][:3] == ["data", "linear", "one-conv"] and steps[-1].id == "pass-98"
    for s in steps:
        assert s.check in CHECKS and s.page in TITLES and s.element
        assert 2 <= len(re.findall(r"[.!?](\s|$)", s.text)) <= 4, s.id  # 2 to 4 sentences


def test_runs_are_read_from_their_specs_including_residual_blocks():
    r = run("preact-resnet")
    assert r.convs >= 3 and r.finished and r.test_accuracy == 0.9
    assert run("linear").convs == 0 and run("one-conv").convs == 1


@pytest.mark.parametrize("name,yes,no", [
    ("seen_data", Learner(pages=frozenset({"Data"})), Learner(pages=frozenset({"Build"}))),
    ("trained_linear", Learner((run("linear"),)), Learner((run("linear", status="stopped"), run("one-conv")))),
    ("trained_one_conv", Learner((run("one-conv"),)), Learner((run("default"),))),
    ("compared_linear_and_conv", Learner((run("linear"), run("one-conv")), frozenset({"Train"})),
     Learner((run("linear"), run("one-conv", dataset="fashion-mnist")), frozenset({"Train"}))),
    ("trained_pooling", Learner((run("default"),)), Learner((run("linear"),))),
    ("trained_deeper", Learner((run("default"),)), Learner((run("one-conv"),))),
    ("found_dead_relus", Learner(events=frozenset({"dead_relus"})), Learner(events=frozenset({"drew"}))),
    ("ran_invariance_experiment", Learner(events=frozenset({"experiment:shift"})),
     Learner(events=frozenset({"experiment:arch"}))),
    ("passed_98", Learner((run("default", acc=0.981),)), Learner((run("default", acc=0.979),
                                                                  run("default", status="running", acc=0.99)))),
])
def test_each_check_reads_the_students_own_state(name, yes, no):
    assert CHECKS[name](yes) and not CHECKS[name](no)


def test_a_step_completes_when_its_check_holds_and_a_skipped_one_is_passed_by():
    steps = load_path("lecture")
    progress = PathProgress()
    assert advance(steps, progress, Learner()) == [] and progress.label(steps) == f"0/{len(steps)}"
    done = advance(steps, progress, Learner((run("linear"),), frozenset({"Data"})))
    assert [s.id for s in done] == ["data", "linear"] and steps[progress.current(steps)].id == "one-conv"
    progress.skipped.append("one-conv")
    done = advance(steps, progress, Learner((run("linear"), run("default")), frozenset({"Data", "Train"})))
    assert [s.id for s in done] == ["compare"]  # the default is convolutional: compared with the linear one
    assert progress.label(steps) == f"4/{len(steps)}"


def test_a_new_goal_is_one_record_and_one_function():
    @check("drew_three_times")
    def _three(s: Learner) -> bool:
        return {"drew", "drew:2", "drew:3"} <= s.events

    try:
        steps = parse_steps([{"id": "three", "page": "Draw a digit", "title": "Three drawings", "element": "draw_pad",
                              "text": "Draw three digits.", "goal": "three drawings answered",
                              "check": "drew_three_times"}], TITLES)
        progress = PathProgress()
        assert advance(steps, progress, Learner(events=frozenset({"drew", "drew:2"}))) == []
        assert advance(steps, progress, Learner(events=frozenset({"drew", "drew:2", "drew:3"}))) == steps
    finally:
        del CHECKS["drew_three_times"]


@pytest.mark.parametrize("records,words", [
    ([], "a list of steps"),
    ([{"id": "x"}], "needs these fields"),
    ([{"id": "x", "page": "Data", "title": "t", "element": "e", "text": "t", "goal": "g", "check": "no_such"}],
     "names the check 'no_such'"),
    ([{"id": "x", "page": "Nowhere", "title": "t", "element": "e", "text": "t", "goal": "g", "check": "seen_data"}],
     "opens the page 'Nowhere'"),
    ([{"id": "x", "page": "Data", "title": "t", "element": "e", "text": "t", "goal": "g", "check": "seen_data"}] * 2,
     "the same id"),
])
def test_a_path_that_cannot_be_followed_is_refused_in_a_sentence(records, words):
    with pytest.raises(ValueError, match=words):
        parse_steps(records, TITLES)


def test_a_lesson_names_a_path_or_carries_its_own():
    own = [{"id": "d", "page": "Data", "title": "Look", "element": "data_pick", "text": "Look at the data.",
            "goal": "the Data page opened", "check": "seen_data"}]
    for path in ("lecture", own):
        lesson = parse_lesson(lesson_to_json(Lesson("L", "mnist-5k", get_preset("default"), path=path)))
        assert lesson.path == path
    with pytest.raises(ValueError, match="lesson file: there is no path called 'nope'"):
        lesson_to_json(Lesson("L", "mnist-5k", get_preset("default"), path="nope"))
    with pytest.raises(ValueError, match="lesson file: step 1 .* names the check"):
        lesson_to_json(Lesson("L", "mnist-5k", get_preset("default"), path=[{**own[0], "check": "os.system"}]))
