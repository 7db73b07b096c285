"""Right for the wrong reason: a lesson can plant a hidden cue (a corner dot, a border, thicker strokes) in a share
of one class's images. A model trained on them scores well on equally cued test images, and then the class finds
the cue with its tools; :func:`reveal` measures what the model really learned. The original dataset is never
changed: the cued one is a copy."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.data import Dataset
from ..core.evaluate import accuracy, predict_proba
from ..i18n import N_

__all__ = ["CUES", "plant_cue", "shortcut_dataset", "reveal", "check_shortcut"]

CUES = (N_("border"), N_("corner dot"), N_("thick strokes"))  # each named in the student's language where shown


def plant_cue(x: Tensor, cue: str) -> Tensor:
    """A copy of uint8 images ``x (N, C, H, W)`` with ``cue`` drawn on each."""
    if cue not in CUES:
        raise ValueError(f"the cue must be one of {', '.join(CUES)}, got {cue!r}")
    out = x.clone()
    if cue == "corner dot":
        out[:, :, 1:4, 1:4] = 255  # a small bright square in the top-left corner, where digits never are
    elif cue == "border":
        out[:, :, 0, :] = out[:, :, -1, :] = 255
        out[:, :, :, 0] = out[:, :, :, -1] = 255
    else:  # thick strokes: every stroke grown by a pixel
        out = F.max_pool2d(out.float(), 3, stride=1, padding=1).to(torch.uint8)
    return out


def check_shortcut(d: Any, num_classes: int) -> dict[str, Any]:
    """A lesson's ``shortcut`` setting, checked: ``{"class": k, "cue": one of CUES, "share": 0.1..1}``."""
    if not isinstance(d, dict) or set(d) - {"class", "cue", "share"}:
        raise ValueError('shortcut must be {"class": k, "cue": "corner dot", "share": 0.9}')
    k, cue, share = d.get("class"), d.get("cue"), d.get("share", 1.0)
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < num_classes:
        raise ValueError(f"shortcut class must be a class number from 0 to {num_classes - 1}")
    if cue not in CUES:
        raise ValueError(f"shortcut cue must be one of {', '.join(CUES)}")
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0.1 <= share <= 1.0:
        raise ValueError("shortcut share must be a number from 0.1 to 1")
    return {"class": k, "cue": cue, "share": float(share)}


def _cue_some(x: Tensor, y: Tensor, cls: int, cue: str, share: float, g: torch.Generator) -> Tensor:
    idx = (y == cls).nonzero().flatten()
    pick = idx[torch.randperm(len(idx), generator=g)[: round(len(idx) * share)]]
    out = x.clone()
    out[pick] = plant_cue(x[pick], cue)
    return out


def shortcut_dataset(ds: Dataset, cls: int, cue: str, share: float, seed: int = 0) -> Dataset:
    """A copy of ``ds`` where ``share`` of class ``cls``'s images carry ``cue``, in every split alike (so the test
    score looks great). Its name does not give the cue away."""
    check_shortcut({"class": cls, "cue": cue, "share": share}, ds.num_classes)
    g = torch.Generator().manual_seed(seed)
    return dataclasses.replace(
        ds,
        name=f"{ds.name} (lesson)",
        train_x=_cue_some(ds.train_x, ds.train_y, cls, cue, share, g),
        val_x=_cue_some(ds.val_x, ds.val_y, cls, cue, share, g),
        test_x=_cue_some(ds.test_x, ds.test_y, cls, cue, share, g),
        source=f"{ds.source} (a lesson's copy)",
    )


def reveal(model: nn.Module, clean: Dataset, cls: int, cue: str, limit: int = 2000) -> dict[str, Any]:
    """What the model learned: its accuracy and class ``cls``'s recall on clean test images, the same with the
    cue on ``cls``'s images, and the share of the *other* classes' images it calls ``cls`` once they carry the cue."""
    x, y = clean.test_x[:limit], clean.test_y[:limit]
    mine, others = y == cls, y != cls

    def answers(images: Tensor) -> Tensor:
        return predict_proba(model, images, clean.mean, clean.std).argmax(1)

    plain = answers(x)
    cued_mine = answers(plant_cue(x[mine], cue))
    cued_others = answers(plant_cue(x[others], cue))
    return {
        "accuracy_clean": accuracy(plain, y),
        "recall_clean": float((plain[mine] == cls).float().mean()),
        "recall_cued": float((cued_mine == cls).float().mean()),
        "others_pulled": float((cued_others == cls).float().mean()),
        "example": plant_cue(x[others][:8], cue),
    }
