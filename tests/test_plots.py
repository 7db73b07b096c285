from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.core.presets import get_preset
from explorer.core.spec import summarize
from explorer.plots import colorize, ema, image_grid, kernel_mosaic, shape_flow, training_curves


def test_colorize_diverging_is_centred_on_zero():
    rgb = colorize(torch.tensor([[-2.0, 0.0, 2.0]]), "diverging")
    assert tuple(rgb[0, 1]) == (247, 247, 247)  # zero is white
    assert rgb[0, 0, 2] > rgb[0, 0, 0] and rgb[0, 2, 0] > rgb[0, 2, 2]  # blue below, red above


def test_kernel_mosaic_places_each_kernel_where_the_weight_is():
    w = torch.zeros(2, 3, 3, 3)
    w[1, 2] = 1.0  # output channel 1, input channel 2: all positive
    img = kernel_mosaic(w, cell=9, pad=1)
    assert img.shape == (2 * 10 + 1, 3 * 10 + 1, 3)
    red = img[..., 0].astype(int) - img[..., 2].astype(int)
    assert red[11:20, 21:30].min() > 100  # that tile is red
    assert np.abs(red[1:10, 1:10]).max() == 0  # a zero kernel is white


def test_kernel_mosaic_wraps_single_input_layers():
    img = kernel_mosaic(torch.randn(16, 1, 5, 5), cell=10, pad=2)
    assert img.shape == (2 * 12 + 2, 8 * 12 + 2, 3)
    with pytest.raises(ValueError, match="expected conv weights"):
        kernel_mosaic(torch.randn(3, 3))


def test_image_grid_and_curves():
    g = image_grid(torch.full((5, 1, 4, 4), 200, dtype=torch.uint8), ncols=3, pad=1)
    assert g.shape == (2 * 5 + 1, 3 * 5 + 1) and g[1, 1] == 200
    assert ema([1.0, 1.0, 1.0], 0.9) == pytest.approx([1.0, 1.0, 1.0])  # debiased
    hist = {"steps": [{"step": i, "loss": 1.0 / i, "accuracy": 0.5} for i in range(1, 1001)],
            "epochs": [{"step": 1000, "epoch": 1, "train_loss": 0.1, "test_loss": 0.2, "train_accuracy": 0.9,
                        "test_accuracy": 0.8}]}
    fig = training_curves([("a", hist)], "loss", max_points=100)
    assert len(fig.data[0].x) <= 100 + 1  # downsampled for fast redraws
    with pytest.raises(ValueError, match="metric must be"):
        training_curves([], "speed")
    assert len(shape_flow(summarize(get_preset("preact-resnet"))).layout.shapes) > 10


def test_a_4096_channel_layer_makes_a_bounded_mosaic_quickly():
    from explorer.plots import MAX_MOSAIC_PIXELS

    w = torch.randn(4096, 512, 1, 1)
    img = kernel_mosaic(w, cell=72)
    assert img.shape[0] * img.shape[1] <= MAX_MOSAIC_PIXELS * 1.1
    assert img.shape[0] < 64 * 80  # 64 output channels drawn, not 4096


def test_weight_histograms_count_on_the_server_and_send_only_the_bins():
    from explorer.plots import weight_histograms

    big = torch.randn(10_000_000)
    fig = weight_histograms([("0", big), ("1", torch.zeros(5))], bins=60)
    assert [len(t.x) for t in fig.data] == [60, 60]
    assert abs(sum(fig.data[0].y) - 1.0) < 1e-4  # each layer's shares add up to one
    centre = max(range(60), key=lambda k: fig.data[0].y[k])
    assert abs(fig.data[0].x[centre]) < 0.5  # a normal's mode is near zero


def test_the_small_confusion_heatmap_writes_the_counts_where_they_belong():
    from explorer.plots import confusion_heatmap

    m = torch.tensor([[3, 1], [0, 2]])
    fig = confusion_heatmap(m, ["a", "b"])
    assert fig.data[0].text == (("3", "1"), ("", "2")) or [list(r) for r in fig.data[0].text] == [["3", "1"], ["", "2"]]
    assert list(fig.data[0].x) == ["a", "b"] and fig.layout.yaxis.autorange == "reversed"
