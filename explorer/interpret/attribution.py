"""Attributions with captum: which pixels made the model say what it said.

Every method takes a normalised input ``x (1, C, H, W)`` and a target class, and returns a map ``(C, H, W)``
of the input's shape. One-logit binary models are wrapped so class 0 and class 1 both exist.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.evaluate import eval_mode
from ..core.spec import output_logits_to_classes
from ..i18n import N_
from .inspect import conv_layers

__all__ = [
    "METHODS",
    "METHOD_MEANINGS",
    "MISSING_INK",
    "Meaning",
    "attribute",
    "attribute_classes",
    "randomization_check",
    "predict_and_explain",
    "Explanation",
    "rank_correlation",
]

METHODS = ("saliency", "integrated_gradients", "guided_backprop", "gradcam", "occlusion")


@dataclass(frozen=True)
class Meaning:
    """What one method's map says, in the course's words: ``signed`` maps are drawn red for / blue against,
    the others as a size only (red: more); ``black_baseline`` methods compare the drawing with a black image."""

    shows: str  # one sentence: what a bright spot means
    legend: str  # the colour key, short
    signed: bool
    black_baseline: bool


METHOD_MEANINGS: dict[str, Meaning] = {  # the words are marked for the catalogue: shown through a translator
    "saliency": Meaning(
        N_("how strongly the score reacts to a tiny change of each pixel: a size, not a direction"),
        N_("red: the score is sensitive here (neither for nor against)"),
        False,
        False,
    ),
    "integrated_gradients": Meaning(
        N_("how much each pixel's ink adds to the score, compared with a black image"),
        N_("red: raises the score, blue: lowers it"),
        True,
        True,
    ),
    "guided_backprop": Meaning(
        N_("the strokes the score's gradient flows back through; its sign means little, so it is drawn as a size"),
        N_("red: strokes the score depends on (neither for nor against)"),
        False,
        False,
    ),
    "gradcam": Meaning(
        N_(
            "which regions of a convolution layer's maps raise the score; only what raises it is kept, "
            "at that layer's coarse resolution"
        ),
        N_("red: regions that raise the score (nothing is drawn against)"),
        False,
        False,
    ),
    "occlusion": Meaning(
        N_("how much the score falls when a small black square hides each spot"),
        N_("red: hiding it lowers the score (it helped), blue: hiding it raises the score"),
        True,
        True,
    ),
}
MISSING_INK = N_(
    "Methods that compare with a black image give a black pixel no credit, so they cannot show that "
    "missing ink matters (the gap that makes a 3 and not an 8); saliency can, as a sensitivity."
)


class _Versus(nn.Module):
    """The score difference ``logit[a] - logit[b]`` as a one-column output ``(B, 1)``: "why a and not b"."""

    def __init__(self, classes: nn.Module, a: int, b: int) -> None:
        super().__init__()
        self.classes, self.a, self.b = classes, a, b

    def forward(self, x: Tensor) -> Tensor:
        out = self.classes(x)
        return (out[:, self.a] - out[:, self.b])[:, None]


class _Classes(nn.Module):
    """The model with class logits ``(B, K)`` as output, whatever its last layer gives."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return output_logits_to_classes(self.model(x))


def _check(x: Tensor, target: int, k: int) -> None:
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"expected one normalised image (1, C, H, W), got shape {tuple(x.shape)}")
    if not 0 <= target < k:
        raise ValueError(f"target class must lie in 0..{k - 1}, got {target}")


def attribute(
    model: nn.Module,
    x: Tensor,
    target: int,
    method: str = "saliency",
    layer: str | None = None,
    steps: int = 50,
    window: int = 4,
    stride: int = 2,
    versus: int | None = None,
) -> Tensor:
    """Attribution of class ``target``'s score (its logit) to each input value: ``(C, H, W)``. With ``versus``,
    of the score difference ``logit[target] - logit[versus]`` ("why target and not versus"), not of the
    difference of two maps (which would subtract sizes).

    saliency: |d logit / d x|; integrated_gradients: ``steps`` points from a black baseline, batched in one
    call (sums to f(x) - f(baseline)); guided_backprop; gradcam: Grad-CAM on conv ``layer`` (default: the
    last), rectified, upsampled to the input; occlusion: a ``window`` square slid with ``stride``, filled with
    black. :data:`METHOD_MEANINGS` says what each map means.
    """
    from captum.attr import GuidedBackprop, IntegratedGradients, Occlusion, Saliency

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    wrapped: nn.Module = _Classes(model)
    with eval_mode(model), torch.no_grad():
        k = wrapped(x).shape[1]
    _check(x, target, k)
    if versus is not None:
        _check(x, versus, k)
        wrapped, target = _Versus(wrapped, target, versus), 0
    x = x.detach().clone().requires_grad_()
    baseline = torch.full_like(x, float(x.detach().min())).detach()  # black, in the normalised space
    with eval_mode(model):
        if method == "saliency":
            a = Saliency(wrapped).attribute(x, target=target, abs=True)
        elif method == "integrated_gradients":
            a = IntegratedGradients(wrapped).attribute(
                x, baselines=baseline, target=target, n_steps=steps, internal_batch_size=steps
            )
        elif method == "guided_backprop":
            a = GuidedBackprop(wrapped).attribute(x, target=target)
        elif method == "gradcam":
            a = _gradcam(model, wrapped, x, target, layer)
        else:
            c = x.shape[1]
            a = Occlusion(wrapped).attribute(
                x,
                target=target,
                sliding_window_shapes=(c, window, window),
                strides=(c, stride, stride),
                baselines=float(x.detach().min()),
            )
    return a.detach()[0]


