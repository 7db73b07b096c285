from __future__ import annotations

import json
import os
import pickle

import pytest
import torch
from safetensors.torch import save as st_save

from explorer.core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from explorer.core.presets import get_preset
from explorer.core.spec import build_model


def test_round_trip_gives_identical_model(trained_default, mnist5k, tmp_path):
    model, spec, hist = trained_default
    path = tmp_path / "m.safetensors"
    save_checkpoint(model, spec, mnist5k.info(), hist, {"lr": 0.01}, name="mine", path=path)
    ck = load_checkpoint(path)
    x = torch.randn(5, 1, 28, 28)
    model.eval()
    torch.testing.assert_close(ck.model(x), model(x), rtol=0, atol=0)
    assert ck.spec == spec and ck.dataset["classes"] == list(mnist5k.classes) and ck.name == "mine"
    assert ck.history["epochs"][-1]["test_accuracy"] == hist["epochs"][-1]["test_accuracy"]
    assert not ck.model.training


class Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_crafted_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.safetensors"
    bad.write_bytes(pickle.dumps(Evil(str(marker))))
    with pytest.raises(CheckpointError, match="not a CNN Explorer checkpoint"):
        load_checkpoint(bad)
    assert not marker.exists()


def test_torch_save_file_is_refused(tmp_path):
    p = tmp_path / "w.pt"
    torch.save(build_model(get_preset("default")).state_dict(), p)
    with pytest.raises(CheckpointError, match="not a CNN Explorer checkpoint"):
        load_checkpoint(p)


def test_truncated_file_is_refused(trained_default, mnist5k):
    model, spec, _ = trained_default
    data = save_checkpoint(model, spec, mnist5k.info())
    for cut in (4, 100, len(data) - 10):
        with pytest.raises(CheckpointError):
            load_checkpoint(data[:cut])


def test_spec_weights_mismatch_is_refused(mnist5k):
    model = build_model(get_preset("default"))
    other = get_preset("default")
    other["layers"][0]["out_channels"] = 6
    other["layers"][4]["out_channels"] = 16
    with pytest.raises(CheckpointError, match=r"weight 0.weight is .* the spec needs"):
        load_checkpoint(save_checkpoint(model, other, mnist5k.info()))
    with pytest.raises(CheckpointError, match="weights do not match its spec"):
        load_checkpoint(save_checkpoint(model, get_preset("mnist-gap"), mnist5k.info()))


def test_plain_safetensors_and_nan_weights_are_refused(mnist5k):
    with pytest.raises(CheckpointError, match="not a CNN Explorer checkpoint"):
        load_checkpoint(st_save({"w": torch.zeros(2)}))
    model = build_model(get_preset("default"))
    with torch.no_grad():
        model[0].weight[0, 0, 0, 0] = float("nan")
    with pytest.raises(CheckpointError, match="NaN"):
        load_checkpoint(save_checkpoint(model, get_preset("default"), mnist5k.info()))


def test_bad_metadata_is_refused(mnist5k):
    model = build_model(get_preset("default"))
    info = dict(mnist5k.info(), classes=["a", "b"])
    with pytest.raises(CheckpointError, match="10 outputs but 2 class names"):
        load_checkpoint(save_checkpoint(model, get_preset("default"), info))
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    meta = {"format": "cnn-explorer-checkpoint", "version": "1", "spec": "{not json", "dataset": "{}"}
    with pytest.raises(CheckpointError, match="spec is not valid JSON"):
        load_checkpoint(st_save(tensors, metadata=meta))
    meta["spec"] = json.dumps({"input_shape": [1, 28, 28], "layers": [{"type": "Evil"}]})
    with pytest.raises(CheckpointError, match="its spec is invalid"):
        load_checkpoint(st_save(tensors, metadata=meta))
