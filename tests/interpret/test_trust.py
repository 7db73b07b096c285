"""When to trust an answer: coverage against a confidence threshold, inputs that are none of the classes, and
adversarial attacks (FGSM, PGD) with the smallest eps that fools a model."""

from __future__ import annotations

import pytest
import torch

from explorer.core.evaluate import predict_proba
from explorer.interpret.reject import not_digits, reject_conclusion
from explorer.interpret.trust import (
    attack,
    calibration_sentence,
    calibration_table,
    coverage_curve,
    smallest_fooling_eps,
)


def test_coverage_falls_and_accuracy_rises_as_the_threshold_rises(trained_default, mnist5k):
    model, _, _ = trained_default
    probs = predict_proba(model, mnist5k.test_x, mnist5k.mean, mnist5k.std)
    curve = coverage_curve(probs, mnist5k.test_y, [0.0, 0.5, 0.9, 0.99])
    assert curve[0].coverage == 1.0 and curve[0].answered == len(mnist5k.test_y)
    assert [c.coverage for c in curve] == sorted((c.coverage for c in curve), reverse=True)
    assert curve[-1].accuracy > curve[0].accuracy  # surer answers are right more often


def test_coverage_counts_by_hand():
    probs = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.45, 0.55]])
    y = torch.tensor([0, 1, 1, 0])  # right, wrong, right, wrong
    (half, most) = coverage_curve(probs, y, [0.5, 0.65])
    assert (half.answered, half.coverage, half.accuracy) == (4, 1.0, 0.5)
    assert (most.answered, most.coverage, most.accuracy) == (2, 0.5, 1.0)  # 0.9 and 0.7 are answered, both right
    with pytest.raises(ValueError, match="expected probabilities"):
        coverage_curve(probs, y[:2])


def test_the_calibration_table_counts_how_often_each_confidence_was_right():
    # six images with known confidences: 0.95, 0.95, 0.92 (two right, one wrong), 0.6 (right), 0.999 and 1.0 (right)
    conf = torch.tensor([0.95, 0.95, 0.92, 0.6, 0.999, 1.0])
    probs = torch.stack([conf, 1 - conf], 1)  # two classes: the top one is class 0
    y = torch.tensor([0, 0, 1, 0, 0, 0])
    rows = calibration_table(probs, y)
    by = {(r.low, r.high): r for r in rows}
    assert by[(0.9, 0.99)].images == 3 and by[(0.9, 0.99)].right == pytest.approx(2 / 3)
    assert by[(0.9, 0.99)].confidence == pytest.approx((0.95 + 0.95 + 0.92) / 3)
    assert by[(0.99, 1.0)].images == 2 and by[(0.99, 1.0)].right == 1.0  # 1.0 falls in the last bin
    assert by[(0.5, 0.7)].images == 1 and by[(0.0, 0.5)].images == 0
    assert sum(r.images for r in rows) == 6
    assert "right on 66.7% of them" in calibration_sentence(rows) and "3 test images" in calibration_sentence(rows)
    with pytest.raises(ValueError, match="edges must rise"):
        calibration_table(probs, y, (0.5, 0.5, 1.0))


def test_not_digits_are_shaped_like_the_image_and_uint8(mnist5k):
    odd = not_digits(mnist5k.test_x[0])
    assert {"blank", "noise", "inverted digit", "scribbles"} <= set(odd)
    assert all(v.dtype == torch.uint8 and list(v.shape) == mnist5k.input_shape for v in odd.values())
    assert torch.equal(odd["inverted digit"], 255 - mnist5k.test_x[0])


@pytest.mark.parametrize("method", ["fgsm", "pgd"])
def test_an_attack_stays_within_eps_and_fools_the_model_with_enough_eps(trained_default, mnist5k, method):
    model, _, _ = trained_default
    x = mnist5k.test_x[:16]
    model.train()  # a model in training mode is left in training mode by the attack...
    try:
        adv = attack(model, x, mnist5k.mean, mnist5k.std, 0.25, method)
        assert model.training
    finally:
        model.eval()  # ...and the shared model is left as this test found it
    assert (adv - x.float() / 255).abs().max() <= 0.25 + 1e-6 and adv.min() >= 0 and adv.max() <= 1
    before = predict_proba(model, x, mnist5k.mean, mnist5k.std).argmax(1)
    adv_u8 = (adv * 255).round().to(torch.uint8)
    after = predict_proba(model, adv_u8, mnist5k.mean, mnist5k.std).argmax(1)
    assert (before != after).float().mean() > 0.5  # most answers change at eps 0.25
    with pytest.raises(ValueError, match="eps must be between 0 and 1"):
        attack(model, x, mnist5k.mean, mnist5k.std, 2.0)


