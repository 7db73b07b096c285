"""Architecture specs: validate, infer shapes, build models and summarize them.

A spec is plain JSON-able data::

    {"input_shape": [1, 28, 28], "num_classes": 10,
     "layers": [{"type": "Conv2d", "out_channels": 4, "kernel_size": 3}, ...]}

Layer types and argument names are torch's. Nothing in a spec is ever evaluated as code:
each layer type maps to a fixed constructor and each argument is checked against a schema
before any tensor is made.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from ..i18n import Said, said
from .budget import Budget, budget, said_count
from .layers import (
    LAYER_TYPES,
    RF,
    Shape,
    SpecError,
    check_arg,
    fmt_shape,
    skip_stride,
)
from .limits import MAX_DESCRIPTION_CHARS, MAX_INPUT_CHANNELS, MAX_INPUT_SIDE, MAX_LAYERS, MAX_SPEC_BYTES
from .safejson import MAX_NAME_CHARS, brief

__all__ = [
    "parse_spec_bytes",
    "LayerSummary",
    "Summary",
    "parse_spec",
    "validate_spec",
    "build_model",
    "summarize",
    "format_summary",
    "output_logits_to_classes",
]


# --- layer records: canonical args, shapes, params, mult-adds, receptive field ----------


@dataclass
class LayerSummary:
    """One row of a summary. ``path`` is "3" or "5.body.1" (the module's name in the model)."""

    path: str
    type: str
    output_shape: Shape
    params: int
    mult_adds: int
    receptive_field: tuple[int, int] | None  # input pixels seen by one output unit; None = whole input
    depth: int = 0
    args: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["output_shape"] = list(self.output_shape)
        d["receptive_field"] = list(self.receptive_field) if self.receptive_field else None
        return d


@dataclass
class Summary:
    """A whole network: its rows and totals."""

    input_shape: Shape
    output_shape: Shape
    layers: list[LayerSummary]
    total_params: int
    trainable_params: int
    total_mult_adds: int
    activations_per_sample: int
    num_classes: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "num_classes": self.num_classes,
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "total_mult_adds": self.total_mult_adds,
            "activations_per_sample": self.activations_per_sample,
            "layers": [layer.to_dict() for layer in self.layers],
        }


def _layer(spec: dict[str, Any], path: str, shape: Shape, rf: RF, depth: int, rows: list[LayerSummary]) -> tuple[Shape, RF]:
    """Check one layer against the incoming shape; append its summary row(s); return the new shape."""
    if not isinstance(spec, dict):
        raise SpecError(f'layer {path}: must be an object like {{"type": "ReLU"}}, got {spec!r}', path)
    ltype = spec.get("type")
    if not isinstance(ltype, str) or ltype not in LAYER_TYPES:
        known = ", ".join(LAYER_TYPES)
        raise SpecError(f"layer {path}: unknown type {brief(ltype)}; known types: {known}", path)
    where = said("layer {path} {type}", path=path, type=ltype)
    kind = LAYER_TYPES[ltype]
    schema = kind.args
    extra = set(spec) - set(schema) - {"type"} - ({"layers"} if ltype == "Residual" else set())
    if extra:
        allowed = ", ".join(schema) or "none"
        raise SpecError(
            said(
                "{where}: unknown argument {name} (allowed: {allowed})",
                where=where,
                name=repr(sorted(extra)[0]),
                allowed=allowed,
            ),
            path,
        )
    args: dict[str, Any] = {}
    for name, arg in schema.items():
        if name in spec:
            args[name] = check_arg(where, name, arg, spec[name], path)
        elif arg.required:
            raise SpecError(said("{where}: missing required argument {name}", where=where, name=repr(name)), path)
        else:
            args[name] = arg.default
    if kind.spatial and len(shape) != 3:
        raise SpecError(
            said(
                "{where}: needs an image-shaped input (channels x height x width), got {shape} (put it before Flatten)",
                where=where,
                shape=fmt_shape(shape),
            ),
            path,
        )
    if kind.rule is None:
        return _residual(spec, path, shape, rf, depth, rows)
    out, params, madds, rf = kind.rule(
        args, shape, rf, lambda sentence: SpecError(said("{where}: {sentence}", where=where, sentence=sentence), path)
    )
    if any(s <= 0 for s in out):
        raise SpecError(said("{where}: output would be {shape}, which is empty", where=where, shape=fmt_shape(out)), path)
    rows.append(LayerSummary(path, ltype, out, params, madds, rf.size, depth, args))
    return out, rf


