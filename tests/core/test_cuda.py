"""CUDA paths, run where a GPU exists (skipped elsewhere): uint8 data on the device, OOM handling."""

from __future__ import annotations

import pytest
import torch

from explorer.core.config import TrainConfig
from explorer.core.presets import get_preset
from explorer.core.spec import build_model
from explorer.core.train import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")


def test_training_data_stays_uint8_on_the_gpu(mnist5k):
    trainer = Trainer(build_model(get_preset("default"), seed=0), mnist5k, TrainConfig(device="cuda", limit_train=512))
    x, y = trainer.device_data()
    assert x.dtype == torch.uint8 and x.device.type == "cuda" and y.device.type == "cuda"
    hist = trainer.run()
    assert hist["status"] == "finished"
    assert next(trainer.model.parameters()).device.type == "cpu"  # handed back on the CPU


def test_gpu_and_cpu_runs_reach_similar_accuracy(mnist5k):
    accs = {}
    for dev in ("cpu", "cuda"):
        model = build_model(get_preset("default"), seed=0)
        hist = Trainer(model, mnist5k, TrainConfig(epochs=2, device=dev, eval_splits=("test",))).run()
        accs[dev] = hist["epochs"][-1]["test_accuracy"]
    assert accs["cuda"] > 0.9 and abs(accs["cuda"] - accs["cpu"]) < 0.03


def test_out_of_gpu_memory_is_a_sentence_and_frees_the_gpu(mnist5k):
    spec = {
        "input_shape": [1, 28, 28],
        "num_classes": 10,
        "layers": [
            {"type": "Conv2d", "out_channels": 512, "kernel_size": 3, "padding": 1},
            {"type": "ReLU"},
            {"type": "Conv2d", "out_channels": 512, "kernel_size": 3, "padding": 1},
            {"type": "ReLU"},
            {"type": "Flatten"},
            {"type": "Linear", "out_features": 10},
        ],
    }
    model = build_model(spec, seed=0)
    before = [p.detach().clone() for p in model.parameters()]
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated()
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, 4e9 / total))  # a 4 GB card, as far as torch knows
    try:
        hist = Trainer(model, mnist5k, TrainConfig(batch_size=4096, device="cuda", epochs=1)).run()
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
    assert hist["status"] == "failed" and "out of GPU memory at batch size 4096" in hist["message"]
    assert all(torch.equal(a, b.cpu()) for a, b in zip(before, model.parameters()))  # no step was taken
    torch.cuda.empty_cache()
    assert torch.cuda.memory_allocated() - base < 50e6  # nothing big left on the card
