"""Evaluation: loss and accuracy over a split, predictions, probabilities, confusion matrices."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..i18n import Refusal, said
from .budget import budget
from .data import normalize
from .spec import output_logits_to_classes

__all__ = [
    "require_image_classifier",
    "eval_mode",
    "evaluate",
    "accuracy",
    "predict_proba",
    "confusion_matrix",
    "Confusion",
    "cell_examples",
    "model_device",
    "activation_bytes",
    "fitting_batch",
    "mult_adds",
    "inference_seconds",
]

GRAD_FACTOR = 3  # a pass that keeps gradients holds the activations, their gradients and autograd's saved inputs


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def require_image_classifier(spec: dict[str, Any]) -> None:
    """Raise ValueError, in words, unless ``spec`` takes an image ``(C, H, W)`` and ends in class scores."""
    shape, nc = spec.get("input_shape") or [], spec.get("num_classes")
    if len(shape) != 3:
        raise Refusal(
            said(
                "this model takes a vector of {n} values, not an image (its input_shape has no height and width)",
                n=shape[0] if shape else "?",
            )
        )
    if nc is None:
        raise Refusal(
            said(
                "this model has no class outputs (its spec sets no num_classes): it is a feature "
                "extractor, so it cannot say which class an image is"
            )
        )


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for the block; restore its previous mode even on error."""
    was = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was)


def _blank_pass(
    model: nn.Module,
    input_shape: tuple[int, ...] | list[int] | torch.Size,
    count: Callable[[nn.Module, Tensor], int],
    leaves: tuple[type, ...] | None = None,
) -> int:
    """One forward pass of a blank image of ``input_shape`` with ``count(module, output)`` summed over the leaf
    modules (or the modules of the ``leaves`` types); the hooks are removed however it ends."""
    total = [0]

    def hook(m: nn.Module, _i: Any, out: Any) -> None:
        if isinstance(out, Tensor):
            total[0] += count(m, out)

    mods = [m for m in model.modules() if (isinstance(m, leaves) if leaves else not any(True for _ in m.children()))]
    hooks = [m.register_forward_hook(hook) for m in mods]
    try:
        with torch.no_grad(), eval_mode(model):
            model(torch.zeros(1, *input_shape, device=model_device(model)))
    finally:
        for h in hooks:
            h.remove()
    return total[0]


def activation_bytes(model: nn.Module, input_shape: tuple[int, ...] | list[int] | torch.Size) -> int:
    """Bytes (float32) of the input and every layer's output for one image of ``input_shape (C, H, W)``: an upper
    bound on what one image costs a forward pass. Measured with one forward pass of a blank image."""
    return 4 * math.prod(input_shape) + _blank_pass(model, input_shape, lambda _m, out: out.numel() * 4)


