"""A class run by its teacher (explorer.serve.teaching), on a real SQLite database: made by the server with a key
shown once, joined by code and a unique name, read by the console without loading a model, steered, exported,
ended without a trace, and shared by two store objects as two replicas share PostgreSQL."""

from __future__ import annotations

import csv
import io
import time

import pytest

from explorer.core.limits import MAX_CLASS_GUESSES, MAX_CLASSES_PER_HOUR, MAX_GUESSES
from explorer.core.presets import get_preset
from explorer.serve.classroom import CODE_ALPHABET, normalize_code
from explorer.serve.roster import CSV_FIELDS, roster_csv
from explorer.serve.settings import school_password
from explorer.serve.store import WorkspaceStore
from explorer.serve.teaching import (
    STUCK_MINUTES,
    ClassError,
    Progress,
    best_measured,
    browser_wait,
)
from explorer.serve.workspace import Run

WS_A, WS_B, WS_C = "a" * 24, "b" * 24, "c" * 24


@pytest.fixture()
def store(tmp_path):
    return WorkspaceStore(state_dir=tmp_path)


def dump(store) -> str:
    """Every row of every table, as text: what a look at the database file would find."""
    out = []
    with store.engine.connect() as c:
        for name in store.sa.inspect(store.engine).get_table_names():
            out += [repr(tuple(r)) for r in c.exec_driver_sql(f"SELECT * FROM {name}")]
    return "\n".join(out)


