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
from ..core.evaluate import eval_mode, predict_proba
from ..core.spec import output_logits_to_classes

__all__ = ["Coverage", "coverage_curve", "not_digits", "attack", "smallest_fooling_eps", "fooling_table",
           "handwriting_report", "finetune_on_handwriting", "stump_scores", "ATTACKS"]

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


def not_digits(like: Tensor, seed: int = 0) -> dict[str, Tensor]:
    """Inputs that are none of the classes, each ``(C, H, W)`` uint8 shaped like the image ``like``: a blank, a
    white square, noise, the image inverted, scribbles and a checkerboard."""
    c, h, w = like.shape
    g = torch.Generator().manual_seed(seed)
    scribble = torch.zeros(h, w)
    for _ in range(3):  # three random strokes
        y0, x0, y1, x1 = (torch.rand(4, generator=g) * torch.tensor([h, w, h, w])).tolist()
        for k in torch.linspace(0, 1, 4 * max(h, w)).tolist():
            yy, xx = int(y0 + (y1 - y0) * k), int(x0 + (x1 - x0) * k)
            scribble[max(0, yy - 1):yy + 1, max(0, xx - 1):xx + 1] = 255
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    checker = (((yy // max(1, h // 7)) + (xx // max(1, w // 7))) % 2 * 255).float()
    images = {"blank": torch.zeros(h, w), "all white": torch.full((h, w), 255.0),
              "noise": torch.rand(h, w, generator=g) * 255, "scribbles": scribble, "checkerboard": checker}
    out = {k: v.round().to(torch.uint8).expand(c, h, w).clone() for k, v in images.items()}
    out["inverted digit"] = 255 - like
    return out


class _Pixels(nn.Module):
    """Pixels in 0..1 -> the model's normalisation -> class logits ``(N, K)``."""

    def __init__(self, model: nn.Module, mean: tuple[float, ...] | list[float], std: tuple[float, ...] | list[float]):
        super().__init__()
        self.model, self.mean, self.std = model, mean, std

    def forward(self, x01: Tensor) -> Tensor:
        return output_logits_to_classes(self.model(normalize(x01 * 255.0, self.mean, self.std)))


def attack(model: nn.Module, x_u8: Tensor, mean: tuple[float, ...] | list[float], std: tuple[float, ...] | list[float],
           eps: float, method: str = "fgsm", steps: int = 10) -> Tensor:
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


def smallest_fooling_eps(model: nn.Module, x_u8: Tensor, mean: tuple[float, ...] | list[float],
                         std: tuple[float, ...] | list[float], method: str = "fgsm", eps_max: float = 0.5,
                         tolerance: float = 0.005) -> float | None:
    """The smallest ``eps`` (to ``tolerance``) at which :func:`attack` changes the model's answer for one image
    ``x_u8 (1, C, H, W)``; None if even ``eps_max`` does not. Found by bisection (about 7 attacks)."""
    if len(x_u8) != 1:
        raise ValueError(f"expected one image (1, C, H, W), got {tuple(x_u8.shape)}")
    net = _Pixels(model, mean, std)
    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    with eval_mode(model), torch.no_grad():
        label = int(net(x_u8.to(dev).float() / 255.0).argmax(1))

    def fooled(eps: float) -> bool:
        adv = attack(model, x_u8, mean, std, eps, method)
        with eval_mode(model), torch.no_grad():
            return int(net(adv.to(dev)).argmax(1)) != label

    if not fooled(eps_max):
        return None
    lo, hi = 0.0, eps_max
    while hi - lo > tolerance:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if fooled(mid) else (mid, hi)
    return hi


def fooling_table(models: list[tuple[str, nn.Module, bool]], x_u8: Tensor, mean: tuple[float, ...] | list[float],
                  std: tuple[float, ...] | list[float], progress: Callable[[int, int], None] | None = None
                  ) -> list[dict[str, Any]]:
    """For each ``(name, model, trained with augmentation)``: the smallest eps that fools it on the image ``x_u8
    (1, C, H, W)``, with each attack. A job (it runs about 7 attacks per model and attack)."""
    rows = []
    for i, (name, model, augmented) in enumerate(models):
        found = {a: smallest_fooling_eps(model, x_u8, mean, std, a) for a in ATTACKS}
        rows.append({"model": name, "trained with augmentation": "yes" if augmented else "no",
                     **{f"smallest ε, {a.upper()}": "over 0.5" if v is None else f"{v:.3f}" for a, v in found.items()}})
        if progress is not None:
            progress(i + 1, len(models))
    return rows


def handwriting_report(model: nn.Module, ds: Any, x: Tensor, y: Tensor, test_answers: Tensor | None = None
                       ) -> dict[str, Any]:
    """How a model does on a class's own handwriting ``x (N, 1, 28, 28)`` uint8, labels ``y``, next to the
    dataset's test split: both accuracies, the answers, and which of the class's digits it gets wrong.
    ``test_answers``: the model's answers on the test split, when the caller has them already."""
    if len(x) == 0:
        raise ValueError("the class has drawn no digits yet")
    test = test_answers if test_answers is not None else predict_proba(model, ds.test_x, ds.mean, ds.std).argmax(1)
    ours = predict_proba(model, x, ds.mean, ds.std).argmax(1)
    return {"test_accuracy": float((test == ds.test_y).float().mean()),
            "ours_accuracy": float((ours == y).float().mean()), "answers": ours,
            "wrong": (ours != y).nonzero().flatten().tolist()}


def finetune_on_handwriting(model: nn.Module, ds: Any, x: Tensor, y: Tensor, epochs: int = 20,
                            progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """A copy of ``model`` trained further on the class's digits (with the dataset's normalisation, a small
    learning rate); its accuracy on them and on the test split, before and after. Half the class's digits are
    held out to judge it fairly (the other half trains)."""
    import copy
    import dataclasses

    from ..core.train import TrainConfig, Trainer

    if len(x) < 4:
        raise ValueError("draw at least 4 digits as a class before fine-tuning on them")
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(x), generator=g)
    fit, held = perm[: len(x) // 2], perm[len(x) // 2:]
    before = handwriting_report(model, ds, x[held], y[held])
    tuned = copy.deepcopy(model).cpu()
    small = dataclasses.replace(ds, train_x=x[fit].contiguous(), train_y=y[fit].contiguous())
    Trainer(tuned, small, TrainConfig(epochs=epochs, batch_size=16, lr=1e-3, schedule="constant",
                                      eval_splits=()), on_event=None).run()
    after = handwriting_report(tuned.eval(), ds, x[held], y[held])
    if progress is not None:
        progress(1, 1)
    return {"held_out": len(held), "trained_on": len(fit), "before": {k: before[k] for k in
            ("test_accuracy", "ours_accuracy")}, "after": {k: after[k] for k in ("test_accuracy", "ours_accuracy")}}


def stump_scores(labels: Tensor, answers: Tensor, authors: list[str], confirmed_by: list[str | None]
                 ) -> list[dict[str, Any]]:
    """"Stump the model": a point for each digit a classmate confirmed as legible that the model misreads, per
    author, best first (authors with no point are listed too)."""
    points: dict[str, int] = {}
    for label, said, author, ok in zip(labels.tolist(), answers.tolist(), authors, confirmed_by):
        points.setdefault(author, 0)
        if ok and said != label:
            points[author] += 1
    return [{"name": a, "points": p} for a, p in sorted(points.items(), key=lambda kv: (-kv[1], kv[0]))]
