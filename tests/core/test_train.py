from __future__ import annotations

import math
import threading
import time

import pytest
import torch

from explorer.core.augment import Augment, augment_batch
from explorer.core.config import TrainConfig, resolve_device
from explorer.core.evaluate import evaluate, predict_proba
from explorer.core.presets import get_preset
from explorer.core.runwords import say_run_message
from explorer.core.spec import build_model
from explorer.core.train import Trainer
from explorer.core.uploads import load_csv
from explorer.i18n import translator
from tests.waits import wait_until


def test_training_learns_and_reports_events(trained_default, mnist5k):
    model, _, hist = trained_default
    assert hist["status"] == "finished" and len(hist["epochs"]) == 3
    last = hist["epochs"][-1]
    for key in ("epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds", "samples_per_s"):
        assert key in last
    assert last["test_accuracy"] > 0.9
    assert hist["epochs"][0]["train_loss"] > last["train_loss"]
    step = hist["steps"][-1]
    assert {"loss", "accuracy", "lr", "samples_per_s", "progress", "eta_s"} <= set(step)
    assert step["progress"] == 1.0
    # the reported test accuracy is the model's real accuracy on the test split
    loss, acc = evaluate(model, mnist5k.test_x, mnist5k.test_y, mnist5k.mean, mnist5k.std)
    assert acc == pytest.approx(last["test_accuracy"]) and loss == pytest.approx(last["test_loss"], rel=1e-4)


def test_same_seed_gives_same_run(mnist5k):
    runs = []
    for _ in range(2):
        m = build_model(get_preset("default"), seed=5)
        h = Trainer(m, mnist5k, TrainConfig(epochs=1, limit_train=512, seed=5, eval_splits=("test",))).run()
        runs.append((m.state_dict(), h["epochs"][-1]["test_loss"]))
    assert runs[0][1] == runs[1][1]
    for k in runs[0][0]:
        assert torch.equal(runs[0][0][k], runs[1][0][k])


def test_pause_resume_stop_from_another_thread(mnist5k):
    model = build_model(get_preset("default"), seed=0)
    trainer = Trainer(model, mnist5k, TrainConfig(epochs=50, batch_size=32, log_every=1, eval_splits=("test",)))
    reached = threading.Event()
    trainer.on_event = lambda e: reached.set() if e["kind"] == "step" and e["step"] >= 5 else None
    trainer.start()
    assert reached.wait(30)
    trainer.pause()
    assert trainer.held.wait(10)  # the step in flight has finished: the loop waits between two steps
    paused_at = trainer.step
    time.sleep(0.5)  # not a synchronisation: half a second in which nothing may move
    assert trainer.step == paused_at and trainer.status == "paused"
    trainer.resume()
    wait_until(lambda: trainer.step > paused_at, 20)
    assert trainer.step > paused_at
    trainer.stop()
    trainer.join(30)
    hist = trainer.history()
    assert hist["status"] == "stopped" and "stopped at step" in hist["message"]
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert len(hist["steps"]) >= paused_at  # one event per step with log_every=1


def test_divergence_stops_with_advice_and_keeps_good_weights(mnist5k):
    spec = {
        "input_shape": [1, 28, 28],
        "num_classes": 10,
        "layers": [{"type": "Flatten"}, {"type": "Linear", "out_features": 64}, {"type": "Linear", "out_features": 10}],
    }
    model = build_model(spec, seed=0)
    hist = Trainer(
        model, mnist5k, TrainConfig(optimizer="sgd", lr=100.0, schedule="constant", log_every=1, eval_splits=("test",))
    ).run()
    assert hist["status"] == "diverged"
    assert hist["message"].startswith("loss diverged at step ") and "lower the learning rate" in hist["message"]
    german = say_run_message(hist["message"], translator("de"))  # a page says it in the student's language
    assert german.startswith("der Verlust ist bei Schritt ") and "(sie war 100)" in german
    assert all(torch.isfinite(p).all() for p in model.parameters())
    loss, _ = evaluate(model, mnist5k.test_x, mnist5k.test_y, mnist5k.mean, mnist5k.std)
    assert math.isfinite(loss)


