"""A model exported from CNN Explorer (its name and spec: MODEL_NAME and SPEC below). Runs with torch and
torchvision only.

It trains the way the app does (same split, normalisation, optimiser, schedule, augmentation, batch order
and initialisation for the seed), so on the same images it reaches the same weights.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass  # noqa: F401 (the app's code below uses it)
from typing import Any  # noqa: F401 (the app's code below uses it)

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn  # noqa: F401 (the app's code below uses Tensor)
from torchvision import datasets

MODEL_NAME = "model"  # export: MODEL_NAME
SPEC = json.loads('{"layers": []}')  # export: SPEC
CONFIG = json.loads('{"seed": 0}')  # export: CONFIG
TV_DATASET = "MNIST"  # export: TV_DATASET
TV_OPTIONS: dict = {}  # export: TV_OPTIONS
TRANSPOSED = False  # export: TRANSPOSED


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
            stride = tuple(
                next(s for s in range(1, i + 1) if (i - 1) // s + 1 == o) for i, o in zip(in_shape[1:], out_shape[1:])
            )
            self.skip = nn.Conv2d(in_shape[0], out_shape[0], 1, stride=stride, bias=False)

    def forward(self, x):
        return self.body(x) + self.skip(x)


def build_model(seed=CONFIG["seed"]):
    """The network, initialised as the app initialises it for this seed."""
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        return nn.Sequential(
            nn.Identity(),  # export: LAYERS
        )
    finally:
        torch.random.set_rng_state(state)


# --- the app's own code for the split, statistics, augmentation and one-logit models ---
# export: APP_CODE begin (the export puts these functions' source here)
from explorer.core.augment import Augment, augment_batch  # noqa: E402
from explorer.core.data import channel_stats, stratified_split  # noqa: E402
from explorer.core.safejson import brief  # noqa: E402, F401 (Augment's messages use it)
from explorer.core.spec import output_logits_to_classes  # noqa: E402

# export: APP_CODE end


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
            opt,
            max_lr=cfg["lr"],
            total_steps=steps_per_epoch * cfg["epochs"],
            cycle_momentum=cfg["optimizer"] in ("adam", "adamw") or (cfg["optimizer"] == "sgd" and cfg["momentum"] > 0),
        )
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
            idx = perm[i * bs : (i + 1) * bs]
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
        xb = (x[i : i + 1000].to(device).float() / 255.0 - m) / s
        correct += (output_logits_to_classes(model(xb)).argmax(1).cpu() == y[i : i + 1000]).sum().item()
    model.train()
    return correct / len(y)


def load_data(data_dir="data"):
    """torchvision's dataset as uint8 (N, C, H, W) tensors and labels, as the app loads it."""
    parts = []
    for is_train in (True, False):
        ds = getattr(datasets, TV_DATASET)(data_dir, train=is_train, download=True, **TV_OPTIONS)
        x = torch.as_tensor(np.asarray(ds.data))
        parts += [(x.permute(0, 3, 1, 2) if x.ndim == 4 else x.unsqueeze(1)).to(torch.uint8), torch.as_tensor(ds.targets)]
    x_tr, y_tr, x_te, y_te = parts
    if TRANSPOSED:  # EMNIST is stored transposed
        x_tr, x_te = x_tr.transpose(2, 3), x_te.transpose(2, 3)
    return x_tr, y_tr.long(), x_te, y_te.long()


def main(data_dir="data"):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    x_tr, y_tr, x_te, y_te = load_data(data_dir)
    keep, val = stratified_split(y_tr, 0.1, seed=0)  # the app's fixed validation split
    mean, std = channel_stats(x_tr[keep])
    model = build_model()

    def report(epoch, m):
        val_acc = accuracy(m, x_tr[val], y_tr[val], mean, std, device)
        test_acc = accuracy(m, x_te, y_te, mean, std, device)
        print(f"epoch {epoch}: val accuracy {val_acc:.2%}, test accuracy {test_acc:.2%}")

    train(model, x_tr[keep], y_tr[keep], mean, std, device=device, on_epoch=report)


if __name__ == "__main__":
    print(MODEL_NAME)
    print(build_model())
    print("parameters:", sum(p.numel() for p in build_model().parameters()))
    main()
