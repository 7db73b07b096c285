"""Export a model to the tools people use next: a standalone, runnable PyTorch script of a spec (and its
training settings), or an ONNX file of a model with its weights (Netron, onnxruntime, other languages)."""

from __future__ import annotations

import io
import json
import warnings
from typing import Any

import torch
from torch import nn

from .spec import SpecError, summarize

__all__ = ["to_python", "to_onnx"]

ONNX_OPSET = 17


def to_onnx(model: nn.Module, input_shape: list[int] | tuple[int, ...], dataset: dict[str, Any] | None = None) -> bytes:
    """``model`` as an ONNX file (bytes), for any batch size.

    With ``dataset`` (its ``mean``, ``std`` and ``classes``, as a checkpoint holds them) the normalisation is
    part of the graph: the input ``pixels`` is float32 ``(N, C, H, W)`` in 0..255, as an image file gives them,
    and the class names travel in the file's metadata. Without it, the input ``image`` is already normalised.
    The output ``logits`` is ``(N, K)``. ``model`` is left as it was (mode and device).
    """
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    body: nn.Module = _Normalised(model, dataset).to(device) if dataset and dataset.get("mean") else model
    name = "pixels" if body is not model else "image"
    was = model.training
    model.eval()
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():  # the TorchScript exporter's notices are not the user's business
            warnings.simplefilter("ignore")
            torch.onnx.export(body, (torch.zeros(1, *[int(s) for s in input_shape], device=device),), buf,
                              dynamo=False, input_names=[name], output_names=["logits"], opset_version=ONNX_OPSET,
                              dynamic_axes={name: {0: "batch"}, "logits": {0: "batch"}})
    except Exception as e:  # noqa: BLE001 - one sentence for the page and the CLI
        raise ValueError(f"this model cannot be exported to ONNX ({type(e).__name__}: {str(e)[:120]})") from None
    finally:
        model.train(was)
    if not dataset:
        return buf.getvalue()
    return _with_metadata(buf.getvalue(), {
        "classes": json.dumps(list(dataset.get("classes", []))), "mean": json.dumps(list(dataset.get("mean", []))),
        "std": json.dumps(list(dataset.get("std", []))),
        "input": "pixels: float32 (N, C, H, W) in 0..255" if name == "pixels" else "image: normalised (N, C, H, W)"})


class _Normalised(nn.Module):
    """Pixels 0..255 -> the dataset's normalisation -> ``model``."""

    def __init__(self, model: nn.Module, dataset: dict[str, Any]) -> None:
        super().__init__()
        c = len(dataset["mean"])
        self.model = model
        self.register_buffer("mean", torch.tensor(dataset["mean"], dtype=torch.float32).view(1, c, 1, 1))
        self.register_buffer("std", torch.tensor(dataset["std"], dtype=torch.float32).view(1, c, 1, 1))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) in 0..255 -> (N, K)
        return self.model((pixels / 255.0 - self.mean) / self.std)


def _with_metadata(data: bytes, meta: dict[str, str]) -> bytes:
    import onnx

    m = onnx.load_from_string(data)
    for k, v in meta.items():
        m.metadata_props.add(key=k, value=v)
    return m.SerializeToString()

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


def _sources() -> str:
    """The app's own code for the parts of a run a plain loop would do differently: the validation split,
    the normalisation statistics, the batched augmentation and the one-logit convention."""
    import inspect
    import textwrap

    from .data import _stats, _stratified_split
    from .safejson import brief
    from .spec import output_logits_to_classes
    from .train import Augment, augment_batch

    parts = [_stratified_split, _stats, brief, Augment, augment_batch, output_logits_to_classes]
    return "\n\n".join(textwrap.dedent(inspect.getsource(p)) for p in parts)


