"""Runs and jobs in Ray workers: queueing, one run per owner, seeds, leases, abandoned owners, controls."""

from __future__ import annotations

import re
import time

import pytest
import torch

from explorer.core.config import TrainConfig
from explorer.core.presets import get_preset
from explorer.core.spec import build_model
from explorer.lessons.experiments import translation_sweep
from explorer.serve.cluster import Cluster, ClusterSettings
from explorer.serve.handles import RemoteTrainer
from explorer.serve.workspace import Workspace
from tests.waits import wait_until

pytestmark = pytest.mark.ray  # Ray worker processes: the full lane (make test), not make test-fast

ray = pytest.importorskip("ray")

DROPOUT_SPEC = {
    "name": "drop",
    "input_shape": [1, 28, 28],
    "num_classes": 10,
    "layers": [
        {"type": "Conv2d", "out_channels": 4, "kernel_size": 5},
        {"type": "ReLU"},
        {"type": "MaxPool2d", "kernel_size": 2},
        {"type": "Dropout", "p": 0.3},
        {"type": "Flatten"},
        {"type": "Linear", "out_features": 10},
    ],
}


def small(epochs: int = 1, seed: int = 0, **kw) -> TrainConfig:
    return TrainConfig(epochs=epochs, limit_train=1024, batch_size=64, seed=seed, eval_splits=("test",), **kw)


def wait(cond, timeout: float = 90.0) -> bool:
    return bool(wait_until(cond, timeout, every=0.2))


def settled(read, quiet_s: float = 0.6, timeout: float = 30.0):
    """``read()``'s value once it has stayed the same for ``quiet_s`` (a paused worker's last report is in)."""
    deadline = time.time() + timeout
    value, since = read(), time.time()
    while time.time() < deadline:
        time.sleep(0.1)  # not a synchronisation: the quiet time is what is measured
        now = read()
        if now != value:
            value, since = now, time.time()
        elif time.time() - since >= quiet_s:
            return value
    raise AssertionError(f"still changing after {timeout} s: {value}")


def free_cpus() -> float:
    return ray.available_resources().get("CPU", 0.0)


