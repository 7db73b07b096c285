from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explorer import normalize
from explorer.core.evaluate import predict_proba
from explorer.core.preprocess import EmptyImageError, mnist_style, prepare_image
from explorer.interpret.attribution import (
    METHOD_MEANINGS,
    METHODS,
    attribute,
    attribute_classes,
    predict_and_explain,
    randomization_check,
    rank_correlation,
)
from explorer.interpret.inspect import hook_count


@pytest.fixture(scope="module")
def digit(mnist5k):
    return normalize(mnist5k.test_x[:1], mnist5k.mean, mnist5k.std)


@pytest.mark.parametrize("method", METHODS)
def test_attributions_have_the_input_shape_and_leave_no_hooks(trained_default, digit, method):
    model, _, _ = trained_default
    model.train()  # a model in training mode must come back in training mode
    try:
        a = attribute(model, digit, 7, method)
        assert model.training
    finally:
        model.eval()
    a = attribute(model, digit, 7, method)
    assert a.shape == (1, 28, 28) and torch.isfinite(a).all() and a.abs().sum() > 0
    assert hook_count(model) == 0 and not model.training


def test_integrated_gradients_sum_to_the_logit_difference(trained_default, digit):
    model, _, _ = trained_default
    target = 7
    a = attribute(model, digit, target, "integrated_gradients", steps=50)
    baseline = torch.full_like(digit, float(digit.min()))
    with torch.no_grad():
        diff = float(model(digit)[0, target] - model(baseline)[0, target])
    assert float(a.sum()) == pytest.approx(diff, rel=0.05, abs=0.05)


def test_why_a_and_not_b_attributes_the_score_difference_not_the_difference_of_two_maps(digit):
    # a linear model: logit_k = w_k . x + b_k, so every quantity below has a closed form
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10)).eval()
    w = model[1].weight.detach()
    a, b = 3, 8
    sal = attribute(model, digit, a, "saliency", versus=b)
    assert torch.allclose(sal.flatten(), (w[a] - w[b]).abs(), atol=1e-6)  # |d(logit_a - logit_b)/dx|
    assert not torch.allclose(sal.flatten(), (w[a].abs() - w[b].abs()))  # what subtracting two maps would say
    ig = attribute(model, digit, a, "integrated_gradients", versus=b)
    baseline = torch.full_like(digit, float(digit.min()))
    assert torch.allclose(ig.flatten(), ((digit - baseline).flatten() * (w[a] - w[b])), atol=1e-4)
    with pytest.raises(ValueError, match="target class must lie in 0..9"):
        attribute(model, digit, a, "saliency", versus=10)


def test_each_method_says_what_its_map_means_and_which_compare_with_black():
    assert set(METHOD_MEANINGS) == set(METHODS)
    assert {m for m, v in METHOD_MEANINGS.items() if v.signed} == {"integrated_gradients", "occlusion"}
    assert {m for m, v in METHOD_MEANINGS.items() if v.black_baseline} == {"integrated_gradients", "occlusion"}
    assert all("blue" not in v.legend for v in METHOD_MEANINGS.values() if not v.signed)


def test_top_classes_and_their_difference(trained_default, digit):
    model, _, _ = trained_default
    maps = attribute_classes(model, digit, [7, 1], "gradcam")
    assert maps.shape == (2, 1, 28, 28) and not torch.equal(maps[0], maps[1])
    with pytest.raises(ValueError, match="target class must lie in 0..9"):
        attribute(model, digit, 10)
    with pytest.raises(ValueError, match="method must be one of"):
        attribute(model, digit, 1, "lime")


def test_randomization_check_changes_the_map(trained_default, digit):
    model, _, _ = trained_default
    before = [p.clone() for p in model.parameters()]
    steps = randomization_check(model, digit, 7, "gradcam")
    assert [s[0] for s in steps] == ["original", "11", "9", "4", "0"]
    assert steps[0][2] == 1.0 and min(c for _, _, c in steps[1:]) < 0.9
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # the model itself is untouched
    assert rank_correlation(torch.arange(10.0), torch.arange(10.0)) == pytest.approx(1.0)