def _residual(
    spec: dict[str, Any], path: str, shape: Shape, rf: RF, depth: int, rows: list[LayerSummary]
) -> tuple[Shape, RF]:
    inner = spec.get("layers")
    where = said("layer {path} {type}", path=path, type="Residual")
    if not isinstance(inner, list) or not inner:
        raise SpecError(said("{where}: needs a non-empty list 'layers' (the block added to its input)", where=where), path)
    row = LayerSummary(path, "Residual", shape, 0, 0, rf.size, depth, {})
    rows.append(row)
    first = len(rows)
    out, brf = shape, rf
    for i, sub in enumerate(inner):
        out, brf = _layer(sub, f"{path}.body.{i}", out, brf, depth + 1, rows)
    skip_params, skip_madds, stride = 0, 0, (1, 1)
    if out != shape:
        if len(out) != len(shape):
            raise SpecError(
                said(
                    "{where}: its layers turn {shape} into {out}; a residual block must keep the number of dimensions",
                    where=where,
                    shape=fmt_shape(shape),
                    out=fmt_shape(out),
                ),
                path,
            )
        if len(shape) == 1:
            skip_params = shape[0] * out[0]
        else:
            sh, sw = skip_stride(shape[1], out[1]), skip_stride(shape[2], out[2])
            if sh is None or sw is None:
                raise SpecError(
                    said(
                        "{where}: its layers turn {shape} into {out}, which no 1x1 strided convolution "
                        "on the skip can match",
                        where=where,
                        shape=fmt_shape(shape),
                        out=fmt_shape(out),
                    ),
                    path,
                )
            stride = (sh, sw)
            skip_params = shape[0] * out[0]
            skip_madds = skip_params * out[1] * out[2]
    row.output_shape = out
    row.params = sum(r.params for r in rows[first:] if r.depth == depth + 1) + skip_params
    row.mult_adds = sum(r.mult_adds for r in rows[first:] if r.depth == depth + 1) + skip_madds
    row.receptive_field = brf.size
    row.args = {"skip": "identity" if out == shape else f"1x1 conv, stride {stride[0]}"}
    return out, brf


def _check_top(spec: Any) -> tuple[Shape, int | None, list[Any]]:
    if not isinstance(spec, dict):
        raise SpecError(f"a spec must be a JSON object with 'input_shape' and 'layers', got {type(spec).__name__}")
    extra = set(spec) - {"input_shape", "num_classes", "layers", "name", "description"}
    if extra:
        raise SpecError(
            f"spec: unknown key {sorted(extra)[0]!r} (allowed: input_shape, num_classes, layers, name, description)"
        )
    shape = spec.get("input_shape")
    if (
        not isinstance(shape, list)
        or len(shape) not in (1, 3)
        or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape)
    ):
        raise SpecError(f"spec: input_shape must be [channels, height, width] of positive integers, got {shape!r}")
    if len(shape) == 3 and (shape[0] > MAX_INPUT_CHANNELS or max(shape[1:]) > MAX_INPUT_SIDE):
        raise SpecError(
            f"spec: input_shape {shape} is too large (at most {MAX_INPUT_CHANNELS} channels and "
            f"{MAX_INPUT_SIDE} pixels a side)"
        )
    nc = spec.get("num_classes")
    if nc is not None and (isinstance(nc, bool) or not isinstance(nc, int) or not 1 <= nc <= 100_000):
        raise SpecError(f"spec: num_classes must be an integer from 1 to 100,000, got {brief(nc)}")
    for key, most in (("name", MAX_NAME_CHARS), ("description", MAX_DESCRIPTION_CHARS)):
        if key in spec and not isinstance(spec[key], str):
            raise SpecError(f"spec: {key} must be text, got {brief(spec[key])}")
        if len(spec.get(key, "")) > most:
            raise SpecError(f"spec: its {key} is {len(spec[key]):,} characters long; at most {most:,} are kept")
    layers = spec.get("layers")
    if not isinstance(layers, list):
        raise SpecError(f"spec: layers must be a list, got {type(layers).__name__}")
    return tuple(shape), nc, layers


def _previous(rows: list[LayerSummary], row: LayerSummary) -> LayerSummary | None:
    """The row before ``row`` at the same depth (None for the first)."""
    same = [r for r in rows if r.depth == row.depth]
    i = same.index(row)
    return same[i - 1] if i > 0 else None


