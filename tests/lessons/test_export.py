from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
import torch

from explorer.core.config import TrainConfig
from explorer.core.presets import get_preset
from explorer.core.spec import SpecError, build_model
from explorer.core.train import Trainer
from explorer.lessons.export import to_python


def load_script(src: str, tmp_path) -> object:
    """Import the exported script as a real module (its ``main`` is not run)."""
    path = tmp_path / "exported.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("exported_model", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["exported_model"] = mod
    try:
        spec.loader.exec_module(mod)
    finally:
        del sys.modules["exported_model"]
    return mod


@pytest.mark.parametrize(
    "name,dataset",
    [("default", "mnist"), ("preact-resnet", "cifar10"), ("cats-vs-dogs", "cifar10"), ("deeper", "emnist-balanced")],
)
def test_exported_script_rebuilds_the_same_network(name, dataset, tmp_path):
    spec = get_preset(name)
    mod = load_script(to_python(spec, {"epochs": 2, "optimizer": "sgd"}, dataset), tmp_path)
    exported, ours = mod.build_model(), build_model(spec, seed=0)
    exported.load_state_dict(ours.state_dict())  # same modules, same names, same shapes
    exported.eval()
    ours.eval()
    x = torch.randn(2, *spec["input_shape"])
    torch.testing.assert_close(exported(x), ours(x))


@pytest.mark.parametrize(
    "settings",
    [
        {"epochs": 2, "batch_size": 64, "limit_train": 640, "seed": 3},  # Adam, one-cycle
        {
            "epochs": 2,
            "batch_size": 32,
            "limit_train": 320,
            "optimizer": "sgd",
            "lr": 0.05,
            "schedule": "step",
            "seed": 1,
            "augment": {"rotation": 15, "shift": 0.1},
        },
    ],
)
def test_the_exported_script_trains_to_the_apps_weights(settings, mnist5k, tmp_path):
    spec = get_preset("default")
    cfg = TrainConfig.from_dict(settings)
    mod = load_script(to_python(spec, cfg.to_dict(), "mnist"), tmp_path)
    theirs = mod.build_model(cfg.seed)
    ours = build_model(spec, seed=cfg.seed)
    for a, b in zip(theirs.state_dict().values(), ours.state_dict().values()):
        assert torch.equal(a, b)  # the same initialisation for the same seed
    Trainer(ours, mnist5k, TrainConfig.from_dict({**settings, "eval_splits": ()})).run()
    mod.train(theirs, mnist5k.train_x, mnist5k.train_y, mnist5k.mean, mnist5k.std)
    for (k, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        torch.testing.assert_close(a, b, msg=k)
    keep, val = mod.stratified_split(torch.arange(100) % 10, 0.1, seed=0)
    assert len(val) == 10 and len(keep) == 90  # the app's split, carried in the script


@pytest.mark.parametrize(
    "name",
    ['say """hi"""', "a\\b\\", 'two\nlines\n"""\nimport os; os._exit(3)', 'it\'s "quoted" \\N{BULLET} {braces}', '"""'],
)
def test_a_name_with_quotes_backslashes_and_newlines_stays_text(name, tmp_path):
    """The name (and the spec that carries it) enter the script as escaped literals: it compiles, runs no part
    of the name, and gives the name back exactly."""
    spec = {**get_preset("default"), "name": name, "description": name}
    script = to_python(spec, dataset="mnist")
    compile(script, "exported.py", "exec")  # a SyntaxError fails the test
    mod = load_script(script, tmp_path)
    assert mod.MODEL_NAME == name and mod.SPEC["description"] == name
    assert name not in mod.__doc__


def test_export_refuses_a_dataset_without_loader():
    with pytest.raises(SpecError, match="no torchvision loader"):
        to_python(get_preset("default"), dataset="my-digits.csv")


def test_the_embedded_digits_export_as_mnist_with_a_note():
    script = to_python(get_preset("default"), dataset="mnist-5k")
    assert "TV_DATASET = 'MNIST'" in script and "5,000 of its digits" in script


def test_the_template_is_a_script_that_runs_against_the_library(tmp_path):
    """The template is real Python (the linter reads it): loaded as it is, it builds its placeholder model and
    uses the library's own split, so the export only fills in its marked lines."""
    from explorer.lessons.export import TEMPLATE

    mod = load_script(TEMPLATE.read_text(), tmp_path)
    assert isinstance(mod.build_model()[0], torch.nn.Identity)
    assert mod.TV_DATASET == "MNIST" and "export: APP_CODE begin" in TEMPLATE.read_text()
    script = to_python(get_preset("preact-resnet"))
    assert "export:" not in script and "from explorer" not in script  # every marked line filled in
    (tmp_path / "model.py").write_text(script)
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--select", "F,E9", "--isolated", str(tmp_path / "model.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert lint.returncode == 0, lint.stdout[-2000:]  # no undefined name, nothing unused, valid syntax


# --- ONNX ---


@pytest.mark.parametrize("name", ["default", "preact-resnet", "mnist-gap", "cats-vs-dogs"])
def test_onnx_export_passes_the_checker_and_onnxruntime_agrees_with_torch(name):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from explorer.lessons.export import to_onnx

    spec = get_preset(name)
    model = build_model(spec, seed=1)
    model.train()
    data = to_onnx(model, spec["input_shape"])
    assert model.training  # left as it was
    onnx.checker.check_model(onnx.load_from_string(data))
    x = torch.randn(3, *spec["input_shape"])  # another batch size than the one exported with
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": x.numpy()})[0]
    with torch.no_grad():
        want = model.eval()(x).numpy()
    assert got.shape == want.shape and abs(got - want).max() < 1e-4


def test_a_trained_models_onnx_takes_pixels_and_carries_its_class_names(trained_default, mnist5k):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from explorer.core.evaluate import predict_proba
    from explorer.lessons.export import to_onnx

    model, spec, _ = trained_default
    data = to_onnx(model, spec["input_shape"], mnist5k.info())
    meta = {p.key: p.value for p in onnx.load_from_string(data).metadata_props}
    assert json.loads(meta["classes"]) == list(mnist5k.classes) and "0..255" in meta["input"]
    x = mnist5k.test_x[:50]
    logits = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(None, {"pixels": x.float().numpy()})[0]
    want = predict_proba(model, x, mnist5k.mean, mnist5k.std).argmax(1).numpy()
    assert (logits.argmax(1) == want).all()  # the same answers as the app, from raw pixels


def test_cli_exports_a_checkpoint_and_a_preset_to_onnx(tmp_path, trained_default, mnist5k):
    pytest.importorskip("onnx")
    from explorer.core.checkpoint import save_checkpoint
    from tests.test_cli import cli

    model, spec, hist = trained_default
    ck = tmp_path / "m.safetensors"
    save_checkpoint(model, spec, mnist5k.info(), hist, path=ck)
    r = cli("export", str(ck), "--onnx", "--out", str(tmp_path / "m.onnx"))
    assert r.returncode == 0 and (tmp_path / "m.onnx").stat().st_size > 50_000, r.stderr
    r = cli("export", "preact-resnet", "--out", str(tmp_path / "p.onnx"))
    assert r.returncode == 0 and (tmp_path / "p.onnx").is_file(), r.stderr
    r = cli("export", "no-such-thing", "--out", str(tmp_path / "x.onnx"))
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "neither a preset" in r.stderr
