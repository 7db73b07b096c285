"""The lecture notes' experiments, each one call with a progress callback and a plain-words conclusion.

- compare_architectures (seed 000): linear vs one conv block vs wider vs deeper, same data and budget;
- rotation_experiment (seed 002): accuracy against rotation angle, without and with rotation augmentation;
- pixel_shuffle_experiment (seed 002): CNN and MLP on pixel-shuffled images vs the real ones;
- translation_sweep: accuracy against shifting the test images by k pixels;
- data_size_experiment: how much data is enough (accuracy against images per class, spread over seeds);
- imbalance_experiment: one class made rare, and its recall collapsing while the overall accuracy hides it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from ..core.augment import Augment
from ..core.config import TrainConfig
from ..core.data import Dataset
from ..core.evaluate import accuracy, predict_proba
from ..core.presets import get_preset
from ..core.spec import build_model, summarize
from ..core.train import RunStatus, Trainer
from ..i18n import EN, N_, Translator

__all__ = [
    "compare_architectures",
    "architecture_conclusion",
    "experiment_conclusion",
    "parameter_places",
    "rotation_sweep",
    "rotation_experiment",
    "pixel_shuffle_experiment",
    "translation_sweep",
    "data_size_experiment",
    "merge_data_size",
    "imbalance_experiment",
    "rotate",
    "shift",
    "mlp_spec",
    "DATA_SIZE_STEPS",
]

Progress = Callable[[int, int], None]


def _noop(done: int, total: int) -> None:
    pass


def _accuracy(model: nn.Module, x: Tensor, y: Tensor, ds: Dataset) -> float:
    return accuracy(predict_proba(model, x, ds.mean, ds.std).argmax(1), y)


def _train(spec: dict[str, Any], ds: Dataset, cfg: TrainConfig, seed: int = 0) -> tuple[nn.Module, dict[str, Any]]:
    model = build_model(spec, seed=seed)
    hist = Trainer(model, ds, cfg).run()
    if hist["status"] != RunStatus.FINISHED:
        raise ValueError(hist["message"])
    return model.eval(), hist


def compare_architectures(
    ds: Dataset,
    names: tuple[str, ...] = ("linear", "one-conv", "wider", "deeper"),
    config: TrainConfig | None = None,
    progress: Progress = _noop,
) -> dict[str, Any]:
    """Train each preset on the same data with the same settings; parameters (and where they live), test accuracy
    per epoch, time; the conclusion is built from those figures (:func:`architecture_conclusion`)."""
    cfg = config or TrainConfig(epochs=3, eval_splits=("test",))
    rows = []
    for i, name in enumerate(names):
        spec = get_preset(name, num_classes=ds.num_classes, input_shape=ds.input_shape)
        model, hist = _train(spec, ds, cfg)
        rows.append(
            {
                "name": name,
                "params": sum(p.numel() for p in model.parameters()),
                "test_accuracy": [e["test_accuracy"] for e in hist["epochs"]],
                "seconds": sum(e["seconds"] for e in hist["epochs"]),
                **parameter_places(spec),
            }
        )
        progress(i + 1, len(names))
    return {"rows": rows, "input_shape": list(ds.input_shape), "conclusion": architecture_conclusion(rows, ds.input_shape)}


def parameter_places(spec: dict[str, Any]) -> dict[str, int]:
    """Where a model's parameters live: in its last Linear layer (``last_params``, reading ``last_inputs``
    numbers) and in its convolution kernels (``conv_params``)."""
    rows = summarize(spec).layers
    last = max((i for i, r in enumerate(rows) if r.type == "Linear"), default=None)
    inputs = math.prod(rows[last - 1].output_shape) if last else math.prod(spec["input_shape"])
    return {
        "last_params": rows[last].params if last is not None else 0,
        "last_inputs": int(inputs),
        "conv_params": sum(r.params for r in rows if r.type == "Conv2d"),
    }


def architecture_conclusion(
    rows: list[dict[str, Any]], input_shape: tuple[int, ...] | list[int], tr: Translator = EN
) -> str:
    """The comparison's conclusion, every clause read off ``rows`` (name, params, test_accuracy per epoch,
    last_params, last_inputs, conv_params): which ends best, how its parameters compare with the linear model's,
    and why (what the last layer reads), so that it never contradicts the figures beside it."""
    best = max(rows, key=lambda r: r["test_accuracy"][-1])
    text = tr(
        "{model} ends best at {acc} with {n} parameters.",
        model=best["name"],
        acc=tr.percent(best["test_accuracy"][-1]),
        n=tr.number(best["params"]),
    )
    lin = next((r for r in rows if r["name"] == "linear"), None)
    pixels = math.prod(input_shape)
    if lin and best is not lin:
        values = {
            "acc": tr.percent(lin["test_accuracy"][-1]),
            "n": tr.number(lin["params"]),
            "model": best["name"],
            "reads": tr.number(best["last_inputs"]),
            "pixels": tr.number(pixels),
            "kernels": tr.number(best["conv_params"]),
        }
        text += " " + (
            tr("The linear model reaches {acc} with {n}, so {model} has more parameters than the linear model.", **values)
            if best["params"] > lin["params"]
            else tr(
                "The linear model reaches {acc} with {n}, so {model} has fewer parameters than the linear model.", **values
            )
        )
        text += " " + tr(
            "Its last layer reads the {reads} numbers that the layers before it hand over (the linear "
            "model reads the {pixels} pixels), and its kernels hold only {kernels} parameters, because "
            "each kernel is shared by every position of the image.",
            **values,
        )
    shares = [r["last_params"] / r["params"] for r in rows if r["params"]]
    if shares:
        values = {"low": tr.percent(min(shares), 0), "high": tr.percent(max(shares), 0)}
        text += " " + (
            tr(
                "In these models the last layer holds {low} to {high} of the parameters: their count is "
                "mostly decided by how many numbers reach it.",
                **values,
            )
            if min(shares) >= 0.5
            else tr("In these models the last layer holds {low} to {high} of the parameters.", **values)
        )
    return text


def rotate(x: Tensor, angle: float) -> Tensor:
    """uint8 images ``(N, C, H, W)`` rotated by ``angle`` degrees (counter-clockwise), black corners."""
    from torchvision.transforms.functional import InterpolationMode
    from torchvision.transforms.functional import rotate as tv_rotate

    return tv_rotate(x, angle, interpolation=InterpolationMode.BILINEAR) if angle % 360 else x


def shift(x: Tensor, dx: int, dy: int = 0) -> Tensor:
    """uint8 images shifted right by ``dx`` and down by ``dy`` pixels; what leaves the frame is lost."""
    out = torch.zeros_like(x)
    h, w = x.shape[2:]
    if abs(dx) >= w or abs(dy) >= h:
        return out
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[:, :, yd, xd] = x[:, :, ys, xs]
    return out


def rotation_sweep(
    model: nn.Module, ds: Dataset, angles: list[int] | None = None, limit: int | None = 2000, progress: Progress = _noop
) -> list[tuple[int, float]]:
    """Test accuracy for each rotation angle (default 0 to 360 in steps of 10)."""
    angles = angles if angles is not None else list(range(0, 361, 10))
    x, y = ds.test_x[:limit], ds.test_y[:limit]
    out = []
    for i, a in enumerate(angles):
        out.append((a, _accuracy(model, rotate(x, a), y, ds)))
        progress(i + 1, len(angles))
    return out


def rotation_experiment(
    ds: Dataset,
    spec: dict[str, Any] | None = None,
    config: TrainConfig | None = None,
    model: nn.Module | None = None,
    progress: Progress = _noop,
    limit: int | None = 2000,
) -> dict[str, Any]:
    """Accuracy against angle for ``model`` (or ``spec`` trained plainly) and a fresh copy of ``spec`` trained with
    rotation augmentation (±180°). Give ``model`` its own ``spec``: the augmented copy is built from ``spec`` (the
    default CNN when none is given), so that both are the same network."""
    spec = spec or get_preset("default", num_classes=ds.num_classes, input_shape=ds.input_shape)
    cfg = config or TrainConfig(epochs=3, eval_splits=("test",))
    progress(0, 4)
    plain = model if model is not None else _train(spec, ds, cfg)[0]
    progress(1, 4)
    augmented, _ = _train(spec, ds, dataclasses.replace(cfg, augment=Augment(rotation=180)))
    progress(2, 4)
    a = rotation_sweep(plain, ds, limit=limit)
    progress(3, 4)
    b = rotation_sweep(augmented, ds, limit=limit)
    progress(4, 4)
    res = {"plain": a, "augmented": b}
    return {**res, "conclusion": experiment_conclusion("rot", res)}


def mlp_spec(ds: Dataset, hidden: int = 128) -> dict[str, Any]:
    """A one-hidden-layer perceptron for the dataset."""
    return {
        "name": "mlp",
        "input_shape": ds.input_shape,
        "num_classes": ds.num_classes,
        "layers": [
            {"type": "Flatten"},
            {"type": "Linear", "out_features": hidden},
            {"type": "ReLU"},
            {"type": "Linear", "out_features": ds.num_classes},
        ],
    }


def _shuffled(ds: Dataset, seed: int = 0) -> Dataset:
    """The same dataset with every image's pixels permuted by one fixed permutation."""
    n = ds.train_x[0, 0].numel()
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))

    def p(x: Tensor) -> Tensor:
        return x.flatten(2)[:, :, perm].view_as(x).contiguous()

    return dataclasses.replace(
        ds, name=f"{ds.name} (shuffled)", train_x=p(ds.train_x), val_x=p(ds.val_x), test_x=p(ds.test_x)
    )


