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

__all__ = ["Coverage", "coverage_curve", "CalibrationRow", "calibration_table", "calibration_sentence",
           "reject_conclusion", "reject_model_name", "not_digits", "attack", "smallest_fooling_eps", "fooling_table",
           "handwriting_report", "finetune_on_handwriting", "stump_scores", "ATTACKS", "NOT_A_DIGIT",
           "NOT_A_DIGIT_LABEL", "non_digit_set", "with_reject_class", "reject_class_experiment", "AttackOutcome",
           "attack_outcome", "odd_answers", "split_class_drawings"]

ATTACKS = ("fgsm", "pgd")
DIGITS_ONLY = N_("digits only")  # the reject-class comparison's plain model


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
        rows.append(CalibrationRow(lo, hi, n, float(right[keep].mean()) if n else float("nan"),
                                   float(conf[keep].mean()) if n else float("nan")))
    return rows


def calibration_sentence(rows: list[CalibrationRow], tr: Translator = EN) -> str:
    """The table's bin from 90% to 99% in words: how often "90–99% sure" was right."""
    row = next((r for r in rows if r.low == 0.9 and r.high == 0.99), None)
    if row is None or row.images == 0:
        return tr("No test image got a confidence between 90% and 99%.")
    return tr("When it said 90–99% sure ({n} test images, {confidence} on average), it was right on {right} of them. "
              "Being sure is not being right: only this table tells how often the two agree.",
              n=tr.number(row.images), confidence=tr.percent(row.confidence), right=tr.percent(row.right))


def reject_model_name(name: str, tr: Translator = EN) -> str:
    """A reject-class comparison's model, named in ``tr``'s language (its key in the result is English)."""
    return tr(DIGITS_ONLY) if name == DIGITS_ONLY else tr("with “{name}”", name=tr(NOT_A_DIGIT))


def reject_conclusion(result: dict[str, Any], tr: Translator = EN) -> str:
    """What the reject-class comparison measured, in words built from its figures (``reject_class_experiment``)."""
    (_, plain), (plus_name, plus) = list(result["models"].items())
    values = {"n": result["non_digits"], "plain": tr.percent(plain["turned_away"], 0),
              "model": reject_model_name(plus_name, tr), "plus": tr.percent(plus["turned_away"], 0),
              "plain_acc": tr.percent(plain["test_accuracy"]), "plus_acc": tr.percent(plus["test_accuracy"])}
    text = (tr("On {n} new non-digits, the threshold alone turned away {plain}; the model {model} turned away {plus}, "
               "more.", **values) if plus["turned_away"] > plain["turned_away"] else
            tr("On {n} new non-digits, the threshold alone turned away {plain}; the model {model} turned away {plus}, "
               "no more.", **values))
    return text + " " + tr("These are fresh images of the same kinds the extra class was trained on (noise, "
                           "scribbles, patterns, boxes, inverted digits): a class of its own catches the kinds it was "
                           "shown, and a new kind of non-digit can still pass as a digit. On the real digits: "
                           "{plain_acc} against {plus_acc}.", **values)


