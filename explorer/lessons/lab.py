"""The convolution lab: hand-made kernels, Gabor banks, one output pixel explained, output sizes."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..core.limits import MAX_KERNEL_SIDE
from ..i18n import EN, Refusal, Translator, said

__all__ = [
    "KERNELS",
    "kernel",
    "gabor",
    "gabor_bank",
    "stripes_run",
    "convolve",
    "ExplainedPixel",
    "explain_pixel",
    "output_size",
    "pool",
    "kernel_from_table",
    "unit_gray",
]


def _line(kind: str, n: int = 5) -> Tensor:
    """Seed 003's line detectors: +1 on the line, the rest negative so the kernel sums to zero."""
    k = torch.full((n, n), -1.0 / (n - 1))
    idx = torch.arange(n)
    if kind == "vertical":
        k[:, n // 2] = 1.0
    elif kind == "horizontal":
        k[n // 2, :] = 1.0
    elif kind == "diagonal down":
        k[idx, idx] = 1.0
    else:  # diagonal up
        k[idx, n - 1 - idx] = 1.0
    return k


KERNELS: dict[str, Tensor] = {
    "identity": torch.tensor([[0.0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    "box blur": torch.full((3, 3), 1 / 9),
    "gaussian blur": torch.outer(torch.tensor([1.0, 2, 1]), torch.tensor([1.0, 2, 1])) / 16,
    "sharpen": torch.tensor([[0.0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "sobel x": torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "sobel y": torch.tensor([[-1.0, -2, -1], [0, 0, 0], [1, 2, 1]]),
    "prewitt x": torch.tensor([[-1.0, 0, 1], [-1, 0, 1], [-1, 0, 1]]),
    "prewitt y": torch.tensor([[-1.0, -1, -1], [0, 0, 0], [1, 1, 1]]),
    "laplacian": torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]),
    "vertical lines": _line("vertical"),
    "horizontal lines": _line("horizontal"),
    "diagonal down": _line("diagonal down"),
    "diagonal up": _line("diagonal up"),
}


def kernel(name: str) -> Tensor:
    """A copy of the named hand-made kernel ``(k, k)``."""
    if name not in KERNELS:
        raise ValueError(f"unknown kernel {name!r}; kernels: {', '.join(KERNELS)}")
    return KERNELS[name].clone()


def gabor(
    size: int = 7, wavelength: float = 4.0, theta_deg: float = 0.0, sigma: float = 2.0, gamma: float = 0.5, psi: float = 0.0
) -> Tensor:
    """A Gabor kernel ``(size, size)``: a sinusoid of ``wavelength`` px at angle ``theta`` under a Gaussian
    envelope of ``sigma`` px (aspect ``gamma``), made zero-mean so flat regions give zero."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"size must be an odd positive integer, got {size}")
    if wavelength <= 0 or sigma <= 0:
        raise ValueError("wavelength and sigma must be positive")
    r = torch.arange(size, dtype=torch.float32) - size // 2
    y, x = torch.meshgrid(r, r, indexing="ij")
    t = math.radians(theta_deg)
    xr = x * math.cos(t) + y * math.sin(t)
    yr = -x * math.sin(t) + y * math.cos(t)
    g = torch.exp(-(xr**2 + (gamma * yr) ** 2) / (2 * sigma**2)) * torch.cos(2 * math.pi * xr / wavelength + psi)
    return g - g.mean()


def stripes_run(theta_deg: float, tr: Translator = EN) -> str:
    """Which way the stripes of :func:`gabor` at ``theta_deg`` run, in words. The sinusoid varies along
    ``theta``, so its stripes run at ``theta + 90°``: at 0° they are vertical, and the filter answers vertical
    strokes most (strokes *along* its stripes)."""
    along = (theta_deg + 90.0) % 180.0
    if abs(along - 90.0) < 1e-6:
        return tr("vertical stripes")
    if along < 1e-6:
        return tr("horizontal stripes")
    return tr("stripes slanting at {angle}°", angle=f"{along:.0f}")


def gabor_bank(n_angles: int = 4, size: int = 7, wavelength: float = 4.0, sigma: float = 2.0) -> list[tuple[float, Tensor]]:
    """Gabor kernels at ``n_angles`` evenly spaced orientations: ``[(angle in degrees, kernel)]``."""
    return [(180.0 * i / n_angles, gabor(size, wavelength, 180.0 * i / n_angles, sigma)) for i in range(n_angles)]


def convolve(image: Tensor, k: Tensor, padding: int = 0, stride: int = 1, dilation: int = 1) -> Tensor:
    """Cross-correlate (what ``nn.Conv2d`` does) a 2-D image ``(H, W)`` with a 2-D kernel: ``(H', W')``."""
    if image.ndim != 2 or k.ndim != 2:
        raise ValueError(f"expected a 2-D image and a 2-D kernel, got {tuple(image.shape)} and {tuple(k.shape)}")
    if (
        output_size(image.shape[0], k.shape[0], padding, stride, dilation) < 1
        or output_size(image.shape[1], k.shape[1], padding, stride, dilation) < 1
    ):
        raise Refusal(said("the (dilated) kernel does not fit in the padded image"))
    return F.conv2d(image[None, None].float(), k[None, None].float(), padding=padding, stride=stride, dilation=dilation)[
        0, 0
    ]


def output_size(n: int, k: int, padding: int = 0, stride: int = 1, dilation: int = 1) -> int:
    """The formula: floor((n + 2p - d(k - 1) - 1) / s) + 1."""
    return (n + 2 * padding - dilation * (k - 1) - 1) // stride + 1


@dataclass
class ExplainedPixel:
    """One output value of a convolution, taken apart: ``patch * kernel`` summed is ``value``."""

    row: int
    col: int
    patch: Tensor  # (k, k): the input values the kernel sees (zeros where it overlaps the padding)
    kernel: Tensor  # (k, k)
    products: Tensor  # (k, k)
    value: float  # products.sum()


def explain_pixel(
    image: Tensor, k: Tensor, row: int, col: int, padding: int = 0, stride: int = 1, dilation: int = 1
) -> ExplainedPixel:
    """The patch, the element-wise products and their sum behind output position ``(row, col)``."""
    oh = output_size(image.shape[0], k.shape[0], padding, stride, dilation)
    ow = output_size(image.shape[1], k.shape[1], padding, stride, dilation)
    if not (0 <= row < oh and 0 <= col < ow):
        raise ValueError(f"output position ({row}, {col}) is outside the {oh}x{ow} output")
    padded = F.pad(image.float(), (padding, padding, padding, padding))
    r0, c0 = row * stride, col * stride
    kh, kw = k.shape
    patch = padded[r0 : r0 + dilation * (kh - 1) + 1 : dilation, c0 : c0 + dilation * (kw - 1) + 1 : dilation]
    products = patch * k.float()
    return ExplainedPixel(row, col, patch, k.float(), products, float(products.sum()))


def pool(image: Tensor, kind: str = "max", size: int = 2, stride: int | None = None) -> Tensor:
    """Max or average pooling of a 2-D map ``(H, W)``."""
    if kind not in ("max", "avg"):
        raise ValueError(f"kind must be 'max' or 'avg', got {kind!r}")
    fn = F.max_pool2d if kind == "max" else F.avg_pool2d
    return fn(image[None, None].float(), size, stride or size)[0, 0]


def kernel_from_table(rows: object) -> Tensor:
    """A kernel typed into a table (rows of numbers; an emptied cell counts as 0) as a float ``(k, k)`` tensor,
    or a sentence when the table is not a small square of numbers."""
    try:
        values = [[0.0 if v is None or v == "" else float(v) for v in row] for row in rows]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise Refusal(said("every cell of the kernel must be a number")) from None
    k = len(values)
    if not k or any(len(r) != k for r in values) or k > MAX_KERNEL_SIDE:
        raise Refusal(said("a kernel is a square of 1×1 to {n}×{n} numbers", n=MAX_KERNEL_SIDE))
    t = torch.tensor(values, dtype=torch.float32)
    if not torch.isfinite(t).all():
        raise Refusal(said("every cell of the kernel must be a finite number"))
    return t


def unit_gray(x_u8: Tensor) -> Tensor:
    """A uint8 image ``(C, H, W)`` or ``(H, W)`` as one grey ``(H, W)`` plane in 0..1 (channels averaged)."""
    x = x_u8.float() / 255.0
    return x.mean(0) if x.ndim == 3 else x
