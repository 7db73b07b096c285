"""Text alternatives: what each image and chart shows, in a sentence written from the data (WCAG 1.1.1).

A screen reader reads these instead of the picture, and a student on a projector far away can read them too.
Each function takes what the figure was drawn from, never the picture itself.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..i18n import EN, N_, Translator

__all__ = [
    "where",
    "describe_image",
    "describe_images",
    "describe_kernel",
    "describe_kernels",
    "describe_map",
    "describe_attribution",
    "describe_curves",
    "describe_confusion",
    "describe_coverage",
    "describe_bars",
    "describe_values",
    "describe_weights",
    "describe_flow",
    "describe_class_counts",
    "describe_board",
    "describe_learned_map",
    "describe_experiment",
]

_PLACES = (
    (N_("the upper left"), N_("the upper centre"), N_("the upper right")),
    (N_("the left"), N_("the centre"), N_("the right")),
    (N_("the lower left"), N_("the lower centre"), N_("the lower right")),
)


def where(a: Tensor, tr: Translator = EN) -> str:
    """Where in a 2-D map its largest value lies, in words ("the upper left", "the centre")."""
    h, w = a.shape[-2:]
    i = int(a.reshape(-1).argmax())
    r, c = min(2, 3 * (i // w) // max(h, 1)), min(2, 3 * (i % w) // max(w, 1))
    return tr(_PLACES[r][c])


def describe_image(x_u8: Tensor, what: str = "image", tr: Translator = EN) -> str:
    """One uint8 image ``(C, H, W)``: its size, colours and where its bright parts are."""
    c, h, w = x_u8.shape
    g = x_u8.float().mean(0) / 255.0
    bright = float((g > 0.5).float().mean())
    if bright == 0:
        return (
            tr("{what}: {h}×{w} colour, all dark", what=what, h=h, w=w)
            if c == 3
            else tr("{what}: {h}×{w} grey, all dark", what=what, h=h, w=w)
        )
    values = {"what": what, "h": h, "w": w, "share": tr.percent(bright, 0), "where": where(g, tr)}
    return (
        tr("{what}: {h}×{w} colour, light on {share} of it, brightest in {where}", **values)
        if c == 3
        else tr("{what}: {h}×{w} grey, light on {share} of it, brightest in {where}", **values)
    )


def describe_images(x_u8: Tensor, what: str = "images", labels: list[str] | None = None, tr: Translator = EN) -> str:
    """A grid of images: how many, of which classes."""
    n = len(x_u8)
    text = tr("{n} {what}", n=n, what=what) if n != 1 else tr("one of the {what}", what=what)
    if labels:
        counts: dict[str, int] = {}
        for lab in labels:
            counts[lab] = counts.get(lab, 0) + 1
        text += (
            " ("
            + ", ".join(f"{k} ×{v}" if v > 1 else k for k, v in list(counts.items())[:12])
            + (", …" if len(counts) > 12 else "")
            + ")"
        )
    return tr("{images}, {h}×{w} each", images=text, h=x_u8.shape[-2], w=x_u8.shape[-1])


_KINDS = (N_("vertical edges"), N_("horizontal edges"), N_("spots, corners or diagonals"))
_SINGLE = N_("a single weight")


def _orientations(k: Tensor) -> list[str]:
    """What each 2-D kernel of ``k (N, kh, kw)`` looks for, from where its weights change most: one pass over all
    of them (a layer of thousands of kernels costs one tensor operation, not thousands). In English: the caller
    translates each."""
    if k.shape[-2] < 2 or k.shape[-1] < 2:
        return [_SINGLE] * k.shape[0]
    across = (k[..., :, 1:] - k[..., :, :-1]).abs().sum((-2, -1))  # changes from column to column: vertical edges
    down = (k[..., 1:, :] - k[..., :-1, :]).abs().sum((-2, -1))
    kind = torch.full_like(across, 2, dtype=torch.long)
    kind[down > 1.5 * across] = 1
    kind[across > 1.5 * down] = 0
    return [_KINDS[i] for i in kind.tolist()]


def _orientation(k: Tensor) -> str:
    return _orientations(k[None])[0]


def describe_kernel(k: Tensor, name: str = "kernel", tr: Translator = EN) -> str:
    """One kernel ``(kh, kw)``: its signs by side and what it looks for."""
    kh, kw = k.shape
    m = float(k.abs().max()) or 1.0
    left, right = float(k[:, : kw // 2].sum()), float(k[:, (kw + 1) // 2 :].sum())
    top, bottom = float(k[: kh // 2].sum()), float(k[(kh + 1) // 2 :].sum())
    text = tr(
        "{name}: {h}×{w} weights from {low} to {high}, looks for {kind}",
        name=name,
        h=kh,
        w=kw,
        low=tr.number(float(k.min()), 2),
        high=tr.number(float(k.max()), 2),
        kind=tr(_orientation(k)),
    )
    if abs(left - right) >= abs(top - bottom) and abs(left - right) > 0.1 * m:
        text += "; " + (
            tr("positive on the left, negative on the right")
            if left > right
            else tr("negative on the left, positive on the right")
        )
    elif abs(top - bottom) > 0.1 * m:
        text += "; " + (tr("positive above, negative below") if top > bottom else tr("negative above, positive below"))
    return text


def describe_kernels(w: Tensor, layer: str, tr: Translator = EN) -> str:
    """A conv layer's kernels ``(O, I, kh, kw)``: how many, their size, what most of them look for."""
    o, i, kh, kw = w.shape
    kinds: dict[str, int] = {}
    for kind in _orientations(w.float().mean(1)):
        kinds[kind] = kinds.get(kind, 0) + 1
    top = sorted(kinds.items(), key=lambda kv: -kv[1])
    strongest = int(w.flatten(1).abs().amax(1).argmax())
    head = (
        tr("{n} kernels of layer {layer}, each {h}×{w} over {c} input channels:", n=o, layer=layer, h=kh, w=kw, c=i)
        if i > 1
        else tr("{n} kernels of layer {layer}, each {h}×{w} over one input channel:", n=o, layer=layer, h=kh, w=kw)
    )
    return (
        head
        + " "
        + ", ".join(tr("{n} look for {kind}", n=n, kind=tr(kind)) for kind, n in top[:3])
        + "; "
        + tr(
            "kernel {k} has the largest weights (±{value})", k=strongest, value=tr.number(float(w[strongest].abs().max()), 2)
        )
    )