@pytest.mark.parametrize("schedule,optimizer", [("step", "sgd"), ("constant", "adamw"), ("onecycle", "adadelta")])
def test_schedules_and_optimizers_run(mnist5k, schedule, optimizer):
    lr = 1.0 if optimizer == "adadelta" else 0.05 if optimizer == "sgd" else 1e-3
    h = Trainer(
        build_model(get_preset("default"), seed=0),
        mnist5k,
        TrainConfig(epochs=2, limit_train=256, optimizer=optimizer, lr=lr, schedule=schedule, eval_splits=("val",)),
    ).run()
    assert h["status"] == "finished" and "val_accuracy" in h["epochs"][-1]
    if schedule == "step":  # multiplied by gamma after each epoch
        assert h["steps"][-1]["lr"] == pytest.approx(lr * 0.1)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("epochs", 0, "epochs must be"),
        ("lr", -1.0, "lr must be"),
        ("lr", float("nan"), "lr must be"),
        ("optimizer", "rmsprop", "optimizer must be one of"),
        ("schedule", "cosine", "schedule must be"),
        ("batch_size", 2.5, "batch_size must be"),
        ("device", "tpu", "device must be"),
    ],
)
def test_bad_settings_are_refused(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{field: value}).validate()


def test_missing_cuda_is_explained():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda")
    assert resolve_device("auto").type in ("cpu", "mps")


def test_augment_off_is_identity_and_flip_is_exact():
    x = torch.randn(16, 1, 8, 8)
    assert augment_batch(x, Augment()) is x
    out = augment_batch(x, Augment(flip=True), torch.Generator().manual_seed(0))
    flipped = [torch.allclose(o, xi.flip(-1), atol=1e-5) for o, xi in zip(out, x)]
    same = [torch.allclose(o, xi, atol=1e-5) for o, xi in zip(out, x)]
    assert all(f or s for f, s in zip(flipped, same)) and any(flipped) and any(same)


