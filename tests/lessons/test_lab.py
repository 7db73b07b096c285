from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from explorer.core.config import TrainConfig
from explorer.core.presets import get_preset
from explorer.core.spec import summarize
from explorer.lessons.experiments import (
    _subset,
    architecture_conclusion,
    compare_architectures,
    data_size_experiment,
    imbalance_experiment,
    parameter_places,
    pixel_shuffle_experiment,
    rotate,
    rotation_experiment,
    shift,
    translation_sweep,
)
from explorer.lessons.lab import (
    KERNELS,
    convolve,
    explain_pixel,
    gabor,
    gabor_bank,
    kernel,
    output_size,
    pool,
    stripes_run,
)
from explorer.lessons.lesson import Lesson, lesson_to_json, parse_lesson


def test_sobel_on_a_step_image_finds_the_edge():
    img = torch.zeros(8, 8)
    img[:, 4:] = 1.0  # dark left, bright right: a vertical edge between columns 3 and 4
    out = convolve(img, kernel("sobel x"))
    assert out.shape == (6, 6)
    assert torch.equal(out[:, 2], torch.full((6,), 4.0)) and torch.equal(out[:, 3], torch.full((6,), 4.0))
    assert out[:, [0, 1, 4, 5]].abs().sum() == 0  # flat regions give zero
    assert convolve(img, kernel("sobel y")).abs().sum() == 0  # no horizontal edge


@pytest.mark.parametrize(
    "n,k,p,s,d",
    [
        (28, 3, 0, 1, 1),
        (28, 5, 2, 1, 1),
        (28, 3, 1, 2, 1),
        (27, 3, 0, 2, 2),
        (32, 7, 3, 3, 1),
        (10, 3, 0, 1, 4),
        (15, 4, 1, 2, 1),
    ],
)
def test_output_size_formula_matches_conv2d(n, k, p, s, d):
    real = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), padding=p, stride=s, dilation=d).shape[-1]
    assert output_size(n, k, p, s, d) == real


@pytest.mark.parametrize("p,s,d", [(0, 1, 1), (1, 2, 1), (2, 1, 2)])
def test_one_output_pixel_is_the_sum_of_patch_times_kernel(p, s, d):
    torch.manual_seed(0)
    img, k = torch.rand(9, 9), torch.randn(3, 3)
    out = convolve(img, k, p, s, d)
    for r, c in [(0, 0), (out.shape[0] - 1, out.shape[1] - 1), (1, 2)]:
        e = explain_pixel(img, k, r, c, p, s, d)
        assert e.value == pytest.approx(float(out[r, c]), abs=1e-5)
        assert torch.allclose(e.products, e.patch * k)
    with pytest.raises(ValueError, match="outside the"):
        explain_pixel(img, k, 50, 0)


def test_kernel_catalogue_and_gabor():
    assert {"sobel x", "laplacian", "vertical lines", "diagonal up", "gaussian blur"} <= set(KERNELS)
    assert abs(float(kernel("vertical lines").sum())) < 1e-6  # line detectors sum to zero
    g = gabor(7, wavelength=4, theta_deg=0)
    assert g.shape == (7, 7) and abs(float(g.mean())) < 1e-6
    vert = torch.zeros(15, 15)
    vert[:, ::4] = 1.0  # vertical stripes, period 4
    responses = {a: float(convolve(vert, k).abs().mean()) for a, k in gabor_bank(4, 7, 4.0)}
    assert max(responses, key=responses.get) == 0.0  # theta 0 varies along x: it answers vertical stripes
    with pytest.raises(ValueError, match="unknown kernel"):
        kernel("emboss")


def test_a_gabor_filter_answers_a_bar_along_its_stripes_most_and_the_page_says_which_way_they_run():
    bar_v, bar_h = torch.zeros(28, 28), torch.zeros(28, 28)
    bar_v[4:24, 13:15] = 1.0  # one vertical stroke
    bar_h[13:15, 4:24] = 1.0  # one horizontal stroke
    for angle in (0.0, 90.0):
        k = gabor(7, 4.0, angle, 2.0)
        v, h = (float(convolve(b, k, 3).abs().max()) for b in (bar_v, bar_h))
        stripes = "vertical stripes" if v > h else "horizontal stripes"  # the stroke it answers most runs along its stripes
        assert max(v, h) > 3 * min(v, h)
        assert stripes_run(angle) == stripes
    assert stripes_run(0.0) == "vertical stripes" and stripes_run(45.0) == "stripes slanting at 135°"