def gone(actor, timeout: float = 30.0) -> bool:
    """Whether ``actor``'s process has ended (within ``timeout``)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            ray.get(actor.pid.remote(), timeout=timeout)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
            return True
        time.sleep(0.5)  # not a synchronisation: a lease is watched about every second
    return False


def all_back(c: Cluster) -> bool:
    """Every busy worker has ended or gone back to the pool: only the warm idle ones hold CPUs."""
    return free_cpus() == ray.cluster_resources()["CPU"] - c.pool.idle() * c.settings.cpus_per_run


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(ClusterSettings(num_cpus=2, poll_s=0.2))
    yield c
    for owner in list(c.owners()):
        c.end_owner(owner)
    c._closed.set()


def test_concurrent_runs_with_one_seed_give_the_weights_of_a_run_alone(cluster, mnist5k):
    models = [build_model(DROPOUT_SPEC, seed=0) for _ in range(3)]
    alone = cluster.submit_run("alone", models[0], mnist5k, small(seed=7))
    assert alone.join(120) and alone.status == "finished"
    together = [
        cluster.submit_run(o, m, mnist5k, small(seed=s))
        for o, m, s in (("a", models[1], 7), ("b", models[2], 7), ("c", build_model(DROPOUT_SPEC, seed=0), 8))
    ]
    assert all(h.join(180) for h in together) and [h.status for h in together] == ["finished"] * 3
    ref = models[0].state_dict()
    for m in models[1:]:
        assert all(torch.equal(ref[k], v) for k, v in m.state_dict().items())
    other = together[2].model.state_dict()  # another seed trains to other weights
    assert not all(torch.equal(ref[k], v) for k, v in other.items())
    assert (
        models[0].state_dict()["0.weight"].abs().sum()
        != build_model(DROPOUT_SPEC, seed=0).state_dict()["0.weight"].abs().sum()
    )  # the caller's model did get the trained weights


def test_runs_beyond_capacity_queue_and_all_finish(cluster, mnist5k):
    cap = cluster.capacity()
    assert cap == int(ray.cluster_resources()["CPU"] / 0.5)  # half a CPU per run: two runs share a core
    hs = [cluster.submit_run(f"q{i}", build_model(get_preset("default"), seed=0), mnist5k, small()) for i in range(cap + 2)]
    info = [h.queue_info() for h in hs]
    assert [i.starting for i in info] == [True] * cap + [False] * 2  # a warm worker each, up to the capacity
    assert [i.ahead for i in info[cap:]] == [0, 1]  # the rest wait in line
    assert "starting" in info[0].sentence() and "yours is next" in info[cap].sentence()
    assert "queued: one run ahead of yours" in info[-1].sentence()
    one = hs[0].total_steps  # how long in the course's words: the steps the runs before it still take
    assert info[cap].wait_steps == one and info[-1].wait_steps == (one if cap > 1 else 2 * one)
    assert f"after about {one} more training steps of the runs before it" in info[cap].sentence()
    assert not re.search(r"\d+ (s|min)\b", info[-1].sentence())  # no clock time in what a student reads
    assert wait(lambda: sum(h.status == "running" for h in hs) >= 1, 60)
    assert sum(h.status in ("running", "paused") for h in hs) <= cap  # never more than the machine holds
    assert all(h.join(240) for h in hs) and all(h.status == "finished" for h in hs)
    assert all(h.epochs and h.epochs[-1]["test_accuracy"] > 0.5 for h in hs)
    assert wait(lambda: all_back(cluster), 20)  # every worker ended or went back to the pool


def test_one_active_run_per_owner_the_next_waits(cluster, mnist5k):
    first = cluster.submit_run("one", build_model(get_preset("default"), seed=0), mnist5k, small(epochs=2))
    second = cluster.submit_run("one", build_model(get_preset("default"), seed=0), mnist5k, small())
    assert second.status == "waiting" and second.queue_info().own
    assert "your other run" in second.queue_info().sentence()
    assert first.join(120)
    assert wait(lambda: second.status != "waiting", 10)
    assert second.join(120) and second.status == "finished"
    assert second.started_at >= first.started_at


def test_pause_resume_stop_and_latest_weights_of_a_remote_run(cluster, mnist5k):
    model = build_model(get_preset("default"), seed=0)
    before = model.state_dict()["0.weight"].clone()
    h = cluster.submit_run("ctl", model, mnist5k, TrainConfig(epochs=50, batch_size=32, eval_splits=("test",)))
    assert wait(lambda: h.status == "running" and h.step > 5, 90)
    assert h.pause() and h.status == "paused"
    step = settled(lambda: h.step)  # the step in flight has finished and been reported
    time.sleep(1.0)  # not a synchronisation: a second in which nothing may move
    assert h.step == step and h.status == "paused"  # nothing moves while paused
    live = h.model_copy()
    assert not torch.equal(live.state_dict()["0.weight"], before)  # the worker's latest weights, not the start
    assert torch.equal(model.state_dict()["0.weight"], before)  # the caller's model is untouched meanwhile
    assert h.resume() and wait(lambda: h.step > step, 30)
    assert h.stop() and not h.pause()  # stop, then pause: the stop wins
    assert h.join(60) and h.status == "stopped" and "stopped at step" in h.message
    assert not torch.equal(model.state_dict()["0.weight"], before)  # it keeps the weights it reached
    assert wait(lambda: all_back(cluster), 20)


def test_an_abandoned_owner_has_its_runs_and_jobs_ended(mnist5k):
    alive = {"gone": True}
    c = Cluster(ClusterSettings(poll_s=0.2), is_alive=lambda owner: alive.get(owner, True))
    try:
        h = c.submit_run(
            "gone", build_model(get_preset("default"), seed=0), mnist5k, TrainConfig(epochs=200, eval_splits=("test",))
        )
        assert wait(lambda: h.status == "running", 90)
        worker = h.actor
        alive["gone"] = False  # the browser session is dropped
        t0 = time.time()
        assert h.join(30) and h.status == "stopped" and "session ended" in h.message
        assert gone(worker), "the worker of an abandoned run still lives"  # ended, not given to the next person
        assert time.time() - t0 < 30
    finally:
        c.close()


def test_a_worker_whose_lease_is_not_renewed_stops_itself(mnist5k):
    c = Cluster(ClusterSettings(poll_s=0.2, lease_s=3, warm=2))
    assert wait(lambda: c.pool.idle() == 2, 60)  # two warm ones, started while nothing trains
    h = c.submit_run(
        "lease", build_model(get_preset("default"), seed=0), mnist5k, TrainConfig(epochs=200, eval_splits=("test",))
    )
    assert wait(lambda: h.status == "running", 90)
    assert c.pool.idle() == 1  # the run took one; the other waits beside it
    actors = [h.actor, *c.pool._idle]
    assert all(ray.get(a.pid.remote(), timeout=30) > 0 for a in actors)
    c._closed.set()  # the app process "dies": nobody renews the leases any more
    c._keeper.join(5)
    assert all(gone(a) for a in actors), "a worker nobody follows still lives"  # the busy one and the idle one


def test_a_job_runs_on_a_copy_and_can_be_cancelled(cluster, mnist5k, trained_default):
    model = trained_default[0]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ws = Workspace(owner="jobs-ws", cluster=cluster, job_owner="jobs-tab")
    job = ws.start_job("shift", translation_sweep, model, mnist5k, shifts=[0, 4], limit=500)
    assert job.owner == "jobs-tab"  # a job belongs to the page (session) that asked for it, not the workspace
    assert job.join(90) and job.error is None
    assert [s for s, _ in job.result["sweep"]] == [0, 4] and job.result["sweep"][0][1] > job.result["sweep"][1][1]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    slow = ws.start_job("slow", translation_sweep, model, mnist5k, shifts=list(range(0, 28)) * 20, limit=None)
    assert wait(lambda: slow.started, 60)
    slow.cancel()
    assert slow.finished and slow.error == "cancelled"
    assert wait(lambda: all_back(cluster), 20)


def test_a_dataset_goes_into_the_object_store_once(cluster, mnist5k):
    assert cluster.dataset_ref(mnist5k) is cluster.dataset_ref(mnist5k)


def test_bad_settings_are_refused_before_anything_is_queued(cluster, mnist5k):
    with pytest.raises(ValueError, match="epochs"):
        cluster.submit_run("bad", build_model(get_preset("default")), mnist5k, TrainConfig(epochs=0))
    spec = get_preset("default", num_classes=3)
    with pytest.raises(ValueError, match="3"):
        cluster.submit_run("bad", build_model(spec), mnist5k, TrainConfig())
    assert "bad" not in cluster.owners()


def test_workspace_trains_through_the_cluster(cluster, mnist5k):
    ws = Workspace(owner="ws", cluster=cluster)
    ws.add_model(get_preset("default"), "m")
    run = ws.start_training(mnist5k, small())
    assert isinstance(run.trainer, RemoteTrainer) and ws.entry().active_run is run
    assert run.trainer.join(120)
    assert run.current()["status"] == "finished" and ws.entry().state == "trained"
    assert run.kernel_snapshots() and ws.entry().test_accuracy > 0.5


def test_a_reloaded_workspace_takes_up_its_run_still_training(cluster, mnist5k, tmp_path):
    """A tab reloaded mid-run loads the saved workspace (the run saved as going) and follows the same worker:
    the run carries on, and both the old tab's model and the new one get the final weights."""
    from explorer.serve.store import WorkspaceStore

    store = WorkspaceStore(state_dir=tmp_path)
    ws_id = store.new_id()
    first = Workspace(owner=ws_id, cluster=cluster)
    first.add_model(DROPOUT_SPEC, "m")
    run = first.start_training(mnist5k, small(epochs=6))
    assert wait(lambda: run.trainer.status == "running" and run.trainer.step > 0)
    store.save(ws_id, first, {})
    saved = {k: v.clone() for k, v in first.entry().model.state_dict().items()}

    stranger = Workspace(owner=store.new_id(), cluster=cluster)  # another workspace's id finds nothing
    store.load(ws_id, stranger)
    assert stranger.adopt_running() == []
    again = Workspace(owner=ws_id, cluster=cluster)
    store.load(ws_id, again)
    assert again.entry().runs[-1].history["status"] == "interrupted"
    (adopted,) = again.adopt_running()
    assert adopted.id == run.id and again.entry().active_run is adopted
    assert adopted.current()["status"] in ("running", "paused", "ready")
    assert run.trainer.join(180) and adopted.current()["status"] == "finished"
    assert len(adopted.current()["epochs"]) == 6 and again.entry().state == "trained"
    final = again.entry().model.state_dict()
    assert any(not torch.equal(saved[k], final[k]) for k in saved)  # trained on from the saved weights
    assert all(torch.equal(v, final[k]) for k, v in first.entry().model.state_dict().items())
    assert again.adopt_running() == []  # a finished run is not taken up twice


