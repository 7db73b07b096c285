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
    hist = {
        "steps": [{"step": i, "loss": 1.0 / i, "accuracy": 0.5} for i in range(1, 1001)],
        "epochs": [
            {"step": 1000, "epoch": 1, "train_loss": 0.1, "test_loss": 0.2, "train_accuracy": 0.9, "test_accuracy": 0.8}
        ],
    }
    fig = training_curves([("a", hist)], "loss", max_points=100)
    assert len(fig.data[0].x) <= 100 + 1  # downsampled for fast redraws
    with pytest.raises(ValueError, match="metric must be"):
        training_curves([], "speed")
    assert len(shape_flow(summarize(get_preset("preact-resnet"))).layout.shapes) > 10


@pytest.mark.parametrize("preset", ["default", "cats-vs-dogs", "preact-resnet"])
def test_the_shape_flow_writes_each_shape_where_it_changes_above_its_blocks(preset):
    """A norm or an activation keeps the tensor's shape: written again, its label would sit on its neighbour's.
    (That no two labels touch on screen is measured in Chromium: ``test_browser.py``'s walk through the pages.)"""
    summary = summarize(get_preset(preset))
    fig = shape_flow(summary)
    blocks = list(fig.layout.shapes)  # one block per stage, in order
    shapes = [tuple(summary.input_shape)] + [tuple(r.output_shape) for r in summary.layers]
    assert len(blocks) == len(shapes)

    def stage(a) -> int:
        return min(range(len(blocks)), key=lambda i: abs((blocks[i].x0 + blocks[i].x1) / 2 - a.x))

    labels = {stage(a): a for a in fig.layout.annotations if a.yanchor == "bottom"}  # above the blocks
    changed = [i for i, s in enumerate(shapes) if i == 0 or s != shapes[i - 1]]
    assert sorted(labels) == changed
    assert all(labels[i].text == "×".join(map(str, shapes[i])) for i in changed)
    assert all(labels[i].y > blocks[i].y1 for i in changed)  # above its own block
    assert max(a.y for a in labels.values()) < fig.layout.yaxis.range[1]  # every label inside the figure


def test_shape_labels_that_share_columns_go_a_row_apart_and_the_others_stay_low():
    from explorer.plots.charts import LABEL_ROW, _label_rows

    # (centre, width, lowest height): the second touches the first, the third touches the second only
    rows = _label_rows([(0.0, 2.0, 0.5), (1.5, 2.0, 0.5), (3.0, 1.2, 0.4), (3.5, 1.0, 0.45), (6.0, 1.0, 0.3)])
    assert rows[0] == 0.5
    assert rows[1] == pytest.approx(0.5 + LABEL_ROW)
    assert rows[2] == 0.4  # shares columns with the second only, which is a row above it: it stays at its lowest
    assert rows[3] == pytest.approx(0.4 + LABEL_ROW)  # touches the third (0.4) below and not the second (0.67)
    assert rows[4] == 0.3  # alone


def test_a_4096_channel_layer_makes_a_bounded_mosaic_quickly():
    from explorer.core import MAX_MOSAIC_PIXELS

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


def test_the_clickable_confusion_heatmap_puts_each_cells_count_under_its_marker():
    import torch

    from explorer.plots import confusion_heatmap

    m = torch.tensor([[5, 1, 0], [2, 7, 0], [0, 3, 4]])
    fig = confusion_heatmap(m, ["a", "b", "c"], clickable=True, titles=("predicted", "true"))
    heat, marks = fig.data
    assert heat.hoverinfo == "skip" and len(marks.x) == 9
    # the marker at (true b, predicted a) carries that cell's count, read from the matrix by hand
    k = next(i for i in range(9) if marks.y[i] == "b" and marks.x[i] == "a")
    assert marks.customdata[k] == 2
    assert fig.layout.xaxis.title.text == "predicted" and fig.layout.yaxis.title.text == "true"


def test_normalised_rows_are_shares_of_the_whole_row_even_when_only_some_classes_are_drawn():
    import torch

    from explorer.plots import confusion_heatmap

    m = torch.tensor([[3, 1], [0, 4]])
    fig = confusion_heatmap(m, ["a", "b"], normalized=True, row_totals=torch.tensor([8, 4]))
    assert fig.data[0].z[0] == [3 / 8, 1 / 8]  # row a's other 4 images are in classes not drawn
    assert fig.data[0].text[0] == ["38%", "12%"] and fig.data[0].text[1][0] == ""


def test_the_board_escapes_what_students_typed():
    from explorer.plots import board_figure

    fig = board_figure([{"name": "<b>x</b>", "architecture": "conv<script>", "params": 10, "accuracy": 0.5}])
    assert fig.data[0].text == ("&lt;b&gt;x&lt;/b&gt;",) and "<script>" not in fig.data[0].customdata[0]
    assert board_figure([]).data[0].x == ()  # an empty board draws, it does not raise