def _fix_for(rows: list[LayerSummary], row: LayerSummary, input_shape: Shape, what: str) -> Said:
    """A fix for the layer that costs most of ``what``, in a teacher's words."""
    before = _previous(rows, row)
    shape = before.output_shape if before is not None else input_shape
    if row.type == "Linear" and before is not None and before.type == "Flatten":
        src = _previous(rows, before)
        img = src.output_shape if src is not None else input_shape
        if len(img) == 3 and min(img[1:]) >= 2:
            return said(
                "it reads all {n} values of a {shape} map. A MaxPool2d(2) before Flatten would cut it about "
                "4×; an AdaptiveAvgPool2d(1) would leave {c} values, one per channel",
                n=f"{math.prod(img):,}",
                shape=fmt_shape(img),
                c=f"{img[0]:,}",
            )
    if row.type == "Conv2d" and what == "parameters":
        return said("a smaller kernel or fewer channels would cut it")
    if row.type == "Conv2d" and len(shape) == 3 and min(shape[1:]) >= 4:
        return said("a stride of 2, or a MaxPool2d(2) before it, would cut it about 4×; so would a smaller kernel")
    if row.type in ("Conv2d", "Linear"):
        return said("fewer channels or units would cut it")
    return said("pool earlier or use fewer channels")


def _check_cost(input_shape: Shape, rows: list[LayerSummary], params: int, madds: int, acts: int, limits: Budget) -> None:
    """Refuse a network over the server's budget, naming the layer that costs most and a fix."""
    top = [r for r in rows if r.depth == 0]
    checks = (
        (params, limits.params, "parameters", lambda r: r.params),
        (madds, limits.mult_adds, "multiply-adds", lambda r: r.mult_adds),
        (acts, limits.activations, "activation values", lambda r: math.prod(r.output_shape)),
    )
    for have, most, what, cost in checks:
        if have <= most:
            continue
        pool = top if what != "activation values" else rows
        worst = max(pool, key=cost)
        values = {
            "have": said_count(have),
            "most": said_count(most),
            "layer": f"{worst.path} {worst.type}",
            "cost": said_count(cost(worst)),
            "fix": _fix_for(rows, worst, input_shape, what),
        }
        message = {
            "parameters": said(
                "This model needs {have} parameters; at most {most} are allowed here. Layer "
                "{layer} has {cost} of them: {fix}.",
                **values,
            ),
            "multiply-adds": said(
                "This model needs {have} multiply-adds per image; at most {most} are allowed "
                "here. Layer {layer} has {cost} of them: {fix}.",
                **values,
            ),
            "activation values": said(
                "This model needs {have} activation values per image; at most {most} are "
                "allowed here. Layer {layer} has {cost} of them: {fix}.",
                **values,
            ),
        }
        raise SpecError(message[what], worst.path.split(".")[0])


def _count_layers(layers: list[Any]) -> int:
    return sum(
        1 + (_count_layers(x["layers"]) if isinstance(x, dict) and isinstance(x.get("layers"), list) else 0) for x in layers
    )


def summarize(spec: dict[str, Any], limits: Budget | None = None) -> Summary:
    """Validate ``spec`` and describe every layer; raise :class:`SpecError` naming the faulty layer.

    Runs on shapes alone: no tensor is made, so a spec too large for memory is refused cheaply. Its cost
    (parameters, multiply-adds and activations per image) is checked against ``limits`` (default: the server's
    :func:`explorer.core.budget.budget`), and a refusal names the layer that costs most and a fix.
    """
    shape, nc, layers = _check_top(spec)
    if _count_layers(layers) > MAX_LAYERS:
        raise SpecError(f"spec: {_count_layers(layers)} layers is more than the {MAX_LAYERS} allowed")
    rows: list[LayerSummary] = []
    out, rf = shape, RF((1, 1)) if len(shape) == 3 else RF(None)
    for i, layer in enumerate(layers):
        out, rf = _layer(layer, str(i), out, rf, 0, rows)
    top = [r for r in rows if r.depth == 0]
    total = sum(r.params for r in top)
    acts = sum(math.prod(r.output_shape) for r in rows)
    _check_cost(shape, rows, total, sum(r.mult_adds for r in top), acts, limits or budget())
    if nc is not None:
        ok = out == (nc,) or (nc == 2 and out == (1,))
        if not ok:
            raise SpecError(
                said(
                    "spec: the network ends with shape {shape} but num_classes is {n}: end with Flatten "
                    "and Linear(out_features={n})",
                    shape=fmt_shape(out),
                    n=nc,
                ),
                str(len(layers) - 1) if layers else None,
            )
    trainable = total
    return Summary(shape, out, rows, total, trainable, sum(r.mult_adds for r in top), acts, nc)