def test_presence_keeps_a_workspace_alive_while_any_of_its_sessions_lives():
    from explorer.serve.presence import Presence

    living = {"tab-1", "tab-2", "lone-session"}
    p = Presence(lambda s: s in living)
    p.hold("ws", "tab-1")
    p.hold("ws", "tab-2")
    assert p.alive("ws")
    living.discard("tab-1")  # one tab closed (its grace over): the other still holds the workspace
    assert p.alive("ws")
    living.discard("tab-2")
    assert not p.alive("ws") and not p.alive("ws")
    p.hold("ws", "tab-3")  # reopened from its link: alive again
    living.add("tab-3")
    assert p.alive("ws")
    assert p.alive("lone-session") and not p.alive("gone-session")  # an unsaved workspace: its session owns it
    for i in range(Presence.SWEEP_EVERY * 2):  # visitors who only look: forgotten once their sessions are gone
        p.hold(f"visit-{i}", f"visitor-{i}")
    assert len(p) <= Presence.SWEEP_EVERY  # swept as they come: the registry stays small
    p.sweep()
    assert len(p) == 1  # only "ws", whose tab lives


def test_a_gpu_worker_is_held_to_the_share_of_the_card_ray_gave_it(monkeypatch):
    from explorer.serve.workers import cap_gpu_memory

    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction", lambda f, *a: calls.append(f))
    assert cap_gpu_memory(0.25) == 0.25 and calls == [0.25]
    assert cap_gpu_memory(0.0) is None and cap_gpu_memory(1.0) is None  # a CPU run; a whole card
    assert calls == [0.25]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cap_gpu_memory(0.5) is None and calls == [0.25]  # no GPU here: nothing to cap