def test_the_architecture_conclusion_follows_its_figures_whichever_way_they_fall():
    shape = (1, 28, 28)
    lin = {
        "name": "linear",
        "params": 7_850,
        "test_accuracy": [0.90],
        **parameter_places(get_preset("linear", num_classes=10)),
    }
    assert lin["last_params"] == 7_850 and lin["last_inputs"] == 784 and lin["conv_params"] == 0
    wider = get_preset("wider", num_classes=10)
    w = {"name": "wider", "params": summarize(wider).total_params, "test_accuracy": [0.97], **parameter_places(wider)}
    assert w["last_inputs"] == 8 * 13 * 13 and w["conv_params"] == 8 * 9  # no bias: one 3x3 kernel a channel
    text = architecture_conclusion([lin, w], shape)
    # wider has more parameters than linear here: the sentence says so instead of "does not need more"
    assert "wider has more parameters than the linear model" in text and "does not need" not in text
    assert "reads the 1,352 numbers that the layers before it hand over" in text and "hold only 72" in text
    share_lin, share_w = lin["last_params"] / lin["params"], w["last_params"] / w["params"]
    assert f"{min(share_lin, share_w):.0%} to {max(share_lin, share_w):.0%}" in text
    small = {**w, "name": "small", "params": 5_000, "test_accuracy": [0.95]}
    assert "small has fewer parameters than the linear model" in architecture_conclusion([lin, small], shape)
    best_linear = architecture_conclusion([{**lin, "test_accuracy": [0.99]}, w], shape)
    assert best_linear.startswith("linear ends best") and "than the linear model" not in best_linear


def test_max_and_average_pooling():
    m = torch.tensor([[1.0, 2, 0, 0], [3, 4, 0, 8], [0, 0, 1, 1], [0, 0, 1, 1]])
    assert pool(m, "max").tolist() == [[4, 8], [0, 1]]
    assert pool(m, "avg").tolist() == [[2.5, 2], [0, 1]]


def test_rotate_and_shift_keep_uint8_and_move_content():
    x = torch.zeros(1, 1, 9, 9, dtype=torch.uint8)
    x[0, 0, 4, 6] = 255
    assert torch.equal(rotate(x, 360), x)
    assert rotate(x, 90).dtype == torch.uint8 and rotate(x, 90)[0, 0, 2, 4] > 100  # right -> up
    assert shift(x, 2)[0, 0, 4, 8] == 255 and shift(x, 3).sum() == 0  # pushed out of the frame


def test_experiments_run_end_to_end_on_a_small_subset(mnist5k):
    cfg = TrainConfig(epochs=1, limit_train=512, eval_splits=("test",))
    arch = compare_architectures(mnist5k, ("linear", "one-conv"), cfg)
    assert [r["name"] for r in arch["rows"]] == ["linear", "one-conv"]
    assert arch["rows"][0]["params"] == 7_850 and "parameters" in arch["conclusion"]
    rot = rotation_experiment(mnist5k, config=cfg, limit=200)
    assert [a for a, _ in rot["plain"]] == list(range(0, 361, 10)) and len(rot["augmented"]) == 37
    assert rot["plain"][0][1] == pytest.approx(rot["plain"][-1][1])  # 0 and 360 degrees are the same images
    shuf = pixel_shuffle_experiment(mnist5k, cfg)
    assert len(shuf["rows"]) == 4 and "shuffled" in shuf["conclusion"]
    model = __import__("explorer").build_model(get_preset("default"), seed=0)
    tr = translation_sweep(model, mnist5k, [0, 2, 4], limit=100)
    assert [k for k, _ in tr["sweep"]] == [0, 2, 4]
    x = mnist5k.test_x[:100].float()
    assert tr["ink_lost"] == pytest.approx(float(1 - shift(mnist5k.test_x[:100], 4).float().sum() / x.sum()))
    assert f"At 4 px, {tr['ink_lost']:.0%} of the ink has also left" in tr["conclusion"]
    # each conclusion is built again from the stored figures in the student's language, the same in English
    from explorer.i18n import translator
    from explorer.lessons import experiment_conclusion

    for name, res in (("arch", arch), ("rot", rot), ("shuf", shuf), ("shift", tr)):
        assert experiment_conclusion(name, res) == res["conclusion"]
        spanish = experiment_conclusion(name, res, tr=translator("es"))
        assert spanish != res["conclusion"] and "%" in spanish and "," in spanish, spanish
    cnn = next(r["test_accuracy"] for r in shuf["rows"] if r["model"] == "CNN" and r["images"] == "real")
    assert translator("de").percent(cnn) in experiment_conclusion("shuf", shuf, tr=translator("de"))


def test_a_subset_keeps_the_asked_number_of_each_class(mnist5k):
    sub = _subset(mnist5k, {3: 7, 5: 0}, seed=1)
    counts = torch.bincount(sub.train_y, minlength=10)
    full = torch.bincount(mnist5k.train_y, minlength=10)
    assert counts[3] == 7 and counts[5] == 0 and counts[0] == full[0]  # the others all kept
    assert torch.equal(sub.test_x, mnist5k.test_x)  # tested on the same images


