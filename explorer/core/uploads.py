"""Datasets a user gives: a CSV in the Sign Language MNIST layout (``label,pixel1..pixelN``), and what every
upload shares (its bytes read within the upload limit, its count of classes, a session's room for uploads); a zip
of class folders is read by :mod:`explorer.core.zipupload`. Every size is checked before anything is decoded,
against the server's budget (``explorer.core.budget``), and an admitted upload stays near that size while it loads.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..i18n import said, said_of
from .budget import budget
from .data import DataError, Dataset, assemble, stratified_split
from .limits import MAX_IMAGES, MAX_LABEL, MAX_UPLOAD_BYTES

__all__ = ["check_uploads_room", "load_csv", "read_upload", "check_class_count"]


def read_upload(src: str | Path | bytes, what: str) -> bytes:
    if isinstance(src, bytes):
        data = src
    else:
        p = Path(src)
        if not p.is_file():
            raise DataError(said("{what}: no such file {path}", what=what, path=p.name))
        if p.stat().st_size > MAX_UPLOAD_BYTES:
            raise DataError(
                said(
                    "{what}: the file is {mb} MB, over the {most} MB limit",
                    what=what,
                    mb=f"{p.stat().st_size / 2**20:.0f}",
                    most=MAX_UPLOAD_BYTES // 2**20,
                )
            )
        data = p.read_bytes()
    if len(data) > MAX_UPLOAD_BYTES:
        raise DataError(
            said(
                "{what}: the file is {mb} MB, over the {most} MB limit",
                what=what,
                mb=f"{len(data) / 2**20:.0f}",
                most=MAX_UPLOAD_BYTES // 2**20,
            )
        )
    if not data:
        raise DataError(said("{what}: the file is empty", what=what))
    return data


def _parse_csv(data: bytes, what: str) -> tuple[Tensor, Tensor]:
    """``label,pixel1..pixelN`` rows -> uint8 ``(N, 1, S, S)`` and labels ``(N,)``.

    Rows are converted in blocks straight into the uint8 result, so memory stays near the size of the images
    themselves (no list of every field as a Python string).
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(said("{what}: not a text CSV file (it is not UTF-8)", what=what)) from None
    rows = csv.reader(io.StringIO(text))
    try:
        n_pix, side = _csv_header(next(rows, None), what)
        labels, blocks = _csv_rows(rows, n_pix, what)
    except csv.Error as e:
        raise DataError(said("{what}: not a readable CSV file ({error})", what=what, error=e)) from None
    if not labels:
        raise DataError(said("{what}: no images after the header", what=what))
    x = torch.from_numpy(np.concatenate(blocks)).view(-1, 1, side, side)
    return x, torch.as_tensor(labels, dtype=torch.long)


def _csv_header(header: list[str] | None, what: str) -> tuple[int, int]:
    """The number of pixel columns and the image's side, from the header ``label,pixel1,...``."""
    if not header or header[0].strip().lower() != "label" or len(header) < 2:
        raise DataError(
            said(
                "{what}: the first line must be the header 'label,pixel1,pixel2,...', got {got}",
                what=what,
                got=repr(",".join(header or [])[:60]),
            )
        )
    n_pix = len(header) - 1
    side = math.isqrt(n_pix)
    if side * side != n_pix:
        raise DataError(said("{what}: {n} pixel columns is not a square image (e.g. 784 = 28x28)", what=what, n=n_pix))
    return n_pix, side


def _csv_rows(rows: Any, n_pix: int, what: str) -> tuple[list[int], list[np.ndarray]]:
    """Every row's label, and its pixels in uint8 blocks of 1,024 rows; refused at the first row too many."""
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
            raise DataError(
                said(
                    "{what}: line {line} has {n} values, expected {want} (label + {pixels} pixels)",
                    what=what,
                    line=lineno,
                    n=len(row),
                    want=n_pix + 1,
                    pixels=n_pix,
                )
            )
        labels.append(_label(row[0], lineno, what))
        seen.add(labels[-1])
        if len(seen) > most_classes:  # refused at the first label too many, not after the whole file
            check_class_count(len(seen), what, lineno)
        if len(labels) > MAX_IMAGES:
            raise DataError(said("{what}: more than {n} images", what=what, n=f"{MAX_IMAGES:,}"))
        block.append(row[1:])
        if len(block) == 1024:
            blocks.append(_pixels(block, first_line, what))
            block, first_line = [], lineno + 1
    if block:
        blocks.append(_pixels(block, first_line, what))
    return labels, blocks


def _label(text: str, lineno: int, what: str) -> int:
    t = text.strip()
    if not (t.isdigit() or (t[:1] in "+-" and t[1:].isdigit())) or len(t) > 12:
        raise DataError(
            said(
                "{what}: line {line}: label {label} is not a whole number from 0 to {most}",
                what=what,
                line=lineno,
                label=repr(text[:20]),
                most=f"{MAX_LABEL:,}",
            )
        )
    v = int(t)
    if not 0 <= v <= MAX_LABEL:
        raise DataError(
            said(
                "{what}: line {line}: label {label} is not a whole number from 0 to {most}",
                what=what,
                line=lineno,
                label=v,
                most=f"{MAX_LABEL:,}",
            )
        )
    return v


