"""A dataset a user gives as a zip of class folders (ImageFolder layout: ``[split/]class/image``, under any
number of wrapper folders). The zip is checked before anything is read (its count, declared sizes, ratios,
methods, depth) and its images' decoded size before any is decoded, against the server's budget."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..i18n import said, said_of
from .budget import budget
from .data import DataError, Dataset, assemble, stratified_split
from .limits import MAX_IMAGES, MAX_UNZIPPED_BYTES, MAX_ZIP_DEPTH, MAX_ZIP_PIXELS, MAX_ZIP_RATIO
from .preprocess import MAX_IMAGE_PIXELS, decode_image
from .uploads import check_class_count, read_upload

__all__ = ["load_image_zip"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def _open_zip(data: bytes, what: str) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """Open a zip and check it before reading anything: count, declared sizes, ratios, methods, depth."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, UnicodeDecodeError, ValueError, NotImplementedError, EOFError, OSError):
        raise DataError(said("{what}: not a zip file this app can read", what=what)) from None
    if len(infos) > MAX_IMAGES:
        raise DataError(
            said("{what}: {n} files, more than the {most} allowed", what=what, n=f"{len(infos):,}", most=f"{MAX_IMAGES:,}")
        )
    total = sum(i.file_size for i in infos)
    if total > MAX_UNZIPPED_BYTES:
        raise DataError(
            said(
                "{what}: unpacks to {mb} MB, over the {most} MB limit",
                what=what,
                mb=f"{total / 2**20:,.0f}",
                most=MAX_UNZIPPED_BYTES // 2**20,
            )
        )
    for i in infos:
        if i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise DataError(
                said(
                    "{what}: {file} is compressed with a method this app does not read (use an ordinary "
                    "zip: stored or deflate)",
                    what=what,
                    file=_safe_name(i.filename),
                )
            )
        if i.file_size > 1_000_000 and i.file_size > MAX_ZIP_RATIO * max(i.compress_size, 1):
            raise DataError(
                said(
                    "{what}: {file} expands {n}x; refusing a possible zip bomb",
                    what=what,
                    file=_safe_name(i.filename),
                    n=i.file_size // max(i.compress_size, 1),
                )
            )
        if i.filename.count("/") > MAX_ZIP_DEPTH:
            raise DataError(
                said(
                    "{what}: {file} lies more than {n} folders deep", what=what, file=_safe_name(i.filename), n=MAX_ZIP_DEPTH
                )
            )
    return zf, infos


def _safe_name(name: str) -> str:
    """A zip member's name for a message: printable, and not endless."""
    clean = "".join(c if c.isprintable() else "?" for c in name)
    return clean if len(clean) <= 80 else "…" + clean[-79:]


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, what: str) -> bytes:
    """A member's bytes, read in bounded chunks: one that inflates past its declared size is refused."""
    out = bytearray()
    try:
        with zf.open(info) as f:
            while chunk := f.read(1 << 20):
                out += chunk
                if len(out) > info.file_size:
                    raise DataError(
                        said(
                            "{what}: {file} is larger than the zip says; refusing it",
                            what=what,
                            file=_safe_name(info.filename),
                        )
                    )
    except DataError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, RuntimeError) as e:
        raise DataError(
            said("{what}: {file} cannot be unpacked ({error})", what=what, file=_safe_name(info.filename), error=e)
        ) from None
    return bytes(out)


def _class_folders(names: list[str]) -> dict[str, list[str]]:
    """Image paths grouped by class folder: ``[split/]class/file`` under any number of wrapper folders."""
    keep = [
        n
        for n in names
        if n.lower().endswith(IMAGE_SUFFIXES) and "__MACOSX" not in n and not n.split("/")[-1].startswith(".")
    ]
    parts = [n.split("/") for n in keep]
    if not parts:
        return {}
    strip = 0  # wrapper folders shared by every path (each path keeps a folder and a file), found in one pass
    shortest = min(len(p) for p in parts)
    while strip < shortest - 2 and len({p[strip] for p in parts}) == 1:
        strip += 1
    groups: dict[str, list[str]] = {}
    for p, full in zip(parts, keep):
        p = p[strip:]
        if len(p) >= 2:
            groups.setdefault("/".join(p[:-1]), []).append(full)
    return groups


def _check_decoded_size(n: int, size: int, name: str) -> None:
    """Refuse, before any image is decoded, a zip whose images would take more memory than the server's budget
    once decoded at ``size`` (counted in colour: each is decoded as RGB before the colour mode is chosen)."""
    need, most = n * size * size * 3, budget().dataset_bytes
    if need > most:
        fits = next((s for s in (128, 96, 64, 48, 32, 28, 16, 8) if s < size and n * s * s * 3 <= most), None)
        hint = said("an image size of {n} px would fit", n=fits) if fits else said("fewer images would fit")
        raise DataError(
            said(
                "{what}: {n} images of {size}×{size} would take {mb} MB once decoded; one dataset may "
                "take at most {most} MB here: {hint}",
                what=name,
                n=f"{n:,}",
                size=size,
                mb=f"{need / 2**20:,.0f}",
                most=f"{most >> 20:,}",
                hint=hint,
            )
        )