def test_augment_shift_moves_content():
    x = torch.zeros(64, 1, 16, 16)
    x[:, :, 6:10, 6:10] = 1.0
    out = augment_batch(x, Augment(shift=0.25), torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    com = lambda t: (t[:, 0].sum(1) * torch.arange(16)).sum(1) / t[:, 0].sum((1, 2))  # noqa: E731
    assert (com(out) - com(x)).abs().max() > 1.0


def test_bad_augmentation_refused():
    with pytest.raises(ValueError, match="rotation must be between"):
        Augment(rotation=400).validate()


def test_binary_one_logit_model_trains():
    rng = torch.Generator().manual_seed(0)
    rows = ["label," + ",".join(f"pixel{i}" for i in range(1, 17))]
    for i in range(200):
        label = i % 2
        px = (torch.rand(16, generator=rng) * 60 + (180 if label else 0)).int().tolist()
        rows.append(",".join(map(str, [label, *px])))
    ds = load_csv("\n".join(rows).encode())
    spec = {
        "input_shape": [1, 4, 4],
        "num_classes": 2,
        "layers": [{"type": "Flatten"}, {"type": "Linear", "out_features": 1}],
    }
    model = build_model(spec, seed=0)
    hist = Trainer(model, ds, TrainConfig(epochs=5, lr=0.05, eval_splits=("test",))).run()
    assert hist["epochs"][-1]["test_accuracy"] > 0.95
    probs = predict_proba(model, ds.test_x, ds.mean, ds.std)
    assert probs.shape == (len(ds.test_y), 2) and torch.allclose(probs.sum(1), torch.ones(len(probs)))


def test_model_copy_while_training_is_consistent(mnist5k):
    model = build_model(get_preset("default"), seed=0)
    trainer = Trainer(model, mnist5k, TrainConfig(epochs=1, limit_train=1024, snapshot_every=4, eval_splits=("test",)))
    trainer.start()
    wait_until(lambda: trainer.step >= 3, 60, "three steps", every=0.005)
    trainer.pause()
    assert trainer.held.wait(10)  # the trainer stopped at the next step boundary
    copy = trainer.model_copy()
    assert all(torch.equal(a, b.cpu()) for a, b in zip(copy.parameters(), trainer.model.parameters()))
    trainer.resume()
    trainer.join(60)
    assert trainer.status == "finished"
    assert not all(torch.equal(a, b) for a, b in zip(copy.parameters(), trainer.model.parameters()))  # a copy
    assert trainer.snapshots and set(trainer.snapshots[0]["kernels"]) == {"0", "4"}


def test_stop_then_pause_still_stops(mnist5k):
    trainer = Trainer(build_model(get_preset("default"), seed=0), mnist5k, TrainConfig(epochs=50, batch_size=16))
    trainer.start()
    wait_until(lambda: trainer.step >= 3, 60, "three steps", every=0.01)
    assert trainer.stop() and trainer.status == "stopping"
    assert not trainer.pause() and trainer.status == "stopping"  # a pause after a stop is refused
    trainer.join(30)
    assert trainer.status == "stopped" and not trainer._thread.is_alive()


def test_controls_after_the_end_change_nothing(mnist5k):
    trainer = Trainer(build_model(get_preset("default"), seed=0), mnist5k, TrainConfig(epochs=1, limit_train=256))
    assert trainer.run()["status"] == "finished"
    assert not trainer.pause() and not trainer.resume() and not trainer.stop()
    assert trainer.status == "finished"


def test_a_trainer_stopped_before_it_starts_never_trains(mnist5k):
    model = build_model(get_preset("default"), seed=0)
    before = [p.detach().clone() for p in model.parameters()]
    trainer = Trainer(model, mnist5k, TrainConfig(epochs=1))
    assert trainer.stop()
    assert trainer.run()["status"] == "stopped" and trainer.step == 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_snapshots_every_step_stay_within_the_byte_budget(mnist5k, monkeypatch):
    """A lesson may ask for the kernels at every step: the run keeps what the server's budget holds, spread
    evenly over the run, the first one included."""
    from explorer.core.snapshots import snapshot_bytes

    monkeypatch.setenv("EXPLORER_MAX_SNAPSHOT_MB", "1")
    spec = {
        "input_shape": [1, 28, 28],
        "num_classes": 10,
        "layers": [
            {"type": "Conv2d", "out_channels": 64, "kernel_size": 5},
            {"type": "ReLU"},
            {"type": "Conv2d", "out_channels": 64, "kernel_size": 5},
            {"type": "ReLU"},
            {"type": "AdaptiveAvgPool2d", "output_size": 1},
            {"type": "Flatten"},
            {"type": "Linear", "out_features": 10},
        ],
    }
    model = build_model(spec, seed=0)
    t = Trainer(model, mnist5k, TrainConfig(epochs=1, limit_train=64 * 40, batch_size=64, snapshot_every=1, eval_splits=()))
    t.run()
    each = snapshot_bytes(t.snapshots[0])  # 104,000 conv weights: 416 KB a snapshot
    assert len(t.snapshots) * each <= 1 << 20 and len(t.snapshots) >= 2
    assert t.snapshots[0]["step"] == 0 and t.snapshots[-1]["step"] > 20  # spread over the run


def test_run_status_is_one_enum_that_reads_and_writes_as_its_word():
    import json

    from explorer.core.train import ACTIVE, DONE, RunStatus

    assert set(ACTIVE) | set(DONE) == set(RunStatus) and not set(ACTIVE) & set(DONE)
    assert json.loads(json.dumps({"status": RunStatus.FINISHED})) == {"status": "finished"}
    assert "finished" == RunStatus.FINISHED and "finished" in DONE  # histories read back from the database


def test_a_config_is_checked_once_and_again_only_when_it_changed(monkeypatch):
    import importlib

    T = importlib.import_module("explorer.core.config")  # where TrainConfig checks its device

    calls = []
    real = T.resolve_device
    monkeypatch.setattr(T, "resolve_device", lambda name="auto": calls.append(name) or real(name))
    cfg = T.TrainConfig(epochs=2).validate()
    assert cfg.validated() is cfg and len(calls) == 1  # already checked: not again
    cfg.epochs = 0  # changed after the check: checked again, and refused
    with pytest.raises(ValueError, match="epochs must be an integer"):
        cfg.validated()


def test_the_augmentation_preview_starts_with_the_originals_and_repeats_with_its_seed():
    import torch

    from explorer.core import Augment, augment_active, augment_preview

    x = (torch.rand(3, 1, 12, 12) * 255).to(torch.uint8)
    a = Augment(rotation=30.0)
    out = augment_preview(x, a, [0.5], [0.25], draws=2, seed=4)
    assert out.shape == (9, 1, 12, 12) and out.dtype == torch.uint8
    assert torch.equal(out[:3], x)
    assert torch.equal(out, augment_preview(x, a, [0.5], [0.25], draws=2, seed=4))
    assert not torch.equal(out[3:], augment_preview(x, a, [0.5], [0.25], draws=2, seed=5)[3:])
    off = augment_preview(x, Augment(), [0.5], [0.25], draws=1)
    assert (off[3:].int() - x.int()).abs().max() <= 1  # off: the originals back, up to rounding
    assert augment_active({"rotation": 10}) and not augment_active({"scale": 1.0}) and not augment_active(None)
    assert augment_active({"scale": 0.8, "unknown_key": 1})  # an old run's extra setting is ignored


def test_the_devices_offered_are_the_ones_that_resolve():
    from explorer.core import available_devices, resolve_device

    devices = available_devices()
    assert devices[:2] == ["auto", "cpu"]
    for d in devices:
        resolve_device(d)  # none raises


def test_a_paused_trainer_says_when_it_holds_between_two_steps(mnist5k):
    trainer = Trainer(build_model(get_preset("default"), seed=0), mnist5k, TrainConfig(epochs=50, batch_size=32))
    assert not trainer.held.is_set()
    trainer.start()
    wait_until(lambda: trainer.step >= 2, 60, "two steps", every=0.01)
    assert not trainer.held.is_set()  # running
    trainer.pause()
    assert trainer.held.wait(10)
    at = trainer.step
    trainer.resume()
    wait_until(lambda: trainer.step != at, 30, every=0.01)
    assert trainer.step > at and not trainer.held.is_set()
    trainer.stop()
    trainer.join(30)


@pytest.mark.parametrize("schedule", ["onecycle", "step"])
def test_a_run_that_yields_its_place_carries_on_exactly_where_it_stopped(mnist5k, schedule):
    """A long run gives its place to another at an epoch's end (``yield_turn``) and a new trainer carries it on
    from ``resume_state``: the same weights and figures as a run that never stopped (optimizer, schedule, the data
    order, the augmentation and dropout draws all go on where they were)."""
    spec = {
        "input_shape": [1, 28, 28],
        "num_classes": 10,
        "layers": [
            {"type": "Conv2d", "out_channels": 4, "kernel_size": 5},
            {"type": "ReLU"},
            {"type": "Dropout", "p": 0.3},
            {"type": "Flatten"},
            {"type": "Linear", "out_features": 10},
        ],
    }
    cfg = TrainConfig(
        epochs=3,
        limit_train=512,
        batch_size=64,
        seed=5,
        schedule=schedule,
        step_epochs=1,
        eval_splits=("test",),
        augment=Augment(rotation=10.0, shift=0.1),
    )
    straight = Trainer(build_model(spec, seed=0), mnist5k, cfg)
    straight.run()
    first = Trainer(build_model(spec, seed=0), mnist5k, cfg)
    assert first.yield_turn()
    hist = first.run()
    assert hist["status"] == "yielded" and len(hist["epochs"]) == 1 and not first.done
    then = Trainer(first.model, mnist5k, cfg, resume=first.resume_state)
    end = then.run()
    assert end["status"] == "finished" and [e["epoch"] for e in end["epochs"]] == [1, 2, 3]
    assert end["step"] == straight.step and len(end["steps"]) == len(straight.steps)
    a, b = straight.model.state_dict(), then.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [e["test_accuracy"] for e in end["epochs"]] == [e["test_accuracy"] for e in straight.epochs]