def test_the_smallest_fooling_eps_is_where_the_answer_changes(trained_default, mnist5k):
    model, _, _ = trained_default
    x = mnist5k.test_x[3:4]
    eps = smallest_fooling_eps(model, x, mnist5k.mean, mnist5k.std, "fgsm", tolerance=0.002)
    assert eps is not None and 0 < eps <= 0.5

    def answer(e: float) -> int:
        a = attack(model, x, mnist5k.mean, mnist5k.std, e, "fgsm")
        return int(predict_proba(model, (a * 255).round().to(torch.uint8), mnist5k.mean, mnist5k.std).argmax())

    original = int(predict_proba(model, x, mnist5k.mean, mnist5k.std).argmax())
    assert answer(eps) != original and answer(max(eps - 0.002, 0.0)) == original
    pgd = smallest_fooling_eps(model, x, mnist5k.mean, mnist5k.std, "pgd")
    assert pgd is not None and pgd <= eps + 0.01  # the stronger attack needs no more


def test_the_fooling_table_has_a_row_per_model_and_an_eps_per_attack(trained_default, mnist5k):
    from explorer.interpret.trust import fooling_table

    model, _, _ = trained_default
    seen = []
    rows = fooling_table(
        [("a", model, False), ("b", model, True)],
        mnist5k.test_x[3:4],
        mnist5k.mean,
        mnist5k.std,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert [r["model"] for r in rows] == ["a", "b"] and rows[1]["trained with augmentation"] == "yes"
    assert rows[0]["smallest ε, FGSM"] == rows[1]["smallest ε, FGSM"] and seen == [(1, 2), (2, 2)]


def test_our_handwriting_report_and_fine_tuning_a_copy(trained_default, mnist5k):
    import torch.nn.functional as F

    from explorer.interpret.trust import finetune_on_handwriting, handwriting_report
    from explorer.lessons.experiments import shift

    model, _, _ = trained_default
    x = shift(F.max_pool2d(mnist5k.test_x[:60].float(), 3, 1, 1).to(torch.uint8), 4)  # thick, off-centre writers
    y = mnist5k.test_y[:60]
    rep = handwriting_report(model, mnist5k, x, y)
    assert rep["ours_accuracy"] < rep["test_accuracy"] and len(rep["wrong"]) == int((rep["answers"] != y).sum())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    tuned = finetune_on_handwriting(model, mnist5k, x, y)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # a copy is tuned, not the model
    assert tuned["trained_on"] + tuned["held_out"] == 60
    assert tuned["after"]["ours_accuracy"] > tuned["before"]["ours_accuracy"]
    with pytest.raises(ValueError, match="no digits yet"):
        handwriting_report(model, mnist5k, x[:0], y[:0])


def test_stump_scores_count_confirmed_digits_the_model_misreads():
    from explorer.interpret.trust import stump_scores

    labels, answers = torch.tensor([1, 2, 3, 4, 5]), torch.tensor([1, 7, 8, 4, 0])
    authors = ["Ada", "Ada", "Grace", "Grace", "Linus"]
    confirmed = ["Grace", "Grace", "Ada", None, None]  # Linus's misread 5 is not confirmed: no point
    assert stump_scores(labels, answers, authors, confirmed) == [
        {"name": "Ada", "points": 1},
        {"name": "Grace", "points": 1},
        {"name": "Linus", "points": 0},
    ]


def test_made_up_non_digits_are_varied_and_a_reject_class_is_added_without_touching_the_data(mnist5k):
    from explorer.interpret.reject import NOT_A_DIGIT, non_digit_set, with_reject_class

    odd = non_digit_set(mnist5k.test_x, 60, seed=0)
    assert odd.shape == (60, 1, 28, 28) and odd.dtype == torch.uint8
    assert len({int(x.float().mean()) for x in odd}) > 20  # not one picture sixty times
    assert torch.equal(odd, non_digit_set(mnist5k.test_x, 60, seed=0))  # the same for the same seed
    n_train = len(mnist5k.train_y)
    letters = torch.zeros(4, 1, 28, 28, dtype=torch.uint8)
    plus = with_reject_class(mnist5k, letters)
    assert plus.classes == (*mnist5k.classes, NOT_A_DIGIT) and len(mnist5k.train_y) == n_train
    assert int((plus.train_y == 10).sum()) == n_train // 10 + 2  # a tenth made up, and half the letters
    assert int((plus.test_y == 10).sum()) == len(mnist5k.test_y) // 10 + 2
    assert torch.equal(plus.train_x[:n_train], mnist5k.train_x)


def test_a_not_a_digit_class_turns_away_what_a_threshold_lets_through(mnist5k):
    from explorer.core.presets import get_preset
    from explorer.interpret.reject import reject_class_experiment

    r = reject_class_experiment(get_preset("default"), mnist5k, epochs=2, threshold=0.9)
    plain, reject = r["models"].values()
    assert reject["confidently_wrong"] < plain["confidently_wrong"]  # fewer non-digits called a digit, sure of it
    assert reject["turned_away"] > plain["turned_away"]
    assert reject["test_accuracy"] > 0.9 and plain["test_accuracy"] > 0.9  # the real digits still read
    for m in (plain, reject):  # each non-digit is either turned away or confidently called a digit
        assert abs(m["turned_away"] + m["confidently_wrong"] - 1) < 1e-6
    text = reject_conclusion(r)
    assert f"the threshold alone turned away {plain['turned_away']:.0%}" in text
    assert f"turned away {reject['turned_away']:.0%}, more" in text and "catches the kinds it was shown" in text
    with pytest.raises(ValueError, match="no Linear layer"):
        reject_class_experiment(
            {
                "input_shape": [1, 28, 28],
                "num_classes": 10,
                "layers": [{"type": "Conv2d", "out_channels": 10, "kernel_size": 28}, {"type": "Flatten"}],
            },
            mnist5k,
        )


def test_an_attack_outcome_is_the_attack_rounded_to_pixels_with_both_answers():
    import torch
    from torch import nn

    from explorer.interpret import attack_outcome

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x = (torch.rand(2, 1, 4, 4) * 255).to(torch.uint8)
    hit = attack_outcome(model, x, [0.5], [0.25], 0.1, "fgsm")
    # the reference, by hand for a linear model: p = softmax(W z + b) with z = (x - 0.5) / 0.25; the loss of its own
    # answer y rises fastest along sign(W^T (p - e_y)); FGSM moves each pixel 0.1 that way, then rounds to a pixel
    w, bias = model[1].weight.detach(), model[1].bias.detach()

    def probs(pixels):
        return torch.softmax(w @ ((pixels.flatten().float() / 255 - 0.5) / 0.25) + bias, 0)

    p0 = probs(x[0])
    direction = (w.T @ (p0 - torch.nn.functional.one_hot(p0.argmax(), 3).float())).sign().reshape(1, 1, 4, 4)
    expected = ((x[:1].float() / 255 + 0.1 * direction).clamp(0, 1) * 255).round().to(torch.uint8)
    assert torch.equal(hit.adversarial, expected)  # the first image only
    assert torch.allclose(hit.before, p0, atol=1e-6)
    assert torch.allclose(hit.after, probs(expected[0]), atol=1e-6)
    assert hit.change.shape == (4, 4) and float(hit.change.abs().max()) <= 0.1 + 1e-6
    assert hit.fooled == (int(hit.before.argmax()) != int(hit.after.argmax()))
    calm = attack_outcome(model, x, [0.5], [0.25], 0.0)
    assert not calm.fooled and float(calm.change.abs().max()) == 0


def test_the_class_drawings_split_into_letters_and_digits():
    import torch

    from explorer.interpret import NOT_A_DIGIT_LABEL, split_class_drawings

    x = torch.arange(3, dtype=torch.uint8).view(3, 1, 1, 1).expand(3, 1, 28, 28).clone()
    drawn = {
        "x": x,
        "y": torch.tensor([7, NOT_A_DIGIT_LABEL, 2]),
        "ids": [10, 11, 12],
        "authors": ["a", "b", "c"],
        "confirmed_by": [None, None, "a"],
    }
    letters, digits = split_class_drawings(drawn)
    assert letters.shape == (1, 1, 28, 28) and int(letters[0, 0, 0, 0]) == 1
    assert digits["ids"] == [10, 12] and digits["y"].tolist() == [7, 2] and digits["confirmed_by"] == [None, "a"]
    none_letters, none_digits = split_class_drawings(None)
    assert len(none_letters) == 0 and none_digits["ids"] == [] and len(none_digits["x"]) == 0


def test_odd_images_get_the_models_answers():
    import torch
    from torch import nn

    from explorer.interpret import not_digits, odd_answers

    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))
    like = torch.zeros(1, 28, 28, dtype=torch.uint8)
    rows = odd_answers(model, like, [0.1], [0.3])
    assert [n for n, _, _ in rows] == list(not_digits(like))
    assert all(p.shape == (10,) and abs(float(p.sum()) - 1) < 1e-5 for _, _, p in rows)
