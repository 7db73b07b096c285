from __future__ import annotations

import pytest
import torch

from explorer.core.evaluate import accuracy, confusion_matrix, eval_mode, predict_proba


def test_confusion_matrix_equals_hand_count():
    y_true = torch.tensor([0, 0, 1, 1, 1, 2, 2, 2, 2])
    y_pred = torch.tensor([0, 1, 1, 1, 2, 2, 0, 0, 2])
    cm = confusion_matrix(y_true, y_pred, ["a", "b", "c"])
    assert cm.matrix.tolist() == [[1, 1, 0], [0, 2, 1], [2, 0, 2]]
    assert cm.accuracy == pytest.approx(5 / 9)
    assert cm.recall().tolist() == pytest.approx([0.5, 2 / 3, 0.5])
    assert cm.precision().tolist() == pytest.approx([1 / 3, 2 / 3, 2 / 3])
    assert cm.most_confused(2) == [("c", "a", 2), ("a", "b", 1)]
    assert cm.normalized()[2].tolist() == pytest.approx([0.5, 0, 0.5])


def test_confusion_matrix_rejects_bad_labels():
    with pytest.raises(ValueError, match="labels must lie in 0..1"):
        confusion_matrix(torch.tensor([0, 2]), torch.tensor([0, 1]), ["a", "b"])


def test_eval_mode_restores_training_even_on_error():
    m = torch.nn.Dropout()
    with pytest.raises(RuntimeError):
        with eval_mode(m):
            assert not m.training
            raise RuntimeError
    assert m.training


def test_predict_proba_rejects_float_input(trained_default, mnist5k):
    model, _, _ = trained_default
    with pytest.raises(ValueError, match="expected uint8 images"):
        predict_proba(model, torch.zeros(1, 1, 28, 28), mnist5k.mean, mnist5k.std)
    p = predict_proba(model, mnist5k.test_x[:7], mnist5k.mean, mnist5k.std)
    assert p.shape == (7, 10) and torch.allclose(p.sum(1), torch.ones(7))


def test_a_cells_examples_are_its_images_surest_first():
    import torch

    from explorer.core import cell_examples, confusion_matrix

    y = torch.tensor([3, 3, 3, 1, 3])
    probs = torch.zeros(5, 5)
    probs[0, 5 - 1] = 0.6  # image 0: true 3, said 4 with 0.6
    probs[1, 3] = 0.9  # image 1: right
    probs[2, 4] = 0.8  # image 2: true 3, said 4 with 0.8
    probs[3, 4] = 0.99  # image 3: said 4, but a 1
    probs[4, 4] = 0.7
    assert cell_examples(y, probs, 3, 4) == ([2, 4, 0], 3)
    assert cell_examples(y, probs, 3, 4, limit=1) == ([2], 3)
    assert cell_examples(y, probs, 0, 0) == ([], 0)
    cm = confusion_matrix(y, probs.argmax(1), list("abcde"))
    assert cm.errors == 4
    assert cm.among([4, 3]).tolist() == [[0, 0], [3, 1]]  # rows and columns in the order asked


def test_accuracy_is_the_share_of_answers_that_are_the_labels():
    assert accuracy(torch.tensor([1, 2, 3, 4]), torch.tensor([1, 0, 3, 0])) == 0.5
    assert accuracy(torch.tensor([7]), torch.tensor([7])) == 1.0
    assert accuracy(torch.tensor([], dtype=torch.long), torch.tensor([], dtype=torch.long)) != 0.0  # NaN: no answers