def test_each_experiment_chart_draws_its_result():
    from explorer.plots import EXPERIMENT_CHARTS, experiment_figure

    results = {
        "arch": {"rows": [{"name": "linear", "params": 7850, "test_accuracy": [0.8, 0.9]}]},
        "rot": {"plain": [(0, 0.99), (90, 0.2)], "augmented": [(0, 0.97), (90, 0.8)]},
        "shift": {"sweep": [(0, 0.99), (4, 0.5)]},
        "shuf": {
            "rows": [
                {"model": "CNN", "images": "real", "test_accuracy": 0.98},
                {"model": "MLP", "images": "real", "test_accuracy": 0.95},
            ]
        },
        "size": {
            "rows": [
                {"per_class": 10, "test_accuracy": 0.5},
                {"per_class": 10, "test_accuracy": 0.7},
                {"per_class": 100, "test_accuracy": 0.9},
            ]
        },
        "imb": {
            "rows": [{"share": 1.0, "recall": 0.98, "accuracy": 0.98}, {"share": 0.01, "recall": 0.3, "accuracy": 0.92}]
        },
    }
    assert set(results) == set(EXPERIMENT_CHARTS)
    for name, res in results.items():
        assert experiment_figure(name, res).data, name
    means = next(t for t in experiment_figure("size", results["size"]).data if t.name == "mean")
    assert list(means.x) == [10, 100] and list(means.y) == pytest.approx([0.6, 0.9])
    assert experiment_figure("shift", results["shift"], model_name="mine").data[0].name == "mine"
    with pytest.raises(ValueError, match="no chart"):
        experiment_figure("nope", {})
    from explorer.plots import experiment_table

    for name, res in results.items():  # the numbers behind each chart, for whoever cannot see it
        assert experiment_table(name, res), name
    assert experiment_table("rot", results["rot"])[1] == {
        "rotation (degrees)": 90,
        "trained upright": "20.0%",
        "trained with rotations": "80.0%",
    }
    assert experiment_table("arch", results["arch"])[0]["epoch 2"] == "90.0%"
    assert experiment_table("imb", results["imb"])[1]["recall"] == "30.0%"


def test_a_layers_histogram_counts_its_values():
    import torch

    from explorer.plots import value_histogram, vector_bar

    fig = value_histogram(torch.tensor([0.0, 0.0, 1.0, float("nan")]), "t", bins=2)
    assert list(fig.data[0].y) == [2.0, 1.0]  # the NaN is left out
    assert list(vector_bar(torch.tensor([1.0, 2.0]), ["a", "b"]).data[0].x) == ["a", "b"]
    assert list(vector_bar(torch.tensor([1.0, 2.0, 3.0]), ["a", "b"]).data[0].x) == ["0", "1", "2"]


def test_the_cells_a_kernel_reads_are_tinted_and_the_rest_kept():
    import torch

    from explorer.plots import cells_read, feature_tile, number_table

    view = cells_read(torch.ones(4, 4), pad=1, top=0, left=0, span=3, step=2)
    assert view.shape == (6, 6, 3)
    assert tuple(view[0, 0]) != (0, 0, 0) and view[0, 0, 0] > view[0, 0, 2]  # a padding cell read: red over black
    assert tuple(view[1, 1]) == (255, 255, 255)  # an image cell the dilated kernel skips: left white
    assert tuple(view[2, 2]) == (234, 147, 147)  # read: half white, half red
    assert number_table(torch.tensor([[0.12345, 1.0]]), 2) == [[0.12, 1.0]]
    with_kernel = feature_tile(torch.rand(4, 4), 0.0, 1.0, kernel=torch.ones(3, 3), size=40)
    assert with_kernel.shape[1] > feature_tile(torch.rand(4, 4), 0.0, 1.0, size=40).shape[1]


def test_a_charts_words_follow_the_students_language():
    from explorer.i18n import translator
    from explorer.plots import coverage_figure, experiment_figure, training_curves

    hist = {
        "steps": [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.0}],
        "epochs": [{"epoch": 1, "step": 2, "val_loss": 1.1, "test_loss": 1.2}],
    }
    de = training_curves([("#1", hist)], "loss", tr=translator("de"))
    assert de.layout.xaxis.title.text == "Schritt" and de.layout.title.text == "Verlust"
    assert {t.name for t in de.data} >= {"#1 Training", "#1 Validierung", "#1 Test"}
    en = training_curves([("#1", hist)], "loss")
    assert en.layout.xaxis.title.text == "step" and {t.name for t in en.data} >= {"#1 training", "#1 validation"}
    curve = [type("C", (), {"threshold": t, "coverage": 1 - t / 2, "accuracy": 0.9 + t / 10})() for t in (0.0, 0.5)]
    es = coverage_figure(curve, 0.5, tr=translator("es"))
    assert [t.name for t in es.data] == ["respondidas (cobertura)", "aciertos, entre las respondidas"]
    shuf = {"rows": [{"model": m, "images": i, "test_accuracy": 0.9} for m in ("CNN", "MLP") for i in ("real", "shuffled")]}
    assert list(experiment_figure("shuf", shuf, tr=translator("es")).data[0].x) == ["reales", "barajadas"]
