"""Limits per person, not per tab: two tabs (workspaces) of one browser share one job at a time, one count of runs
and one upload budget; identities are signed, so a tab cannot take on another person's."""

from __future__ import annotations

import threading

import pytest

from explorer.core.config import TrainConfig
from explorer.core.presets import get_preset
from explorer.core.uploads import check_uploads_room, load_csv
from explorer.i18n import translator
from explorer.serve.people import People, Quota
from explorer.serve.workspace import Workspace


def tabs(people: People, person: str, n: int = 2) -> list[Workspace]:
    out = []
    for _ in range(n):
        ws = Workspace()
        ws.quota = Quota(people, person)
        out.append(ws)
    return out


def test_identities_are_signed_and_a_forged_or_foreign_one_is_refused():
    people, other = People("school secret"), People("another server")
    ada = people.new_person()
    token = people.token(ada)
    assert people.person_from(token) == ada and People("school secret").person_from(token) == ada  # replicas agree
    assert other.person_from(token) is None  # signed by another server
    bob = people.new_person()
    assert people.person_from(f"{bob}.{token.split('.')[1]}") is None  # Ada's signature on Bob's id
    for junk in (None, "", "x", "a.b.c", "<script>.x", "é" * 300, 7):
        assert people.person_from(junk) is None


def test_one_job_at_a_time_per_person_across_their_tabs():
    people = People("s")
    first, second = tabs(people, "ada")
    go = threading.Event()
    job = first.start_job("filters", lambda progress: go.wait(10) and 1)
    with pytest.raises(ValueError, match=r"one of your jobs still runs \(filters, maybe in another tab\)") as caught:
        second.start_job("experiment", lambda progress: 2)
    spanish = caught.value.say(translator("es"))  # the page says it in the student's language
    assert spanish.startswith("una de tus tareas sigue en marcha (filters, quizá en otra pestaña)"), spanish
    other = tabs(people, "bob", 1)[0].start_job("bob's", lambda progress: 3)  # another person is not held up
    assert other.join(10) and other.result == 3
    go.set()
    assert job.join(10) and job.result == 1
    again = second.start_job("experiment", lambda progress: 2)  # once it ended, the next one starts
    assert again.join(10) and again.result == 2


def test_a_cancelled_job_frees_the_persons_slot_at_once():
    people = People("s")
    ws = tabs(people, "ada", 1)[0]
    stop = threading.Event()

    def slow(progress):
        while not stop.wait(0.01):
            progress(0, 1)

    job = ws.start_job("slow", slow)
    job.cancel()  # "Generate" again: the old one is cancelled, the new one may start
    new = ws.start_job("next", lambda progress: 5)
    stop.set()
    assert new.join(10) and new.result == 5 and job.join(10)


def test_a_group_of_parts_counts_as_one_job():
    people = People("s")
    ws = tabs(people, "ada", 1)[0]
    group = ws.start_job_group("sizes", [(lambda progress, k=k: k, (), {}) for k in range(3)], sum)
    assert group.join(10) and group.result == 3


def test_runs_are_counted_per_person_across_tabs(monkeypatch, mnist5k):
    monkeypatch.setenv("EXPLORER_MAX_QUEUED_RUNS", "1")  # one training and one waiting per person
    people = People("s")
    first, second, third = tabs(people, "ada", 3)
    cfg = TrainConfig(epochs=50, limit_train=512, eval_splits=())
    runs = []
    for ws in (first, second):
        ws.add_model(get_preset("default"), "m")
        runs.append(ws.start_training(mnist5k, cfg))
    third.add_model(get_preset("default"), "m")
    try:
        with pytest.raises(
            ValueError,
            match=r"you already have 2 runs training or waiting \(across your tabs\), the "
            r"most one person may have at once \(2\)",
        ):
            third.start_training(mnist5k, cfg)
        stranger = tabs(people, "bob", 1)[0]
        stranger.add_model(get_preset("default"), "m")
        runs.append(stranger.start_training(mnist5k, TrainConfig(epochs=1, limit_train=256, eval_splits=())))
        runs[0].trainer.stop()
        runs[0].trainer.join(30)
        runs.append(third.start_training(mnist5k, TrainConfig(epochs=1, limit_train=256, eval_splits=())))
    finally:
        for r in runs:
            r.trainer.stop()
            r.trainer.join(30)


