"""Turning a user's image (a drawing, a photo, an upload) into what a model expects."""

from __future__ import annotations

import io
import stat
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..i18n import Refusal, Said, said
from .limits import MAX_IMAGE_FILE_BYTES, MAX_IMAGE_PIXELS

__all__ = ["EmptyImageError", "mnist_style", "prepare_image", "load_image_file", "decode_image", "occlude"]


class EmptyImageError(Refusal):
    """The image has no ink: nothing to classify."""


def _to_gray(img: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 3) or (H, W, 4) in 0..255 -> float (H, W) in 0..1 with ink bright on dark."""
    a = np.asarray(img, dtype=np.float32)
    if a.ndim == 3 and a.shape[2] == 4:  # a canvas: strokes are opaque, the rest transparent
        alpha = a[..., 3] / 255.0
        rgb = a[..., :3].mean(axis=2) / 255.0
        if alpha.min() < 0.99:  # transparent background: ink is where alpha is, brightness as drawn
            lum = rgb * alpha
            ink = rgb[alpha > 0.5]
            return (1.0 - lum) * alpha if ink.size and ink.mean() < 0.5 else lum
        a = a[..., :3]
    if a.ndim == 3:
        a = a.mean(axis=2)
    if a.ndim != 2:
        raise ValueError(f"expected an image (H, W[, C]), got shape {a.shape}")
    g = a / 255.0 if a.max() > 1.0 else a
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    return 1.0 - g if border.mean() > 0.5 else g  # dark ink on light paper -> invert


def mnist_style(img: np.ndarray, size: int = 28, box: int = 20, threshold: float = 0.1) -> Tensor:
    """Prepare a digit the way MNIST's were: uint8 ``(1, size, size)``.

    Crop to the ink, scale the longer side to ``box`` px keeping the aspect (anti-aliased), and
    place it so its centre of mass is at the centre. Raises :class:`EmptyImageError` with no ink.
    """
    g = _to_gray(img)
    ys, xs = np.nonzero(g > threshold * max(g.max(), 1e-6))
    if g.max() < 0.05 or len(ys) == 0:
        raise EmptyImageError(said("the image is empty: draw a digit first"))
    crop = g[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape
    scale = box / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    t = torch.from_numpy(np.ascontiguousarray(crop)).float()[None, None]
    small = F.interpolate(t, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)[0, 0]
    small = small.clamp(0, 1)
    total = small.sum()
    cy = float((small.sum(1) * torch.arange(nh)).sum() / total) if total > 0 else (nh - 1) / 2
    cx = float((small.sum(0) * torch.arange(nw)).sum() / total) if total > 0 else (nw - 1) / 2
    out = torch.zeros(size, size)
    oy, ox = int(round(size / 2 - cy)), int(round(size / 2 - cx))  # MNIST: centre of mass at (14, 14)
    oy, ox = min(max(oy, 0), size - nh), min(max(ox, 0), size - nw)
    out[oy : oy + nh, ox : ox + nw] = small
    peak = out.max()
    out = out / peak if peak > 0 else out
    return (out * 255).round().to(torch.uint8)[None]


def prepare_image(img: np.ndarray, input_shape: list[int] | tuple[int, ...], digit: bool = True) -> Tensor:
    """Any image -> uint8 ``(C, H, W)`` for a model with ``input_shape``.

    One-channel square models get MNIST-style centring (``digit=True``); others a plain resize.
    """
    c, h, w = input_shape
    a = np.asarray(img)
    if c == 1 and digit and h == w:
        return mnist_style(a, size=h, box=round(h * 20 / 28))
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    a = a[..., :3].astype(np.float32)
    t = torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None]
    t = F.interpolate(t, size=(h, w), mode="bilinear", antialias=True, align_corners=False)[0]
    if c == 1:
        t = t.mean(0, keepdim=True)
    elif c != 3:
        raise ValueError(f"cannot prepare an image for a model with {c} input channels")
    return t.clamp(0, 255).round().to(torch.uint8)


def _read_regular_file(p: Path, what: str | Said) -> bytes:
    """The bytes of ``p`` if it is a regular file within :data:`MAX_IMAGE_FILE_BYTES`; ValueError otherwise."""
    info = p.stat()
    if not stat.S_ISREG(info.st_mode):
        kind = said("a folder") if stat.S_ISDIR(info.st_mode) else said("not a regular file (a device, a pipe or a socket)")
        raise Refusal(said("{what} is {kind}", what=what, kind=kind))
    if info.st_size > MAX_IMAGE_FILE_BYTES:
        raise Refusal(
            said(
                "{what} is {mb} MB, over the {most} MB limit",
                what=what,
                mb=f"{info.st_size / 2**20:.0f}",
                most=MAX_IMAGE_FILE_BYTES // 2**20,
            )
        )
    with p.open("rb") as f:
        return f.read(MAX_IMAGE_FILE_BYTES + 1)  # never more, even if the file grew since stat


def decode_image(
    data: bytes, what: str | Said = "image", max_pixels: int = MAX_IMAGE_PIXELS, budget: list[int] | None = None
):
    """Decode image bytes into a PIL image in mode L, RGB or RGBA, upright and 8-bit; ValueError if not.

    The size is checked from the header before any pixel is decoded (``max_pixels``; ``budget`` is a one-item
    list of pixels left for a whole upload, decreased here). Phone photos are turned upright by their EXIF
    orientation; 16-bit and float images are scaled to 0..255, not clipped.
    """
    from PIL import Image, ImageOps

    try:
        with warnings.catch_warnings():  # PIL's own warning on large images: our limit below says it in one sentence
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
        _check_pixels(im.size, what, max_pixels, budget)
        w, h = im.size
        if im.format == "JPEG" and w * h > 4_000_000:
            im.draft(im.mode, (1024, 1024))  # big photos: the decoder shrinks them (to >= 1024 px) as it reads
        im.load()
        im = _eight_bit(ImageOps.exif_transpose(im))
        return im
    except ValueError:
        raise
    except Exception as e:  # noqa: BLE001 - PIL raises OSError, DecompressionBombError, SyntaxError, ...
        if type(e).__name__ == "DecompressionBombError":
            raise Refusal(
                said("{what} is too large to decode safely (over the {most}-pixel limit)", what=what, most=f"{max_pixels:,}")
            ) from None
        raise Refusal(
            said("{what} is not an image this app can read (PNG, JPEG, BMP, GIF, WebP or TIFF)", what=what)
        ) from None


def _check_pixels(size: tuple[int, int], what: str | Said, max_pixels: int, budget: list[int] | None) -> None:
    """Refuse an image by its header's size: over ``max_pixels``, or over what is left of the upload's ``budget``
    (decreased here)."""
    w, h = size
    if w * h > max_pixels:
        raise Refusal(
            said("{what} is {size} pixels, over the {most}-pixel limit", what=what, size=f"{w}x{h}", most=f"{max_pixels:,}")
        )
    if budget is not None:
        if w * h > budget[0]:
            raise Refusal(said("{what}: the images together hold too many pixels (over the limit of the upload)", what=what))
        budget[0] -= w * h


def _eight_bit(im: Any) -> Any:
    """A decoded image in mode L, RGB or RGBA: 16-bit and float images scaled to 0..255 (not clipped)."""
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        if im.mode == "F" and np.isfinite(a).all() and a.max(initial=0) <= 1.0:
            a = a * 255.0
        elif a.max(initial=0) > 255:
            a = a / (257.0 if a.max() <= 65535 else a.max() / 255.0)
        im = Image.fromarray(np.clip(np.nan_to_num(a), 0, 255).round().astype(np.uint8), "L")
    if im.mode not in ("L", "RGB", "RGBA"):
        im = im.convert(
            "RGBA" if im.mode in ("LA", "P", "PA") or "transparency" in im.info else "L" if im.mode == "1" else "RGB"
        )
    return im


def load_image_file(src: str | Path | bytes, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Read an image file (or bytes) into a uint8 array ``(H, W[, 3|4])``, upright; ValueError if unreadable.

    A path must name a regular file of at most :data:`MAX_IMAGE_FILE_BYTES`: a device (``/dev/zero``), a pipe
    or a folder is refused before anything is read."""
    name = "" if isinstance(src, bytes) else Path(src).name
    what = (
        said("the image")
        if isinstance(src, bytes)
        else said("image {name}", name=name if len(name) <= 60 else name[:57] + "...")
    )
    try:
        data = src if isinstance(src, bytes) else _read_regular_file(Path(src), what)
    except OSError as e:
        raise Refusal(said("cannot read {what}: {error}", what=what, error=e.strerror or type(e).__name__)) from None
    if len(data) > MAX_IMAGE_FILE_BYTES:
        raise Refusal(
            said(
                "{what} is {mb} MB, over the {most} MB limit",
                what=what,
                mb=f"{len(data) / 2**20:.0f}",
                most=MAX_IMAGE_FILE_BYTES // 2**20,
            )
        )
    return np.asarray(decode_image(data, what, max_pixels))


def occlude(x_u8: Tensor, top: int, left: int, size: int) -> Tensor:
    """A copy of the image ``x_u8 (C, H, W)`` with a black ``size``×``size`` square at ``(top, left)``."""
    out = x_u8.clone()
    out[:, top : top + size, left : left + size] = 0
    return out