def describe_map(a: Tensor, name: str = "feature map", tr: Translator = EN) -> str:
    """One feature map ``(H, W)``: where it answers most, and how much of it answers."""
    peak = float(a.max())
    if peak <= 0:
        return tr("{name}: {h}×{w}, silent (nothing above zero)", name=name, h=a.shape[0], w=a.shape[1])
    share = float((a > 0.5 * peak).float().mean())
    return tr(
        "{name}: {h}×{w}, strongest ({peak}) in {where}, {share} of it above half that",
        name=name,
        h=a.shape[0],
        w=a.shape[1],
        peak=tr.number(peak, 2),
        where=where(a, tr),
        share=tr.percent(share, 0),
    )


def describe_attribution(attr: Tensor, what: str = "attribution", tr: Translator = EN) -> str:
    """A signed map of what pushes an answer ``(H, W)``: where it is for the answer, and where against."""
    pos, neg = attr.clamp(min=0), (-attr).clamp(min=0)
    text = (
        tr("{what}: most for it in {where}", what=what, where=where(pos, tr))
        if float(pos.max()) > 0
        else tr("{what}: nothing for it", what=what)
    )
    if float(neg.max()) > 0.05 * float(attr.abs().max() or 1):
        text = tr("{text}, most against it in {where}", text=text, where=where(neg, tr))
    return text


