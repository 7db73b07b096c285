"""The map of what a model learned: the features its last Linear reads, projected by PCA; nearest neighbours."""

from __future__ import annotations

import pytest
import torch

from explorer.core.presets import get_preset
from explorer.core.spec import build_model
from explorer.interpret.embedding import feature_layer, features_of, learned_map
from explorer.interpret.inspect import capture_activations


def test_the_feature_layer_is_what_the_last_linear_reads():
    model = build_model(get_preset("default"), seed=0)
    layer = feature_layer(model)
    x = torch.randn(2, 1, 28, 28)
    feats = capture_activations(model, x, [layer])[layer].flatten(1)
    assert feats.shape[1] == model[-1].in_features
    with pytest.raises(ValueError, match="no layer before a last Linear"):
        feature_layer(
            build_model({"input_shape": [1, 4, 4], "layers": [{"type": "Conv2d", "out_channels": 2, "kernel_size": 3}]})
        )


def test_the_map_places_images_where_pca_puts_them_and_finds_their_neighbours(trained_default, mnist5k):
    model, _, _ = trained_default
    m = learned_map(model, mnist5k.test_x, mnist5k.test_y, mnist5k.train_x, mnist5k.mean, mnist5k.std, n_ref=500)
    assert m.points.shape == (500, 2) and 0 < m.explained <= 1
    again = m.place(features_of(model, m, mnist5k.test_x[:500], mnist5k.mean, mnist5k.std))
    assert torch.allclose(again, m.points, atol=1e-3)  # a reference image lands where the map drew it
    # the two directions are orthonormal, and the points are centred
    assert torch.allclose(m.basis.T @ m.basis, torch.eye(2), atol=1e-4) and m.points.mean(0).abs().max() < 1e-3
    # a trained model puts a class's images together: classes are far apart compared with their spread
    centres = torch.stack([m.points[m.labels == k].mean(0) for k in range(10)])
    spread = torch.stack([m.points[m.labels == k].std(0).norm() for k in range(10)]).mean()
    assert torch.cdist(centres, centres).max() > 2 * spread
    # the nearest training images of a test image are mostly of its class
    right = 0
    for i in range(20):
        near = m.nearest(features_of(model, m, mnist5k.test_x[i : i + 1], mnist5k.mean, mnist5k.std)[0], 5)
        right += sum(int(mnist5k.train_y[j]) == int(mnist5k.test_y[i]) for j in near)
    assert right / 100 > 0.8
