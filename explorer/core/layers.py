"""The layer types a spec may use, one record each: its arguments (checked against a schema), its shape rule
(output shape, parameters, mult-adds, receptive field), the constructor arguments its input shape decides,
and a starting point for the Build page. A new layer type is one entry in ``LAYER_TYPES``: ``spec`` builds
and checks it, ``export`` writes it, and the Build page offers it, from this record.

The constructor is torch's class of the same name (``nn.Conv2d``), called with the spec's arguments (torch's
names) and the ones the shape decides (``in_channels``); ``Residual`` is the one composite type.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from ..i18n import Refusal, Said, said
from .safejson import brief

__all__ = ["LAYER_TYPES", "LayerType", "Arg", "SpecError"]

Shape = tuple[int, ...]
Fail = Callable[[str], Exception]  # a sentence about the layer -> the SpecError to raise (it names the layer)
Rule = Callable[[dict[str, Any], Shape, "RF", Fail], tuple[Shape, int, int, "RF"]]


class SpecError(Refusal):
    """A spec that cannot work. ``layer`` is the path of the layer at fault ("3", "5.1") or None. Its message is
    English; :meth:`say` says it in a student's language when it was made from a :class:`~explorer.i18n.Said`."""

    def __init__(self, message: str | Said, layer: str | None = None) -> None:
        super().__init__(message)
        self.layer = layer


# --- argument schema ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arg:
    """One constructor argument: its kind, torch's default, and limits."""

    kind: str  # "int", "float", "bool", "pair", "choice", "padding", "opt_pair"
    default: Any = None
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""


def _pair_arg(default: Any = None, required: bool = False, minimum: int = 1, help: str = "") -> Arg:
    return Arg("pair", default, required, minimum, help=help)


def fmt_shape(shape: Shape) -> str:
    return "x".join(str(s) for s in shape)


def check_arg(where: str | Said, name: str, arg: Arg, value: Any, layer: str) -> Any:
    """Return the value in canonical form, or raise SpecError naming the layer."""

    def fail(need: Said) -> SpecError:
        return SpecError(
            said("{where}: {name} must be {need}, got {value}", where=where, name=name, need=need, value=brief(value)), layer
        )

    return _CHECKS.get(arg.kind, _check_pair)(value, arg, fail)


Fail = Callable[[Said], SpecError]


def _check_int(v: Any, arg: Arg, fail: Fail) -> int:
    minimum = arg.minimum
    if isinstance(v, bool) or not isinstance(v, int):
        raise fail(said("an integer") if minimum is None else said("an integer >= {n}", n=int(minimum)))
    if minimum is not None and v < minimum:
        raise fail(said("an integer >= {n}", n=int(minimum)))
    if arg.maximum is not None and v > arg.maximum:
        raise fail(said("at most {n}", n=int(arg.maximum)))
    return v


def _check_float(value: Any, arg: Arg, fail: Fail) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or abs(value) > 1e300 or not math.isfinite(value):
        raise fail(said("a number"))
    if (arg.minimum is not None and value < arg.minimum) or (arg.maximum is not None and value > arg.maximum):
        raise fail(
            said("between {low} and {high}", low=arg.minimum, high=arg.maximum)
            if arg.maximum is not None
            else said(">= {low}", low=arg.minimum)
        )
    return float(value)


def _check_bool(value: Any, arg: Arg, fail: Fail) -> bool:
    if not isinstance(value, bool):
        raise fail(said("true or false"))
    return value


def _check_choice(value: Any, arg: Arg, fail: Fail) -> Any:
    if value not in arg.choices:
        raise fail(said("one of {choices}", choices=", ".join(repr(c) for c in arg.choices)))
    return value


def _check_pair(value: Any, arg: Arg, fail: Fail) -> Any:
    """ "pair", "padding" and "opt_pair": an int or [int, int]; padding may also be a word, opt_pair None."""
    if arg.kind == "padding" and isinstance(value, str):
        if value not in arg.choices:
            raise fail(said("an integer, a pair, 'same' or 'valid'"))
        return value
    if arg.kind == "opt_pair" and value is None:
        return None
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise fail(said("an integer or a pair [h, w]"))
        return (_check_int(value[0], arg, fail), _check_int(value[1], arg, fail))
    return _check_int(value, arg, fail)