def test_a_workspace_queues_at_most_the_budgets_runs(cluster, mnist5k, monkeypatch):
    monkeypatch.setenv("EXPLORER_MAX_QUEUED_RUNS", "2")
    owner = "queue-cap"
    first = cluster.submit_run(owner, build_model(DROPOUT_SPEC, seed=0), mnist5k, small(epochs=30))
    waiting = [cluster.submit_run(owner, build_model(DROPOUT_SPEC, seed=i), mnist5k, small()) for i in (1, 2)]
    with pytest.raises(
        ValueError,
        match=r"2 of your runs already wait for the one that trains \(at most 2 wait per "
        r"workspace\)",
    ):
        cluster.submit_run(owner, build_model(DROPOUT_SPEC, seed=3), mnist5k, small())
    assert cluster.submit_run("another-workspace", build_model(DROPOUT_SPEC, seed=4), mnist5k, small()).join(180)
    waiting[0].stop()  # a stopped run frees its place in the queue
    cluster.submit_run(owner, build_model(DROPOUT_SPEC, seed=5), mnist5k, small())
    cluster.end_owner(owner)
    assert first.join(60)


def test_a_warm_worker_starts_only_where_a_core_is_free_for_it():
    from explorer.serve.pool import room_to_warm

    assert room_to_warm(busy=0, threads=1, cpus=1) and room_to_warm(busy=0, threads=1, cpus=2)  # nothing trains
    assert not room_to_warm(busy=1, threads=1, cpus=2)  # two cores: one run trains, the server has the other
    assert room_to_warm(busy=1, threads=1, cpus=4) and room_to_warm(busy=2, threads=1, cpus=4)
    assert not room_to_warm(busy=3, threads=1, cpus=4) and not room_to_warm(busy=2, threads=2, cpus=4)


def test_no_warm_worker_starts_beside_a_run_on_two_cores_and_one_does_once_it_ends(cluster, mnist5k):
    assert cluster.settings.num_cpus == 2 and cluster.pool.warm == 2
    assert wait(lambda: cluster.pool.idle() == 2, 60)
    short = cluster.submit_run("warm-short", build_model(get_preset("default"), seed=0), mnist5k, small())
    long = cluster.submit_run("warm-long", build_model(get_preset("default"), seed=1), mnist5k, small(epochs=50))
    assert short.join(60) and short.status == "finished"
    assert wait(lambda: long.status == "running", 60)
    assert wait(lambda: cluster.pool.idle() == 1, 30)  # the short run's worker is back, warm
    started = cluster.pool.started
    time.sleep(2)  # not a synchronisation: ten keeper rounds in which nothing may start (a run trains here)
    assert cluster.pool.started == started and cluster.pool.idle() == 1  # so none was started beside it
    cluster.end_owner("warm-long")  # the long run stops (its worker ends with it): nothing trains now
    assert wait(lambda: cluster.pool.started == started + 1, 30)  # the pool tops up at once
    assert wait(lambda: cluster.pool.idle() == 2, 60)