def to_python(spec: dict[str, Any], config: dict[str, Any] | None = None, dataset: str = "mnist") -> str:
    """A self-contained script that reproduces the app's run: the model as ``nn.Sequential`` (same
    initialisation for the same seed), the same validation split, normalisation, optimiser, schedule,
    augmentation and batch order. Given the same images, it ends with the same weights as the app."""
    from .train import TrainConfig

    summary = summarize(spec)
    rows = {r.path: r for r in summary.layers}
    shape = summary.input_shape
    lines = []
    for i, layer in enumerate(spec["layers"]):
        lines.append(_layer_code(layer, shape, rows, str(i), "        "))
        shape = rows[str(i)].output_shape
    cfg = TrainConfig.from_dict({k: v for k, v in (config or {}).items() if k in TrainConfig.__dataclass_fields__})
    cfg_json = json.dumps({k: v for k, v in cfg.to_dict().items()
                           if k not in ("device", "log_every", "snapshot_every", "eval_splits")})
    if dataset not in _TV_DATASETS:
        raise SpecError(f"export: no torchvision loader for dataset {dataset!r}; "
                        f"choose one of {', '.join(_TV_DATASETS)}")
    tv = _TV_DATASETS[dataset]
    split = ', split="balanced"' if tv == "EMNIST" else ""
    upright = "\n    x_tr, x_te = x_tr.transpose(2, 3), x_te.transpose(2, 3)  # EMNIST is stored transposed" \
        if tv == "EMNIST" else ""
    return f'''"""{spec.get("name", "model")}: exported from CNN Explorer. Runs with torch and torchvision only.

It trains the way the app does (same split, normalisation, optimiser, schedule, augmentation, batch order
and initialisation for the seed), so on the same images it reaches the same weights.

Spec: {json.dumps(spec)}
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision import datasets

CONFIG = json.loads({cfg_json!r})


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


def build_model(seed=CONFIG["seed"]):
    """The network, initialised as the app initialises it for this seed."""
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return nn.Sequential(
{",".join(chr(10) + ln for ln in lines).lstrip(chr(10))},
        )
    finally:
        torch.random.set_rng_state(state)


# --- the app's own code for the split, statistics, augmentation and one-logit models ---
{_sources()}


def make_optimizer(model, cfg):
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg["optimizer"] == "sgd":
        return torch.optim.SGD(params, lr=cfg["lr"], momentum=cfg["momentum"], weight_decay=cfg["weight_decay"])
    if cfg["optimizer"] == "adam":
        return torch.optim.Adam(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    if cfg["optimizer"] == "adamw":
        return torch.optim.AdamW(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    return torch.optim.Adadelta(params, lr=cfg["lr"], weight_decay=cfg["weight_decay"])


def train(model, x_all, y_all, mean, std, cfg=CONFIG, device="cpu", on_epoch=None):
    """Train on uint8 images (N, C, H, W) and labels (N,), as the app's trainer does."""
    aug = Augment(**cfg["augment"])
    if cfg["limit_train"]:
        x_all, y_all = x_all[: cfg["limit_train"]], y_all[: cfg["limit_train"]]
    dev = torch.device(device)
    x_all, y_all = x_all.to(dev), y_all.to(dev)
    n, bs = len(y_all), cfg["batch_size"]
    steps_per_epoch = math.ceil(n / bs)
    torch.manual_seed(cfg["seed"])
    model.to(dev).train()
    opt = make_optimizer(model, cfg)
    sched = None
    if cfg["schedule"] == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=cfg["lr"], total_steps=steps_per_epoch * cfg["epochs"],
            cycle_momentum=cfg["optimizer"] in ("adam", "adamw") or (cfg["optimizer"] == "sgd" and cfg["momentum"] > 0))
    elif cfg["schedule"] == "step":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=cfg["step_epochs"], gamma=cfg["gamma"])
    m = torch.tensor(mean, device=dev).view(1, -1, 1, 1)
    s = torch.tensor(std, device=dev).view(1, -1, 1, 1)
    scale, shift = 1.0 / (255.0 * s), m / s
    gen = torch.Generator(device="cpu").manual_seed(cfg["seed"])
    aug_gen = torch.Generator(device=dev).manual_seed(cfg["seed"]) if aug.active else None
    for epoch in range(1, cfg["epochs"] + 1):
        perm = torch.randperm(n, generator=gen).to(dev)
        for i in range(steps_per_epoch):
            idx = perm[i * bs:(i + 1) * bs]
            xb = x_all[idx].float().mul_(scale).sub_(shift)
            if aug.active:
                xb = augment_batch(xb, aug, aug_gen)
            loss = F.cross_entropy(output_logits_to_classes(model(xb)), y_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if cfg["schedule"] == "onecycle":
                sched.step()
        if cfg["schedule"] == "step":
            sched.step()
        if on_epoch is not None:
            on_epoch(epoch, model)
    return model.cpu()


@torch.no_grad()
def accuracy(model, x, y, mean, std, device="cpu"):
    model.to(device).eval()
    m = torch.tensor(mean, device=device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=device).view(1, -1, 1, 1)
    correct = 0
    for i in range(0, len(y), 1000):
        xb = (x[i:i + 1000].to(device).float() / 255.0 - m) / s
        correct += (output_logits_to_classes(model(xb)).argmax(1).cpu() == y[i:i + 1000]).sum().item()
    model.train()
    return correct / len(y)


def load_data(data_dir="data"):
    """torchvision's {tv} as uint8 (N, C, H, W) tensors and labels, as the app loads it."""
    parts = []
    for is_train in (True, False):
        ds = datasets.{tv}(data_dir, train=is_train, download=True{split})
        x = torch.as_tensor(np.asarray(ds.data))
        parts += [(x.permute(0, 3, 1, 2) if x.ndim == 4 else x.unsqueeze(1)).to(torch.uint8),
                  torch.as_tensor(ds.targets)]
    x_tr, y_tr, x_te, y_te = parts{upright}
    return x_tr, y_tr.long(), x_te, y_te.long()


def main(data_dir="data"):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    x_tr, y_tr, x_te, y_te = load_data(data_dir)
    keep, val = _stratified_split(y_tr, 0.1, seed=0)  # the app's fixed validation split
    mean, std = _stats(x_tr[keep])
    model = build_model()

    def report(epoch, m):
        val_acc = accuracy(m, x_tr[val], y_tr[val], mean, std, device)
        test_acc = accuracy(m, x_te, y_te, mean, std, device)
        print(f"epoch {{epoch}}: val accuracy {{val_acc:.2%}}, test accuracy {{test_acc:.2%}}")

    train(model, x_tr[keep], y_tr[keep], mean, std, device=device, on_epoch=report)


if __name__ == "__main__":
    print(build_model())
    print("parameters:", sum(p.numel() for p in build_model().parameters()))
    main()
'''
