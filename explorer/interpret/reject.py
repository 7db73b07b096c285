"""An answer for what is no digit: inputs that are none of the classes (blanks, noise, scribbles, patterns,
boxes, inverted digits), and the comparison of a network trained on the digits alone with the same network given
one more class, "not a digit"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ..core.evaluate import predict_proba
from ..i18n import EN, N_, Refusal, Translator, said

__all__ = [
    "NOT_A_DIGIT",
    "NOT_A_DIGIT_LABEL",
    "not_digits",
    "non_digit_set",
    "with_reject_class",
    "reject_class_experiment",
    "reject_conclusion",
    "reject_model_name",
]

DIGITS_ONLY = N_("digits only")  # the reject-class comparison's plain model
NOT_A_DIGIT = N_("not a digit")
NOT_A_DIGIT_LABEL = 10  # the label of a drawing in the class's set that is not a digit (a letter, a doodle)


def reject_model_name(name: str, tr: Translator = EN) -> str:
    """A reject-class comparison's model, named in ``tr``'s language (its key in the result is English)."""
    return tr(DIGITS_ONLY) if name == DIGITS_ONLY else tr("with “{name}”", name=tr(NOT_A_DIGIT))


def reject_conclusion(result: dict[str, Any], tr: Translator = EN) -> str:
    """What the reject-class comparison measured, in words built from its figures (``reject_class_experiment``)."""
    (_, plain), (plus_name, plus) = list(result["models"].items())
    values = {
        "n": result["non_digits"],
        "plain": tr.percent(plain["turned_away"], 0),
        "model": reject_model_name(plus_name, tr),
        "plus": tr.percent(plus["turned_away"], 0),
        "plain_acc": tr.percent(plain["test_accuracy"]),
        "plus_acc": tr.percent(plus["test_accuracy"]),
    }
    text = (
        tr(
            "On {n} new non-digits, the threshold alone turned away {plain}; the model {model} turned away {plus}, more.",
            **values,
        )
        if plus["turned_away"] > plain["turned_away"]
        else tr(
            "On {n} new non-digits, the threshold alone turned away {plain}; the model {model} turned away {plus}, no more.",
            **values,
        )
    )
    return (
        text
        + " "
        + tr(
            "These are fresh images of the same kinds the extra class was trained on (noise, "
            "scribbles, patterns, boxes, inverted digits): a class of its own catches the kinds it was "
            "shown, and a new kind of non-digit can still pass as a digit. On the real digits: "
            "{plain_acc} against {plus_acc}.",
            **values,
        )
    )


def not_digits(like: Tensor, seed: int = 0) -> dict[str, Tensor]:
    """Inputs that are none of the classes, each ``(C, H, W)`` uint8 shaped like the image ``like``: a blank, a
    white square, noise, the image inverted, scribbles and a checkerboard."""
    c, h, w = like.shape
    g = torch.Generator().manual_seed(seed)
    scribble = _strokes(h, w, 3, g)  # three random strokes
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    checker = (((yy // max(1, h // 7)) + (xx // max(1, w // 7))) % 2 * 255).float()
    images = {
        N_("blank"): torch.zeros(h, w),
        N_("all white"): torch.full((h, w), 255.0),
        N_("noise"): torch.rand(h, w, generator=g) * 255,
        N_("scribbles"): scribble,
        N_("checkerboard"): checker,
    }
    out = {k: v.round().to(torch.uint8).expand(c, h, w).clone() for k, v in images.items()}
    out[N_("inverted digit")] = 255 - like
    return out


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
            img[y0 : y0 + max(2, int(r[2] * h * 0.6)), x0 : x0 + max(2, int(r[3] * w * 0.6))] = 255
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
            img[max(0, yy - 1) : yy + 1, max(0, xx - 1) : xx + 1] = 255
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
    return dataclasses.replace(
        ds,
        name=f"{ds.name} + {NOT_A_DIGIT}",
        train_x=train_x,
        train_y=train_y,
        val_x=val_x,
        val_y=val_y,
        test_x=test_x,
        test_y=test_y,
        classes=(*ds.classes, NOT_A_DIGIT),
    )


def _with_outputs(spec: dict[str, Any], n: int) -> dict[str, Any]:
    """The spec with ``n`` outputs: its last Linear layer widened (or narrowed) to ``n``."""
    import copy

    out = copy.deepcopy(spec)
    last = next((layer for layer in reversed(out["layers"]) if layer.get("type") == "Linear"), None)
    if last is None:
        raise Refusal(
            said(
                "this network has no Linear layer to give a “not a digit” output: use one that ends with Flatten and Linear"
            )
        )
    last["out_features"], out["num_classes"] = n, n
    return out


def reject_class_experiment(
    spec: dict[str, Any],
    ds: Any,
    extra: Tensor | None = None,
    epochs: int = 3,
    threshold: float = 0.9,
    seed: int = 0,
    max_train: int = 10_000,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The same network trained twice: on the classes alone, and with an extra class "not a digit" (generated
    non-digits, and ``extra``: things the class drew that are not digits), each on at most ``max_train`` of the
    training images. Both are judged on the test split and on fresh non-digits neither saw. Returns per model:
    accuracy on the test split's real classes, and on the non-digits the share it turned away ("not a digit",
    or below ``threshold`` confidence) and the share it answered with a class at or above ``threshold``."""
    import dataclasses

    from ..core.config import TrainConfig
    from ..core.spec import build_model
    from ..core.train import Trainer

    ds = dataclasses.replace(ds, train_x=ds.train_x[:max_train], train_y=ds.train_y[:max_train])
    k = len(ds.classes)
    fresh = non_digit_set(ds.test_x, 300, seed + 99)
    if extra is not None and len(extra):
        fresh = torch.cat([fresh, extra[len(extra) // 2 :]])
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
        rows[name] = {
            "test_accuracy": float((test.argmax(1) == ds.test_y).float().mean()),  # "not a digit": wrong
            "turned_away": float(turned.float().mean()),
            "confidently_wrong": float(((said < k) & (sure >= threshold)).float().mean()),
        }
        if progress is not None:
            progress(i + 1, 2)
    return {"models": rows, "non_digits": len(fresh), "threshold": threshold}
