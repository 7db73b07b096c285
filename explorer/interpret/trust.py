"""When to trust an answer: confidence thresholds ("I don't know"), what a model says about things that are
not in its classes, and how little it takes to fool it (adversarial perturbations, FGSM and PGD).

Images here are uint8 ``(N, C, H, W)`` as the datasets hold them; attacks work in pixel space (0..1), so an
``eps`` of 0.1 means "each pixel moves by at most a tenth of its range", whatever the normalisation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.data import normalize
from ..core.evaluate import accuracy, eval_mode, predict_proba
from ..core.spec import output_logits_to_classes
from ..i18n import EN, N_, Refusal, Translator, said
from .reject import NOT_A_DIGIT_LABEL, not_digits

__all__ = [
    "Coverage",
    "coverage_curve",
    "CalibrationRow",
    "calibration_table",
    "calibration_sentence",
    "attack",
    "smallest_fooling_eps",
    "fooling_table",
    "handwriting_report",
    "finetune_on_handwriting",
    "stump_scores",
    "ATTACKS",
    "AttackOutcome",
    "attack_outcome",
    "odd_answers",
    "split_class_drawings",
]

ATTACKS = ("fgsm", "pgd")


@dataclass(frozen=True)
class Coverage:
    """At one confidence threshold: the share of images the model answers, and how often those answers are right."""

    threshold: float
    coverage: float  # answered / all
    accuracy: float  # right among the answered (1.0 when none is answered)
    answered: int


def coverage_curve(probs: Tensor, y: Tensor, thresholds: list[float] | None = None) -> list[Coverage]:
    """For each threshold: answer only when the top probability is at least the threshold, else "not sure".

    ``probs (N, K)`` are class probabilities, ``y (N,)`` the true classes."""
    if probs.ndim != 2 or y.shape != probs.shape[:1] or len(y) == 0:
        raise ValueError(f"expected probabilities (N, K) and labels (N,), got {tuple(probs.shape)} and {tuple(y.shape)}")
    conf, pred = probs.max(1)
    right = pred == y
    out = []
    for t in thresholds if thresholds is not None else [i / 100 for i in range(0, 100)]:
        keep = conf >= t
        n = int(keep.sum())
        out.append(Coverage(float(t), n / len(y), float(right[keep].float().mean()) if n else 1.0, n))
    return out


@dataclass(frozen=True)
class CalibrationRow:
    """The images on which the model's confidence lay in ``[low, high)``: how many, and how often it was right."""

    low: float
    high: float
    images: int
    right: float  # share right among them (nan when there are none)
    confidence: float  # their mean confidence (nan when there are none)


CALIBRATION_EDGES = (0.0, 0.5, 0.7, 0.9, 0.99, 1.0)


def calibration_table(probs: Tensor, y: Tensor, edges: tuple[float, ...] = CALIBRATION_EDGES) -> list[CalibrationRow]:
    """How often the model is right when it says it is so sure: the images grouped by their confidence (the top
    probability, ``probs (N, K)``) into ``[edges[i], edges[i+1])`` (the last bin includes 1.0), ``y (N,)`` the true
    classes. A well-calibrated model is right about as often as it is sure."""
    if probs.ndim != 2 or y.shape != probs.shape[:1] or len(y) == 0:
        raise ValueError(f"expected probabilities (N, K) and labels (N,), got {tuple(probs.shape)} and {tuple(y.shape)}")
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError(f"edges must rise, got {edges}")
    conf, pred = probs.max(1)
    right = (pred == y).float()
    rows = []
    for i, (lo, hi) in enumerate(zip(edges, edges[1:])):
        keep = (conf >= lo) & ((conf < hi) if i < len(edges) - 2 else (conf <= hi))
        n = int(keep.sum())
        rows.append(
            CalibrationRow(
                lo, hi, n, float(right[keep].mean()) if n else float("nan"), float(conf[keep].mean()) if n else float("nan")
            )
        )
    return rows


def calibration_sentence(rows: list[CalibrationRow], tr: Translator = EN) -> str:
    """The table's bin from 90% to 99% in words: how often "90–99% sure" was right."""
    row = next((r for r in rows if r.low == 0.9 and r.high == 0.99), None)
    if row is None or row.images == 0:
        return tr("No test image got a confidence between 90% and 99%.")
    return tr(
        "When it said 90–99% sure ({n} test images, {confidence} on average), it was right on {right} of them. "
        "Being sure is not being right: only this table tells how often the two agree.",
        n=tr.number(row.images),
        confidence=tr.percent(row.confidence),
        right=tr.percent(row.right),
    )


class _Pixels(nn.Module):
    """Pixels in 0..1 -> the model's normalisation -> class logits ``(N, K)``."""

    def __init__(self, model: nn.Module, mean: tuple[float, ...] | list[float], std: tuple[float, ...] | list[float]):
        super().__init__()
        self.model, self.mean, self.std = model, mean, std

    def forward(self, x01: Tensor) -> Tensor:
        return output_logits_to_classes(self.model(normalize(x01 * 255.0, self.mean, self.std)))


