"""Named architectures: the seed lessons' networks and the app's ``default``."""

from __future__ import annotations

import copy
from typing import Any

from ..i18n import N_

__all__ = ["PRESETS", "get_preset", "preset_names", "preset_description"]


def _conv(out: int, k: int = 3, **kw: Any) -> dict[str, Any]:
    return {"type": "Conv2d", "out_channels": out, "kernel_size": k, **kw}


def _bn_relu() -> list[dict[str, Any]]:
    return [{"type": "BatchNorm2d"}, {"type": "ReLU"}]


RELU: dict[str, Any] = {"type": "ReLU"}
POOL2: dict[str, Any] = {"type": "MaxPool2d", "kernel_size": 2}
FLAT: dict[str, Any] = {"type": "Flatten"}


def _linear(n: int) -> dict[str, Any]:
    return {"type": "Linear", "out_features": n}


def _preact_block(c_in: int, c_out: int, subsample: bool) -> dict[str, Any]:
    """Seed 002's pre-activation ResNet block: BN-ReLU-Conv twice, added to the (projected) input."""
    s = 2 if subsample else 1
    return {
        "type": "Residual",
        "layers": [
            {"type": "BatchNorm2d"},
            {"type": "ReLU"},
            _conv(c_out, 3, stride=s, padding=1, bias=False),
            {"type": "BatchNorm2d"},
            {"type": "ReLU"},
            _conv(c_out, 3, padding=1, bias=False),
        ],
    }


def _preact_resnet(blocks: tuple[int, ...] = (1, 1, 1), hidden: tuple[int, ...] = (16, 32, 64)) -> list[dict[str, Any]]:
    layers: list[dict[str, Any]] = [_conv(hidden[0], 3, padding=1, bias=False)]
    c = hidden[0]
    for g, (n, h) in enumerate(zip(blocks, hidden)):
        for b in range(n):
            layers.append(_preact_block(c, h, subsample=(b == 0 and g > 0)))
            c = h
    return layers + [{"type": "BatchNorm2d"}, RELU, {"type": "AdaptiveAvgPool2d", "output_size": 1}, FLAT, _linear(10)]


_MNIST_004 = [_conv(32), RELU, POOL2, _conv(64), RELU, POOL2, _conv(64), RELU]

# name -> (description, spec)
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "default": (
        N_(
            "Two 5x5 conv blocks (8 and 16 kernels, each pooled, then batch norm and ReLU), a 64-unit dense layer: "
            "about 99% on the full MNIST after 3 epochs; about 97% on the 5,000 embedded digits"
        ),
        {
            "input_shape": [1, 28, 28],
            "num_classes": 10,
            "layers": [
                _conv(8, 5),
                POOL2,
                *_bn_relu(),
                _conv(16, 5),
                POOL2,
                *_bn_relu(),
                FLAT,
                _linear(64),
                RELU,
                _linear(10),
            ],
        },
    ),
    "linear": (
        N_("The lecture's first notebook: a linear classifier on the raw pixels (EMNIST balanced, 47 classes)"),
        {"input_shape": [1, 28, 28], "num_classes": 47, "layers": [FLAT, _linear(47)]},
    ),
    "one-conv": (
        N_("The lecture's first notebook: one conv block, 4 kernels (conv, batch norm, ReLU, max pool) then linear"),
        {
            "input_shape": [1, 28, 28],
            "num_classes": 47,
            "layers": [_conv(4, bias=False), *_bn_relu(), POOL2, FLAT, _linear(47)],
        },
    ),
    "wider": (
        N_("The lecture's first notebook: the one-conv block with 8 kernels instead of 4"),
        {
            "input_shape": [1, 28, 28],
            "num_classes": 47,
            "layers": [_conv(8, bias=False), *_bn_relu(), POOL2, FLAT, _linear(47)],
        },
    ),
    "deeper": (
        N_("The lecture's first notebook: three 4-kernel conv layers stacked before the pool"),
        {
            "input_shape": [1, 28, 28],
            "num_classes": 47,
            "layers": [
                _conv(4, bias=False),
                *_bn_relu(),
                _conv(4, bias=False),
                *_bn_relu(),
                _conv(4, bias=False),
                *_bn_relu(),
                POOL2,
                FLAT,
                _linear(47),
            ],
        },
    ),
    "mnist-features": (
        N_("The lecture's fifth notebook: the three-conv feature extractor alone (no classifier) for summaries"),
        {"input_shape": [1, 28, 28], "layers": list(_MNIST_004)},
    ),
    "mnist-flatten": (
        N_("The lecture's fifth notebook: the feature extractor, flattened into a dense layer (many weights)"),
        {"input_shape": [1, 28, 28], "num_classes": 10, "layers": [*_MNIST_004, FLAT, _linear(64), RELU, _linear(10)]},
    ),
    "mnist-gap": (
        N_("The lecture's fifth notebook: the feature extractor with global average pooling instead of flatten"),
        {
            "input_shape": [1, 28, 28],
            "num_classes": 10,
            "layers": [*_MNIST_004, {"type": "AdaptiveAvgPool2d", "output_size": 1}, FLAT, _linear(10)],
        },
    ),
    "cats-vs-dogs": (
        N_("The lecture's fifth notebook: four conv blocks on 150x150 colour images, global pooling, dropout, one logit"),
        {
            "input_shape": [3, 150, 150],
            "num_classes": 2,
            "layers": [
                _conv(32),
                RELU,
                POOL2,
                _conv(64),
                RELU,
                POOL2,
                _conv(128),
                RELU,
                POOL2,
                _conv(128),
                RELU,
                POOL2,
                {"type": "AdaptiveAvgPool2d", "output_size": 1},
                FLAT,
                _linear(512),
                RELU,
                {"type": "Dropout", "p": 0.5},
                _linear(1),
            ],
        },
    ),
    "cifar-cnn": (
        N_("The lecture's second notebook: a small CIFAR-10 CNN (two conv blocks, two dense layers) to watch overfitting"),
        {
            "input_shape": [3, 32, 32],
            "num_classes": 10,
            "layers": [
                _conv(32, 3, padding=1),
                RELU,
                POOL2,
                _conv(64, 3, padding=1),
                RELU,
                POOL2,
                FLAT,
                _linear(128),
                RELU,
                _linear(10),
            ],
        },
    ),
    "preact-resnet": (
        N_("The lecture's third notebook: a small pre-activation ResNet for CIFAR-10 (three groups, 16/32/64 channels)"),
        {"input_shape": [3, 32, 32], "num_classes": 10, "layers": _preact_resnet()},
    ),
}


def preset_names() -> list[str]:
    """Names of all presets, ``default`` first."""
    return list(PRESETS)


def preset_description(name: str) -> str:
    """One line on what the preset is and which lesson it comes from."""
    _check(name)
    return PRESETS[name][0]


def _check(name: str) -> None:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")


def get_preset(name: str, num_classes: int | None = None, input_shape: list[int] | None = None) -> dict[str, Any]:
    """A fresh copy of preset ``name``; optionally re-targeted to another class count or input shape."""
    _check(name)
    spec = copy.deepcopy(PRESETS[name][1])
    spec["name"] = name
    if input_shape is not None:
        spec["input_shape"] = list(input_shape)
    if num_classes is not None and "num_classes" in spec and spec["num_classes"] != num_classes:
        last = spec["layers"][-1]
        if last.get("type") == "Linear":
            last["out_features"] = 1 if (num_classes == 2 and last["out_features"] == 1) else num_classes
        spec["num_classes"] = num_classes
    return spec