@pytest.mark.slow
def test_more_data_per_class_helps_and_a_rare_class_loses_its_recall(mnist5k):
    size = data_size_experiment(mnist5k, sizes=(5,), seeds=2, steps=60)
    assert [(r["per_class"], r["seed"]) for r in size["rows"]] == [(5, 0), (5, 1), (360, 0), (360, 1)]
    small = [r["test_accuracy"] for r in size["rows"] if r["per_class"] == 5]
    full = [r["test_accuracy"] for r in size["rows"] if r["per_class"] == 360]
    assert min(full) > max(small) and "spread" in size["conclusion"]
    imb = imbalance_experiment(mnist5k, 3, shares=(1.0, 0.01), steps=150)
    assert [r["images"] for r in imb["rows"]] == [360, 4]
    assert imb["rows"][1]["recall"] < imb["rows"][0]["recall"] - 0.2  # the rare class is missed far more
    assert imb["rows"][0]["accuracy"] - imb["rows"][1]["accuracy"] < 0.15  # while the overall score moves little
    with pytest.raises(ValueError, match="class must be from 0 to 9"):
        imbalance_experiment(mnist5k, 10)


@pytest.mark.slow
def test_the_data_size_seeds_run_as_parts_and_merge_into_the_whole(mnist5k):
    from explorer.lessons import merge_data_size

    whole = data_size_experiment(mnist5k, sizes=(5,), seeds=2, steps=40)
    parts = [data_size_experiment(mnist5k, sizes=(5,), steps=40, only_seeds=(s,)) for s in (1, 0)]
    merged = merge_data_size(parts)
    assert [(r["per_class"], r["seed"]) for r in merged["rows"]] == [(r["per_class"], r["seed"]) for r in whole["rows"]]
    assert [r["test_accuracy"] for r in merged["rows"]] == [r["test_accuracy"] for r in whole["rows"]]
    assert merged["conclusion"] == whole["conclusion"] and "over 2 repeats" in merged["conclusion"]


def test_a_lesson_opens_the_class_on_the_page_the_teacher_chose():
    lesson = Lesson("Trust", "mnist-5k", get_preset("default"), {}, ["Build"], "", "", "Can we trust it?")
    assert parse_lesson(lesson_to_json(lesson)).start == "Can we trust it?"
    old = json.loads(lesson_to_json(lesson))
    del old["start"]  # a lesson saved before there was a start page opens on Start
    assert parse_lesson(json.dumps(old)).start == "Start"


def test_lesson_files_round_trip_and_refuse_bad_ones():
    lesson = Lesson(
        "Week 3",
        "mnist-5k",
        get_preset("one-conv", num_classes=10),
        {"epochs": 2, "lr": 0.01},
        ["Build", "Filter images"],
        "Compare one conv block with the linear model.",
    )
    back = parse_lesson(lesson_to_json(lesson))
    assert back == lesson
    bad = json.loads(lesson_to_json(lesson))
    for field, value, msg in [
        ("hidden", ["Admin"], "hidden pages must be among"),
        ("train", {"epochs": 0}, "epochs must be"),
        ("spec", {"input_shape": [1, 28, 28], "layers": [{"type": "Nope"}]}, "model is invalid"),
        ("format", "other", "not a CNN Explorer lesson"),
        ("start", "Admin", "start must be a page it does not hide"),
        ("start", "Build", "start must be a page it does not hide"),
    ]:  # Build is hidden
        with pytest.raises(ValueError, match=msg):
            parse_lesson(json.dumps({**bad, field: value}))
    with pytest.raises(ValueError, match="not JSON|not UTF-8"):
        parse_lesson(b"\x80garbage")


def test_a_typed_kernel_is_read_or_refused_with_a_sentence():
    import torch

    from explorer.core import MAX_KERNEL_SIDE
    from explorer.lessons import kernel_from_table, unit_gray

    assert kernel_from_table([[1, 0], [None, "2.5"]]).tolist() == [[1.0, 0.0], [0.0, 2.5]]  # emptied cell: 0
    for bad in ([[1, 2], [3]], [], [["x"]], [[float("inf")]], [[0] * (MAX_KERNEL_SIDE + 1)] * (MAX_KERNEL_SIDE + 1), None):
        with pytest.raises(ValueError):
            kernel_from_table(bad)
    rgb = torch.tensor([[[255]], [[0]], [[0]]], dtype=torch.uint8)
    assert unit_gray(rgb).tolist() == [[pytest.approx(1 / 3)]]
    assert unit_gray(torch.full((2, 2), 255, dtype=torch.uint8)).tolist() == [[1.0, 1.0], [1.0, 1.0]]