def attack(
    model: nn.Module,
    x_u8: Tensor,
    mean: tuple[float, ...] | list[float],
    std: tuple[float, ...] | list[float],
    eps: float,
    method: str = "fgsm",
    steps: int = 10,
) -> Tensor:
    """An adversarial version of the images ``x_u8 (N, C, H, W)``: each pixel moved by at most ``eps`` (of its
    0..1 range) in the direction that most raises the loss of the model's own answer. FGSM takes one step of
    ``eps``; PGD takes ``steps`` smaller ones, each projected back into the ``eps`` box. Returns float pixels
    ``(N, C, H, W)`` in 0..1. The model is left as it was."""
    if method not in ATTACKS:
        raise ValueError(f"method must be one of {', '.join(ATTACKS)}, got {method!r}")
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"eps must be between 0 and 1 (a share of the pixel range), got {eps}")
    if x_u8.dtype != torch.uint8 or x_u8.ndim != 4:
        raise ValueError(f"expected uint8 images (N, C, H, W), got {x_u8.dtype} {tuple(x_u8.shape)}")
    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    net = _Pixels(model, mean, std)
    x0 = x_u8.to(dev).float() / 255.0
    with eval_mode(model), torch.no_grad():
        label = net(x0).argmax(1)
    if eps == 0:
        return x0.cpu()
    n_steps, alpha = (1, eps) if method == "fgsm" else (steps, 2.5 * eps / steps)
    x = x0.clone()
    with eval_mode(model):
        for _ in range(n_steps):
            x.requires_grad_(True)
            loss = F.cross_entropy(net(x), label)
            (grad,) = torch.autograd.grad(loss, x)
            with torch.no_grad():
                x = x + alpha * grad.sign()
                x = (x0 + (x - x0).clamp(-eps, eps)).clamp(0.0, 1.0)  # within eps of the image, a valid image
    return x.detach().cpu()


@dataclass(frozen=True)
class AttackOutcome:
    """One image attacked: the attacked pixels, the change made, and the model's answers before and after."""

    adversarial: Tensor  # uint8 (1, C, H, W)
    change: Tensor  # (H, W): the change, averaged over the channels, in -eps..eps of the 0..1 range
    before: Tensor  # (K,) probabilities on the original
    after: Tensor  # (K,) probabilities on the attacked image

    @property
    def fooled(self) -> bool:
        return int(self.before.argmax()) != int(self.after.argmax())

    @property
    def answer(self) -> int:
        return int(self.after.argmax())


def attack_outcome(
    model: nn.Module,
    x_u8: Tensor,
    mean: tuple[float, ...] | list[float],
    std: tuple[float, ...] | list[float],
    eps: float,
    method: str = "fgsm",
) -> AttackOutcome:
    """:func:`attack` on the first image of ``x_u8``, rounded back to pixels, with the model's answers."""
    x_u8 = x_u8[:1]
    adv = attack(model, x_u8, mean, std, eps, method)
    adv_u8 = (adv * 255).round().clamp(0, 255).to(torch.uint8)
    before, after = predict_proba(model, torch.cat([x_u8.cpu(), adv_u8]), mean, std)
    return AttackOutcome(adv_u8, (adv - x_u8.cpu().float() / 255)[0].mean(0), before, after)


def odd_answers(
    model: nn.Module, like: Tensor, mean: tuple[float, ...] | list[float], std: tuple[float, ...] | list[float]
) -> list[tuple[str, Tensor, Tensor]]:
    """What the model says about images that are none of its classes (:func:`not_digits`):
    ``[(name, uint8 image (C, H, W), probabilities (K,))]``."""
    odd = not_digits(like)
    probs = predict_proba(model, torch.stack(list(odd.values())), mean, std)
    return [(name, img, p) for (name, img), p in zip(odd.items(), probs)]


def split_class_drawings(drawn: dict[str, Any] | None) -> tuple[Tensor, dict[str, Any]]:
    """A class's drawings (``class_digits`` of the store, or None without one) split into the letters and doodles
    (labelled :data:`NOT_A_DIGIT_LABEL`) ``(N, 1, 28, 28)`` and the digits (the same dict, digits only)."""
    if drawn is None:
        return torch.zeros(0, 1, 28, 28, dtype=torch.uint8), {
            "x": torch.zeros(0, 1, 28, 28, dtype=torch.uint8),
            "y": torch.zeros(0, dtype=torch.long),
            "ids": [],
            "authors": [],
            "confirmed_by": [],
        }
    letters = drawn["x"][drawn["y"] == NOT_A_DIGIT_LABEL]
    keep = [i for i, y in enumerate(drawn["y"].tolist()) if y != NOT_A_DIGIT_LABEL]
    digits = {k: (v[keep] if isinstance(v, Tensor) else [v[i] for i in keep]) for k, v in drawn.items()}
    return letters, digits