def validate_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Return ``spec`` if it can be built; raise :class:`SpecError` otherwise."""
    summarize(spec)
    return spec


def parse_spec(text: str) -> dict[str, Any]:
    """Parse a JSON spec and validate it. Malformed JSON raises SpecError with line and column; so does text over
    :data:`MAX_SPEC_BYTES`, before it is parsed."""
    from .safejson import parse_json

    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(
            f"the spec is {len(text) / 1e6:.1f} MB of text; a spec is at most {MAX_SPEC_BYTES / 1e6:g} MB "
            "(the largest preset is about 2 KB)"
        )
    return validate_spec(parse_json(text, "spec", SpecError))


def parse_spec_bytes(data: bytes) -> dict[str, Any]:
    """A spec file's bytes (UTF-8 JSON) -> a validated spec; its size is checked before it is decoded."""
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(
            f"the file is {len(data) / 1e6:.1f} MB; a spec is at most {MAX_SPEC_BYTES / 1e6:g} MB "
            "(the largest preset is about 2 KB)"
        )
    return parse_spec(data.decode("utf-8", errors="replace"))


# --- building -----------------------------------------------------------------------------


class Residual(nn.Module):
    """``body(x) + skip(x)``; ``skip`` is the identity, or a projection when shapes differ."""

    def __init__(self, body: nn.Sequential, skip: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.skip = skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C', H', W')
        return self.body(x) + self.skip(x)


def _make(rows: dict[str, LayerSummary], spec: dict[str, Any], path: str, in_shape: Shape) -> nn.Module:
    row = rows[path]
    if row.type != "Residual":
        return LAYER_TYPES[row.type].module(row.type, row.args, in_shape)
    mods, shape = [], in_shape
    for i, sub in enumerate(spec["layers"]):
        mods.append(_make(rows, sub, f"{path}.body.{i}", shape))
        shape = rows[f"{path}.body.{i}"].output_shape
    if shape == in_shape:
        skip: nn.Module = nn.Identity()
    elif len(shape) == 1:
        skip = nn.Linear(in_shape[0], shape[0], bias=False)
    else:
        stride = (skip_stride(in_shape[1], shape[1]), skip_stride(in_shape[2], shape[2]))
        skip = nn.Conv2d(in_shape[0], shape[0], 1, stride=stride, bias=False)
    return Residual(nn.Sequential(*mods), skip)


class SpecModel(nn.Sequential):
    """An ``nn.Sequential`` built from a spec; ``.spec`` keeps the spec it came from."""

    def __init__(self, spec: dict[str, Any], modules: list[nn.Module]) -> None:
        super().__init__(*modules)
        self.spec = spec


def build_model(spec: dict[str, Any], seed: int | None = None) -> SpecModel:
    """Build a plain ``nn.Sequential`` (one module instance per layer) from a validated spec.

    Input ``(B, *input_shape)``; output ``(B, *summary.output_shape)``.
    """
    summary = summarize(spec)
    rows = {r.path: r for r in summary.layers}
    gen_state = torch.random.get_rng_state() if seed is not None else None
    if seed is not None:
        torch.manual_seed(seed)
    try:
        mods, shape = [], summary.input_shape
        for i, layer in enumerate(spec["layers"]):
            mods.append(_make(rows, layer, str(i), shape))
            shape = rows[str(i)].output_shape
    finally:
        if gen_state is not None:
            torch.random.set_rng_state(gen_state)
    return SpecModel(json.loads(json.dumps(spec)), mods)


def output_logits_to_classes(out: torch.Tensor) -> torch.Tensor:
    """Class logits ``(B, K)`` from a model output; a single logit ``(B, 1)`` becomes ``[0, z]``.

    ``softmax([0, z])`` is ``[1 - sigmoid(z), sigmoid(z)]``, so binary one-logit models (seed 004's
    cats vs dogs) share every code path with K-class ones.
    """
    if out.ndim == 2 and out.shape[1] == 1:
        return torch.cat([torch.zeros_like(out), out], dim=1)
    return out


def format_summary(summary: Summary) -> str:
    """A text table like torchinfo's: layer, output shape, params, mult-adds, receptive field."""
    head = f"{'layer':<22}{'output shape':<16}{'params':>12}{'mult-adds':>14}  receptive field"
    lines = [head, "-" * len(head)]
    for r in summary.layers:
        name = "  " * r.depth + f"{r.path.split('.')[-1]} {r.type}"
        rf = f"{r.receptive_field[0]}x{r.receptive_field[1]}" if r.receptive_field else "whole input"
        lines.append(f"{name:<22}{fmt_shape(r.output_shape):<16}{r.params:>12,}{r.mult_adds:>14,}  {rf}")
    lines.append("-" * len(head))
    lines.append(f"input {fmt_shape(summary.input_shape)} -> output {fmt_shape(summary.output_shape)}")
    lines.append(f"total params: {summary.total_params:,}   mult-adds: {summary.total_mult_adds / 1e6:.2f} M")
    return "\n".join(lines)
