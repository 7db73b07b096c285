"""Images from tensors: grids of samples, colour maps, kernel mosaics, attribution overlays (numpy, fast
enough to redraw live)."""

from __future__ import annotations

import math

import numpy as np
from torch import Tensor

from ..core.limits import MAX_MOSAIC_PIXELS

__all__ = [
    "image_grid",
    "colorize",
    "png_data_url",
    "upscale",
    "kernel_mosaic",
    "overlay",
    "framed",
    "as_picture",
    "feature_tile",
    "cells_read",
    "number_table",
    "channel_strip",
]


def image_grid(x: Tensor, ncols: int, pad: int = 2, scale: int = 1, background: int = 128) -> np.ndarray:
    """uint8 images ``(N, C, H, W)`` -> one uint8 array ``(rows*(H+pad), ncols*(W+pad)[, 3])`` for display."""
    if x.ndim != 4:
        raise ValueError(f"expected images (N, C, H, W), got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    rows = max(1, math.ceil(n / ncols))
    grid = np.full((rows * (h + pad) + pad, ncols * (w + pad) + pad, c), background, dtype=np.uint8)
    arr = x.permute(0, 2, 3, 1).numpy()
    for i in range(n):
        r, col = divmod(i, ncols)
        grid[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + col * (w + pad) : pad + col * (w + pad) + w] = arr[i]
    if scale > 1:
        grid = grid.repeat(scale, 0).repeat(scale, 1)
    return grid[..., 0] if c == 1 else grid


_DIVERGING = np.array(
    [[33, 102, 172], [103, 169, 207], [209, 229, 240], [247, 247, 247], [253, 219, 199], [239, 138, 98], [178, 24, 43]],
    dtype=np.float32,
)  # blue - white - red (RdBu reversed)


def colorize(a: np.ndarray | Tensor, cmap: str = "gray", vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """A 2-D array -> uint8 RGB ``(H, W, 3)``. ``diverging`` is centred on zero (white), blue < 0 < red;
    ``gray`` maps vmin..vmax to black..white."""
    a = np.asarray(a.detach().cpu() if isinstance(a, Tensor) else a, dtype=np.float32)
    if cmap == "diverging":
        m = max(abs(vmin or 0.0), abs(vmax or 0.0)) if (vmin is not None or vmax is not None) else float(np.abs(a).max())
        t = (np.clip(a / (m or 1.0), -1, 1) + 1) / 2 * (len(_DIVERGING) - 1)
        lo = np.floor(t).astype(int).clip(0, len(_DIVERGING) - 2)
        f = (t - lo)[..., None]
        return (_DIVERGING[lo] * (1 - f) + _DIVERGING[lo + 1] * f).round().astype(np.uint8)
    lo_v = float(a.min()) if vmin is None else vmin
    hi_v = float(a.max()) if vmax is None else vmax
    g = np.clip((a - lo_v) / ((hi_v - lo_v) or 1.0), 0, 1)
    return np.repeat((g * 255).round().astype(np.uint8)[..., None], 3, axis=2)


def png_data_url(img: np.ndarray) -> str:
    """A small uint8 image ``(H, W)`` or ``(H, W, 3)`` as a ``data:image/png`` URL, for inline HTML: the page
    gets it in the same message as the text around it (no extra request per image)."""
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def upscale(img: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour enlarge so the longer side is about ``size`` pixels (crisp pixels for small maps)."""
    f = max(1, size // max(img.shape[:2]))
    return img.repeat(f, 0).repeat(f, 1)


def kernel_mosaic(
    w: Tensor, scale: str = "shared", max_in: int = 16, cell: int = 40, pad: int = 3, max_out: int = 64
) -> np.ndarray:
    """Kernels ``(O, I, kh, kw)`` as one RGB image: row o = output channel, column i = input channel (with one
    input channel, rows of 8 kernels), diverging colours centred on zero; ``scale`` is "shared" (one range for
    the layer) or "per-kernel". At most ``max_out`` output and ``max_in`` input channels are drawn, and cells
    shrink so the image stays under :data:`MAX_MOSAIC_PIXELS` (a 4096-channel layer is a page, not a poster)."""
    if w.ndim != 4:
        raise ValueError(f"expected conv weights (O, I, kh, kw), got shape {tuple(w.shape)}")
    w = w[:max_out, :max_in]
    o, i, kh, kw = w.shape
    rows_, cols_ = (-(-o // 8), min(o, 8)) if i == 1 else (o, i)
    while cell > 4 and rows_ * cols_ * (cell + pad) ** 2 > MAX_MOSAIC_PIXELS:
        cell //= 2
    f = max(1, cell // max(kh, kw))
    h, wd = kh * f, kw * f
    # one input channel: wrap the kernels into rows of 8 instead of one tall column
    rows, cols = (-(-o // 8), min(o, 8)) if i == 1 else (o, i)
    out = np.full((rows * (h + pad) + pad, cols * (wd + pad) + pad, 3), 255, dtype=np.uint8)
    m = float(w.abs().max()) or 1.0
    for r in range(o):
        for c in range(i):
            k = w[r, c]
            lim = (float(k.abs().max()) or 1.0) if scale == "per-kernel" else m
            tile = upscale(colorize(k, "diverging", -lim, lim), max(h, wd))[:h, :wd]
            y, x = divmod(r, 8) if i == 1 else (r, c)
            out[pad + y * (h + pad) : pad + y * (h + pad) + h, pad + x * (wd + pad) : pad + x * (wd + pad) + wd] = tile
    return out


def overlay(gray: np.ndarray | Tensor, attr: np.ndarray | Tensor, size: int = 168, alpha: float = 0.65) -> np.ndarray:
    """An attribution map over the image it explains: ``gray (H, W)`` in 0..255 and ``attr (H, W)`` -> RGB.

    Signed maps use the diverging colours (blue against, red for); non-negative maps go from the image to red.
    """
    g = np.asarray(gray.cpu() if isinstance(gray, Tensor) else gray, dtype=np.float32)
    a = np.asarray(attr.detach().cpu() if isinstance(attr, Tensor) else attr, dtype=np.float32)
    base = np.repeat((g / 255.0 * 0.6 * 255)[..., None], 3, axis=2)
    m = float(np.abs(a).max()) or 1.0
    col = colorize(a, "diverging", -m, m).astype(np.float32)
    w = (np.abs(a) / m)[..., None] * alpha
    out = base * (1 - w) + col * w
    return upscale(out.clip(0, 255).astype(np.uint8), size)


def framed(img: Tensor, px: int) -> np.ndarray:
    """One uint8 image ``(C, H, W)`` with a grey frame (a white image shows on a white page), about ``px`` wide."""
    return upscale(image_grid(img[None], ncols=1, pad=1, background=160), px)


def as_picture(img: Tensor, px: int) -> np.ndarray:
    """One uint8 image ``(C, H, W)`` as a crisp ``(H, W)`` or ``(H, W, 3)`` array about ``px`` wide."""
    arr = img.permute(1, 2, 0).cpu().numpy()
    return upscale(arr if arr.shape[2] == 3 else arr[..., 0], px)


def feature_tile(a: Tensor, lo: float, hi: float, kernel: Tensor | None = None, size: int = 84) -> np.ndarray:
    """One feature map ``(H, W)`` in grey over ``lo..hi``, about ``size`` pixels; with ``kernel`` (``(kh, kw)``,
    the kernel that made it), that kernel in diverging colours at half the size on its left."""
    tile = upscale(colorize(a, "gray", lo, hi), size)
    if kernel is None:
        return tile
    kt = upscale(colorize(kernel, "diverging"), tile.shape[0] // 2)
    pad = np.full((tile.shape[0], kt.shape[1] + 4, 3), 255, np.uint8)
    pad[: kt.shape[0], : kt.shape[1]] = kt
    return np.concatenate([pad, tile], axis=1)


READ_COLOUR = np.array([214, 39, 40])  # the red of the cells a kernel reads


def cells_read(img: Tensor, pad: int, top: int, left: int, span: int, step: int) -> np.ndarray:
    """An image ``(H, W)`` in 0..1, zero-padded by ``pad``, in grey with the cells a kernel reads tinted red:
    rows and columns ``top``/``left`` to ``+span`` every ``step`` (the dilation) of the padded image."""
    view = colorize(np.pad(np.asarray(img.cpu(), dtype=np.float32), pad), "gray", 0, 1)
    mask = np.zeros(view.shape[:2], bool)
    mask[top : top + span : step, left : left + span : step] = True
    view[mask] = (0.5 * view[mask] + 0.5 * READ_COLOUR).astype(np.uint8)
    return view


def number_table(t: Tensor, decimals: int) -> list[list[float]]:
    """A small 2-D tensor as rows of rounded numbers, for a table."""
    return [[round(float(v), decimals) for v in row] for row in t.tolist()]


def channel_strip(maps: Tensor, n: int = 8, size: int = 56) -> np.ndarray:
    """The first ``n`` channels of ``maps (C, H, W)`` side by side, each in grey over its own range, framed white."""
    tiles = [upscale(colorize(m, "gray", float(m.min()), float(m.max())), size) for m in maps[:n]]
    return np.concatenate([np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=255) for t in tiles], axis=1)
