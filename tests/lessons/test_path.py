"""The guided path: steps are data (the lecture's path is a file of records), checks are small pure functions of
the student's own state; a step completes when its check holds, and a new goal is one record and one function."""

from __future__ import annotations

import dataclasses
import re

import pytest

from explorer.core.presets import get_preset
from explorer.lessons.lesson import Lesson, lesson_to_json, parse_lesson
from explorer.lessons.path import (
    CHECKS,
    Learner,
    PathProgress,
    RunFacts,
    advance,
    check,
    load_path,
    parse_steps,
    pass_target,
)
from pages._nav import TITLES as MENU_TITLES

TITLES = set(MENU_TITLES)


def run(
    preset: str,
    status: str = "finished",
    acc: float | None = 0.9,
    dataset: str = "mnist-5k",
    val: float | None = None,
    key: str = "",
    spec: dict | None = None,
    config: dict | None = None,
    epochs: int = 1,
    claimed: bool = False,
) -> RunFacts:
    history = {
        "status": status,
        "epochs": [{"epoch": e + 1, "test_accuracy": acc, "val_accuracy": val} for e in range(epochs)]
        if acc is not None
        else [],
    }
    if claimed:
        history["claimed"] = True
    return RunFacts.of(spec or get_preset(preset), dataset, history, key or preset, config)


def test_both_paths_follow_their_lessons_on_the_apps_own_pages():
    steps = load_path("lecture", TITLES)
    assert 15 <= len(steps) <= 20
    assert [s.id for s in steps][:4] == ["data", "lab", "linear", "one-conv"] and steps[-1].id == "pass-98"
    assert {"overfitting", "regularise", "confusion", "shuffle", "width"} <= {s.id for s in steps}
    trust = load_path("trust", TITLES)
    assert [s.id for s in trust] == ["threshold", "reject", "handwriting", "learned-map", "data-size", "fooling", "shortcut"]
    for s in steps + trust:
        assert s.check in CHECKS and s.page in TITLES and s.element
        assert 2 <= len(re.findall(r"[.!?](\s|$)", s.text)) <= 4, s.id  # 2 to 4 sentences
        assert "Load preset" not in s.text or "Create model" in s.text, s.id  # the draft becomes a model


def test_runs_are_read_from_their_specs_including_residual_blocks():
    r = run("preact-resnet")
    assert r.convs >= 3 and r.finished and r.test_accuracy == 0.9
    assert run("linear").convs == 0 and run("one-conv").convs == 1
    assert run("one-conv").width == 4 and run("wider").width == 8 and run("one-conv").pools
    assert run("default", config={"augment": {"rotation": 10}}).augmented and not run("default").augmented
    assert not run("default", claimed=True).finished  # a loaded file's history is claimed, not measured here


NO_POOL = {
    "input_shape": [1, 28, 28],
    "num_classes": 10,
    "layers": [
        {"type": "Conv2d", "out_channels": 4, "kernel_size": 3},
        {"type": "ReLU"},
        {"type": "Flatten"},
        {"type": "Linear", "out_features": 10},
    ],
}


@pytest.mark.parametrize(
    "name,yes,no",
    [
        ("seen_data", Learner(pages=frozenset({"Data"})), Learner(pages=frozenset({"Build"}))),
        ("trained_linear", Learner((run("linear"),)), Learner((run("linear", status="stopped"), run("one-conv")))),
        ("trained_one_conv", Learner((run("one-conv"),)), Learner((run("default"),))),
        (
            "compared_linear_and_conv",
            Learner((run("linear"), run("one-conv")), events=frozenset({"overlay:linear+conv"})),
            Learner((run("linear"), run("one-conv")), frozenset({"Train"})),
        ),  # not overlaid
        ("trained_pooling", Learner((run("one-conv"), run("nopool", spec=NO_POOL))), Learner((run("default"),))),
        ("trained_wider", Learner((run("one-conv"), run("wider"))), Learner((run("one-conv"), run("deeper")))),
        ("trained_deeper", Learner((run("default"),)), Learner((run("one-conv"),))),
        ("trained_long", Learner((run("default", epochs=8, val=0.9),)), Learner((run("default", epochs=3, val=0.9),))),
        ("regularised", Learner((run("default", config={"augment": {"shift": 2}}),)), Learner((run("default"),))),
        ("read_unit_stats", Learner(events=frozenset({"unit_stats"})), Learner(events=frozenset({"drew"}))),
        (
            "ran_invariance_experiment",
            Learner(events=frozenset({"experiment:shift"})),
            Learner(events=frozenset({"experiment:arch"})),
        ),
        ("explained_two_ways", Learner(events=frozenset({"explain:compare"})), Learner(events=frozenset({"drew"}))),
        (
            "passed_98",
            Learner((run("default", val=0.981, dataset="mnist"),)),
            Learner(
                (
                    run("default", val=0.979, acc=0.99, dataset="mnist"),  # the test split does not decide
                    run("default", status="running", val=0.99, dataset="mnist"),
                    run("default", val=0.99, dataset="mnist", claimed=True),
                )
            ),
        ),  # nor a loaded file's own claim
    ],
)
def test_each_check_reads_the_students_own_state(name, yes, no):
    assert CHECKS[name](yes) and not CHECKS[name](no)


