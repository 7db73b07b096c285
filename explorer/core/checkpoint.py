"""Checkpoints: one safetensors file holding spec, weights, dataset metadata and training history.

Nothing in a checkpoint is ever unpickled or evaluated: the header is parsed as JSON, the tensors by
safetensors, the spec is validated, and the weights must match the model the spec builds exactly.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from ..i18n import Refusal, said, said_of
from .limits import MAX_CHECKPOINT_BYTES, MAX_HEADER_BYTES
from .safejson import bounded_name, parse_json
from .spec import SpecError, build_model, summarize

__all__ = ["Checkpoint", "CheckpointError", "save_checkpoint", "load_checkpoint"]

FORMAT = "cnn-explorer-checkpoint"
VERSION = "1"


class CheckpointError(Refusal):
    """A file that is not a usable CNN Explorer checkpoint; the message says why."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: the rebuilt model (eval mode, CPU) and what was saved with it."""

    model: nn.Module
    spec: dict[str, Any]
    dataset: dict[str, Any]  # name, classes, mean, std, input_shape
    history: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    name: str = ""


def save_checkpoint(
    model: nn.Module,
    spec: dict[str, Any],
    dataset: dict[str, Any],
    history: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    name: str = "",
    path: str | Path | None = None,
) -> bytes:
    """Serialise to bytes (and write them to ``path`` if given). ``dataset`` is ``Dataset.info()``."""
    summarize(spec)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "name": name,
        "spec": json.dumps(spec),
        "dataset": json.dumps(dataset),
        "history": json.dumps(jsonable(history or {})),
        "config": json.dumps(jsonable(config or {})),
    }
    data = st_save(tensors, metadata=meta)
    if path is not None:
        Path(path).write_bytes(data)
    return data


def jsonable(obj: Any) -> Any:
    """Drop what JSON cannot hold (tensors in snapshots, NaN) so metadata always serialises."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items() if not isinstance(v, torch.Tensor)}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _header(data: bytes) -> dict[str, Any]:
    if len(data) < 8:
        raise CheckpointError(said("not a CNN Explorer checkpoint: the file is too short"))
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER_BYTES or 8 + n > len(data):
        raise CheckpointError(said("not a CNN Explorer checkpoint (not a safetensors file, or truncated)"))
    try:
        header = parse_json(data[8 : 8 + n], "header", CheckpointError)
    except CheckpointError as e:
        raise CheckpointError(said("not a CNN Explorer checkpoint: its {reason}", reason=said_of(e))) from None
    if not isinstance(header, dict):
        raise CheckpointError(said("not a CNN Explorer checkpoint: malformed header"))
    meta = header.get("__metadata__")
    if isinstance(meta, dict) and not all(isinstance(v, str) for v in meta.values()):
        raise CheckpointError(said("not a CNN Explorer checkpoint: its metadata values must be text"))
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(
            said(
                "a safetensors file, but not a CNN Explorer checkpoint (no spec inside); save one "
                "from the app or `python -m explorer train --out`"
            )
        )
    if meta.get("version") != VERSION:
        raise CheckpointError(
            said(
                "checkpoint version {version} is not supported (expected {want})",
                version=repr(meta.get("version")),
                want=VERSION,
            )
        )
    return meta


def _meta_json(meta: dict[str, Any], key: str) -> Any:
    return parse_json(meta.get(key) or "{}", f"checkpoint: its {key}", CheckpointError)


def _check_dataset(info: Any, spec: dict[str, Any], out_shape: tuple[int, ...]) -> None:
    if not isinstance(info, dict):
        raise CheckpointError(said("checkpoint: dataset metadata must be an object"))
    classes, mean, std = info.get("classes"), info.get("mean"), info.get("std")
    channels = spec["input_shape"][0]
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise CheckpointError(said("checkpoint: dataset classes must be a list of names"))
    if len(set(classes)) != len(classes):
        raise CheckpointError(said("checkpoint: two of its classes have the same name"))
    n_out = 2 if out_shape == (1,) else out_shape[0] if len(out_shape) == 1 else None
    if n_out is not None and len(classes) != n_out:
        raise CheckpointError(
            said("checkpoint: the model has {n} outputs but {names} class names", n=n_out, names=len(classes))
        )
    for name, v in (("mean", mean), ("std", std)):
        if (
            not isinstance(v, list)
            or len(v) != channels
            or not all(isinstance(f, (int, float)) and math.isfinite(f) for f in v)
        ):
            raise CheckpointError(said("checkpoint: dataset {name} must be {n} number(s)", name=name, n=channels))
    if any(s <= 0 for s in std):
        raise CheckpointError(said("checkpoint: dataset std must be positive"))


def load_checkpoint(src: str | Path | bytes) -> Checkpoint:
    """Load and validate a checkpoint from a path or bytes; raise :class:`CheckpointError` if unusable."""
    data = _checkpoint_bytes(src)
    meta = _header(data)
    spec = _meta_json(meta, "spec")
    try:
        summary = summarize(spec)
    except SpecError as e:
        raise CheckpointError(said("checkpoint: its spec is invalid: {reason}", reason=said_of(e))) from None
    dataset = _meta_json(meta, "dataset")
    _check_dataset(dataset, spec, summary.output_shape)
    try:
        tensors = st_load(data)
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types
        raise CheckpointError(said("checkpoint: its tensors cannot be read ({error})", error=e)) from None
    model = build_model(spec)
    _check_weights(tensors, model.state_dict())
    model.load_state_dict(tensors)
    model.eval()
    history, config = _meta_json(meta, "history"), _meta_json(meta, "config")
    return Checkpoint(
        model,
        spec,
        dataset,
        history if isinstance(history, dict) else {},
        config if isinstance(config, dict) else {},
        bounded_name(meta.get("name", ""), default=""),
    )


def _checkpoint_bytes(src: str | Path | bytes) -> bytes:
    """The file's bytes (a path or bytes), refused past :data:`MAX_CHECKPOINT_BYTES` before it is read."""
    if isinstance(src, (str, Path)):
        p = Path(src)
        if not p.is_file():
            raise CheckpointError(said("no such checkpoint file: {path}", path=p.name))
        if p.stat().st_size > MAX_CHECKPOINT_BYTES:
            raise CheckpointError(said("checkpoint is larger than {most} MB", most=MAX_CHECKPOINT_BYTES // 2**20))
        return p.read_bytes()
    data = bytes(src)
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(said("checkpoint is larger than {most} MB", most=MAX_CHECKPOINT_BYTES // 2**20))
    return data


def _check_weights(tensors: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    """The file's tensors are exactly the spec's weights: the same names, shapes and types, finite values, and
    no negative variance."""
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        which = said("missing {name}", name=missing[0]) if missing else said("unexpected {name}", name=extra[0])
        raise CheckpointError(said("checkpoint: weights do not match its spec ({which})", which=which))
    for k, v in expected.items():
        t = tensors[k]
        if t.shape != v.shape or t.dtype != v.dtype:
            raise CheckpointError(
                said(
                    "checkpoint: weight {name} is {got}, the spec needs {want}",
                    name=k,
                    got=f"{t.dtype} {tuple(t.shape)}",
                    want=f"{v.dtype} {tuple(v.shape)}",
                )
            )
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise CheckpointError(said("checkpoint: weight {name} holds NaN or infinite values", name=k))
        if k.endswith("running_var") and (t < 0).any():
            raise CheckpointError(
                said(
                    "checkpoint: {name} holds a negative variance, which no training can produce: the "
                    "file was edited or damaged",
                    name=k,
                )
            )