def test_beside_long_runs_alone_warm_workers_start_so_the_next_click_does_not_wait_for_one(cluster, mnist5k, monkeypatch):
    """Two keen students' long runs hold the warm workers: the pool starts others beside them (a long run hardly
    feels a start), and the next student's short run takes one up at once instead of waiting for a start."""
    monkeypatch.setattr(cluster.settings, "long_run_s", 0.5)  # on this cluster a run past half a second is long
    assert wait(lambda: cluster.pool.idle_ready() == 2, 60)
    keen = [
        cluster.submit_run(f"beside-{i}", build_model(DROPOUT_SPEC, seed=i), mnist5k, small(epochs=1000)) for i in range(2)
    ]
    assert wait(lambda: all(h.status == "running" for h in keen), 60)
    assert wait(lambda: cluster.pool.idle_ready() == 2, 90)  # two more, started while the long runs train
    short = cluster.submit_run("after-the-keen", build_model(DROPOUT_SPEC, seed=5), mnist5k, small())
    assert short.join(120) and short.status == "finished"
    assert short.started_at - short.submitted_at < 1.5  # taken up at once (generous: 2 cores, two runs training)
    assert not any(h.done for h in keen)  # all of it while the long runs trained
    for h in keen:
        h.stop()
    assert all(h.join(60) for h in keen)


def test_warm_workers_are_reused_by_the_next_persons_run_which_starts_clean(cluster, mnist5k):
    assert wait(lambda: cluster.pool.idle() >= 1, 60)  # started before anyone asked
    started = cluster.pool.started
    first = cluster.submit_run("person-a", build_model(DROPOUT_SPEC, seed=0), mnist5k, small(seed=3))
    assert first.join(120) and first.status == "finished"
    second = cluster.submit_run("person-b", build_model(DROPOUT_SPEC, seed=0), mnist5k, small(seed=3))
    assert second.join(120) and second.status == "finished"
    assert second.worker_pid == first.worker_pid  # the same warm process served both people
    assert cluster.pool.started <= started + 1  # the pool only topped up its idle ones (the first run took one)
    a, b = first.model.state_dict(), second.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # nothing of the first run's state leaked into the second
    assert first.started_at - first.submitted_at < 1.5  # a warm worker takes a run up at once (generous: 2 cores)


def test_long_runs_take_turns_on_half_the_places_so_a_short_run_never_waits_behind_them(cluster, mnist5k, monkeypatch):
    monkeypatch.setattr(cluster.settings, "long_run_s", 0.5)  # on this cluster a run past half a second is long
    half = cluster.long_places()
    assert half == cluster.capacity() // 2 == 2
    keen = [
        cluster.submit_run(f"keen-{i}", build_model(DROPOUT_SPEC, seed=i), mnist5k, small(epochs=300))
        for i in range(half + 1)
    ]
    assert wait(lambda: sum(h.status == "running" for h in keen) == half, 60)
    waiting = keen[-1]
    assert waiting.queued and "long runs take turns, 2 at a time here" in waiting.queue_info().sentence()
    short = cluster.submit_run("short", build_model(DROPOUT_SPEC, seed=9), mnist5k, small(epochs=1))
    assert short.join(120) and short.status == "finished"  # past the long run that waits, on a free place
    assert waiting.queued  # still its turn to wait: two long runs train
    keen[0].stop()
    assert wait(lambda: waiting.status == "running", 60)  # a long run ended: the next long one goes
    for h in keen:
        h.stop()
    assert all(h.join(60) for h in keen)


def test_long_runs_take_turns_at_their_epochs_ends_while_another_long_run_waits(cluster, mnist5k, monkeypatch):
    """Keen students' long runs share the places long runs may hold: while one waits, each that has trained for its
    turn gives its place back at its epoch's end and carries on later exactly where it stopped."""
    from explorer.core.train import Trainer

    monkeypatch.setattr(cluster.settings, "long_run_s", 0.5)  # on this cluster a run past half a second is long
    monkeypatch.setattr(cluster.settings, "turn_s", 1.0)  # ... and a long run's turn is a second
    half = cluster.long_places()
    keen = [
        cluster.submit_run(f"turns-{i}", build_model(DROPOUT_SPEC, seed=i), mnist5k, small(epochs=12))
        for i in range(half + 1)
    ]
    last = keen[-1]
    assert wait(lambda: last.status == "running" or last.done, 120)
    assert not any(h.done for h in keen[:half])  # the last long run got a turn while the first ones still train
    assert all(h.join(240) for h in keen)
    assert [h.status for h in keen] == ["finished"] * len(keen), [h.message for h in keen]
    assert all([e["epoch"] for e in h.epochs] == list(range(1, 13)) for h in keen)
    assert keen[0].turns >= 1  # it gave its place back at least once ...
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in a worker
    try:
        alone = build_model(DROPOUT_SPEC, seed=0)
        Trainer(alone, mnist5k, small(epochs=12)).run()  # ... and ends as the same run never interrupted
    finally:
        torch.set_num_threads(threads)
    a, b = alone.state_dict(), keen[0].model.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