def smallest_fooling_eps(
    model: nn.Module,
    x_u8: Tensor,
    mean: tuple[float, ...] | list[float],
    std: tuple[float, ...] | list[float],
    method: str = "fgsm",
    eps_max: float = 0.5,
    tolerance: float = 0.005,
) -> float | None:
    """The smallest ``eps`` (to ``tolerance``) at which :func:`attack` changes the model's answer for one image
    ``x_u8 (1, C, H, W)``; None if even ``eps_max`` does not. Found by bisection (about 7 attacks)."""
    if len(x_u8) != 1:
        raise ValueError(f"expected one image (1, C, H, W), got {tuple(x_u8.shape)}")
    net = _Pixels(model, mean, std)
    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    with eval_mode(model), torch.no_grad():
        label = int(net(x_u8.to(dev).float() / 255.0).argmax(1))

    def fooled(eps: float) -> bool:  # judged on the attacked image rounded to pixels, as the page shows it
        adv = (attack(model, x_u8, mean, std, eps, method) * 255).round().clamp(0, 255) / 255
        with eval_mode(model), torch.no_grad():
            return int(net(adv.to(dev)).argmax(1)) != label

    if not fooled(eps_max):
        return None
    lo, hi = 0.0, eps_max
    while hi - lo > tolerance:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if fooled(mid) else (mid, hi)
    return hi


def fooling_table(
    models: list[tuple[str, nn.Module, bool]],
    x_u8: Tensor,
    mean: tuple[float, ...] | list[float],
    std: tuple[float, ...] | list[float],
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """For each ``(name, model, trained with augmentation)``: the smallest eps that fools it on the image ``x_u8
    (1, C, H, W)``, with each attack. A job (it runs about 7 attacks per model and attack)."""
    rows = []
    for i, (name, model, augmented) in enumerate(models):
        found = {a: smallest_fooling_eps(model, x_u8, mean, std, a) for a in ATTACKS}
        rows.append(
            {
                "model": name,
                "trained with augmentation": N_("yes") if augmented else N_("no"),
                **{f"smallest ε, {a.upper()}": N_("over 0.5") if v is None else f"{v:.3f}" for a, v in found.items()},
            }
        )
        if progress is not None:
            progress(i + 1, len(models))
    return rows


def handwriting_report(
    model: nn.Module, ds: Any, x: Tensor, y: Tensor, test_answers: Tensor | None = None
) -> dict[str, Any]:
    """How a model does on a class's own handwriting ``x (N, 1, 28, 28)`` uint8, labels ``y``, next to the
    dataset's test split: both accuracies, the answers, and which of the class's digits it gets wrong.
    ``test_answers``: the model's answers on the test split, when the caller has them already."""
    if len(x) == 0:
        raise Refusal(said("the class has drawn no digits yet"))
    test = test_answers if test_answers is not None else predict_proba(model, ds.test_x, ds.mean, ds.std).argmax(1)
    ours = predict_proba(model, x, ds.mean, ds.std).argmax(1)
    return {
        "test_accuracy": accuracy(test, ds.test_y),
        "ours_accuracy": accuracy(ours, y),
        "answers": ours,
        "wrong": (ours != y).nonzero().flatten().tolist(),
    }


def finetune_on_handwriting(
    model: nn.Module, ds: Any, x: Tensor, y: Tensor, epochs: int = 20, progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """A copy of ``model`` trained further on the class's digits (with the dataset's normalisation, a small
    learning rate); its accuracy on them and on the test split, before and after. Half the class's digits are
    held out to judge it fairly (the other half trains)."""
    import copy
    import dataclasses

    from ..core.config import TrainConfig
    from ..core.train import Trainer

    if len(x) < 4:
        raise Refusal(said("draw at least 4 digits as a class before fine-tuning on them"))
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(x), generator=g)
    fit, held = perm[: len(x) // 2], perm[len(x) // 2 :]
    before = handwriting_report(model, ds, x[held], y[held])
    tuned = copy.deepcopy(model).cpu()
    small = dataclasses.replace(ds, train_x=x[fit].contiguous(), train_y=y[fit].contiguous())
    Trainer(
        tuned, small, TrainConfig(epochs=epochs, batch_size=16, lr=1e-3, schedule="constant", eval_splits=()), on_event=None
    ).run()
    after = handwriting_report(tuned.eval(), ds, x[held], y[held])
    if progress is not None:
        progress(1, 1)
    return {
        "held_out": len(held),
        "trained_on": len(fit),
        "before": {k: before[k] for k in ("test_accuracy", "ours_accuracy")},
        "after": {k: after[k] for k in ("test_accuracy", "ours_accuracy")},
    }


def stump_scores(
    labels: Tensor, answers: Tensor, authors: list[str], confirmed_by: list[str | None]
) -> list[dict[str, Any]]:
    """ "Stump the model": a point for each digit a classmate confirmed as legible that the model misreads, per
    author, best first (authors with no point are listed too)."""
    points: dict[str, int] = {}
    for label, answer, author, ok in zip(labels.tolist(), answers.tolist(), authors, confirmed_by):
        points.setdefault(author, 0)
        if ok and answer != label:
            points[author] += 1
    return [{"name": a, "points": p} for a, p in sorted(points.items(), key=lambda kv: (-kv[1], kv[0]))]