def _pixels(block: list[list[str]], first_line: int, what: str) -> np.ndarray:
    """One block of rows of pixel strings -> uint8 ``(n, N)``; a sentence naming the line if one is bad."""
    try:
        arr = np.asarray(block, dtype=np.float32)
    except ValueError:
        i, c = next((i, c) for i, r in enumerate(block) for c in r if not _is_number(c))
        raise DataError(
            said(
                "{what}: line {line}: pixel value {value} is not a number",
                what=what,
                line=first_line + i,
                value=repr(c[:20]),
            )
        ) from None
    ok = np.isfinite(arr) & (arr >= 0) & (arr <= 255)
    if not ok.all():
        i = int(np.argwhere(~ok)[0][0])
        raise DataError(
            said(
                "{what}: line {line}: pixel values must lie in 0..255, found {value}",
                what=what,
                line=first_line + i,
                value=f"{arr[i][~ok[i]][0]:g}",
            )
        )
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
        raise DataError(said("only one class ({label}); a classifier needs at least two", label=values.tolist()))
    check_class_count(len(values))
    out = [torch.searchsorted(values, y) for y in ys]  # value -> its rank among the labels
    classes = [names[v] if names and 0 <= v < len(names) else str(v) for v in values.tolist()]
    seen: set[str] = set()
    for c in classes:
        if c in seen:
            raise DataError(said("two classes are both named {name}; class names must differ", name=repr(c[:40])))
        seen.add(c)
    return out, classes


def check_class_count(k: int, where: str | None = None, line: int | None = None, folders: bool = False) -> None:
    """Refuse more classes than the server's budget (each costs a row and a column of every confusion matrix,
    and a class needs images in every split): ``k`` different labels (by ``line`` of the file ``where``), or
    class ``folders``."""
    most = budget().classes
    if k <= most:
        return
    if folders:
        why = said("{n} class folders make {n} classes", n=f"{k:,}")
    elif line is not None:
        why = said("{n} different labels by line {line} make {n} classes", n=f"{k:,}", line=f"{line:,}")
    else:
        why = said("{n} different labels make {n} classes", n=f"{k:,}")
    said_too_many = said(
        "{why}; at most {most} are allowed here. A class needs at least a few images for training, "
        "validation and testing: check which column holds the label",
        why=why,
        most=f"{most:,}",
    )
    raise DataError(said("{what}: {reason}", what=where, reason=said_too_many) if where else said_too_many)


def load_csv(
    train: str | Path | bytes,
    test: str | Path | bytes | None = None,
    name: str = "csv",
    class_names: list[str] | None = None,
) -> Dataset:
    """A dataset from CSV files in the Sign Language MNIST layout (seed 003).

    Without ``test``, 20% of each class is held out as the test set. ``class_names[v]`` names label v.
    """
    x, y = _parse_csv(read_upload(train, name), name)
    if test is not None:
        tx, ty = _parse_csv(read_upload(test, f"{name} (test)"), f"{name} (test)")
        if tx.shape[1:] != x.shape[1:]:
            raise DataError(
                said(
                    "{what}: test images are {test}, train images {train}",
                    what=name,
                    test=f"{tx.shape[2]}x{tx.shape[3]}",
                    train=f"{x.shape[2]}x{x.shape[3]}",
                )
            )
    else:
        if len(y) < 10:
            raise DataError(said("{what}: {n} images are too few to split into train and test", what=name, n=len(y)))
        keep, held = stratified_split(y, 0.2, seed=1)
        x, y, tx, ty = x[keep], y[keep], x[held], y[held]
    try:
        (y, ty), classes = _relabel([y, ty], class_names)
    except DataError as e:
        raise DataError(said("{what}: {reason}", what=name, reason=said_of(e))) from None
    return assemble(name, x, y, tx, ty, classes, source=f"CSV upload, {len(y) + len(ty):,} images", shuffle=True)


def check_uploads_room(uploads: dict[str, Dataset], new: Dataset) -> None:
    """Refuse ``new`` when it and a session's other uploads (``uploads``, by name) take more memory together than
    the server's budget for one session's uploads; the sentence says what to remove."""
    others = {n: d for n, d in uploads.items() if n != new.name}
    total, most = sum(d.nbytes for d in others.values()) + new.nbytes, budget().uploads_bytes
    if total > most:
        raise DataError(
            said(
                "with {name} ({mb} MB) your uploads would take {total} MB; a session keeps at most {most} "
                "MB of uploads: remove one first ({others}), or load it at a smaller image size",
                name=new.name,
                mb=f"{new.nbytes / 2**20:,.0f}",
                total=f"{total / 2**20:,.0f}",
                most=f"{most >> 20:,}",
                others=", ".join(others),
            )
        )