def pixel_shuffle_experiment(
    ds: Dataset, config: TrainConfig | None = None, progress: Progress = _noop, seed: int = 0
) -> dict[str, Any]:
    """A CNN and an MLP, each trained and tested on real and on pixel-shuffled images: four accuracies."""
    cfg = config or TrainConfig(epochs=3, eval_splits=("test",))
    shuffled = _shuffled(ds, seed)
    cnn = get_preset("default", num_classes=ds.num_classes, input_shape=ds.input_shape)
    rows, i = [], 0
    for model_name, spec in (("CNN", cnn), ("MLP", mlp_spec(ds))):
        for data_name, data in ((N_("real"), ds), (N_("shuffled"), shuffled)):
            model, _ = _train(spec, data, cfg)
            rows.append(
                {"model": model_name, "images": data_name, "test_accuracy": _accuracy(model, data.test_x, data.test_y, data)}
            )
            i += 1
            progress(i, 4)
    return {"rows": rows, "conclusion": experiment_conclusion("shuf", {"rows": rows}), "example": shuffled.test_x[:8]}


def translation_sweep(
    model: nn.Module, ds: Dataset, shifts: list[int] | None = None, limit: int | None = 2000, progress: Progress = _noop
) -> dict[str, Any]:
    """Test accuracy when every test image is shifted right by k pixels (default k = 0..10)."""
    shifts = shifts if shifts is not None else list(range(0, 11))
    x, y = ds.test_x[:limit], ds.test_y[:limit]
    out = []
    for i, k in enumerate(shifts):
        out.append((k, _accuracy(model, shift(x, k), y, ds)))
        progress(i + 1, len(shifts))
    ink = x.float().sum()
    lost = float(1 - shift(x, shifts[-1]).float().sum() / ink) if ink > 0 else 0.0
    res = {"sweep": out, "ink_lost": lost, "width": int(x.shape[-1])}
    return {**res, "conclusion": experiment_conclusion("shift", res)}


