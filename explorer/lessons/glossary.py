"""The course's words, one meaning each: what every layer type does ("What is this?" on Build), the glossary the
pages link to, and where a model's parameters live, layer by layer, with the count worked out."""

from __future__ import annotations

import math
from typing import Any

from ..core.spec import Summary
from ..i18n import EN, N_, Translator

__all__ = ["LAYER_EXPLAINED", "GLOSSARY", "parameter_places_table", "naive_baseline"]


# one or two sentences per layer type (every type Build offers has one: a test checks it)
LAYER_EXPLAINED: dict[str, str] = {
    "Conv2d": N_(
        "A convolution: each of its C_out kernels holds one k×k grid of weights per input channel; the grids "
        "slide over their input maps, and the results are summed, plus one bias, into one output map. "
        "Parameters: (k·k·C_in + 1)·C_out."
    ),
    "BatchNorm2d": N_(
        "Batch norm: rescales each channel to a steady mean and spread (from the batch while training, "
        "from running averages at test time), then applies a learned scale and shift: 2 parameters a "
        "channel. It makes training less touchy about the learning rate."
    ),
    "ReLU": N_(
        "ReLU: keeps positive values and sets the rest to zero. Without a nonlinearity between them, stacked "
        "convolutions are one convolution and stacked linear layers are one linear layer."
    ),
    "LeakyReLU": N_(
        "Leaky ReLU: like ReLU, but negative values are multiplied by a small slope instead of zeroed, "
        "so a unit below zero still gets a gradient."
    ),
    "ELU": N_("ELU: like ReLU for positive values; negative values curve smoothly towards −α instead of zero."),
    "GELU": N_("GELU: a smooth ReLU, which lets small negative values through a little."),
    "Tanh": N_("Tanh: squashes every value into −1 to 1. Far from zero it saturates, and its gradient nearly vanishes."),
    "Sigmoid": N_(
        "Sigmoid: squashes every value into 0 to 1. Far from zero it saturates, and its gradient nearly vanishes."
    ),
    "MaxPool2d": N_(
        "Max pooling: keeps the largest value of each window (2×2 halves the height and the width). No "
        "parameters; a small shift of the input changes its output less."
    ),
    "AvgPool2d": N_("Average pooling: keeps the mean of each window. No parameters."),
    "AdaptiveAvgPool2d": N_(
        "Global average pooling (output size 1): one number per channel, the mean of its whole map. "
        "Unlike Flatten, the layer after it gets C numbers whatever the image's size, so it needs "
        "far fewer parameters."
    ),
    "Flatten": N_(
        "Flatten: lays the C×H×W maps out as one long vector of C·H·W numbers, so that a Linear layer can "
        "read them. Every position then gets weights of its own."
    ),
    "Linear": N_(
        "A linear (dense) layer: every output is a weighted sum of all its inputs plus a bias. Parameters: "
        "(inputs + 1)·outputs. The last one gives one score (logit) per class."
    ),
    "Dropout": N_(
        "Dropout: while training, zeroes each value with probability p (and scales the rest up), so no unit "
        "can rely on another; at test time it is off and passes everything."
    ),
    "Dropout2d": N_("Dropout2d: while training, zeroes whole channels with probability p; at test time it is off."),
    "Residual": N_(
        "A residual block: its layers' output is added to its input (through a 1×1 convolution when the "
        "shapes differ), so a deep network can learn small changes to what it already has."
    ),
}

