from __future__ import annotations

import time

import pytest
import torch

from explorer.core.checkpoint import load_checkpoint
from explorer.core.config import TrainConfig
from explorer.core.presets import get_preset
from explorer.serve.workspace import Job, Workspace
from tests.waits import wait_until


def wait(entry, timeout=60):
    wait_until(lambda: entry.active_run is None, timeout)


def test_workspace_trains_in_the_background_and_checkpoints(mnist5k):
    ws = Workspace()
    e = ws.add_model(get_preset("default"), "a")
    assert ws.add_model(get_preset("default"), "a").name == "a (2)" and ws.current == "a (2)"
    ws.current = "a"
    assert e.state == "untrained" and e.test_accuracy is None
    run = ws.start_training(mnist5k, TrainConfig(epochs=1, limit_train=512, eval_splits=("test",)))
    with pytest.raises(ValueError, match="already training"):
        ws.start_training(mnist5k, TrainConfig(epochs=1))
    wait(e)
    assert e.state == "trained" and e.test_accuracy == run.final()["test_accuracy"]
    assert run.kernel_snapshots() and run.kernel_snapshots()[0]["step"] == 0  # kernels kept for the time machine
    data = e.checkpoint_bytes()
    assert e.checkpoint_bytes() is data  # cached while nothing changed
    ck = load_checkpoint(data)
    x = torch.randn(2, 1, 28, 28)
    torch.testing.assert_close(ck.model(x), e.model.eval()(x))
    ws.start_training(mnist5k, TrainConfig(epochs=1, limit_train=256, eval_splits=("test",)))
    wait(e)
    assert e.checkpoint_bytes() != data and len(ws.all_runs()) == 2
    loaded = ws.add_checkpoint(ck, "from file")
    assert loaded.state == "trained" and loaded.runs[0].history["epochs"]
    ws.remove("from file")
    assert "from file" not in ws.models


def test_a_model_that_does_not_fit_the_data_is_refused(mnist5k):
    ws = Workspace()
    ws.add_model(get_preset("preact-resnet"))
    with pytest.raises(ValueError, match="takes \\[3, 32, 32\\] inputs"):
        ws.start_training(mnist5k, TrainConfig())


def test_job_reports_progress_result_and_errors():
    def work(progress):
        for i in range(3):
            progress(i + 1, 3)
        return 42

    ok = Job("ok", work)
    ok.join(5)
    assert ok.finished and ok.result == 42 and ok.progress == 1.0 and ok.error is None
    bad = Job("bad", lambda progress: (_ for _ in ()).throw(ValueError("no such layer")))
    bad.join(5)
    assert bad.finished and bad.error == "no such layer"


def test_a_workspace_keeps_at_most_the_models_the_budget_allows(monkeypatch):
    from explorer.core.presets import get_preset

    monkeypatch.setenv("EXPLORER_MAX_MODELS", "2")
    ws = Workspace()
    ws.add_model(get_preset("linear"), "a")
    ws.add_model(get_preset("linear"), "b")
    with pytest.raises(ValueError, match=r"already keeps 2 models, the most one may keep \(2\): remove one first"):
        ws.add_model(get_preset("linear"), "c")
    ws.remove("a")
    assert ws.add_model(get_preset("linear"), "c").name == "c"  # room again


def test_uploads_of_a_session_stay_within_their_budget(monkeypatch, mnist5k):
    import dataclasses

    from explorer.core.data import DataError
    from explorer.core.uploads import check_uploads_room

    monkeypatch.setenv("EXPLORER_MAX_UPLOADS_MB", "5")  # mnist-5k takes about 4 MB
    other = dataclasses.replace(mnist5k, name="signs")
    check_uploads_room({}, other)
    check_uploads_room({"signs": other}, other)  # loading the same name again replaces it
    with pytest.raises(
        DataError,
        match=r"with letters \(4 MB\) your uploads would take 8 MB; a session keeps at "
        r"most 5 MB of uploads: remove one first \(signs\)",
    ):
        check_uploads_room({"signs": other}, dataclasses.replace(mnist5k, name="letters"))


def test_a_run_stopped_for_a_reason_says_it(mnist5k):
    from explorer.core.config import TrainConfig
    from explorer.core.presets import get_preset
    from explorer.core.spec import build_model
    from explorer.core.train import Trainer

    t = Trainer(build_model(get_preset("default"), seed=0), mnist5k, TrainConfig(epochs=50, eval_splits=()))
    t.start()
    wait_until(lambda: t.step >= 3, 60, "three steps")
    t.stop(reason="stopped after 30 minutes, the server's time budget")
    t.join(30)
    assert t.status == "stopped" and t.message == "stopped after 30 minutes, the server's time budget"