_CHECKS: dict[str, Callable[[Any, Arg, Fail], Any]] = {
    "int": _check_int,
    "float": _check_float,
    "bool": _check_bool,
    "choice": _check_choice,
}


def pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


@dataclass
class RF:
    """Receptive field (size and jump per axis) of the current tensor, or None once global."""

    size: tuple[int, int] | None = (1, 1)
    jump: tuple[int, int] = (1, 1)

    def through(self, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]) -> RF:
        if self.size is None:
            return self
        size = tuple(s + (k - 1) * d * j for s, k, d, j in zip(self.size, kernel, dilation, self.jump))
        return RF(size, tuple(j * s for j, s in zip(self.jump, stride)))  # type: ignore[arg-type]


def conv_out(n: int, k: int, s: int, p: int, d: int, ceil: bool = False) -> int:
    eff = d * (k - 1) + 1
    span = n + 2 * p - eff
    if span < 0:
        return 0
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= n + p:  # torch: the last window must start inside the input
        out -= 1
    return out


def skip_stride(n_in: int, n_out: int) -> int | None:
    """Stride s with floor((n_in - 1) / s) + 1 == n_out (what a 1x1 conv with stride s gives), or None."""
    for s in range(1, n_in + 1):
        if (n_in - 1) // s + 1 == n_out:
            return s
    return None


# --- shape rules: (args, input shape, receptive field, fail) -> (output shape, params, mult-adds, field) ----