def test_upload_memory_is_counted_per_person_across_tabs(monkeypatch):
    monkeypatch.setenv("EXPLORER_MAX_UPLOADS_MB", "1")
    alive = {"tab-1": True, "tab-2": True}
    people = People("s", session_alive=lambda s: alive.get(s, False))
    rows = "\n".join(f"{i % 2}," + ",".join(["200"] * 784) for i in range(700))  # 700 images of 28x28: 0.52 MB
    big = load_csv(f"label,{','.join(f'p{i}' for i in range(784))}\n{rows}".encode(), name="first")
    people.hold_uploads("ada", "tab-1", {"first": big})
    tab2: dict = {}
    people.hold_uploads("ada", "tab-2", tab2)
    second = load_csv(f"label,{','.join(f'p{i}' for i in range(784))}\n{rows}".encode(), name="second")
    with pytest.raises(
        ValueError,
        match=r"your uploads would take 1 MB; a session keeps at most 1 MB .*first "
        r"\(another tab\)",
    ):
        check_uploads_room({**people.other_uploads("ada", "tab-2"), **tab2}, second)
    check_uploads_room({**people.other_uploads("bob", "tab-3"), **{}}, second)  # another person: room
    alive["tab-1"] = False  # the first tab is closed: its upload no longer counts
    check_uploads_room({**people.other_uploads("ada", "tab-2"), **tab2}, second)
    people.sweep()
    assert len(people) == 1  # ada still holds tab 2's (empty) uploads; nothing else is remembered


def test_people_who_hold_nothing_are_forgotten_as_visitors_come_and_go():
    from explorer.serve.people import SWEEP_EVERY

    alive: set[str] = set()
    people = People("s", session_alive=lambda s: s in alive)
    for i in range(SWEEP_EVERY * 3):  # every visitor's tab holds its (empty) uploads once, then closes
        alive.add(f"tab-{i}")
        people.hold_uploads(f"visitor-{i}", f"tab-{i}", {})
        alive.discard(f"tab-{i}")
    assert len(people) < SWEEP_EVERY  # swept as they went, not kept for the server's life


def test_one_person_with_eight_tabs_is_held_to_one_memory_budget_across_them(monkeypatch):
    """The 24-model cap is per workspace; the memory one person's models hold is counted across all their tabs,
    and a new model past it is refused with a sentence, before it is built. Another person is not affected."""
    from explorer.core.spec import summarize
    from explorer.serve.people import model_bytes

    monkeypatch.setenv("EXPLORER_MAX_PERSON_MODELS_MB", "2")
    spec = get_preset("default")  # 20,570 parameters: 165 KB with its copy
    each = model_bytes(summarize(spec).total_params)
    people = People("k", session_alive=lambda s: s != "closed")
    tabs = [Workspace() for _ in range(8)]
    for i, ws in enumerate(tabs):
        ws.quota = Quota(people, "ada")
        people.hold_workspace("ada", f"tab-{i}", ws)
    made = 0
    with pytest.raises(ValueError, match=r"your models \(in all your tabs\) already hold .* one person may hold"):
        for k in range(100):
            tabs[k % 8].add_model(spec, f"m{k}")
            made += 1
    assert made == (2 << 20) // each  # as many as fit, spread over the eight tabs, and not one more
    assert people.models_bytes("ada") == made * each
    bo = Workspace()
    bo.quota = Quota(people, "bo")
    people.hold_workspace("bo", "tab-bo", bo)
    bo.add_model(spec, "mine")  # another person holds their own budget
    people.hold_workspace("ada", "closed", tabs[0])  # a closed tab's models stop counting
    assert people.models_bytes("ada") == made * each


def test_past_the_servers_memory_limit_no_new_model_is_taken(monkeypatch):
    from explorer.serve.people import process_bytes

    monkeypatch.setenv("EXPLORER_MAX_SERVER_MB", str(process_bytes() // 2**20))  # this process is at its limit now
    ws = Workspace()
    ws.quota = Quota(People("k"), "ada")
    with pytest.raises(ValueError, match="the app's memory is nearly full"):
        ws.add_model(get_preset("default"), "one too many")
    assert not ws.models