def test_a_worker_stops_its_run_when_the_time_budget_is_spent(mnist5k):
    from explorer.core.config import TrainConfig
    from explorer.core.presets import get_preset
    from explorer.core.spec import build_model
    from explorer.serve.workers import Worker, dataset_arrays

    worker = Worker(1, 60)
    worker.lease.cancel()  # in a Ray worker an expired lease ends the process: here it would end pytest
    t0 = time.monotonic()
    worker.start_run(
        build_model(get_preset("default"), seed=0),
        dataset_arrays(mnist5k),
        TrainConfig(epochs=200, eval_splits=()),
        max_minutes=0.02,
    )
    worker.trainer.join(60)
    reply = worker.poll(0, 0, -1)
    assert reply["status"] == "stopped" and "the longest one run may train here" in reply["message"]
    assert 0 < reply["step"] < reply["total_steps"] and "weights" in reply  # the weights it reached come back
    # the reply says how long ago the worker took the run up (the server dates the run's start by it, not by the
    # moment this first news reached it): at least the 1.2 s it trained, at most the time since it was given
    assert 0.02 * 60 <= reply["running_s"] <= time.monotonic() - t0


def test_reading_a_run_changes_nothing_and_settling_keeps_its_results(mnist5k):
    """``current()`` is a pure read; ``settle()`` (after each script run) keeps an ended run's history and
    snapshots and drops its trainer."""
    ws = Workspace()
    ws.add_model(get_preset("default"), "m")
    run = ws.start_training(mnist5k, TrainConfig(epochs=1, limit_train=256, eval_splits=()))
    run.trainer.join(120)
    assert run.trainer.done
    before = run.current()
    assert run.trainer is not None and run.history == {}  # the read kept nothing by itself
    assert ws.settle() == 1 and run.trainer is None
    assert run.current() == before and run.kernel_snapshots() and ws.settle() == 0


def test_a_lease_expires_once_unless_renewed_or_cancelled():
    import threading

    from explorer.serve.workers import _Lease

    fired = []
    done = threading.Event()
    _Lease(0.3, lambda: (fired.append(1), done.set()))
    assert done.wait(5) and fired == [1]
    quiet = []
    lease = _Lease(0.3, lambda: quiet.append(1))
    lease.cancel()
    time.sleep(0.8)  # not a synchronisation: past the lease's 0.3 s, in which nothing may fire
    assert quiet == []


def test_a_job_group_reads_as_one_job_and_its_first_error_ends_it():
    from explorer.core import JobGroup

    def count(n, progress):
        for i in range(n):
            progress(i + 1, n)
        return n

    group = JobGroup([Job("a", lambda progress: count(3, progress)), Job("b", lambda progress: count(4, progress))], sum)
    assert group.join(30) and group.error is None and group.result == 7 and group.progress == 1.0

    def fails(progress):
        raise ValueError("no images of class 3 in this part")

    def slow(progress):
        for i in range(200):
            time.sleep(0.05)  # not a synchronisation: the job's own slow work
            progress(i + 1, 200)

    bad = JobGroup([Job("slow", slow), Job("bad", fails)], sum)
    wait_until(lambda: bad.finished, 10)
    assert bad.finished and bad.error == "no images of class 3 in this part" and bad.result is None
    assert bad.parts[0].join(5) and bad.parts[0].error == "cancelled"  # the other part was stopped
    with pytest.raises(ValueError):
        JobGroup([], sum)


def test_one_experiment_takes_at_most_half_the_workers_of_a_shared_cluster():
    class Stand:  # a cluster of a given size (submit_run marks it as a cluster, not a lazy source)
        def __init__(self, n):
            self.n = n

        def capacity(self):
            return self.n

        def submit_run(self, *a):
            raise AssertionError("not used")

    assert Workspace().side_by_side(3) == 3  # in this process: one user
    assert Workspace(cluster=Stand(2)).side_by_side(3) == 1  # a 2-core server: the class's runs keep a worker
    assert Workspace(cluster=Stand(4)).side_by_side(3) == 2
    assert Workspace(cluster=Stand(16)).side_by_side(3) == 3


def test_a_models_version_changes_with_its_weights_and_tells_two_models_of_one_name_apart(mnist5k):
    from explorer.core.presets import get_preset

    ws = Workspace()
    entry = ws.add_model(get_preset("default"), "m")
    first = entry.version
    run = ws.start_training(mnist5k, TrainConfig(epochs=1, limit_train=256, eval_splits=()))
    run.trainer.join(60)
    assert entry.version != first and entry.version[1:] == (1, run.current()["step"])  # one run, its last step
    ws.remove("m")
    again = ws.add_model(get_preset("default"), "m")
    assert again.version != first and again.version[1:] == first[1:]  # same name, same counts: another model