GLOSSARY: dict[str, str] = {
    N_("kernel"): N_(
        "A small grid of weights, k×k, slid over one input map. A convolution layer holds C_out × C_in of them."
    ),
    N_("filter"): N_(
        "All the kernels that make one output map, one per input channel (k×k×C_in weights). In this app "
        "a filter's mean kernel is drawn beside its map."
    ),
    N_("channel"): N_(
        "One of the maps a layer takes in or gives out: an input image has 1 (grey) or 3 (colour); a "
        "convolution gives one channel per filter."
    ),
    N_("feature map"): N_("One channel of a layer's output for one image: what one filter found, and where."),
    N_("unit"): N_(
        "One value a layer gives: a channel at one position of a map, or one output of a Linear layer. A "
        "ReLU channel is dead when it is zero on every image."
    ),
    N_("parameter"): N_("A number the training changes: a weight or a bias."),
    N_("logit"): N_("The score the last layer gives each class, before softmax. Any real number."),
    N_("softmax"): N_(
        "Turns the logits into probabilities that add up to 100%: the largest score gets the largest "
        "share. The largest probability is the model's confidence."
    ),
    N_("confidence"): N_(
        "The largest class probability. Being sure is not being right: the calibration table on "
        "Can we trust it? shows how often each confidence was right."
    ),
    N_("receptive field"): N_("The input pixels one unit depends on. Each convolution and pooling layer makes it larger."),
    N_("padding"): N_("Zeros added around the map, so that the kernel can also sit on the border."),
    N_("stride"): N_("How far the kernel moves between two outputs: stride 2 halves the output's size."),
    N_("epoch"): N_("One pass over all the training images."),
    N_("training set"): N_("The images the model learns from."),
    N_("validation set"): N_("Images held back from training to decide what to change (epochs, learning rate, layers)."),
    N_("test set"): N_("Images kept for the end: looked at once, to report how the final model does on new images."),
    N_("overfitting"): N_(
        "Learning the training images rather than the task: training loss keeps falling while the validation loss rises."
    ),
    N_("augmentation"): N_(
        "Training on changed copies of the images (small rotations, shifts, mirrors) so that the model "
        "meets more variety than the images hold."
    ),
    N_("chance"): N_(
        "What guessing scores: 1 in K for K balanced classes; always answering the largest class scores its "
        "share of the images."
    ),
}


def parameter_places_table(summary: Summary, tr: Translator = EN) -> list[dict[str, Any]]:
    """Where the parameters live: one row per layer that has any, with its count, its share of the whole, and
    the count worked out from its shape (a convolution's (k·k·C_in + 1)·C_out, a Linear layer's
    (inputs + 1)·outputs)."""
    total = max(summary.total_params, 1)
    rows, prev = [], summary.input_shape
    for r in summary.layers:
        if r.params and r.type != "Residual":  # a block's layers have rows of their own
            rows.append(
                {
                    "layer": r.path,
                    "type": r.type,
                    "parameters": r.params,
                    "share": tr.percent(r.params / total),
                    "counted as": _count(r.type, r.args, prev, r.output_shape, r.params),
                }
            )
        prev = r.output_shape
    rest = summary.total_params - sum(r["parameters"] for r in rows)
    if rest > 0:  # the 1×1 convolutions on residual blocks' skips
        rows.append(
            {
                "layer": tr("skips"),
                "type": "Conv2d 1×1",
                "parameters": rest,
                "share": tr.percent(rest / total),
                "counted as": f"{rest:,}",
            }
        )
    return rows


def _count(kind: str, args: dict[str, Any], before: tuple[int, ...], after: tuple[int, ...], params: int) -> str:
    bias = 1 if args.get("bias", True) else 0
    if kind == "Conv2d":
        k = args.get("kernel_size", 3)
        kh, kw = (k, k) if isinstance(k, int) else k
        groups = int(args.get("groups", 1))
        c_in, c_out = before[0] // groups, after[0]
        if (kh * kw * c_in + bias) * c_out == params:
            return f"({kh}·{kw}·{c_in}{' + 1' if bias else ''})·{c_out}"
    if kind == "Linear":
        n_in, n_out = math.prod(before), after[0]
        if (n_in + bias) * n_out == params:
            return f"({n_in:,}{' + 1' if bias else ''})·{n_out}"
    if kind.startswith("BatchNorm"):
        return f"2·{after[0]} (a scale and a shift per channel)"
    return f"{params:,}"


def naive_baseline(counts: list[int]) -> tuple[float, float]:
    """What guessing scores on a split with ``counts`` images per class: chance (1/K) and always answering the
    largest class (its share)."""
    if not counts or sum(counts) == 0:
        raise ValueError("no images to score a guess on")
    return 1 / len(counts), max(counts) / sum(counts)
