"""Right for the wrong reason: a cue planted in one class's images, and what a model trained on them learned."""

from __future__ import annotations

import pytest
import torch

from explorer.core.config import TrainConfig
from explorer.core.presets import get_preset
from explorer.core.spec import build_model
from explorer.core.train import Trainer
from explorer.lessons.shortcut import plant_cue, reveal, shortcut_dataset


def test_cues_are_drawn_where_they_say():
    x = torch.zeros(2, 1, 28, 28, dtype=torch.uint8)
    assert plant_cue(x, "corner dot")[:, :, 1:4, 1:4].eq(255).all() and plant_cue(x, "corner dot").sum() == 2 * 9 * 255
    border = plant_cue(x, "border")
    assert border[:, :, 0].eq(255).all() and border[:, :, :, -1].eq(255).all() and border[:, :, 5, 5].eq(0).all()
    x[:, :, 14, 14] = 255
    assert plant_cue(x, "thick strokes")[0, 0, 13:16, 13:16].eq(255).all()  # a dot grows to 3x3
    with pytest.raises(ValueError, match="the cue must be one of"):
        plant_cue(x, "glitter")


def test_the_cued_copy_changes_only_a_share_of_one_class_and_never_the_original(mnist5k):
    before = mnist5k.train_x.clone()
    cued = shortcut_dataset(mnist5k, 3, "border", 0.5)
    assert torch.equal(mnist5k.train_x, before) and cued.name == "mnist-5k (lesson)"
    changed = (cued.train_x != mnist5k.train_x).flatten(1).any(1)
    threes = mnist5k.train_y == 3
    assert not changed[~threes].any()  # no other class is touched
    assert changed[threes].float().mean() == pytest.approx(0.5, abs=0.02)
    assert (cued.test_x != mnist5k.test_x).flatten(1).any(1)[mnist5k.test_y == 3].any()  # the test split alike


def test_a_model_trained_on_a_cue_is_found_out_by_reveal(mnist5k):
    cued = shortcut_dataset(mnist5k, 3, "border", 0.9)
    model = build_model(get_preset("default"), seed=0)
    hist = Trainer(model, cued, TrainConfig(epochs=2, eval_splits=("test",))).run()
    assert hist["epochs"][-1]["test_accuracy"] > 0.9  # the test score looks fine
    found = reveal(model.eval(), mnist5k, 3, "border")
    assert found["recall_cued"] > found["recall_clean"]  # it looks for the border
    assert found["others_pulled"] > 0.3  # and a border makes other digits "3"s
    assert found["example"].shape == (8, 1, 28, 28)
