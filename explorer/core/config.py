"""A training run's settings (``TrainConfig``), checked once at the edge against one set of limits (``LIMITS``,
which the Train page's widgets read too), and the device a run asks for."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from ..i18n import Refusal, said
from .augment import Augment
from .safejson import brief

__all__ = ["TrainConfig", "LIMITS", "INT_SETTINGS", "OPTIMIZERS", "SCHEDULES", "resolve_device", "available_devices"]

OPTIMIZERS = ("sgd", "adam", "adamw", "adadelta")
SCHEDULES = ("constant", "step", "onecycle")


# One set of limits for every way in: the Train page's widgets, lesson files, the CLI and the library.
LIMITS: dict[str, tuple[float, float]] = {
    "epochs": (1, 1000),
    "batch_size": (1, 65536),
    "log_every": (1, 100000),
    "step_epochs": (1, 1000),
    "seed": (0, 2**53 - 1),
    "lr": (1e-6, 100.0),
    "momentum": (0.0, 1.0),
    "weight_decay": (0.0, 10.0),
    "gamma": (0.0, 1.0),
}
INT_SETTINGS = ("epochs", "batch_size", "log_every", "step_epochs", "seed")


@dataclass
class TrainConfig:
    """Everything a run needs besides the model and the data."""

    epochs: int = 3
    batch_size: int = 128
    optimizer: str = "adam"
    lr: float = 1e-2
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "onecycle"
    step_epochs: int = 1  # "step": multiply the rate by gamma every step_epochs epochs
    gamma: float = 0.1
    augment: Augment = field(default_factory=Augment)
    seed: int = 0
    device: str = "auto"
    limit_train: int | None = None
    log_every: int = 10
    snapshot_every: int = 0  # keep conv kernels every N steps (0: never)
    eval_splits: tuple[str, ...] = ("val", "test")

    def validate(self) -> TrainConfig:
        """Raise ValueError naming the first bad setting; return self. The limits are ``LIMITS``, the same
        ones the Train page's widgets use, so a setting accepted here is never refused there."""
        self._check_numbers()
        self._check_words()
        if not isinstance(self.augment, Augment):
            raise ValueError("augment must be an object of augmentation settings")
        self.augment.validate()
        resolve_device(self.device)
        self._checked = self._fingerprint()
        return self

    def _check_numbers(self) -> None:
        for name, (lo, hi) in LIMITS.items():
            v = getattr(self, name)
            if name in INT_SETTINGS:
                if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                    raise Refusal(
                        said(
                            "{name} must be an integer from {low} to {high}, got {value}",
                            name=name,
                            low=f"{lo:,}",
                            high=f"{hi:,}",
                            value=brief(v),
                        )
                    )
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:  # NaN fails too
                raise Refusal(
                    said(
                        "{name} must be a number from {low} to {high}, got {value}",
                        name=name,
                        low=f"{lo:g}",
                        high=f"{hi:g}",
                        value=brief(v),
                    )
                )
        for name, least, need in (
            ("limit_train", 1, said("a positive integer")),
            ("snapshot_every", 0, said("an integer >= {n}", n=0)),
        ):
            v = getattr(self, name)
            if (v is not None or name != "limit_train") and (
                isinstance(v, bool) or not isinstance(v, int) or not least <= v <= 10**9
            ):
                raise Refusal(said("{name} must be {need}, got {value}", name=name, need=need, value=brief(v)))

    def _check_words(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {brief(self.optimizer)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {brief(self.schedule)}")
        if not isinstance(self.eval_splits, (tuple, list)) or any(s not in ("val", "test") for s in self.eval_splits):
            raise ValueError(f"eval_splits must name 'val' and/or 'test', got {brief(self.eval_splits)}")
        if not isinstance(self.device, str):
            raise ValueError(f"device must be auto, cpu, cuda or mps, got {brief(self.device)}")

    def validated(self) -> TrainConfig:
        """Self, checked once: ``validate()`` unless these very settings were checked already (a page checks
        them at the click; the cluster and the trainer then take the object as it is)."""
        return self if getattr(self, "_checked", None) == self._fingerprint() else self.validate()

    def _fingerprint(self) -> tuple[Any, ...]:
        return tuple(repr(getattr(self, f)) for f in self.__dataclass_fields__)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["eval_splits"] = list(self.eval_splits)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        d = dict(d)
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise Refusal(said("unknown training setting {name}", name=repr(sorted(unknown)[0])))
        aug = d.pop("augment", {}) or {}
        if not isinstance(aug, (dict, Augment)):
            raise ValueError(f"augment must be an object of augmentation settings, got {brief(aug)}")
        if isinstance(aug, dict):
            unknown_aug = set(aug) - set(Augment.__dataclass_fields__)
            if unknown_aug:
                raise Refusal(said("unknown augmentation {name}", name=repr(sorted(unknown_aug)[0])))
            aug = Augment(**aug)
        if "eval_splits" in d:
            if not isinstance(d["eval_splits"], (list, tuple)):
                raise ValueError(f"eval_splits must be a list, got {brief(d['eval_splits'])}")
            d["eval_splits"] = tuple(d["eval_splits"])
        return cls(augment=aug, **d)


def available_devices() -> list[str]:
    """The devices a run can ask for here: ``auto`` and ``cpu``, and ``cuda`` or ``mps`` when present."""
    mps = getattr(torch.backends, "mps", None)
    return (
        ["auto", "cpu"] + (["cuda"] if torch.cuda.is_available() else []) + (["mps"] if mps and mps.is_available() else [])
    )


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then CPU; a named device that is missing raises ValueError."""
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but no CUDA GPU is available here (use auto or cpu)")
    if name == "mps" and not has_mps:
        raise ValueError("device 'mps' asked for, but Apple MPS is not available here (use auto or cpu)")
    if name not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be auto, cpu, cuda or mps, got {name!r}")
    return torch.device(name)
