"""Looking inside a model: forward hooks, captured activations, kernels, per-layer statistics."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..core.budget import budget
from ..core.evaluate import eval_mode
from ..i18n import EN, Refusal, Translator, said

__all__ = [
    "dead_sentence",
    "named_layers",
    "conv_layers",
    "forward_hooks",
    "capture_activations",
    "kernels",
    "LayerStats",
    "layer_stats",
    "stats_images",
    "diagnose",
    "hook_count",
    "MAP_SCALES",
    "MapView",
    "feature_map_views",
    "weight_tensors",
]


def named_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every leaf layer (and every Residual block) with its name in the model, in forward order."""
    out = []
    for name, m in model.named_modules():
        if not name:
            continue
        if not list(m.children()) or type(m).__name__ == "Residual":
            if not name.endswith(".skip") and ".skip" not in name:
                out.append((name, m))
    return out


def conv_layers(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """The model's convolutions (skip projections of residual blocks left out)."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and ".skip" not in f".{n}"]


def hook_count(model: nn.Module) -> int:
    """Forward hooks left on the model and its modules (0 after any capture, even one that raised)."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@contextmanager
def forward_hooks(model: nn.Module, names: list[str], store: dict[str, Tensor]) -> Iterator[dict[str, Tensor]]:
    """Record the outputs of the named modules into ``store`` during the block; always remove the hooks."""
    modules = dict(model.named_modules())
    missing = [n for n in names if n not in modules]
    if missing:
        known = ", ".join(n for n, _ in named_layers(model))
        raise ValueError(f"no layer named {missing[0]!r} in the model; layers: {known}")
    handles = []
    try:
        for n in names:
            handles.append(modules[n].register_forward_hook(lambda mod, inp, out, n=n: store.__setitem__(n, out.detach())))
        yield store
    finally:
        for h in handles:
            h.remove()


@torch.no_grad()
def capture_activations(model: nn.Module, x: Tensor, layers: list[str] | None = None) -> dict[str, Tensor]:
    """Outputs of ``layers`` (default: every layer) for the normalised input ``x (B, C, H, W)``, in eval mode.

    Returns ``{name: (B, ...)}`` in forward order; the model's hooks and mode are as before afterwards.
    """
    if x.ndim != 4:
        raise ValueError(f"expected a batch of images (B, C, H, W), got shape {tuple(x.shape)}")
    names = layers if layers is not None else [n for n, _ in named_layers(model)]
    store: dict[str, Tensor] = {}
    with eval_mode(model), forward_hooks(model, names, store):
        model(x)
    return {n: store[n] for n in names if n in store}


def kernels(model: nn.Module, layer: str) -> Tensor:
    """The weights of conv layer ``layer`` as a CPU copy ``(out_channels, in_channels / groups, kh, kw)``."""
    m = dict(model.named_modules()).get(layer)
    if not isinstance(m, nn.Conv2d):
        convs = ", ".join(n for n, _ in conv_layers(model)) or "none"
        raise ValueError(f"layer {layer!r} is not a Conv2d; conv layers: {convs}")
    return m.weight.detach().cpu().clone()


@dataclass
class LayerStats:
    """Statistics of one layer's output over a batch."""

    layer: str
    type: str
    mean: float
    std: float
    dead_fraction: float  # units (whole channels of a map, or features of a vector) that are <= 0 on every image
    zero_fraction: float  # values that are exactly <= 0
    saturated_fraction: float  # for Sigmoid/Tanh: values within 0.02 of the limits
    values: Tensor  # a sample of the values, for histograms


@dataclass
class _Running:
    """What ``layer_stats`` keeps of one layer between chunks of images."""

    type: str
    n: int = 0  # values seen
    total: float = 0.0
    total_sq: float = 0.0
    nonpos: int = 0
    saturated: int = 0
    fired: Tensor | None = None  # per unit: did it ever fire (> 0)
    picks: list[Tensor] = field(default_factory=list)


def stats_images(model: nn.Module, x: Tensor, max_values: int | None = None) -> int:
    """How many of the images ``x`` a batch-statistics view may use: all, unless their activations together are
    over ``max_values`` (default: the server's view compute budget), so that the view stays a fraction of a
    second of the server's time whatever the model's width."""
    limit = max_values if max_values is not None else budget().view_values
    per_image = sum(a.numel() for a in capture_activations(model, x[:1]).values())
    return max(1, min(len(x), limit // max(per_image, 1)))


def layer_stats(model: nn.Module, x: Tensor, sample: int = 5000, max_bytes: int | None = None) -> list[LayerStats]:
    """Per layer over the batch ``x (B, C, H, W)``: mean, spread, dead units, saturation.

    The images go through in chunks, so the activations held at once stay under ``max_bytes`` (default: the
    server's view budget, :func:`explorer.core.budget.budget`): a 4096-channel layer costs time, not gigabytes (and
    :func:`stats_images` bounds the time). A single image whose activations are over the budget is refused
    with a sentence."""
    if x.ndim != 4 or len(x) == 0:
        raise ValueError(f"expected a batch of images (B, C, H, W), got shape {tuple(x.shape)}")
    limit = max_bytes if max_bytes is not None else budget().view_bytes
    per_image = sum(a.numel() for a in capture_activations(model, x[:1]).values()) * 4
    if per_image > limit:
        raise Refusal(
            said(
                "one image's activations take {mb} MB in this model, over the {most} MB a view may hold",
                mb=f"{per_image / 2**20:,.0f}",
                most=f"{limit >> 20:,}",
            )
        )
    chunk = max(1, limit // max(per_image, 1))
    types = {n: type(m).__name__ for n, m in named_layers(model)}
    runs: dict[str, _Running] = {}
    g = torch.Generator().manual_seed(0)
    for i in range(0, len(x), chunk):
        part = x[i : i + chunk]
        for name, a in capture_activations(model, part).items():
            r = runs.setdefault(name, _Running(types.get(name, "")))
            _accumulate(r, a.float(), max(1, -(-sample * len(part) // len(x))), g)
        del part
    out = []
    for name, r in runs.items():
        mean = r.total / max(r.n, 1)
        var = max(r.total_sq / max(r.n, 1) - mean * mean, 0.0) * r.n / max(r.n - 1, 1)
        dead = 1.0 - r.fired.float().mean().item() if r.fired is not None and len(x) > 1 else float("nan")
        out.append(
            LayerStats(
                name,
                r.type,
                mean,
                math.sqrt(var) if r.n > 1 else 0.0,
                dead,
                r.nonpos / max(r.n, 1),
                r.saturated / max(r.n, 1),
                torch.cat(r.picks)[:sample],
            )
        )
    return out


def _accumulate(r: _Running, a: Tensor, picks: int, g: torch.Generator) -> None:
    """Add one chunk's activations ``a (b, ...)`` of a layer to its running statistics."""
    flat = a.flatten()
    r.n += flat.numel()
    r.total += flat.double().sum().item()
    r.total_sq += flat.double().square().sum().item()
    r.nonpos += int((flat <= 0).sum())
    if r.type in ("Tanh", "Sigmoid"):
        lo, hi = (-1.0, 1.0) if r.type == "Tanh" else (0.0, 1.0)
        r.saturated += int(((flat <= lo + 0.02) | (flat >= hi - 0.02)).sum())
    # a unit is a whole channel (B, C, H, W) or a feature (B, F): it fired if it was > 0 anywhere on any image
    fired = (a > 0).flatten(2).any(2).any(0) if a.ndim > 2 else (a > 0).any(0)
    r.fired = fired if r.fired is None else r.fired | fired
    r.picks.append(flat[torch.randint(len(flat), (min(picks, len(flat)),), generator=g)])


def dead_sentence(stats: list[LayerStats], tr: Translator = EN) -> str:
    """What the statistics say of dead units, in one sentence built from the counts."""
    relus = [s for s in stats if s.type == "ReLU" and not math.isnan(s.dead_fraction)]
    if not relus:
        return tr("This model has no ReLU layer, so no unit can die the way a ReLU's does.")
    dead = [s for s in relus if s.dead_fraction > 0]
    if not dead:
        return (
            tr(
                "Every channel of the {n} ReLU layers is above zero on at least one of these images: no dead units. "
                "A channel that is zero on every image would pass nothing on and get no gradient; a learning rate "
                "that is too high can kill many at once.",
                n=len(relus),
            )
            if len(relus) > 1
            else tr(
                "Every channel of the ReLU layer is above zero on at least one of these images: no dead units. A "
                "channel that is zero on every image would pass nothing on and get no gradient; a learning rate that "
                "is too high can kill many at once."
            )
        )
    worst = max(dead, key=lambda s: s.dead_fraction)
    return tr(
        "{n} of {k} ReLU layers have dead channels (zero on every one of these images); the most in layer "
        "{layer}: {share}. Such a channel passes nothing on and gets no gradient, so it cannot learn its way "
        "back.",
        n=len(dead),
        k=len(relus),
        layer=worst.layer,
        share=tr.percent(worst.dead_fraction, 0),
    )


def diagnose(stats: list[LayerStats], tr: Translator = EN) -> list[str]:
    """Plain words for what looks wrong: dead ReLUs, saturated sigmoids, exploding or vanishing activations.

    A ReLU's units are whole channels (or features): one counts as dead when it is zero on every image. The advice
    names batch norm only where the layer before the ReLU is not one already."""
    notes = []
    for prev, s in zip([None, *stats[:-1]], stats):
        if s.type in ("ReLU",) and s.dead_fraction >= 0.25:
            normed = prev is not None and prev.type.startswith("BatchNorm")
            values = {"share": tr.percent(s.dead_fraction, 0), "layer": s.layer}
            notes.append(
                tr(
                    "{share} of layer {layer}'s channels are zero on every one of these images (dead ReLUs): "
                    "they pass nothing on and get no gradient to learn from. A lower learning rate or "
                    "LeakyReLU can help.",
                    **values,
                )
                if normed
                else tr(
                    "{share} of layer {layer}'s channels are zero on every one of these images (dead ReLUs): "
                    "they pass nothing on and get no gradient to learn from. A lower learning rate, batch "
                    "norm before the ReLU, or LeakyReLU can help.",
                    **values,
                )
            )
        if s.type in ("Sigmoid", "Tanh") and s.saturated_fraction >= 0.3:
            notes.append(
                tr(
                    "{share} of layer {layer}'s values sit at the {kind} limits (saturated): its gradients "
                    "are near zero there.",
                    share=tr.percent(s.saturated_fraction, 0),
                    layer=s.layer,
                    kind=s.type,
                )
            )
        if abs(s.mean) > 50 or s.std > 100:
            notes.append(
                tr(
                    "layer {layer}'s activations are very large (mean {mean}, std {std}): consider batch "
                    "norm or a lower learning rate.",
                    layer=s.layer,
                    mean=f"{s.mean:.3g}",
                    std=f"{s.std:.3g}",
                )
            )
        if 0 < s.std < 1e-4 and s.type not in ("Dropout", "Dropout2d"):
            notes.append(
                tr(
                    "layer {layer}'s activations hardly vary (std {std}): it passes almost no information.",
                    layer=s.layer,
                    std=f"{s.std:.2g}",
                )
            )
    return notes


MAP_SCALES = ("local", "layer", "global")  # each map its own range; one range per layer; one for all layers


@dataclass(frozen=True)
class MapView:
    """One channel's feature map for one image, the range to draw it over, and the kernel that made it (its mean
    over the input channels, for a conv layer; else None). A conv layer's map is the *sum* over its
    ``in_channels`` input maps of each convolved with its own kernel, plus a bias; the mean kernel is a glance."""

    channel: int
    map: Tensor  # (H, W)
    lo: float
    hi: float
    kernel: Tensor | None
    in_channels: int = 0  # input maps summed into it (0: not a conv layer)


def feature_map_views(
    model: nn.Module, acts: dict[str, Tensor], layer: str, scale: str = "local", limit: int = 64
) -> list[MapView]:
    """The first ``limit`` channels of ``layer``'s output for the first image of ``acts`` (from
    :func:`capture_activations`), each with its colour range by ``scale`` (one of :data:`MAP_SCALES`)."""
    if scale not in MAP_SCALES:
        raise ValueError(f"scale must be one of {', '.join(MAP_SCALES)}, got {scale!r}")
    out = acts[layer][0]
    if out.ndim != 3:
        raise ValueError(f"layer {layer} gives a vector, not feature maps")
    module = dict(model.named_modules())[layer]
    conv = isinstance(module, nn.Conv2d)
    everything = (min(float(v.min()) for v in acts.values()), max(float(v.max()) for v in acts.values()))
    views = []
    for c in range(min(out.shape[0], limit)):
        lo, hi = {
            "local": (float(out[c].min()), float(out[c].max())),
            "layer": (float(out.min()), float(out.max())),
            "global": everything,
        }[scale]
        views.append(
            MapView(
                c, out[c], lo, hi, module.weight[c].detach().mean(0) if conv else None, module.in_channels if conv else 0
            )
        )
    return views


def weight_tensors(model: nn.Module) -> list[tuple[str, Tensor]]:
    """Every conv and linear layer's weights by name, detached on the CPU (for histograms)."""
    return [(n, m.weight.detach().cpu()) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