def _gradcam(model: nn.Module, wrapped: nn.Module, x: Tensor, target: int, layer: str | None) -> Tensor:
    """Grad-CAM of ``target`` on conv ``layer`` (default: the last), rectified, upsampled to ``x``'s size."""
    from captum.attr import LayerAttribution, LayerGradCam

    convs = dict(conv_layers(model))
    name = layer or (list(convs)[-1] if convs else None)
    if name not in convs:
        raise ValueError(
            "Grad-CAM needs a conv layer" + (f"; conv layers: {', '.join(convs)}" if convs else ": this model has none")
        )
    cam = LayerGradCam(wrapped, convs[name]).attribute(x, target=target, relu_attributions=True)
    return LayerAttribution.interpolate(cam, tuple(x.shape[2:]), interpolate_mode="bilinear").expand_as(x)


def attribute_classes(
    model: nn.Module, x: Tensor, targets: list[int], method: str = "saliency", layer: str | None = None
) -> Tensor:
    """Maps for several classes side by side: ``(len(targets), C, H, W)`` ("why 3 and not 8")."""
    return torch.stack([attribute(model, x, t, method, layer) for t in targets])


def rank_correlation(a: Tensor, b: Tensor) -> float:
    """Spearman rank correlation of two maps' absolute values (1: same ranking of pixels)."""
    ra = a.abs().flatten().argsort().argsort().float()
    rb = b.abs().flatten().argsort().argsort().float()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float((ra * rb).sum() / (ra.norm() * rb.norm()).clamp_min(1e-12))


def randomization_check(
    model: nn.Module, x: Tensor, target: int, method: str = "saliency", seed: int = 0
) -> list[tuple[str, Tensor, float]]:
    """The model-parameter randomisation test (Adebayo et al. 2018), cascading from the output layer.

    Re-initialises the layers with weights one by one, last first, on a copy of the model, and returns
    ``[(layer, map, rank correlation with the original map)]``, starting with ("original", map, 1.0).
    A map that hardly changes as the weights become random explains the input, not the model.
    """
    torch.manual_seed(seed)
    original = attribute(model, x, target, method)
    out = [("original", original, 1.0)]
    m = copy.deepcopy(model)
    layers = [(n, mod) for n, mod in m.named_modules() if isinstance(mod, (nn.Conv2d, nn.Linear))]
    for name, mod in reversed(layers):
        mod.reset_parameters()
        amap = attribute(m, x, target, method)
        out.append((name, amap, rank_correlation(original, amap)))
    return out


@dataclass
class Explanation:
    """What the Draw page shows for one input, and how long each part took (milliseconds)."""

    probs: Tensor  # (K,)
    saliency: Tensor  # (C, H, W)
    timings_ms: dict[str, float]


def predict_and_explain(model: nn.Module, x: Tensor) -> Explanation:
    """Probabilities and the saliency map of the predicted class for one normalised image ``(1, C, H, W)``:
    the hot path after each stroke (one forward and one backward)."""
    from captum.attr import Saliency

    t0 = time.perf_counter()
    wrapped = _Classes(model)
    with eval_mode(model):
        x = x.detach().clone().requires_grad_()
        logits = wrapped(x)
        probs = F.softmax(logits.detach()[0], 0)
        t1 = time.perf_counter()
        sal = Saliency(wrapped).attribute(x, target=int(probs.argmax()), abs=True)[0].detach()
    t2 = time.perf_counter()
    return Explanation(probs, sal, {"predict": (t1 - t0) * 1e3, "saliency": (t2 - t1) * 1e3})