def test_the_target_is_per_dataset_on_validation():
    assert pass_target("mnist") == 0.98 and pass_target("mnist-5k") == 0.97 and pass_target("my-upload") == 0.9
    assert CHECKS["passed_98"](Learner((run("default", val=0.971, dataset="mnist-5k"),)))


def test_a_step_counts_only_what_happened_after_it_was_shown_one_step_at_a_time():
    steps = load_path("lecture")
    progress = PathProgress()
    done_before = Learner((run("default", key="1"), run("linear", key="2")), {"Data": 1}, {"kernels": 1})
    assert advance(steps, progress, done_before) == []  # nothing counts for a step that was never shown
    progress.show(steps, done_before, tick=2)  # step 1 on screen from tick 2 on
    assert advance(steps, progress, done_before) == []  # the Data page was opened before: it does not count
    now = Learner(done_before.runs, {"Data": 3}, {"kernels": 1, "lab:pixel": 3})
    assert [s.id for s in advance(steps, progress, now)] == ["data"]  # one step, though the lab's event is there
    assert advance(steps, progress, now) == []  # the next step was not shown yet: no cascade
    progress.show(steps, now, tick=4)
    assert advance(steps, progress, now) == []  # the lab's event came before its step was shown
    moved = Learner(now.runs, now.pages, {**now.events, "lab:pixel": 5})
    assert [s.id for s in advance(steps, progress, moved)] == ["lab"]
    progress.show(steps, moved, tick=6)
    assert advance(steps, progress, moved) == []  # the linear model trained before the step: not this step's run
    trained = Learner(moved.runs + (run("linear", key="3"),), moved.pages, moved.events)
    assert [s.id for s in advance(steps, progress, trained)] == ["linear"]
    assert progress.label(steps) == f"3/{len(steps)}"
    progress.skipped.append("one-conv")
    assert steps[progress.current(steps)].id == "compare"


ACTIONS = {  # what a student does for each check, as facts that happen after the step is shown
    "seen_data": {"pages": ["Data"]},
    "explained_a_pixel": {"events": ["lab:pixel"]},
    "trained_linear": {"runs": [run("linear")]},
    "trained_one_conv": {"runs": [run("one-conv")]},
    "compared_linear_and_conv": {"events": ["overlay:linear+conv"]},
    "saw_trained_kernels": {"events": ["kernels"]},
    "trained_pooling": {"runs": [run("nopool", spec=NO_POOL)]},
    "trained_wider": {"runs": [run("wider")]},
    "trained_deeper": {"runs": [run("default")]},
    "trained_long": {"runs": [run("default", epochs=15, val=0.9)]},
    "regularised": {"runs": [run("default", config={"augment": {"rotation": 10}})]},
    "saw_feature_maps": {"events": ["feature_maps"]},
    "read_unit_stats": {"events": ["unit_stats"]},
    "read_confusion": {"events": ["confusion"]},
    "ran_shuffle_experiment": {"events": ["experiment:shuf"]},
    "ran_invariance_experiment": {"events": ["experiment:rot"]},
    "explained_two_ways": {"events": ["explain:compare"]},
    "fooled_own_7": {"events": ["fooled_own_7"]},
    "passed_98": {"runs": [run("default", val=0.975)]},
    "moved_threshold": {"events": ["trust:threshold"]},
    "ran_reject_class": {"events": ["trust:reject"]},
    "read_class_handwriting": {"events": ["trust:handwriting"]},
    "saw_learned_map": {"events": ["learned_map"]},
    "ran_data_size": {"events": ["experiment:size"]},
    "fooled_the_model": {"events": ["fooled"]},
    "found_shortcut": {"events": ["shortcut"]},
}


@pytest.mark.parametrize("name", ["lecture", "trust"])
def test_each_path_is_walked_step_by_step_each_step_shown_before_its_own_action_completes_it(name):
    steps = load_path(name)
    progress, runs, pages, events, tick = PathProgress(), [], {}, {}, 0
    for i, step in enumerate(steps):
        tick += 1
        learner = Learner(tuple(runs), dict(pages), dict(events))
        progress.show(steps, learner, tick)
        assert steps[progress.current(steps)].id == step.id and step.id in progress.shown
        assert advance(steps, progress, learner) == [], step.id  # shown, nothing done yet: not complete
        act = ACTIONS[step.check]
        tick += 1
        runs += [dataclasses.replace(r, key=f"{i}-{r.key}") for r in act.get("runs", [])]
        pages.update(dict.fromkeys(act.get("pages", []), tick))
        events.update(dict.fromkeys(act.get("events", []), tick))
        assert advance(steps, progress, Learner(tuple(runs), dict(pages), dict(events))) == [step], step.id
    assert progress.current(steps) == len(steps)