def describe_curves(runs: list[tuple[str, dict[str, Any]]], metric: str = "loss", tr: Translator = EN) -> str:
    """Training curves: for each run, where its training curve went and its last test figure."""
    out = []
    for label, hist in runs:
        steps = [s[metric] for s in hist.get("steps") or [] if isinstance(s, dict) and metric in s]
        epochs = hist.get("epochs") or []

        def fmt(v: float) -> str:
            return tr.percent(v) if metric == "accuracy" else f"{v:.3g}"

        text = (
            tr(
                "{run}: training {metric} from {first} to {last} over {n} logged steps",
                run=label,
                metric=tr(metric),
                first=fmt(steps[0]),
                last=fmt(steps[-1]),
                n=tr.number(len(steps)),
            )
            if steps
            else tr("{run}: training {metric} not logged yet", run=label, metric=tr(metric))
        )
        last = epochs[-1] if epochs and isinstance(epochs[-1], dict) else {}
        if isinstance(last.get(f"test_{metric}"), (int, float)):
            value, n = fmt(last[f"test_{metric}"]), len(epochs)
            text += ", " + (
                tr("test {value} after {n} epoch", value=value, n=n)
                if n == 1
                else tr("test {value} after {n} epochs", value=value, n=tr.number(n))
            )
        out.append(text)
    return (
        tr("{metric} curves.", metric=tr(metric)) + " " + "; ".join(out)
        if out
        else tr("{metric} curves: no run yet", metric=tr(metric))
    )


_METRICS = (N_("loss"), N_("accuracy"))  # the curves' metrics, named in the student's language