def mult_adds(model: nn.Module, input_shape: tuple[int, ...] | list[int] | torch.Size) -> int:
    """Multiply-adds of one forward pass of one image ``(C, H, W)`` through ``model``'s convolutions and linear
    layers (what dominates its time); a bias is one add per output. Measured with one forward pass of a blank
    image."""

    def count(m: nn.Module, out: Tensor) -> int:
        per = (m.in_channels // m.groups) * math.prod(m.kernel_size) if isinstance(m, nn.Conv2d) else m.in_features
        return out.numel() * (per + (1 if getattr(m, "bias", None) is not None else 0))

    return _blank_pass(model, input_shape, count, (nn.Conv2d, nn.Linear))


def fitting_batch(
    model: nn.Module,
    input_shape: tuple[int, ...] | list[int] | torch.Size,
    most: int = 1000,
    grads: bool = False,
    max_bytes: int | None = None,
) -> int:
    """How many images one pass of ``model`` may take (at most ``most``) so that what it holds stays within
    ``max_bytes`` (default: the server's view budget, ``EXPLORER_MAX_VIEW_MB``); ``grads`` for a pass that
    back-propagates. A model for which one image is over the budget is refused with a sentence."""
    limit = max_bytes if max_bytes is not None else budget().view_bytes
    per = activation_bytes(model, input_shape) * (GRAD_FACTOR if grads else 1)
    if per > limit:
        raise ValueError(
            f"one image takes {per / 2**20:,.0f} MB in this model{' with its gradients' if grads else ''}"
            f", over the {limit >> 20:,} MB that one view or job may hold: pick an earlier layer, fewer "
            "or narrower layers, or a smaller input"
        )
    return max(1, min(most, limit // max(per, 1)))


def _batch(model: nn.Module, x: Tensor, batch_size: int | None) -> int:
    """The batch size to use: the caller's, or the largest (up to 1,000) that fits the view budget."""
    if batch_size is not None:
        return batch_size
    return 1 if len(x) <= 1 else fitting_batch(model, tuple(x.shape[1:]), most=min(1000, len(x)))


@torch.no_grad()
def predict_proba(
    model: nn.Module,
    x: Tensor,
    mean: tuple[float, ...] | list[float],
    std: tuple[float, ...] | list[float],
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Tensor:
    """Class probabilities ``(N, K)`` on the CPU for uint8 images ``(N, C, H, W)``, in batches that fit the view
    budget (:func:`fitting_batch`) unless ``batch_size`` is given. ``progress(done, total)`` after each batch
    (as a job, in a worker: see :func:`inference_seconds`)."""
    if x.dtype != torch.uint8 or x.ndim != 4:
        raise ValueError(f"expected uint8 images (N, C, H, W), got {x.dtype} {tuple(x.shape)}")
    dev = model_device(model)
    batch_size = _batch(model, x, batch_size)
    out = []
    with eval_mode(model):
        for i in range(0, len(x), batch_size):
            logits = output_logits_to_classes(model(normalize(x[i : i + batch_size].to(dev), mean, std)))
            out.append(F.softmax(logits.float(), dim=1).cpu())
            if progress is not None:
                progress(min(i + batch_size, len(x)), len(x))
    return torch.cat(out) if out else torch.empty(0, 0)


def inference_seconds(model: nn.Module, input_shape: tuple[int, ...] | list[int] | torch.Size, images: int) -> float:
    """About how long predicting ``images`` images takes on a worker (``EXPLORER_MULT_ADDS_PER_S``): what decides
    whether a page predicts at once or as a job in a worker."""
    return images * mult_adds(model, input_shape) / budget().mult_adds_per_s


def accuracy(pred: Tensor, y: Tensor) -> float:
    """The share of the answers ``pred`` (class indices) that are the labels ``y``, 0 to 1 (NaN for none)."""
    return float((pred == y).float().mean())


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    mean: tuple[float, ...] | list[float],
    std: tuple[float, ...] | list[float],
    batch_size: int | None = None,
) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy (0..1) of ``model`` on uint8 ``x (N, C, H, W)``, labels ``y (N,)``, in
    batches that fit the view budget unless ``batch_size`` is given."""
    if len(x) != len(y) or len(y) == 0:
        raise ValueError(f"need as many labels as images (and at least one), got {len(x)} images, {len(y)} labels")
    dev = model_device(model)
    batch_size = _batch(model, x, batch_size)
    loss = torch.zeros((), device=dev)
    correct = torch.zeros((), device=dev, dtype=torch.long)
    with eval_mode(model):
        for i in range(0, len(x), batch_size):
            xb = normalize(x[i : i + batch_size].to(dev, non_blocking=True), mean, std)
            yb = y[i : i + batch_size].to(dev, non_blocking=True)
            logits = output_logits_to_classes(model(xb))
            loss += F.cross_entropy(logits.float(), yb, reduction="sum")
            correct += (logits.argmax(1) == yb).sum()
    return loss.item() / len(y), correct.item() / len(y)


@dataclass
class Confusion:
    """``matrix[t, p]`` counts test images of true class t predicted as p."""

    matrix: Tensor  # (K, K) int64
    classes: list[str]

    @property
    def accuracy(self) -> float:
        return float(self.matrix.diag().sum() / self.matrix.sum().clamp_min(1))

    @property
    def errors(self) -> int:
        return int(self.matrix.sum() - self.matrix.diag().sum())

    def among(self, shown: list[int]) -> Tensor:
        """The counts among the classes ``shown`` only ``(n, n)``, in their order."""
        sel = torch.tensor(shown, dtype=torch.long)
        return self.matrix[sel][:, sel]

    def recall(self) -> Tensor:
        """Per true class: the share of its images predicted right ``(K,)``."""
        return self.matrix.diag() / self.matrix.sum(1).clamp_min(1)

    def precision(self) -> Tensor:
        """Per predicted class: the share of its predictions that are right ``(K,)``."""
        return self.matrix.diag() / self.matrix.sum(0).clamp_min(1)

    def normalized(self) -> Tensor:
        """Rows divided by their totals: ``[t, p]`` is the share of class t predicted as p."""
        return self.matrix / self.matrix.sum(1, keepdim=True).clamp_min(1)

    def focus(self, n: int) -> list[int]:
        """The (at most) ``n`` classes most involved in errors (as true or predicted class), in class order: the
        part of a many-class matrix worth drawing."""
        off = self.matrix.clone()
        off.fill_diagonal_(0)
        errors = off.sum(0) + off.sum(1)
        return sorted(errors.topk(min(n, len(self.classes))).indices.tolist())

    def most_confused(self, k: int = 5) -> list[tuple[str, str, int]]:
        """The ``k`` largest off-diagonal cells as (true, predicted, count), largest first."""
        off = self.matrix.clone()
        off.fill_diagonal_(0)
        vals, idx = off.flatten().topk(min(k, off.numel()))
        n = len(self.classes)
        return [(self.classes[int(i) // n], self.classes[int(i) % n], int(v)) for v, i in zip(vals, idx) if v > 0]


def confusion_matrix(y_true: Tensor, y_pred: Tensor, classes: list[str]) -> Confusion:
    """Count (true, predicted) pairs. ``y_true`` and ``y_pred`` are int ``(N,)`` in 0..K-1."""
    k = len(classes)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D of one length, got {tuple(y_true.shape)} and {tuple(y_pred.shape)}")
    if len(y_true) and (int(y_true.min()) < 0 or int(y_true.max()) >= k or int(y_pred.min()) < 0 or int(y_pred.max()) >= k):
        raise ValueError(f"labels must lie in 0..{k - 1}")
    m = torch.bincount(y_true.long() * k + y_pred.long(), minlength=k * k).view(k, k)
    return Confusion(m, list(classes))


def cell_examples(y_true: Tensor, probs: Tensor, true: int, predicted: int, limit: int = 24) -> tuple[list[int], int]:
    """The images of one confusion cell (true class ``true``, answered ``predicted``): the indices of the (at most)
    ``limit`` the model was surest about, surest first, and how many the cell holds. ``probs (N, K)``."""
    idx = torch.nonzero((y_true == true) & (probs.argmax(1) == predicted)).flatten()
    order = idx[probs[idx, predicted].argsort(descending=True)][:limit]
    return order.tolist(), len(idx)
