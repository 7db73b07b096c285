from __future__ import annotations

import pytest
import torch

from explorer.export import to_python
from explorer.presets import get_preset
from explorer.spec import SpecError, build_model


def load_script(src: str) -> dict:
    ns: dict = {}
    exec(compile(src.replace('if __name__ == "__main__":', "if False:"), "exported.py", "exec"), ns)
    return ns


@pytest.mark.parametrize("name,dataset", [("default", "mnist"), ("preact-resnet", "cifar10"),
                                          ("cats-vs-dogs", "cifar10"), ("deeper", "emnist-balanced")])
def test_exported_script_rebuilds_the_same_network(name, dataset):
    spec = get_preset(name)
    ns = load_script(to_python(spec, {"epochs": 2, "optimizer": "sgd"}, dataset))
    exported, ours = ns["build_model"](), build_model(spec, seed=0)
    exported.load_state_dict(ours.state_dict())  # same modules, same names, same shapes
    exported.eval()
    ours.eval()
    x = torch.randn(2, *spec["input_shape"])
    torch.testing.assert_close(exported(x), ours(x))


def test_export_refuses_a_dataset_without_loader():
    with pytest.raises(SpecError, match="no torchvision loader"):
        to_python(get_preset("default"), dataset="mnist-5k")