def load_image_zip(
    src: str | Path | bytes, size: int = 32, name: str = "images", grayscale: bool | None = None, test_fraction: float = 0.2
) -> Dataset:
    """A dataset from a zip of class folders (ImageFolder layout), resized to ``size`` x ``size``.

    ``train/<class>/`` and ``test/<class>/`` (or ``val/``) are used as given; otherwise 20% of each class
    is held out for testing. ``grayscale=None`` keeps colour only when some image has it.
    """
    if not 8 <= size <= 256:
        raise DataError(said("{what}: image size must be between 8 and 256, got {size}", what=name, size=size))
    zf, infos = _open_zip(read_upload(src, name), name)
    by_name = {i.filename: i for i in infos}
    by_class, has_splits = _zip_classes(list(by_name), name)
    classes = sorted(by_class)
    check_class_count(len(classes), name, folders=True)
    _check_decoded_size(sum(len(f) for c in by_class.values() for f in c.values()), size, name)
    images, any_colour = _decode_zip_images(zf, by_name, by_class, classes, size, name)
    mode = "L" if (grayscale if grayscale is not None else not any_colour) else "RGB"
    for split, (x, y) in list(images.items()):  # grey a split at a time: its RGB tensor goes once converted
        images[split] = (_to_mode(x, mode), y)
        del x
    if has_splits:
        if "test" not in images:
            raise DataError(said("{what}: has a train/ folder but no test/ or val/ folder", what=name))
        (x, y), (tx, ty) = images.pop("train"), images.pop("test")
    else:
        ax, ay = images.pop("all")
        if len(ay) < 10:
            raise DataError(said("{what}: {n} images are too few to split into train and test", what=name, n=len(ay)))
        keep, held = stratified_split(ay, test_fraction, seed=1)
        x, y, tx, ty = ax[keep], ay[keep], ax[held], ay[held]
        del ax  # copied into the two splits
    return assemble(
        name, x, y, tx, ty, classes, source=f"zip upload, {len(y) + len(ty):,} images, {mode} {size}px", shuffle=True
    )


def _zip_classes(names: list[str], name: str) -> tuple[dict[str, dict[str, list[str]]], bool]:
    """The zip's images by class and split ("train"/"test" when the zip has train/ and test/ folders, else
    "all"), and whether it had those folders."""
    groups = _class_folders(names)
    split_of = {g: g.split("/")[0].lower() if "/" in g else "" for g in groups}
    has_splits = any(s in ("train", "training") for s in split_of.values())
    by_class: dict[str, dict[str, list[str]]] = {}
    for g, files in groups.items():
        split = ("test" if split_of[g] in ("test", "val", "valid", "validation") else "train") if has_splits else "all"
        by_class.setdefault(g.split("/")[-1], {}).setdefault(split, []).extend(files)
    if not by_class:
        raise DataError(said("{what}: no images in class folders (expected class_name/image.png inside the zip)", what=name))
    if len(by_class) < 2:
        raise DataError(
            said(
                "{what}: only one class folder ({folder}); a classifier needs at least two",
                what=name,
                folder=_safe_name(next(iter(by_class))),
            )
        )
    return by_class, has_splits


def _decode_zip_images(
    zf: Any, by_name: dict[str, Any], by_class: dict[str, dict[str, list[str]]], classes: list[str], size: int, name: str
) -> tuple[dict[str, tuple[Tensor, Tensor]], bool]:
    """Each split's images ``(N, 3, S, S)`` uint8 and labels ``(N,)``, and whether any image had colour in its
    content. Each image is decoded, resized and written straight into its split's tensor (allocated once, at the
    size the budget admitted), then dropped before the next."""
    from PIL import Image

    counts: dict[str, int] = {}
    for cls in classes:
        for split, files in by_class[cls].items():
            counts[split] = counts.get(split, 0) + len(files)
    out = {
        s: (torch.empty(n, 3, size, size, dtype=torch.uint8), torch.empty(n, dtype=torch.long)) for s, n in counts.items()
    }
    filled = dict.fromkeys(counts, 0)
    any_colour = False
    budget = [MAX_ZIP_PIXELS]
    for label, cls in enumerate(classes):
        for split, files in by_class[cls].items():
            x, y = out[split]
            for f in sorted(files):
                what = said("{what}: image {name}", what=name, name=_safe_name(f))
                try:
                    im = decode_image(_read_member(zf, by_name[f], name), what, MAX_IMAGE_PIXELS, budget)
                except ValueError as e:
                    raise DataError(said_of(e)) from None
                small = np.asarray(im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR))
                any_colour |= bool((small.max(axis=2) != small.min(axis=2)).any())  # colour in the content
                i = filled[split]
                x[i].numpy()[:] = small.transpose(2, 0, 1)  # (S, S, 3) -> (3, S, S), copied in place
                y[i] = label
                filled[split] = i + 1
                del im, small
    return out, any_colour


STACK_CHUNK_BYTES = 16 << 20  # the colour conversion's temporaries (int32 RGB) per chunk of images


def _to_mode(x: Tensor, mode: str, chunk_bytes: int = STACK_CHUNK_BYTES) -> Tensor:
    """RGB images ``(N, 3, S, S)`` uint8 as they are (``mode`` "RGB") or grey ``(N, 1, S, S)`` ("L", with the luma
    weights PIL uses). The grey conversion works a chunk of images at a time, so its temporaries (int32, four
    times the images' bytes) stay within ``chunk_bytes`` whatever the upload's size."""
    if mode != "L":
        return x
    n, _, s, _ = x.shape
    out = torch.empty(n, 1, s, s, dtype=torch.uint8)
    w = torch.tensor([299, 587, 114], dtype=torch.int32).view(1, 3, 1, 1)
    step = max(1, chunk_bytes // max(s * s * 3 * 4, 1))
    for i in range(0, n, step):
        part = x[i : i + step].int()  # (n, 3, S, S)
        out[i : i + len(part)] = ((part * w).sum(1, keepdim=True) + 500).div(1000, rounding_mode="floor").to(torch.uint8)
    return out