def _subset(ds: Dataset, per_class: dict[int, int], seed: int) -> Dataset:
    """``ds`` with at most ``per_class[k]`` training images of each class k, picked at random with ``seed``."""
    g = torch.Generator().manual_seed(seed)
    keep = []
    for k in range(ds.num_classes):
        idx = (ds.train_y == k).nonzero().flatten()
        keep.append(idx[torch.randperm(len(idx), generator=g)[: per_class.get(k, len(idx))]])
    sel = torch.cat(keep)
    sel = sel[torch.randperm(len(sel), generator=g)]
    return dataclasses.replace(ds, train_x=ds.train_x[sel].contiguous(), train_y=ds.train_y[sel].contiguous())


def _steps_config(cfg: TrainConfig, n: int, steps: int) -> TrainConfig:
    """``cfg`` with enough epochs for about ``steps`` updates on ``n`` images (small sets get more epochs, so a
    model is not judged by how little it was trained)."""
    per_epoch = max(1, -(-n // cfg.batch_size))
    return dataclasses.replace(
        cfg, epochs=min(200, max(cfg.epochs, -(-steps // per_epoch))), limit_train=None, eval_splits=("test",)
    )


DATA_SIZE_STEPS = 200  # updates per model of the data-size experiment, whatever its number of images
# (a caller that runs the experiment in worker processes passes ``steps`` itself: a worker imports its own copy)


def data_size_experiment(
    ds: Dataset,
    sizes: tuple[int, ...] = (10, 50, 100, 300),
    seeds: int = 3,
    config: TrainConfig | None = None,
    steps: int | None = None,
    progress: Progress = _noop,
    only_seeds: tuple[int, ...] | None = None,
) -> dict[str, Any]:
    """The default CNN trained on ``sizes`` images per class and on all of them, ``seeds`` times each (other
    images, other initialisations): test accuracy against data size, with its spread over the seeds.

    ``only_seeds``: train only these seeds (one part of the experiment, so that the seeds train side by side on
    several workers); :func:`merge_data_size` joins the parts into the whole."""
    cfg = config or TrainConfig(epochs=2, batch_size=64)
    smallest = int(torch.bincount(ds.train_y, minlength=ds.num_classes).min())
    counts = [n for n in sizes if n < smallest] + [smallest]
    spec = get_preset("default", num_classes=ds.num_classes, input_shape=ds.input_shape)
    run_seeds = list(range(seeds)) if only_seeds is None else list(only_seeds)
    rows, done, total = [], 0, len(counts) * len(run_seeds)
    for n in counts:
        for seed in run_seeds:
            sub = _subset(ds, dict.fromkeys(range(ds.num_classes), n), seed)
            model, _ = _train(spec, sub, _steps_config(cfg, len(sub.train_y), steps or DATA_SIZE_STEPS), seed=seed)
            rows.append({"per_class": n, "seed": seed, "test_accuracy": _accuracy(model, ds.test_x, ds.test_y, ds)})
            done += 1
            progress(done, total)
    return _data_size_summary(rows)


def merge_data_size(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The parts of a data-size experiment (each some of its seeds) as one result, with its conclusion."""
    return _data_size_summary(sorted((r for p in parts for r in p["rows"]), key=lambda r: (r["per_class"], r["seed"])))


def _data_size_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"rows": rows, "conclusion": experiment_conclusion("size", {"rows": rows})}


def imbalance_experiment(
    ds: Dataset,
    cls: int,
    shares: tuple[float, ...] = (1.0, 0.3, 0.1, 0.03, 0.01),
    config: TrainConfig | None = None,
    steps: int = 200,
    progress: Progress = _noop,
) -> dict[str, Any]:
    """The default CNN trained with only a share of class ``cls``'s training images (the others all kept): that
    class's recall and the overall accuracy on the (balanced) test split, for each share."""
    if not 0 <= cls < ds.num_classes:
        raise ValueError(f"class must be from 0 to {ds.num_classes - 1}, got {cls}")
    cfg = config or TrainConfig(epochs=2, batch_size=64)
    spec = get_preset("default", num_classes=ds.num_classes, input_shape=ds.input_shape)
    have = int((ds.train_y == cls).sum())
    rows = []
    for i, share in enumerate(shares):
        keep = max(1, round(have * share))
        sub = _subset(ds, {cls: keep}, seed=0)
        model, _ = _train(spec, sub, _steps_config(cfg, len(sub.train_y), steps))
        pred = predict_proba(model, ds.test_x, ds.mean, ds.std).argmax(1)
        mine = ds.test_y == cls
        rows.append(
            {
                "share": share,
                "images": keep,
                "recall": float((pred[mine] == cls).float().mean()),
                "accuracy": accuracy(pred, ds.test_y),
            }
        )
        progress(i + 1, len(shares))
    res = {"rows": rows, "cls": cls, "cls_name": ds.classes[cls]}
    return {**res, "conclusion": experiment_conclusion("imb", res)}


def experiment_conclusion(name: str, res: dict[str, Any], tr: Translator = EN) -> str:
    """Experiment ``name``'s conclusion in ``tr``'s language, every figure read off its result ``res`` (so that a
    result computed once is concluded again in each student's language)."""
    if name == "arch":
        return architecture_conclusion(res["rows"], res.get("input_shape") or (1, 28, 28), tr)
    return _CONCLUSIONS[name](res, tr)


def _rotation_conclusion(res: dict[str, Any], tr: Translator) -> str:
    a, b = res["plain"], res["augmented"]
    worst = min(a, key=lambda t: t[1])
    pct = tr.percent
    return tr(
        "Trained on upright images, accuracy falls from {upright} at 0° to {worst} at {angle}°: a CNN is not "
        "rotation invariant. Trained with random rotations, it holds {low}–{high} at every angle, at the price "
        "of {cost} on upright images.",
        upright=pct(a[0][1]),
        worst=pct(worst[1]),
        angle=worst[0],
        low=pct(min(v for _, v in b)),
        high=pct(max(v for _, v in b)),
        cost=("+" if a[0][1] - b[0][1] >= 0 else "−") + pct(abs(a[0][1] - b[0][1])),
    )


def _shuffle_conclusion(res: dict[str, Any], tr: Translator) -> str:
    acc = {(r["model"], r["images"]): tr.percent(r["test_accuracy"]) for r in res["rows"]}
    return tr(
        "The CNN drops from {cnn} to {cnn_shuffled} when the pixels are shuffled: its kernels rely on "
        "neighbouring pixels being neighbours. The MLP sees no neighbourhoods, so it barely notices ({mlp} → "
        "{mlp_shuffled}).",
        cnn=acc[("CNN", "real")],
        cnn_shuffled=acc[("CNN", "shuffled")],
        mlp=acc[("MLP", "real")],
        mlp_shuffled=acc[("MLP", "shuffled")],
    )


def _shift_conclusion(res: dict[str, Any], tr: Translator) -> str:
    out = res["sweep"]
    half = next((k for k, a in out if a < out[0][1] / 2), None)
    far = out[-1][0]
    text = (
        tr("{acc} unshifted; below half of that from {k} px on.", acc=tr.percent(out[0][1]), k=half)
        if half is not None
        else tr("{acc} unshifted; still {last} at {k} px.", acc=tr.percent(out[0][1]), last=tr.percent(out[-1][1]), k=far)
    )
    return (
        text
        + " "
        + tr(
            "Convolution and pooling give some tolerance to small shifts; the dense layer at the end "
            "reads each position with weights of its own, so larger shifts break it (training on "
            "shifted images teaches it to expect them). At {k} px, {lost} of the ink has also left the "
            "{width}-pixel-wide frame: no model can read what is no longer there.",
            k=far,
            lost=tr.percent(res["ink_lost"], 0),
            width=res.get("width", 28),
        )
    )


def _size_conclusion(res: dict[str, Any], tr: Translator) -> str:
    rows = res["rows"]
    counts = sorted({r["per_class"] for r in rows})
    by = {n: [r["test_accuracy"] for r in rows if r["per_class"] == n] for n in counts}
    lo, hi = counts[0], counts[-1]
    spread = {n: max(v) - min(v) for n, v in by.items()}
    return tr(
        "With {lo} images per class the CNN reaches {lo_acc} (from {lo_min} to {lo_max} over {seeds} repeats); "
        "with {hi} per class, {hi_acc} (a spread of {hi_spread} points, against {lo_spread}). More data helps "
        "less and less as it grows; with little data, which images and which start you got matter as much as "
        "the network.",
        lo=lo,
        lo_acc=tr.percent(sum(by[lo]) / len(by[lo])),
        lo_min=tr.percent(min(by[lo])),
        lo_max=tr.percent(max(by[lo])),
        seeds=len({r["seed"] for r in rows}),
        hi=hi,
        hi_acc=tr.percent(sum(by[hi]) / len(by[hi])),
        hi_spread=tr.number(spread[hi] * 100, 1),
        lo_spread=tr.number(spread[lo] * 100, 1),
    )


def _imbalance_conclusion(res: dict[str, Any], tr: Translator) -> str:
    first, last = res["rows"][0], res["rows"][-1]
    return tr(
        "With all {all} of its images, class {name} is recognised {first_recall} of the time; with {few} "
        "({share}), {last_recall}, while the overall accuracy only goes from {first_acc} to {last_acc}. A model "
        "that rarely sees a class learns to bet against it, and the overall score hides it: look at each "
        "class's recall.",
        all=first["images"],
        name=res.get("cls_name", res.get("cls")),
        first_recall=tr.percent(first["recall"], 0),
        few=last["images"],
        share=tr.percent(last["share"], 0),
        last_recall=tr.percent(last["recall"], 0),
        first_acc=tr.percent(first["accuracy"]),
        last_acc=tr.percent(last["accuracy"]),
    )


_CONCLUSIONS: dict[str, Callable[[dict[str, Any], Translator], str]] = {
    "rot": _rotation_conclusion,
    "shuf": _shuffle_conclusion,
    "shift": _shift_conclusion,
    "size": _size_conclusion,
    "imb": _imbalance_conclusion,
}