def describe_confusion(matrix: Tensor, classes: list[str] | tuple[str, ...], k: int = 3, tr: Translator = EN) -> str:
    """A confusion matrix: the share on the diagonal and its largest mistakes."""
    m = matrix.long()
    total = int(m.sum())
    right = int(m.diag().sum())
    off = m.clone()
    off.fill_diagonal_(0)
    vals, idx = off.flatten().topk(min(k, off.numel()))
    n = len(classes)
    worst = [
        tr("{true} taken for {said} {n} times", true=classes[int(i) // n], said=classes[int(i) % n], n=int(v))
        if v > 1
        else tr("{true} taken for {said} once", true=classes[int(i) // n], said=classes[int(i) % n])
        for v, i in zip(vals, idx)
        if v > 0
    ]
    text = tr(
        "confusion matrix of {k} classes, {right} of {total} ({share}) on the diagonal",
        k=n,
        right=tr.number(right),
        total=tr.number(total),
        share=tr.percent(right / max(total, 1)),
    )
    return text + "; " + (tr("largest mistakes: {list}", list=", ".join(worst)) if worst else tr("no mistakes"))


def describe_coverage(curve: list[Any], threshold: float, tr: Translator = EN) -> str:
    """The trust curve at the chosen threshold."""
    at = min(curve, key=lambda c: abs(c.threshold - threshold))
    pct = tr.percent
    return tr(
        "as the threshold rises from 0 to 1 the share answered falls from {first} to {last} while accuracy on "
        "the answered goes from {first_acc} to {last_acc}; at {threshold}: {share} answered, {acc} right",
        first=pct(curve[0].coverage, 0),
        last=pct(curve[-1].coverage, 0),
        first_acc=pct(curve[0].accuracy),
        last_acc=pct(curve[-1].accuracy),
        threshold=tr.number(threshold, 2),
        share=pct(at.coverage, 0),
        acc=pct(at.accuracy),
    )


def describe_bars(values: Tensor, labels: list[str] | tuple[str, ...], k: int = 3, tr: Translator = EN) -> str:
    """Bars, one per unit: the largest ones by name."""
    v = values.flatten().float()
    names = list(labels) if len(labels) == v.numel() else [str(i) for i in range(v.numel())]
    order = v.argsort(descending=True)[:k].tolist()
    return tr(
        "{n} values, largest: {list}",
        n=v.numel(),
        list=", ".join(f"{names[i]} ({tr.number(float(v[i]), 2)})" for i in order),
    )


def describe_values(values: Tensor, what: str = "activations", tr: Translator = EN) -> str:
    """A histogram of values: their range, middle and the share at or below zero."""
    v = values.detach().float().flatten()
    v = v[torch.isfinite(v)]
    if not v.numel():
        return tr("no {what} to show", what=what)
    return tr(
        "{n} {what} from {low} to {high}, median {median}, {share} at or below zero",
        n=tr.number(v.numel()),
        what=what,
        low=tr.number(float(v.min()), 2),
        high=tr.number(float(v.max()), 2),
        median=tr.number(float(v.median()), 2),
        share=tr.percent(float((v <= 0).float().mean()), 0),
    )


def describe_weights(named: list[tuple[str, Tensor]], tr: Translator = EN) -> str:
    """Weight histograms: each layer's spread."""
    if not named:
        return tr("no weights")
    return (
        tr("weights:")
        + " "
        + "; ".join(
            tr(
                "layer {layer}: {n} from {low} to {high}, spread {spread}",
                layer=n,
                n=tr.number(w.numel()),
                low=tr.number(float(w.min()), 2),
                high=tr.number(float(w.max()), 2),
                spread=tr.number(float(w.float().std()), 3),
            )
            for n, w in named
        )
    )


def describe_flow(summary: Any, tr: Translator = EN) -> str:
    """The shape flow: the tensor's shape from the input to the output."""
    shapes = ["×".join(map(str, summary.input_shape))] + [
        "×".join(map(str, r.output_shape)) for r in summary.layers if r.depth == 0
    ]
    return tr("the tensor's shape through {n} layers: {shapes}", n=len(shapes) - 1, shapes=" → ".join(shapes))


def describe_class_counts(labels: Tensor, classes: list[str] | tuple[str, ...], tr: Translator = EN) -> str:
    """A class distribution: how many images, the smallest and largest class."""
    counts = torch.bincount(labels, minlength=len(classes))
    lo, hi = int(counts.argmin()), int(counts.argmax())
    n, k = tr.number(int(counts.sum())), len(classes)
    if counts[lo] == counts[hi]:
        return tr("{n} images in {k} classes, {each} in each", n=n, k=k, each=tr.number(int(counts[lo])))
    return tr(
        "{n} images in {k} classes, from {low} ({low_class}) to {high} ({high_class})",
        n=n,
        k=k,
        low=tr.number(int(counts[lo])),
        low_class=classes[lo],
        high=tr.number(int(counts[hi])),
        high_class=classes[hi],
    )


def describe_board(rows: list[dict[str, Any]], tr: Translator = EN) -> str:
    """The class board: how many runs, the best, the smallest."""
    if not rows:
        return tr("no runs published yet")
    best = max(rows, key=lambda r: r["accuracy"])
    small = min(rows, key=lambda r: r["params"])
    return tr(
        "{n} published runs, test accuracy against parameters; best: {best} with {best_acc} ({best_params} "
        "parameters); smallest: {small} with {small_params} parameters ({small_acc})",
        n=len(rows),
        best=best["name"],
        best_acc=tr.percent(best["accuracy"]),
        best_params=tr.number(best["params"]),
        small=small["name"],
        small_params=tr.number(small["params"]),
        small_acc=tr.percent(small["accuracy"]),
    )


def describe_learned_map(
    points: Tensor,
    labels: Tensor,
    classes: list[str] | tuple[str, ...],
    here: Tensor | None = None,
    near: int = 15,
    tr: Translator = EN,
) -> str:
    """The learned map: how many images, and which classes sit nearest the drawing."""
    text = tr("{n} test images placed by what the model makes of them, one colour per class", n=tr.number(len(points)))
    if here is not None and len(points):
        d = (points - here[None]).norm(dim=1)
        nearest = labels[d.argsort()[:near]]
        top = int(torch.bincount(nearest, minlength=len(classes)).argmax())
        text += "; " + tr(
            "your drawing sits among the {cls}s ({k} of its {near} nearest)",
            cls=classes[top],
            k=int((nearest == top).sum()),
            near=near,
        )
    return text


def describe_experiment(res: dict[str, Any]) -> str:
    """An experiment's chart: its conclusion, which the experiment states from its own numbers."""
    return str(res.get("conclusion") or "the experiment's chart")