def test_hot_path_gives_probabilities_and_saliency(trained_default, digit):
    model, _, _ = trained_default
    e = predict_and_explain(model, digit)
    assert e.probs.sum() == pytest.approx(1.0) and e.saliency.shape == (1, 28, 28)
    assert set(e.timings_ms) == {"predict", "saliency"}


# --- MNIST-style preprocessing ---


def blob(h: int, w: int, top: int, left: int, bh: int, bw: int, canvas: int = 280) -> np.ndarray:
    img = np.zeros((canvas, canvas), np.uint8)
    img[top : top + bh, left : left + bw] = 255
    return img


def centre_of_mass(t: torch.Tensor) -> tuple[float, float]:
    g = t[0].float()
    ys, xs = torch.arange(g.shape[0]).float(), torch.arange(g.shape[1]).float()
    return float((g.sum(1) * ys).sum() / g.sum()), float((g.sum(0) * xs).sum() / g.sum())


@pytest.mark.parametrize("case", [(10, 200, 30, 25), (150, 30, 12, 60), (100, 100, 120, 140)])
def test_off_centre_small_or_thick_digits_come_out_centred_and_scaled(case):
    top, left, bh, bw = case
    out = mnist_style(blob(280, 280, top, left, bh, bw))
    assert out.shape == (1, 28, 28) and out.dtype == torch.uint8 and int(out.max()) == 255
    cy, cx = centre_of_mass(out)
    assert abs(cy - 13.5) <= 1.0 and abs(cx - 13.5) <= 1.0
    ys, xs = torch.nonzero(out[0] > 25, as_tuple=True)
    side = max(int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1))
    assert 19 <= side <= 21  # the longer side scaled to 20 px, as MNIST's


def test_dark_ink_on_light_paper_and_rgba_canvas():
    img = 255 - blob(280, 280, 50, 100, 180, 40)
    assert mnist_style(img).float().mean() < 80  # inverted: ink is bright
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[60:220, 120:160] = (255, 255, 255, 255)  # white strokes, transparent elsewhere
    assert centre_of_mass(mnist_style(rgba))[1] == pytest.approx(13.5, abs=1.0)


def test_empty_canvas_asks_for_a_drawing():
    with pytest.raises(EmptyImageError, match="draw a digit first"):
        mnist_style(np.zeros((280, 280, 4), np.uint8))
    with pytest.raises(EmptyImageError):
        mnist_style(np.full((280, 280), 255, np.uint8))  # blank white paper


def test_colour_models_get_a_resize():
    out = prepare_image(np.full((50, 70, 3), 120, np.uint8), [3, 32, 32])
    assert out.shape == (3, 32, 32) and int(out.float().mean().round()) == 120


def test_mnist_digits_redrawn_on_a_canvas_keep_97_percent_of_accuracy(trained_default, mnist5k):
    model, _, _ = trained_default
    x, y = mnist5k.test_x, mnist5k.test_y
    orig = (predict_proba(model, x, mnist5k.mean, mnist5k.std).argmax(1) == y).float().mean()
    # each MNIST pixel drawn as a crisp 10x10 block on a 280 px canvas, as canvas strokes are crisp (bilinear
    # upscaling would add a blur that neither MNIST nor a canvas has; with it the figure is about 97%)
    big = F.interpolate(x.float(), size=(280, 280), mode="nearest")
    g = torch.Generator().manual_seed(0)
    redrawn = []
    for i in range(len(x)):
        canvas = torch.zeros(400, 400)
        oy, ox = torch.randint(0, 120, (2,), generator=g).tolist()  # drawn anywhere on a larger canvas
        canvas[oy : oy + 280, ox : ox + 280] = big[i, 0]
        redrawn.append(mnist_style(canvas.clamp(0, 255).numpy().astype(np.uint8)))
    redrawn_acc = (predict_proba(model, torch.stack(redrawn), mnist5k.mean, mnist5k.std).argmax(1) == y).float().mean()
    assert redrawn_acc >= 0.97 * orig, (float(orig), float(redrawn_acc))