def test_a_new_goal_is_one_record_and_one_function():
    @check("drew_three_times")
    def _three(s: Learner) -> bool:
        return {"drew", "drew:2", "drew:3"} <= s.events

    try:
        steps = parse_steps(
            [
                {
                    "id": "three",
                    "page": "Draw a digit",
                    "title": "Three drawings",
                    "element": "draw_pad",
                    "text": "Draw three digits.",
                    "goal": "three drawings answered",
                    "check": "drew_three_times",
                }
            ],
            TITLES,
        )
        progress = PathProgress()
        progress.show(steps, Learner(), tick=1)
        assert advance(steps, progress, Learner(events={"drew": 2, "drew:2": 2})) == []
        assert advance(steps, progress, Learner(events={"drew": 2, "drew:2": 2, "drew:3": 3})) == steps
    finally:
        del CHECKS["drew_three_times"]


@pytest.mark.parametrize(
    "records,words",
    [
        ([], "a list of steps"),
        ([{"id": "x"}], "needs these fields"),
        (
            [
                {
                    "id": "x",
                    "page": "Data",
                    "title": "t",
                    "element": "data_pick",
                    "text": "t",
                    "goal": "g",
                    "check": "no_such",
                }
            ],
            "names the check 'no_such'",
        ),
        (
            [
                {
                    "id": "x",
                    "page": "Nowhere",
                    "title": "t",
                    "element": "data_pick",
                    "text": "t",
                    "goal": "g",
                    "check": "seen_data",
                }
            ],
            "opens the page 'Nowhere'",
        ),
        (
            [
                {
                    "id": "x",
                    "page": "Data",
                    "title": "t",
                    "element": "data_pick",
                    "text": "t",
                    "goal": "g",
                    "check": "seen_data",
                }
            ]
            * 2,
            "the same id",
        ),
    ],
)
def test_a_path_that_cannot_be_followed_is_refused_in_a_sentence(records, words):
    with pytest.raises(ValueError, match=words):
        parse_steps(records, TITLES)


def test_a_lesson_names_a_path_or_carries_its_own():
    own = [
        {
            "id": "d",
            "page": "Data",
            "title": "Look",
            "element": "data_pick",
            "text": "Look at the data.",
            "goal": "the Data page opened",
            "check": "seen_data",
        }
    ]
    for path in ("lecture", own):
        lesson = parse_lesson(lesson_to_json(Lesson("L", "mnist-5k", get_preset("default"), path=path)))
        assert lesson.path == path
    with pytest.raises(ValueError, match="lesson file: there is no path called 'nope'"):
        lesson_to_json(Lesson("L", "mnist-5k", get_preset("default"), path="nope"))
    with pytest.raises(ValueError, match="lesson file: step 1 .* names the check"):
        lesson_to_json(Lesson("L", "mnist-5k", get_preset("default"), path=[{**own[0], "check": "os.system"}]))


def test_the_panel_quotes_the_students_own_model_in_figures():
    from explorer.core.spec import summarize
    from explorer.lessons.path import model_sentence

    spec = get_preset("default")
    rows = summarize(spec).layers
    total, last = sum(r.params for r in rows), [r for r in rows if r.type == "Linear"][-1].params
    assert model_sentence(spec) == (
        f"Your model has 8 kernels of 5×5 in its first convolution and {total:,} "
        f"parameters, {last / total:.0%} of them in its last layer."
    )
    assert model_sentence(get_preset("linear")).startswith(f"Your model has {784 * 47 + 47:,} parameters, 100% of them")


def test_the_guide_lists_both_paths_steps_as_the_files_have_them():
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "docs" / "guide.md").read_text()  # the guide lists them
    for name in ("lecture", "trust"):
        for i, s in enumerate(load_path(name), 1):
            assert f"{i}. **{s.title}** ({s.page}): {s.goal}." in readme, (name, s.id)


@pytest.mark.parametrize(
    "element", ["x} body { background: url(https://evil.example/x) } .y {", "no_such_control", "data_pick</style><form>"]
)
def test_a_lesson_step_that_rings_anything_but_a_known_control_is_refused(element):
    step = {"id": "x", "page": "Data", "title": "t", "element": element, "text": "Look.", "goal": "g", "check": "seen_data"}
    with pytest.raises(ValueError, match="is not a control of the app"):
        parse_steps([step], TITLES)


def test_every_control_a_step_may_ring_is_a_key_on_the_apps_pages():
    from pathlib import Path

    from explorer.lessons.path import KNOWN_ELEMENTS

    source = "\n".join(p.read_text() for p in (Path(__file__).parents[2] / "pages").glob("*.py"))
    for key in KNOWN_ELEMENTS:
        named = f'"{key}"' in source or (key.startswith("run-") and re.search(rf'panel\(\s*"{key[4:]}"', source))
        assert named, key


def test_a_steps_words_are_shown_as_written_no_image_link_or_tag_from_a_lesson_file():
    from explorer.lessons.path import shown_text

    text = "See ![x](https://evil.example/x.png) and [click](https://evil.example) <img src=x> **now**; load `one-conv`."
    out = shown_text(text)
    assert "![" not in out and "](" not in out and "<img" not in out and "\\*\\*now" in out
    assert "`one-conv`" in out  # a code span stays one (markdown shows it as written)
    assert "`" not in shown_text("an `unpaired backtick").replace("\\`", "")