def test_the_server_makes_the_code_and_a_key_it_keeps_only_as_a_hash(store):
    codes = {store.create_class("mnist")[0] for _ in range(20)}
    assert len(codes) == 20 and all(len(c) == 6 and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert not set("0O1IL2Z5S8B") & set("".join(codes))  # nothing to mishear or misread
    code, key = store.create_class("mnist")
    assert normalize_code(f" {code[:3].lower()}-{code[3:]} ") == code  # typed in any case, with or without a dash
    wrong = key[:-1] + ("x" if key[-1] != "x" else "y")  # (a key may end with an x itself)
    assert key not in dump(store) and store.is_teacher(code, key) and not store.is_teacher(code, wrong)
    assert "scrypt$" in dump(store)


def test_a_teachers_key_costs_one_scrypt_however_often_the_console_checks_it(store, monkeypatch):
    import hashlib

    code, key = store.create_class("mnist")
    calls = []
    real = hashlib.scrypt
    monkeypatch.setattr(hashlib, "scrypt", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    assert all(store.is_teacher(code, key) for _ in range(5)) and len(calls) == 1
    wrong = key[:-1] + ("x" if key[-1] != "x" else "y")
    assert not store.is_teacher(code, wrong) and len(calls) == 2  # a wrong key always pays
    assert store.is_teacher(code, f"  {key} ") and len(calls) == 2  # as typed, with spaces
    store.end_class(code, key)
    assert not store.is_teacher(code, key)  # an ended class has no teacher, remembered or not


def test_a_school_password_guards_making_a_class(store, monkeypatch):
    monkeypatch.setenv("EXPLORER_TEACHER_PASSWORD", "blue-heron")
    with pytest.raises(ClassError, match="not this school's password"):
        store.create_class("mnist", "guess")
    assert store.create_class("mnist", "blue-heron")[0]


def test_making_a_class_needs_a_password_by_default_and_one_is_made_for_the_server():
    made = school_password({})
    assert made and made != school_password({}) and len(made.replace("-", "")) == 12  # random, 48 bits
    assert school_password({"EXPLORER_TEACHER_PASSWORD": "blue-heron"}) == "blue-heron"
    assert school_password({"EXPLORER_OPEN_CLASSES": "1"}) is None  # opened on purpose, and only so


def test_wrong_school_passwords_slow_that_browser_and_never_the_right_one(store):
    now = 1_000_000.0
    for i in range(MAX_GUESSES):
        with pytest.raises(ClassError, match="not this school's password") as e:
            store.create_class("mnist", f"guess-{i}", now=now + i, who="student", wanted="blue-heron")
    assert "then each try waits longer" in str(store_error(store, "guess-x", now + 4.5, "other"))  # counted per browser
    with pytest.raises(ClassError, match=r"too many wrong school passwords from this browser: wait 2 s") as e:
        store.create_class("mnist", "blue-heron", now=now + MAX_GUESSES - 1, who="student", wanted="blue-heron")
    assert "doubles" in str(e.value)
    assert store.create_class("mnist", "blue-heron", now=now + MAX_GUESSES, who="teacher", wanted="blue-heron")[0]
    assert store.create_class("mnist", " blue-heron ", now=now + MAX_GUESSES + 3, who="student", wanted="blue-heron")[
        0
    ]  # the right one, once the wait is over (as typed, spaces)


def store_error(store, password: str, now: float, who: str) -> ClassError:
    with pytest.raises(ClassError) as e:
        store.create_class("mnist", password, now=now, who=who, wanted="blue-heron")
    return e.value


def test_one_person_makes_at_most_a_few_classes_an_hour(store):
    now = time.time()
    codes = [store.create_class("mnist", now=now + i, who="keen", wanted=None)[0] for i in range(MAX_CLASSES_PER_HOUR)]
    with pytest.raises(ClassError, match=f"you have made {MAX_CLASSES_PER_HOUR} classes in the last hour"):
        store.create_class("mnist", now=now + 10, who="keen", wanted=None)
    assert store.create_class("mnist", now=now + 10, who="another teacher", wanted=None)[0]  # per person
    assert store.create_class("mnist", now=now + 3601 + MAX_CLASSES_PER_HOUR, who="keen", wanted=None)[0]
    assert len(set(codes)) == MAX_CLASSES_PER_HOUR


def test_students_join_with_a_unique_name_and_every_refusal_is_a_sentence(store):
    code, _ = store.create_class("mnist")
    assert store.join(code.lower(), "Ada", WS_A) == code
    assert store.join(code, "Ada", WS_A) == code  # the same tab again: nothing changes
    for args, words in (
        ((code, "  ada ", WS_B), "the name 'ada' is taken"),
        ((code, "   ", WS_B), "type the name"),
        (("K7M-R4Q", "Bo", WS_B), "there is no class K7M-R4Q"),
        (("7B-cnn", "Bo", WS_B), "six letters and digits"),
    ):
        with pytest.raises(ClassError, match=words):
            store.join(*args)
    store.join(code, "Ada L.", WS_A)  # a new name for the same tab replaces the old one
    assert [r["name"] for r in store.roster(code)] == ["Ada L."] and store.member_name(code, WS_A) == "Ada L."


def test_wrong_keys_are_counted_per_browser_in_the_database(store, tmp_path):
    code, key = store.create_class("mnist")
    for i in range(MAX_GUESSES):
        with pytest.raises(ClassError, match="not the teacher key"):
            store.sign_in(code, f"guess-{i}", who="student-1")
    replica_b = WorkspaceStore(state_dir=tmp_path)  # another replica counts the same guesses
    with pytest.raises(ClassError, match="too many wrong keys from this browser .*: wait 2 s"):
        replica_b.sign_in(code, "guess-again", who="student-1")  # that browser waits before its next try
    assert replica_b.sign_in(code, key, who="the-teacher") == code  # the teacher's own browser is not slowed
    later = store.sign_in(code, key, who="student-1", now=__import__("time").time() + 3)  # the wait is over
    assert later == code


def test_each_further_wrong_key_doubles_the_wait_of_that_browser_only():
    assert [browser_wait(n) for n in range(MAX_GUESSES + 4)] == [0.0] * MAX_GUESSES + [2.0, 4.0, 8.0, 16.0]
    assert browser_wait(100) == 300.0


def test_the_right_key_gets_in_after_six_browsers_tried_five_wrong_keys_each(store, tmp_path):
    """The class-wide count slows the checks (one at a time) instead of refusing every key: the teacher's right
    key, from a browser of its own and from a second server that never saw it, still works."""
    import time

    code, key = store.create_class("mnist")
    for b in range(6):
        for i in range(MAX_GUESSES):
            with pytest.raises(ClassError, match="not the teacher key"):
                store.sign_in(code, f"guess-{b}-{i}", who=f"student-{b}")
    assert 6 * MAX_GUESSES >= MAX_CLASS_GUESSES  # the class-wide count is reached
    t0 = time.monotonic()
    assert WorkspaceStore(state_dir=tmp_path).sign_in(code, key, who="teacher-reloaded") == code
    assert store.sign_in(code, key, who="teacher-second-device") == code
    assert time.monotonic() - t0 < 10  # slowed by a second or two, not ten minutes
    with pytest.raises(ClassError, match="not the teacher key"):  # a new browser's wrong key is still checked
        store.sign_in(code, "guess-7", who="student-7")


def test_a_class_expires_and_its_names_go_with_it(store, monkeypatch):
    import time

    monkeypatch.setenv("EXPLORER_CLASS_HOURS", "1")
    code, key = store.create_class("mnist", now=time.time() - 2 * 3600)  # made two hours ago
    assert store.class_state(code) is None
    with pytest.raises(ClassError, match="ended or expired"):
        store.join(code, "Ada", WS_A)
    assert not store.is_teacher(code, key)
    assert store.purge_expired() == 1 and code not in dump(store)


def test_the_roster_reads_the_students_rows_only_and_marks_who_is_stuck(store):
    import time

    code, _ = store.create_class("mnist")
    now = time.time()
    for name, ws in (("Ada", WS_A), ("Bo", WS_B), ("Cy", WS_C)):
        store.join(code, name, ws, now=now)
    store.report(code, WS_A, Progress("Train", "default", 20_570, 2, "finished", 0.981), now=now)
    store.report(code, WS_B, Progress("Train", "deep", 90_000, 1, "diverged"), now=now)
    store.report(code, WS_C, Progress("Build", "", 0, 0, "", error="Not started: over the budget"), now=now)
    statements: list[str] = []
    store.sa.event.listen(
        store.engine, "before_cursor_execute", lambda conn, cur, sql, params, ctx, many: statements.append(sql)
    )
    rows = {r["name"]: r for r in store.roster(code, now=now + 60)}
    assert all(" models" not in s and " workspaces" not in s for s in statements)  # no model, no workspace read
    assert rows["Ada"]["best_accuracy"] == 0.981 and rows["Ada"]["params"] == 20_570 and rows["Ada"]["stuck"] == ""
    assert rows["Bo"]["stuck"].startswith("the last run diverged")
    assert rows["Cy"]["stuck"] == "an error: Not started: over the budget"
    idle = {r["name"]: r["stuck"] for r in store.roster(code, now=now + STUCK_MINUTES * 60 + 61)}
    assert idle["Ada"] == f"no progress for {STUCK_MINUTES + 1} minutes"
    store.report(code, WS_A, Progress("Train", "default", 20_570, 2, "finished", 0.981), now=now + 400)
    assert store.roster(code, now=now + 401)[0]["stuck"] != ""  # the same report again is no progress ...
    store.report(code, WS_A, Progress("Draw a digit", "default", 20_570, 2, "finished", 0.981), now=now + 400)
    assert store.roster(code, now=now + 401)[0]["stuck"] == ""  # ... a new page is


def test_the_teacher_steers_through_one_replica_and_students_read_it_through_another(store, tmp_path):
    code, key = store.create_class("mnist")
    student_side = WorkspaceStore(state_dir=tmp_path)  # a second process on the same database
    before = student_side.class_state(code)
    with pytest.raises(ClassError, match="not the teacher key"):
        student_side.steer(code, "guess", page="Draw a digit")
    store.steer(code, key, page="Draw a digit")
    store.steer(code, key, pause="Eyes to the front")
    store.steer(code, key, lesson='{"format": "cnn-explorer-lesson"}')
    after = student_side.class_state(code)
    assert (after.page, after.page_seq - before.page_seq) == ("Draw a digit", 1)
    assert after.paused == "Eyes to the front" and after.lesson_seq == before.lesson_seq + 1
    assert store.steer(code, key, resume=True).paused is None


def test_ending_a_class_deletes_its_names_drawings_and_board(store, mnist5k):
    code, key = store.create_class("mnist-5k")
    keep, _ = store.create_class("mnist-5k")
    store.join(code, "Zelda Quartermaine", WS_A)
    store.join(keep, "Other Student", WS_B)
    store.add_digit(code, 3, mnist5k.test_x[0], "Zelda Quartermaine")
    run = Run(1, "m", "mnist-5k", {}, 20_570, history={"status": "finished", "epochs": [{"epoch": 1, "test_accuracy": 0.9}]})
    store.publish(code, WS_A, run, get_preset("default"), "Zelda's net")
    assert "Zelda" in dump(store)
    with pytest.raises(ClassError, match="not the teacher key"):
        store.end_class(code, "guess")
    assert store.end_class(code, key) == 1
    assert "Zelda" not in dump(store) and code not in dump(store)
    assert store.report(code, WS_A, Progress("Train")) is False  # the student's app learns the class ended
    assert [r["name"] for r in store.roster(keep)] == ["Other Student"]  # another class is untouched


def test_a_class_past_its_hours_shows_no_board_even_before_the_purge(store):
    code, _ = store.create_class("mnist-5k")
    run = Run(1, "m", "mnist-5k", {}, 20_570, history={"status": "finished", "epochs": [{"epoch": 1, "test_accuracy": 0.9}]})
    store.publish(code, WS_A, run, get_preset("default"), "Zelda's net")
    assert [r["name"] for r in store.board(code)] == ["Zelda's net"]
    with store.engine.begin() as c:  # its hours are over; the hourly purge has not come yet
        c.execute(store.t_classes.update().where(store.t_classes.c.code == code).values(expires=0.0))
    assert store.board(code) == []


def test_the_csv_reads_back_and_no_cell_is_a_formula(store):
    code, _ = store.create_class("mnist")
    for name, ws in (('=HYPERLINK("http://x")', WS_A), ("+1", WS_B), ('Ada, "the" first\nline', WS_C)):
        store.join(code, name, ws)
    store.report(code, WS_A, Progress("Train", "@SUM(A1)", 100, 1, "finished", 0.5, path="4/13"))
    rows = list(csv.DictReader(io.StringIO(roster_csv(store.roster(code)))))
    assert {r["name"] for r in rows} == {'\'=HYPERLINK("http://x")', "'+1", 'Ada, "the" first line'}
    assert next(r for r in rows if r["name"].startswith("'="))["model"] == "'@SUM(A1)"
    assert all(not v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values())
    ada = next(r for r in rows if r["model"] == "'@SUM(A1)")
    assert ada["best test accuracy"] == "0.5000" and ada["path"] == "4/13"  # where they are on the guided path


def test_the_bench_times_the_console_for_a_class_of_30(capsys):
    from devtools.bench import run_bench

    row = run_bench(only="console", quick=True)[0]
    assert row["students"] == 30 and 0 < row["refresh_ms_median"] <= row["refresh_ms_max"]
    assert "[console] students=30" in capsys.readouterr().out  # printed, never asserted against a goal


def test_every_csv_cell_is_quoted_so_a_semicolon_locale_splits_no_name_into_a_formula(store):
    code, _ = store.create_class("mnist")
    store.join(code, "Bo;=1+1", WS_A)
    text = roster_csv(store.roster(code))
    body = text.splitlines()[1]
    assert body.startswith('"Bo;=1+1",') and body.endswith('"') and body.count('","') == len(CSV_FIELDS) - 1
    # a spreadsheet that reads ';' as the separator keeps the name's ';' inside its quotes: no cell begins with '='
    cells = next(csv.reader(io.StringIO(body), delimiter=";"))
    assert not any(c.lstrip().startswith("=") for c in cells), cells


def test_deleted_rows_are_overwritten_and_errors_carry_no_sql_parameters(store):
    with store.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    code, _ = store.create_class("mnist")
    secret = "Ada-the-student-name"
    with pytest.raises(store.sa.exc.IntegrityError) as err:
        with store.engine.begin() as c:  # a second class with the same code: the database refuses it
            c.execute(
                store.t_classes.insert().values(
                    code=code, key_hash=secret, dataset="mnist", created=0.0, expires=0.0, page_seq=0, lesson_seq=0
                )
            )
    assert secret not in str(err.value)  # the error (which a log keeps) names no value


@pytest.mark.parametrize(
    "taken,lookalike",
    [
        ("Ada", "Аda"),  # Cyrillic А
        ("Ada", "ＡＤＡ"),  # full-width, another case
        ("Bo", "B\u200bo"),  # a zero-width space inside
        ("Pete", "Реtе"),
    ],
)  # Cyrillic Р and е
def test_a_look_alike_of_a_name_in_the_class_is_refused(store, taken, lookalike):
    code, _ = store.create_class("mnist")
    store.join(code, taken, WS_A)
    with pytest.raises(ClassError, match="is taken in this class"):
        store.join(code, lookalike, WS_B)
    assert store.join(code, taken + " L.", WS_B) == code  # a name that only looks like itself is welcome


def test_the_teacher_removes_or_renames_a_student_and_only_the_teacher(store):
    code, key = store.create_class("mnist")
    store.join(code, "rude name", WS_A)
    store.join(code, "Bo", WS_B)
    with pytest.raises(ClassError, match="taken"):
        store.rename_student(code, key, "rude name", "BO")
    assert store.rename_student(code, key, "rude name", "Ada") == "Ada"
    assert sorted(r["name"] for r in store.roster(code)) == ["Ada", "Bo"] and store.member_name(code, WS_A) == "Ada"
    with pytest.raises(ClassError, match="not the teacher key"):
        store.remove_student(code, "a student's guess", "Bo")
    assert store.remove_student(code, key, "Bo") and [r["name"] for r in store.roster(code)] == ["Ada"]
    assert store.join(code, "Bo", WS_B) == code  # they may join again


def test_a_join_or_a_drawing_after_the_class_ended_is_refused_and_leaves_no_row(store, mnist5k, monkeypatch):
    """The class is checked in the same transaction as the write: a join or a drawing that raced End the class
    (it passed the first check just before the class went) is refused, and no orphan row is left."""
    code, key = store.create_class("mnist-5k")
    monkeypatch.setattr(type(store), "_live", lambda self, c, now: code)  # the early check passed a moment ago
    store.end_class(code, key)
    with pytest.raises(ClassError, match="has ended"):
        store.join(code, "Late Lola", WS_A)
    with pytest.raises(ClassError, match="has ended"):
        store.add_digit(code, 3, mnist5k.test_x[0], "Late Lola")
    assert "Late Lola" not in dump(store)


def test_the_roster_counts_only_runs_this_server_trained_to_the_end_on_the_classs_data(mnist5k):
    """A loaded file's history claims 100%: it never counts; a run this server trained (on the loaded model) does,
    with the accuracy it measured; a run on an upload named like the class's dataset does not."""
    from explorer.core.checkpoint import load_checkpoint, save_checkpoint
    from explorer.core.config import TrainConfig
    from explorer.core.spec import build_model
    from explorer.serve.workspace import Workspace

    spec = get_preset("default")
    claims = {"status": "finished", "steps": [], "epochs": [{"epoch": 1, "step": 1, "test_accuracy": 1.0}]}
    ws = Workspace()
    ws.add_checkpoint(load_checkpoint(save_checkpoint(build_model(spec, seed=3), spec, mnist5k.info(), claims)), "b")
    assert best_measured(ws.all_runs(), "mnist-5k") is None  # claimed, not measured
    run = ws.start_training(mnist5k, TrainConfig(epochs=1, limit_train=256))
    run.trainer.join(120)
    ws.settle()
    measured = run.final()["test_accuracy"]
    assert measured < 1.0 and best_measured(ws.all_runs(), "mnist-5k") == measured
    assert best_measured(ws.all_runs(), "mnist") is None  # another class's dataset
    assert best_measured(ws.all_runs(), "mnist-5k", uploads=["mnist-5k"]) is None  # an upload bearing its name
