"""The text alternatives say what the data shows: where, how much, which classes (checked on data made here)."""

from __future__ import annotations

import torch

from explorer.i18n import translator
from explorer.plots import (
    describe_attribution,
    describe_bars,
    describe_board,
    describe_class_counts,
    describe_confusion,
    describe_curves,
    describe_image,
    describe_images,
    describe_kernel,
    describe_kernels,
    describe_learned_map,
    describe_map,
    describe_values,
    where,
)


def test_where_names_the_ninth_of_the_map_that_holds_the_peak():
    a = torch.zeros(9, 9)
    a[0, 0] = 1
    assert where(a) == "the upper left"
    a[0, 0], a[4, 4] = 0, 1
    assert where(a) == "the centre"
    a[4, 4], a[8, 4] = 0, 1
    assert where(a) == "the lower centre"
    a[8, 4], a[4, 8] = 0, 1
    assert where(a) == "the right"


def test_an_images_text_says_its_size_and_where_its_bright_part_is():
    x = torch.zeros(1, 28, 28, dtype=torch.uint8)
    assert describe_image(x, "a blank") == "a blank: 28×28 grey, all dark"
    x[0, 20:26, 2:8] = 255
    text = describe_image(x, "a digit")
    assert "28×28 grey" in text and "lower left" in text and f"{36 / 784:.0%}" in text
    assert "colour" in describe_image(torch.zeros(3, 8, 8, dtype=torch.uint8))
    grid = describe_images(torch.zeros(3, 1, 4, 4), "test images", ["7", "7", "1"])
    assert grid == "3 test images (7 ×2, 1), 4×4 each"


def test_a_kernels_text_says_what_it_looks_for():
    sobel_x = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    text = describe_kernel(sobel_x, "sobel x")
    assert "vertical edges" in text and "negative on the left, positive on the right" in text
    assert "horizontal edges" in describe_kernel(sobel_x.T) and "negative above" in describe_kernel(sobel_x.T)
    w = torch.stack([sobel_x, sobel_x, sobel_x.T * 3])[:, None]  # 3 kernels, 1 input channel
    text = describe_kernels(w, "0")
    assert text.startswith("3 kernels of layer 0, each 3×3 over one input channel:")
    assert "2 look for vertical edges" in text and "1 look for horizontal edges" in text
    assert "kernel 2 has the largest weights (±6.00)" in text


def test_a_maps_and_an_attributions_text_say_where_they_are_strongest():
    a = torch.zeros(6, 6)
    a[0, 5] = 2.0
    a[0, 4] = 1.5
    assert describe_map(a, "map") == f"map: 6×6, strongest (2.00) in the upper right, {2 / 36:.0%} of it above half that"
    assert "silent" in describe_map(-torch.ones(3, 3))
    attr = torch.zeros(6, 6)
    attr[5, 0], attr[0, 0] = 1.0, -1.0
    assert describe_attribution(attr, "saliency") == (
        "saliency: most for it in the lower left, most against it in the upper left"
    )


def test_a_runs_table_holds_the_numbers_its_curves_show():
    from explorer.plots import epoch_table

    hist = {
        "epochs": [
            {"epoch": 1, "step": 10, "train_loss": 0.51234, "test_accuracy": 0.9},
            {"epoch": 2, "step": 20, "train_loss": 0.2, "test_accuracy": 0.955},
            {"broken": True},
        ]
    }
    assert epoch_table(hist) == [
        {"epoch": 1, "step": 10, "train loss": 0.5123, "test accuracy": "90.00%"},
        {"epoch": 2, "step": 20, "train loss": 0.2, "test accuracy": "95.50%"},
    ]


def test_the_learned_map_names_each_class_where_its_images_are():
    from explorer.plots import learned_map_figure

    points = torch.tensor([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0]])
    fig = learned_map_figure(points, torch.tensor([0, 0, 1]), ["zero", "one"])
    names = {a.text: (a.x, a.y) for a in fig.layout.annotations}
    assert names == {"<b>zero</b>": (1.0, 0.0), "<b>one</b>": (10.0, 10.0)}
    shapes = [t.marker.symbol for t in fig.data if t.name in ("zero", "one")]
    assert len(set(shapes)) == 2  # a shape per class besides its colour


def test_the_charts_texts_carry_their_numbers():
    hist = {
        "steps": [{"step": 1, "loss": 2.3}, {"step": 2, "loss": 0.5}],
        "epochs": [{"epoch": 1, "step": 2, "test_loss": 0.4}],
    }
    text = describe_curves([("run 1", hist)], "loss")
    assert "from 2.3 to 0.5 over 2 logged steps" in text and "test 0.4 after 1 epoch" in text
    m = torch.tensor([[8, 2], [0, 10]])
    assert describe_confusion(m, ["a", "b"]) == (
        "confusion matrix of 2 classes, 18 of 20 (90.0%) on the diagonal; largest mistakes: a taken for b 2 times"
    )
    assert describe_bars(torch.tensor([0.1, 0.7, 0.2]), ["x", "y", "z"], k=2) == "3 values, largest: y (0.70), z (0.20)"
    assert "median 0.00" in describe_values(torch.tensor([-1.0, 0.0, 2.0])) and "67% at or below zero" in describe_values(
        torch.tensor([-1.0, 0.0, 2.0])
    )
    counts = describe_class_counts(torch.tensor([0, 1, 1, 1]), ["a", "b"])
    assert counts == "4 images in 2 classes, from 1 (a) to 3 (b)"
    assert describe_class_counts(torch.tensor([0, 1, 1, 0]), ["a", "b"]) == "4 images in 2 classes, 2 in each"
    rows = [{"name": "Ada", "accuracy": 0.9, "params": 100}, {"name": "Bo", "accuracy": 0.95, "params": 5000}]
    assert "best: Bo with 95.0%" in describe_board(rows) and "smallest: Ada with 100 parameters" in describe_board(rows)
    points = torch.tensor([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0]])
    text = describe_learned_map(points, torch.tensor([3, 3, 1]), [str(i) for i in range(4)], torch.tensor([0.05, 0.0]), 2)
    assert text.endswith("your drawing sits among the 3s (2 of its 2 nearest)")


def test_the_charts_texts_speak_the_students_language_with_its_numbers():
    es, de = translator("es"), translator("de")
    labels = torch.tensor([0] * 1200 + [1] * 3)
    assert describe_class_counts(labels, ["a", "b"], tr=es) == "1.203 imágenes en 2 clases, de 3 (b) a 1.200 (a)"
    hist = {
        "steps": [{"step": 1, "accuracy": 0.5}, {"step": 2, "accuracy": 0.975}],
        "epochs": [{"epoch": 1, "test_accuracy": 0.96}, {"epoch": 2, "test_accuracy": 0.971}],
    }
    text = describe_curves([("#1", hist)], "accuracy", tr=de)
    text = text.replace("\xa0", " ")  # Babel keeps a percentage's sign with its number
    assert text.startswith("Kurven für Genauigkeit.") and "von 50,0 % auf 97,5 %" in text
    assert "Test 97,1 % nach 2 Epochen" in text