def _same_padding(a: dict[str, Any], shape: Shape, fail: Fail) -> tuple[int, int]:
    """What padding='same' pads on the larger side, checked against the input."""
    _, h, w = shape
    k, s, d = pair(a["kernel_size"]), pair(a["stride"]), pair(a["dilation"])
    if s != (1, 1):
        raise fail(said("padding='same' needs stride 1, got stride {stride}", stride=a["stride"]))
    total = (d[0] * (k[0] - 1), d[1] * (k[1] - 1))  # what 'same' pads, split over both sides
    p = (total[0] - total[0] // 2, total[1] - total[1] // 2)
    if a["padding_mode"] != "zeros" and (p[0] >= h or p[1] >= w):
        raise fail(
            said(
                "padding='same' with a {k} kernel pads {p}, which must be smaller than the input {size} for "
                "padding_mode={mode}",
                k=f"{k[0]}x{k[1]}",
                p=max(p),
                size=f"{h}x{w}",
                mode=repr(a["padding_mode"]),
            )
        )
    return p


def _conv_size(a: dict[str, Any], shape: Shape, fail: Fail) -> tuple[int, int]:
    """The output height and width of a convolution with numeric or 'valid' padding, checked."""
    _, h, w = shape
    k, s, d = pair(a["kernel_size"]), pair(a["stride"]), pair(a["dilation"])
    p = (0, 0) if a["padding"] == "valid" else pair(a["padding"])
    eff = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
    if h + 2 * p[0] < eff[0] or w + 2 * p[1] < eff[1]:
        ks = f"{eff[0]}x{eff[1]}"
        kernel = said("{size} (dilated)", size=ks) if d != (1, 1) else ks
        raise fail(
            said(
                "input is {shape} (padded {p}), smaller than its {kernel} kernel",
                shape=fmt_shape(shape),
                p=p[0],
                kernel=kernel,
            )
            if any(p)
            else said("input is {shape}, smaller than its {kernel} kernel", shape=fmt_shape(shape), kernel=kernel)
        )
    if a["padding_mode"] != "zeros" and (p[0] >= h or p[1] >= w):
        raise fail(
            said(
                "padding {p} must be smaller than the input {size} for padding_mode={mode}",
                p=p,
                size=f"{h}x{w}",
                mode=repr(a["padding_mode"]),
            )
        )
    return conv_out(h, k[0], s[0], p[0], d[0]), conv_out(w, k[1], s[1], p[1], d[1])


def _conv_rule(a: dict[str, Any], shape: Shape, rf: RF, fail: Fail) -> tuple[Shape, int, int, RF]:
    c, h, w = shape
    g, o = a["groups"], a["out_channels"]
    if c % g or o % g:
        raise fail(said("groups={g} must divide both in channels ({c}) and out_channels ({o})", g=g, c=c, o=o))
    if a["padding"] == "same":
        _same_padding(a, shape, fail)
        oh, ow = h, w
    else:
        oh, ow = _conv_size(a, shape, fail)
    k = pair(a["kernel_size"])
    params = o * (c // g) * k[0] * k[1] + (o if a["bias"] else 0)
    return (o, oh, ow), params, params * oh * ow, rf.through(k, pair(a["stride"]), pair(a["dilation"]))


def _batchnorm_rule(a: dict[str, Any], shape: Shape, rf: RF, fail: Fail) -> tuple[Shape, int, int, RF]:
    return shape, 2 * shape[0] if a["affine"] else 0, math.prod(shape) if a["affine"] else 0, rf


def _pool_rule(a: dict[str, Any], shape: Shape, rf: RF, fail: Fail) -> tuple[Shape, int, int, RF]:
    c, h, w = shape
    k = pair(a["kernel_size"])
    s = pair(a["stride"]) if a["stride"] is not None else k
    p, d = pair(a["padding"]), pair(a.get("dilation", 1))
    if p[0] * 2 > k[0] or p[1] * 2 > k[1]:
        raise fail(said("padding {p} must be at most half the kernel size {k}", p=a["padding"], k=a["kernel_size"]))
    if h + 2 * p[0] < d[0] * (k[0] - 1) + 1 or w + 2 * p[1] < d[1] * (k[1] - 1) + 1:
        raise fail(said("input is {shape}, smaller than its {k} window", shape=fmt_shape(shape), k=f"{k[0]}x{k[1]}"))
    oh = conv_out(h, k[0], s[0], p[0], d[0], a["ceil_mode"])
    ow = conv_out(w, k[1], s[1], p[1], d[1], a["ceil_mode"])
    return (c, oh, ow), 0, 0, rf.through(k, s, d)


def _adaptive_rule(a: dict[str, Any], shape: Shape, rf: RF, fail: Fail) -> tuple[Shape, int, int, RF]:
    oh, ow = pair(a["output_size"])
    c, h, w = shape
    if oh > h or ow > w:
        raise fail(said("output_size {out} is larger than its input {size}", out=f"{oh}x{ow}", size=f"{h}x{w}"))
    new_rf = RF(None) if (oh, ow) == (1, 1) else rf.through((-(-h // oh), -(-w // ow)), (h // oh, w // ow), (1, 1))
    return (c, oh, ow), 0, 0, new_rf


def _flatten_rule(a: dict[str, Any], shape: Shape, rf: RF, fail: Fail) -> tuple[Shape, int, int, RF]:
    nd = len(shape) + 1  # with the batch dimension
    start, end = a["start_dim"], a["end_dim"] % nd
    if start >= nd or end < start:
        raise fail(
            said(
                "start_dim={start}, end_dim={end} do not fit a {shape} input",
                start=a["start_dim"],
                end=a["end_dim"],
                shape=fmt_shape(shape),
            )
        )
    dims = (1,) + shape
    return dims[1:start] + (math.prod(dims[start : end + 1]),) + dims[end + 1 :], 0, 0, RF(None)


def _linear_rule(a: dict[str, Any], shape: Shape, rf: RF, fail: Fail) -> tuple[Shape, int, int, RF]:
    fin, fout = shape[-1], a["out_features"]
    params = fin * fout + (fout if a["bias"] else 0)
    return shape[:-1] + (fout,), params, params * math.prod(shape[:-1]), RF(None) if len(shape) == 1 else rf


def _same_shape(a: dict[str, Any], shape: Shape, rf: RF, fail: Fail) -> tuple[Shape, int, int, RF]:
    return shape, 0, 0, rf  # activations and dropout keep the shape


def _no_shape_args(shape: Shape) -> dict[str, int]:
    return {}


# --- the records ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerType:
    """One layer type. ``rule`` is None for ``Residual`` (its shape is its layers' and its skip's)."""

    args: dict[str, Arg]
    rule: Rule | None
    from_shape: Callable[[Shape], dict[str, int]] = _no_shape_args  # constructor arguments the input decides
    spatial: bool = False  # needs a (channels, height, width) input
    starter: dict[str, Any] = field(default_factory=dict)  # a new layer's arguments on the Build page

    def module(self, name: str, args: dict[str, Any], in_shape: Shape) -> nn.Module:
        """torch's module for this layer (not for ``Residual``, which ``spec`` assembles from its layers)."""
        return getattr(nn, name)(**self.from_shape(in_shape), **args)


_POOL_ARGS = {
    "kernel_size": _pair_arg(required=True),
    "stride": Arg("opt_pair", None, minimum=1),
    "padding": _pair_arg(0, minimum=0),
}

LAYER_TYPES: dict[str, LayerType] = {
    "Conv2d": LayerType(
        {
            "out_channels": Arg("int", required=True, minimum=1, maximum=4096, help="number of kernels"),
            "kernel_size": _pair_arg(required=True, help="kernel side"),
            "stride": _pair_arg(1),
            "padding": Arg("padding", 0, minimum=0, choices=("same", "valid")),
            "dilation": _pair_arg(1),
            "groups": Arg("int", 1, minimum=1),
            "bias": Arg("bool", True),
            "padding_mode": Arg("choice", "zeros", choices=("zeros", "reflect", "replicate", "circular")),
        },
        _conv_rule,
        lambda s: {"in_channels": s[0]},
        True,
        {"out_channels": 8, "kernel_size": 3, "padding": 1},
    ),
    "BatchNorm2d": LayerType(
        {
            "eps": Arg("float", 1e-5, minimum=0.0),
            "momentum": Arg("float", 0.1, minimum=0.0, maximum=1.0),
            "affine": Arg("bool", True),
            "track_running_stats": Arg("bool", True),
        },
        _batchnorm_rule,
        lambda s: {"num_features": s[0]},
        True,
    ),
    "ReLU": LayerType({}, _same_shape),
    "LeakyReLU": LayerType({"negative_slope": Arg("float", 0.01)}, _same_shape),
    "ELU": LayerType({"alpha": Arg("float", 1.0)}, _same_shape),
    "GELU": LayerType({"approximate": Arg("choice", "none", choices=("none", "tanh"))}, _same_shape),
    "Tanh": LayerType({}, _same_shape),
    "Sigmoid": LayerType({}, _same_shape),
    "MaxPool2d": LayerType(
        {**_POOL_ARGS, "dilation": _pair_arg(1), "ceil_mode": Arg("bool", False)},
        _pool_rule,
        spatial=True,
        starter={"kernel_size": 2},
    ),
    "AvgPool2d": LayerType(
        {**_POOL_ARGS, "ceil_mode": Arg("bool", False), "count_include_pad": Arg("bool", True)},
        _pool_rule,
        spatial=True,
        starter={"kernel_size": 2},
    ),
    "AdaptiveAvgPool2d": LayerType(
        {"output_size": _pair_arg(required=True)}, _adaptive_rule, spatial=True, starter={"output_size": 1}
    ),
    "Flatten": LayerType(
        {"start_dim": Arg("int", 1, minimum=1, maximum=3), "end_dim": Arg("int", -1, minimum=-1, maximum=3)}, _flatten_rule
    ),
    "Linear": LayerType(
        {"out_features": Arg("int", required=True, minimum=1, maximum=1_000_000), "bias": Arg("bool", True)},
        _linear_rule,
        lambda s: {"in_features": s[-1]},
        starter={"out_features": 10},
    ),
    "Dropout": LayerType({"p": Arg("float", 0.5, minimum=0.0, maximum=1.0)}, _same_shape, starter={"p": 0.5}),
    "Dropout2d": LayerType(
        {"p": Arg("float", 0.5, minimum=0.0, maximum=1.0)}, _same_shape, spatial=True, starter={"p": 0.2}
    ),
    # takes "layers" (a list of layer specs, checked like the top level): body(x) + skip(x)
    "Residual": LayerType(
        {},
        None,
        starter={
            "layers": [
                {"type": "BatchNorm2d"},
                {"type": "ReLU"},
                {"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
            ]
        },
    ),
}
