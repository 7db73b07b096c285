"""Augmentation: random per-image transforms done in one batched affine warp on the training device, and the
ranges each setting may take (the Train page's widgets read the same ``AUGMENT_LIMITS``)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import Tensor

from .safejson import brief

__all__ = ["Augment", "augment_batch", "augment_preview", "AUGMENT_LIMITS", "augment_active"]

# One set of ranges for every way in: the Train and Augmentation pages' widgets, lesson files, the CLI, the library.
AUGMENT_LIMITS: dict[str, tuple[float, float]] = {
    "rotation": (0, 180),
    "shift": (0, 0.5),
    "scale": (0.3, 1.0),
    "shear": (0, 45),
    "brightness": (0, 1),
    "contrast": (0, 1),
}


@dataclass
class Augment:
    """Random per-image transforms, done in one batched affine warp on the training device.

    rotation, shear: max degrees either way; shift: max fraction of the side; scale: the smallest
    zoom factor of a random crop (1.0 = off); flip: random horizontal flips; brightness/contrast:
    colour jitter strength (0 = off).
    """

    rotation: float = 0.0
    shift: float = 0.0
    scale: float = 1.0
    shear: float = 0.0
    flip: bool = False
    brightness: float = 0.0
    contrast: float = 0.0

    @property
    def active(self) -> bool:
        return bool(
            self.rotation or self.shift or self.scale < 1.0 or self.shear or self.flip or self.brightness or self.contrast
        )

    def validate(self) -> None:
        if not isinstance(self.flip, bool):
            raise ValueError(f"augmentation flip must be true or false, got {brief(self.flip)}")
        for name, (lo, hi) in AUGMENT_LIMITS.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
                raise ValueError(f"augmentation {name} must be between {lo} and {hi}, got {v!r}")


def augment_batch(x: Tensor, aug: Augment, generator: torch.Generator | None = None) -> Tensor:
    """Apply random affine transforms and colour jitter to a float batch ``(B, C, H, W)``.

    Empty space is filled with the batch's minimum (the normalised black), as torchvision does with 0.
    """
    if not aug.active:
        return x
    b, dev = x.shape[0], x.device

    def uniform(lo: float, hi: float) -> Tensor:
        return torch.rand(b, device=dev, generator=generator) * (hi - lo) + lo

    if aug.rotation or aug.shift or aug.scale < 1.0 or aug.shear or aug.flip:
        ang = torch.deg2rad(uniform(-aug.rotation, aug.rotation))
        sh = torch.tan(torch.deg2rad(uniform(-aug.shear, aug.shear)))
        zoom = uniform(aug.scale, 1.0)  # < 1: sample a smaller window, i.e. zoom in (a random crop)
        flip = (
            torch.where(torch.rand(b, device=dev, generator=generator) < 0.5, -1.0, 1.0)
            if aug.flip
            else torch.ones(b, device=dev)
        )
        cos, sin = torch.cos(ang) * zoom, torch.sin(ang) * zoom
        theta = torch.zeros(b, 2, 3, device=dev)
        theta[:, 0, 0], theta[:, 0, 1] = cos * flip, -sin + cos * sh
        theta[:, 1, 0], theta[:, 1, 1] = sin * flip, cos + sin * sh
        theta[:, 0, 2] = uniform(-2 * aug.shift, 2 * aug.shift)  # grid units: the side is 2 wide
        theta[:, 1, 2] = uniform(-2 * aug.shift, 2 * aug.shift)
        fill = x.amin(dim=(1, 2, 3), keepdim=True)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + fill
    if aug.brightness or aug.contrast:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        c = uniform(1 - aug.contrast, 1 + aug.contrast).view(-1, 1, 1, 1)
        br = uniform(-aug.brightness, aug.brightness).view(-1, 1, 1, 1)
        x = (x - mean) * c + mean + br
    return x


def augment_preview(
    x_u8: Tensor,
    aug: Augment,
    mean: list[float] | tuple[float, ...],
    std: list[float] | tuple[float, ...],
    draws: int = 4,
    seed: int = 0,
) -> Tensor:
    """The images ``x_u8 (N, C, H, W)`` followed by ``draws`` random draws of ``aug`` on them, as one uint8 batch
    ``((1 + draws) N, C, H, W)``: what the trainer would feed the model (augmented in normalised space, as
    training does), turned back into pixels. The same ``seed`` gives the same draws."""
    gen = torch.Generator().manual_seed(seed)
    m = torch.tensor(mean).view(1, -1, 1, 1)
    s = torch.tensor(std).view(1, -1, 1, 1)
    xn = (x_u8.float() / 255.0 - m) / s
    rows = [x_u8]
    for _ in range(draws):
        out = augment_batch(xn, aug, gen) * s + m
        rows.append((out.clamp(0, 1) * 255).round().to(torch.uint8))
    return torch.cat(rows)


def augment_active(settings: dict | None) -> bool:
    """Whether a run's augmentation settings (its config's ``augment``) change the images at all."""
    known = {f.name for f in fields(Augment)}
    return Augment(**{k: v for k, v in (settings or {}).items() if k in known}).active
