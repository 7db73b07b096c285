"""Export a spec (and training settings) as a standalone, runnable PyTorch script."""

from __future__ import annotations

import json
from typing import Any

from .spec import SpecError, summarize

__all__ = ["to_python"]

_TV_DATASETS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "kmnist": "KMNIST", "cifar10": "CIFAR10",
                "emnist-balanced": "EMNIST"}


def _layer_code(layer: dict[str, Any], shape: tuple[int, ...], rows: dict[str, Any], path: str, indent: str) -> str:
    t = layer["type"]
    args = {k: v for k, v in rows[path].args.items()}
    if t == "Conv2d":
        args = {"in_channels": shape[0], **args}
    elif t == "BatchNorm2d":
        args = {"num_features": shape[0], **args}
    elif t == "Linear":
        args = {"in_features": shape[-1], **args}
    elif t == "Residual":
        inner, s = [], shape
        for i, sub in enumerate(layer["layers"]):
            inner.append(_layer_code(sub, s, rows, f"{path}.body.{i}", indent + "    "))
            s = rows[f"{path}.body.{i}"].output_shape
        body = ",\n".join(inner)
        return f"{indent}Residual(nn.Sequential(\n{body},\n{indent}), in_shape={list(shape)}, out_shape={list(s)})"
    from .spec import LAYER_TYPES

    schema = LAYER_TYPES[t]
    shown = {k: v for k, v in args.items() if k not in schema or schema[k].default != v or schema[k].required}
    text = ", ".join(f"{k}={tuple(v) if isinstance(v, list) else v!r}" for k, v in shown.items())
    return f"{indent}nn.{t}({text})"


def to_python(spec: dict[str, Any], config: dict[str, Any] | None = None, dataset: str = "mnist") -> str:
    """A self-contained script: the model as ``nn.Sequential`` and a plain training loop with ``config``."""
    summary = summarize(spec)
    rows = {r.path: r for r in summary.layers}
    shape = summary.input_shape
    lines = []
    for i, layer in enumerate(spec["layers"]):
        lines.append(_layer_code(layer, shape, rows, str(i), "        "))
        shape = rows[str(i)].output_shape
    cfg = {"epochs": 3, "batch_size": 128, "optimizer": "adam", "lr": 1e-2, "momentum": 0.9, "weight_decay": 0.0,
           "seed": 0, **(config or {})}
    if dataset not in _TV_DATASETS:
        raise SpecError(f"export: no torchvision loader for dataset {dataset!r}; "
                        f"choose one of {', '.join(_TV_DATASETS)}")
    tv = _TV_DATASETS[dataset]
    split = ', split="balanced"' if tv == "EMNIST" else ""
    opt = {"sgd": f"torch.optim.SGD(model.parameters(), lr={cfg['lr']}, momentum={cfg['momentum']}, "
                  f"weight_decay={cfg['weight_decay']})",
           "adam": f"torch.optim.Adam(model.parameters(), lr={cfg['lr']}, weight_decay={cfg['weight_decay']})",
           "adamw": f"torch.optim.AdamW(model.parameters(), lr={cfg['lr']}, weight_decay={cfg['weight_decay']})",
           "adadelta": f"torch.optim.Adadelta(model.parameters(), lr={cfg['lr']}, weight_decay={cfg['weight_decay']})"}
    loss = "F.cross_entropy(out, y)" if summary.output_shape != (1,) else \
        "F.binary_cross_entropy_with_logits(out[:, 0], y.float())"
    pred = "out.argmax(1)" if summary.output_shape != (1,) else "(out[:, 0] > 0).long()"
    return f'''"""{spec.get("name", "model")}: exported from CNN Explorer. Runs with torch and torchvision only.

Spec: {json.dumps(spec)}
"""
import torch
import torch.nn.functional as F
from torch import nn
from torchvision import datasets, transforms


class Residual(nn.Module):
    """body(x) + skip(x); the skip is a 1x1 strided convolution when the shapes differ."""

    def __init__(self, body, in_shape, out_shape):
        super().__init__()
        self.body = body
        if in_shape == out_shape:
            self.skip = nn.Identity()
        elif len(in_shape) == 1:
            self.skip = nn.Linear(in_shape[0], out_shape[0], bias=False)
        else:
            stride = tuple(next(s for s in range(1, i + 1) if (i - 1) // s + 1 == o)
                           for i, o in zip(in_shape[1:], out_shape[1:]))
            self.skip = nn.Conv2d(in_shape[0], out_shape[0], 1, stride=stride, bias=False)

    def forward(self, x):
        return self.body(x) + self.skip(x)


def build_model():
    return nn.Sequential(
{",".join(chr(10) + ln for ln in lines).lstrip(chr(10))},
    )


def main(data_dir="data"):
    torch.manual_seed({cfg["seed"]})
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tf = transforms.ToTensor()
    train_set = datasets.{tv}(data_dir, train=True, download=True, transform=tf{split})
    test_set = datasets.{tv}(data_dir, train=False, download=True, transform=tf{split})
    train_loader = torch.utils.data.DataLoader(train_set, batch_size={cfg["batch_size"]}, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=1000)
    model = build_model().to(device)
    optimizer = {opt[cfg["optimizer"]]}
    for epoch in range({cfg["epochs"]}):
        model.train()
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            out = model(x)
            loss = {loss}
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in test_loader:
                out = model(x.to(device))
                correct += ({pred} == y.to(device)).sum().item()
        print(f"epoch {{epoch + 1}}: test accuracy {{correct / len(test_set):.2%}}")


if __name__ == "__main__":
    print(build_model())
    print("parameters:", sum(p.numel() for p in build_model().parameters()))
    main()
'''
