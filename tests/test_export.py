from __future__ import annotations

import importlib.util
import sys

import pytest
import torch

from explorer.export import to_python
from explorer.presets import get_preset
from explorer.spec import SpecError, build_model
from explorer.train import TrainConfig, Trainer


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


@pytest.mark.parametrize("name,dataset", [("default", "mnist"), ("preact-resnet", "cifar10"),
                                          ("cats-vs-dogs", "cifar10"), ("deeper", "emnist-balanced")])
def test_exported_script_rebuilds_the_same_network(name, dataset, tmp_path):
    spec = get_preset(name)
    mod = load_script(to_python(spec, {"epochs": 2, "optimizer": "sgd"}, dataset), tmp_path)
    exported, ours = mod.build_model(), build_model(spec, seed=0)
    exported.load_state_dict(ours.state_dict())  # same modules, same names, same shapes
    exported.eval()
    ours.eval()
    x = torch.randn(2, *spec["input_shape"])
    torch.testing.assert_close(exported(x), ours(x))


@pytest.mark.parametrize("settings", [
    {"epochs": 2, "batch_size": 64, "limit_train": 640, "seed": 3},  # Adam, one-cycle
    {"epochs": 2, "batch_size": 32, "limit_train": 320, "optimizer": "sgd", "lr": 0.05, "schedule": "step",
     "seed": 1, "augment": {"rotation": 15, "shift": 0.1}},
])
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
    keep, val = mod._stratified_split(torch.arange(100) % 10, 0.1, seed=0)
    assert len(val) == 10 and len(keep) == 90  # the app's split, carried in the script


def test_export_refuses_a_dataset_without_loader():
    with pytest.raises(SpecError, match="no torchvision loader"):
        to_python(get_preset("default"), dataset="mnist-5k")