def not_digits(like: Tensor, seed: int = 0) -> dict[str, Tensor]:
    """Inputs that are none of the classes, each ``(C, H, W)`` uint8 shaped like the image ``like``: a blank, a
    white square, noise, the image inverted, scribbles and a checkerboard."""
    c, h, w = like.shape
    g = torch.Generator().manual_seed(seed)
    scribble = _strokes(h, w, 3, g)  # three random strokes
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    checker = (((yy // max(1, h // 7)) + (xx // max(1, w // 7))) % 2 * 255).float()
    images = {N_("blank"): torch.zeros(h, w), N_("all white"): torch.full((h, w), 255.0),
              N_("noise"): torch.rand(h, w, generator=g) * 255, N_("scribbles"): scribble, N_("checkerboard"): checker}
    out = {k: v.round().to(torch.uint8).expand(c, h, w).clone() for k, v in images.items()}
    out[N_("inverted digit")] = 255 - like
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


def attack_outcome(model: nn.Module, x_u8: Tensor, mean: tuple[float, ...] | list[float],
                   std: tuple[float, ...] | list[float], eps: float, method: str = "fgsm") -> AttackOutcome:
    """:func:`attack` on the first image of ``x_u8``, rounded back to pixels, with the model's answers."""
    x_u8 = x_u8[:1]
    adv = attack(model, x_u8, mean, std, eps, method)
    adv_u8 = (adv * 255).round().clamp(0, 255).to(torch.uint8)
    before, after = predict_proba(model, torch.cat([x_u8.cpu(), adv_u8]), mean, std)
    return AttackOutcome(adv_u8, (adv - x_u8.cpu().float() / 255)[0].mean(0), before, after)


def odd_answers(model: nn.Module, like: Tensor, mean: tuple[float, ...] | list[float],
                std: tuple[float, ...] | list[float]) -> list[tuple[str, Tensor, Tensor]]:
    """What the model says about images that are none of its classes (:func:`not_digits`):
    ``[(name, uint8 image (C, H, W), probabilities (K,))]``."""
    odd = not_digits(like)
    probs = predict_proba(model, torch.stack(list(odd.values())), mean, std)
    return [(name, img, p) for (name, img), p in zip(odd.items(), probs)]


def split_class_drawings(drawn: dict[str, Any] | None) -> tuple[Tensor, dict[str, Any]]:
    """A class's drawings (``class_digits`` of the store, or None without one) split into the letters and doodles
    (labelled :data:`NOT_A_DIGIT_LABEL`) ``(N, 1, 28, 28)`` and the digits (the same dict, digits only)."""
    if drawn is None:
        return torch.zeros(0, 1, 28, 28, dtype=torch.uint8), {"x": torch.zeros(0, 1, 28, 28, dtype=torch.uint8),
                                                              "y": torch.zeros(0, dtype=torch.long), "ids": [],
                                                              "authors": [], "confirmed_by": []}
    letters = drawn["x"][drawn["y"] == NOT_A_DIGIT_LABEL]
    keep = [i for i, y in enumerate(drawn["y"].tolist()) if y != NOT_A_DIGIT_LABEL]
    digits = {k: (v[keep] if isinstance(v, Tensor) else [v[i] for i in keep]) for k, v in drawn.items()}
    return letters, digits


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


def fooling_table(models: list[tuple[str, nn.Module, bool]], x_u8: Tensor, mean: tuple[float, ...] | list[float],
                  std: tuple[float, ...] | list[float], progress: Callable[[int, int], None] | None = None
                  ) -> list[dict[str, Any]]:
    """For each ``(name, model, trained with augmentation)``: the smallest eps that fools it on the image ``x_u8
    (1, C, H, W)``, with each attack. A job (it runs about 7 attacks per model and attack)."""
    rows = []
    for i, (name, model, augmented) in enumerate(models):
        found = {a: smallest_fooling_eps(model, x_u8, mean, std, a) for a in ATTACKS}
        rows.append({"model": name, "trained with augmentation": N_("yes") if augmented else N_("no"),
                     **{f"smallest ε, {a.upper()}": N_("over 0.5") if v is None else f"{v:.3f}"
                        for a, v in found.items()}})
        if progress is not None:
            progress(i + 1, len(models))
    return rows


def handwriting_report(model: nn.Module, ds: Any, x: Tensor, y: Tensor, test_answers: Tensor | None = None
                       ) -> dict[str, Any]:
    """How a model does on a class's own handwriting ``x (N, 1, 28, 28)`` uint8, labels ``y``, next to the
    dataset's test split: both accuracies, the answers, and which of the class's digits it gets wrong.
    ``test_answers``: the model's answers on the test split, when the caller has them already."""
    if len(x) == 0:
        raise Refusal(said("the class has drawn no digits yet"))
    test = test_answers if test_answers is not None else predict_proba(model, ds.test_x, ds.mean, ds.std).argmax(1)
    ours = predict_proba(model, x, ds.mean, ds.std).argmax(1)
    return {"test_accuracy": accuracy(test, ds.test_y), "ours_accuracy": accuracy(ours, y), "answers": ours,
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
        raise Refusal(said("draw at least 4 digits as a class before fine-tuning on them"))
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
    for label, answer, author, ok in zip(labels.tolist(), answers.tolist(), authors, confirmed_by):
        points.setdefault(author, 0)
        if ok and answer != label:
            points[author] += 1
    return [{"name": a, "points": p} for a, p in sorted(points.items(), key=lambda kv: (-kv[1], kv[0]))]


NOT_A_DIGIT = N_("not a digit")
NOT_A_DIGIT_LABEL = 10  # the label of a drawing in the class's set that is not a digit (a letter, a doodle)


def non_digit_set(like: Tensor, n: int, seed: int = 0) -> Tensor:
    """``n`` images that are none of the classes, uint8 ``(n, C, H, W)`` shaped like the images ``like``: blanks,
    noise of several strengths, scribbles of 1 to 5 strokes, checkerboards and stripes of several periods,
    filled boxes and inverted images from ``like``, in turn, each with its own random draw."""
    c, h, w = like.shape[1:]
    g = torch.Generator().manual_seed(seed)
    out = torch.zeros(n, c, h, w, dtype=torch.uint8)
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    for i in range(n):
        kind = i % 6
        r = torch.rand(8, generator=g)
        if kind == 0:  # noise, light to heavy
            img = torch.rand(h, w, generator=g) * 255 * (0.2 + 0.8 * float(r[0]))
        elif kind == 1:  # scribbles
            img = _strokes(h, w, 1 + int(r[0] * 5), g)
        elif kind == 2:  # checkerboards and stripes
            period = 2 + int(r[0] * max(2, h // 3))
            img = (((yy // period) + (xx // period) * int(r[1] < 0.5)) % 2 * 255).float()
        elif kind == 3:  # a filled box
            y0, x0 = int(r[0] * h * 0.6), int(r[1] * w * 0.6)
            img = torch.zeros(h, w)
            img[y0:y0 + max(2, int(r[2] * h * 0.6)), x0:x0 + max(2, int(r[3] * w * 0.6))] = 255
        elif kind == 4:  # an inverted image
            out[i] = 255 - like[int(r[0] * len(like))]
            continue
        else:  # blank, or nearly
            img = torch.rand(h, w, generator=g) * 255 * (float(r[0]) < 0.5) * 0.05
        out[i] = img.round().clamp(0, 255).to(torch.uint8).expand(c, h, w)
    return out


def _strokes(h: int, w: int, k: int, g: torch.Generator) -> Tensor:
    img = torch.zeros(h, w)
    for _ in range(k):
        y0, x0, y1, x1 = (torch.rand(4, generator=g) * torch.tensor([h, w, h, w])).tolist()
        for t in torch.linspace(0, 1, 4 * max(h, w)).tolist():
            yy, xx = int(y0 + (y1 - y0) * t), int(x0 + (x1 - x0) * t)
            img[max(0, yy - 1):yy + 1, max(0, xx - 1):xx + 1] = 255
    return img


def with_reject_class(ds: Any, extra: Tensor | None = None, share: float = 0.1, seed: int = 0) -> Any:
    """A copy of ``ds`` with one more class, "not a digit": generated non-digits (and ``extra``, e.g. letters
    the class drew, uint8 ``(M, C, H, W)``) added to each split, ``share`` of its size. The original is not
    changed."""
    import dataclasses

    def grow(x: Tensor, y: Tensor, s: int, add: Tensor | None) -> tuple[Tensor, Tensor]:
        fake = non_digit_set(x, max(1, int(len(y) * share)), seed + s)
        if add is not None and len(add):
            fake = torch.cat([fake, add])
        k = len(ds.classes)
        return torch.cat([x, fake]), torch.cat([y, torch.full((len(fake),), k, dtype=y.dtype)])

    half = len(extra) // 2 if extra is not None else 0
    train_x, train_y = grow(ds.train_x, ds.train_y, 1, extra[:half] if extra is not None else None)
    val_x, val_y = grow(ds.val_x, ds.val_y, 2, None)
    test_x, test_y = grow(ds.test_x, ds.test_y, 3, extra[half:] if extra is not None else None)
    return dataclasses.replace(ds, name=f"{ds.name} + {NOT_A_DIGIT}", train_x=train_x, train_y=train_y,
                               val_x=val_x, val_y=val_y, test_x=test_x, test_y=test_y,
                               classes=(*ds.classes, NOT_A_DIGIT))


def _with_outputs(spec: dict[str, Any], n: int) -> dict[str, Any]:
    """The spec with ``n`` outputs: its last Linear layer widened (or narrowed) to ``n``."""
    import copy

    out = copy.deepcopy(spec)
    last = next((layer for layer in reversed(out["layers"]) if layer.get("type") == "Linear"), None)
    if last is None:
        raise Refusal(said("this network has no Linear layer to give a “not a digit” output: use one that ends with "
                           "Flatten and Linear"))
    last["out_features"], out["num_classes"] = n, n
    return out


def reject_class_experiment(spec: dict[str, Any], ds: Any, extra: Tensor | None = None, epochs: int = 3,
                            threshold: float = 0.9, seed: int = 0, max_train: int = 10_000,
                            progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """The same network trained twice: on the classes alone, and with an extra class "not a digit" (generated
    non-digits, and ``extra``: things the class drew that are not digits), each on at most ``max_train`` of the
    training images. Both are judged on the test split and on fresh non-digits neither saw. Returns per model:
    accuracy on the test split's real classes, and on the non-digits the share it turned away ("not a digit",
    or below ``threshold`` confidence) and the share it answered with a class at or above ``threshold``."""
    import dataclasses

    from ..core.spec import build_model
    from ..core.train import TrainConfig, Trainer

    # two models, ``epochs`` each: on at most ``max_train`` training images, whatever the dataset's size
    ds = dataclasses.replace(ds, train_x=ds.train_x[:max_train], train_y=ds.train_y[:max_train])
    k = len(ds.classes)
    fresh = non_digit_set(ds.test_x, 300, seed + 99)
    if extra is not None and len(extra):
        fresh = torch.cat([fresh, extra[len(extra) // 2:]])
    plus = with_reject_class(ds, extra, seed=seed)
    rows = {}
    for i, (name, data, classes) in enumerate(((DIGITS_ONLY, ds, k), (f"with “{NOT_A_DIGIT}”", plus, k + 1))):
        model = build_model(_with_outputs(spec, classes), seed=seed)
        Trainer(model, data, TrainConfig(epochs=epochs, seed=seed, eval_splits=())).run()
        model.eval()
        test = predict_proba(model, ds.test_x, ds.mean, ds.std)
        odd = predict_proba(model, fresh, ds.mean, ds.std)
        sure, said = odd.max(1)
        turned = (said == k) | (sure < threshold)
        rows[name] = {"test_accuracy": float((test.argmax(1) == ds.test_y).float().mean()),  # "not a digit": wrong
                      "turned_away": float(turned.float().mean()),
                      "confidently_wrong": float(((said < k) & (sure >= threshold)).float().mean())}
        if progress is not None:
            progress(i + 1, 2)
    return {"models": rows, "non_digits": len(fresh), "threshold": threshold}
