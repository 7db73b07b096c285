"""Charts of training and of a network's structure: curves, the shape flow, class counts, weight histograms."""

from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go
import torch
from torch import Tensor

from ..core.spec import Summary
from ..i18n import EN, Translator

__all__ = [
    "epoch_table",
    "ema",
    "training_curves",
    "summary_rows",
    "shape_flow",
    "class_distribution",
    "weight_histograms",
    "vector_bar",
    "value_histogram",
    "PALETTE",
    "SYMBOLS",
    "tint",
]

# Ten class and run colours, each at least 3:1 against white (WCAG 1.4.11), every pair at least 12 CIEDE2000
# apart for normal vision and for protanopia, deuteranopia and tritanopia (Machado et al. 2009) alike: found by a
# search over sRGB (tests/test_palette.py checks both from the published formulas). Tableau's ten, used before,
# came to 1.3 apart for protanopia (its orange and green) and as low as 2:1 on white.
PALETTE = ["#2a5cb8", "#ff5a00", "#485a57", "#c30000", "#9f067e", "#b48769", "#b469ff", "#878787", "#69694b", "#4587ab"]
# a shape per class beside its colour (WCAG 1.4.1): told apart by a reader who cannot tell the colours apart
SYMBOLS = ["circle", "square", "diamond", "cross", "x", "triangle-up", "triangle-down", "star", "hexagon", "triangle-left"]


def tint(colour: str, alpha: float) -> str:
    """``colour`` (``#rrggbb``) as a see-through fill: the mark's outline keeps the full colour, so its edge keeps
    its 3:1 against white while overlapping fills stay readable."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha:g})"


def ema(values: list[float], smoothing: float) -> list[float]:
    """Exponential moving average with TensorBoard's debiasing; ``smoothing`` in [0, 1)."""
    out, acc = [], 0.0
    for i, v in enumerate(values, start=1):
        acc = smoothing * acc + (1 - smoothing) * v
        out.append(acc / (1 - smoothing**i) if smoothing > 0 else v)
    return out


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _complete(rows: Any, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """The rows of a history that carry every one of ``keys`` as a number (a history from a file or the class
    board may be malformed: what cannot be drawn is left out, never a KeyError)."""
    if not isinstance(rows, list):
        return []
    return [r for r in rows if isinstance(r, dict) and all(_is_num(r.get(k)) for k in keys)]


def _step_curve(
    fig: go.Figure,
    xs: list[Any],
    ys: list[float],
    smoothing: float,
    max_points: int,
    raw: bool,
    colour: str,
    name: str,
    tr: Translator,
) -> None:
    """One run's per-step training curve, smoothed, thinned to about ``max_points`` (a few hundred points draw
    fast and look the same), with the faint raw line under it when ``raw``."""
    smooth = ema(ys, smoothing)
    stride = max(1, len(xs) // max_points)
    xs, ys, smooth = xs[::stride], ys[::stride], smooth[::stride]
    if raw and smoothing > 0:
        fig.add_scatter(
            x=xs,
            y=ys,
            mode="lines",
            line={"color": colour, "width": 1},
            opacity=0.25,
            name=f"{name} ({tr('raw')})",
            showlegend=False,
            hoverinfo="skip",
        )
    fig.add_scatter(x=xs, y=smooth, mode="lines", line={"color": colour, "width": 2}, name=name)


def _epoch_points(
    fig: go.Figure, epochs: list[dict[str, Any]], metric: str, per: str, colour: str, label: str, tr: Translator
) -> None:
    """One run's per-epoch points: validation (dotted) and test (dashed), and training's own when ``per`` is
    "epoch"."""
    x_ep = [e["step"] if per == "step" else e["epoch"] for e in epochs]
    if per == "epoch" and epochs and all(_is_num(e.get(f"train_{metric}")) for e in epochs):
        fig.add_scatter(
            x=x_ep,
            y=[e[f"train_{metric}"] for e in epochs],
            mode="lines+markers",
            line={"color": colour, "width": 2},
            name=f"{label} {tr('training')}",
        )
    for split, dash in (("val", "dot"), ("test", "dash")):
        key = f"{split}_{metric}"
        if epochs and all(_is_num(e.get(key)) for e in epochs):
            fig.add_scatter(
                x=x_ep,
                y=[e[key] for e in epochs],
                mode="lines+markers",
                line={"color": colour, "dash": dash, "width": 2},
                marker={"size": 8},
                name=f"{label} {tr('validation') if split == 'val' else tr('test')}",
            )


def training_curves(
    runs: list[tuple[str, dict[str, Any]]],
    metric: str = "loss",
    smoothing: float = 0.6,
    per: str = "step",
    max_points: int = 400,
    raw: bool = True,
    tr: Translator = EN,
) -> go.Figure:
    """Loss or accuracy of one or more runs: smoothed per-step training curve and per-epoch train/test points.

    ``runs`` is ``[(label, history)]`` with histories from ``Trainer.history()``. ``per`` is "step" or "epoch".
    ``raw=False`` leaves out the faint unsmoothed line (cheaper to redraw while training).
    """
    if metric not in ("loss", "accuracy"):
        raise ValueError(f"metric must be 'loss' or 'accuracy', got {metric!r}")
    fig = go.Figure()
    for i, (label, hist) in enumerate(runs):
        colour = PALETTE[i % len(PALETTE)]
        steps, epochs = _complete(hist.get("steps"), ("step", metric)), _complete(hist.get("epochs"), ("step", "epoch"))
        if per == "step" and steps:
            _step_curve(
                fig,
                [s["step"] for s in steps],
                [s[metric] for s in steps],
                smoothing,
                max_points,
                raw,
                colour,
                f"{label} {tr('training')}",
                tr,
            )
        _epoch_points(fig, epochs, metric, per, colour, label, tr)
    name = tr(metric)
    fig.update_layout(
        height=340,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": -0.2},
        xaxis_title=tr("step") if per == "step" else tr("epoch"),
        yaxis_title=name,
        title=name[:1].upper() + name[1:],
    )
    if metric == "accuracy":
        fig.update_yaxes(tickformat=".0%")
    return fig


def summary_rows(summary: Summary, tr: Translator = EN) -> list[dict[str, Any]]:
    """The summary as table rows for display."""
    rows = []
    for r in summary.layers:
        rf = f"{r.receptive_field[0]}×{r.receptive_field[1]}" if r.receptive_field else tr("whole image")
        rows.append(
            {
                "layer": r.path,
                "type": ("· " * r.depth) + r.type,
                "output shape": "×".join(map(str, r.output_shape)),
                "params": r.params,
                "mult-adds": r.mult_adds,
                "receptive field": rf,
            }
        )
    return rows


LABEL_ROW = 0.17  # a row of the shape flow's labels, in its y units (a block's height is at most 1)
FLOW_WIDTH_PX = 300  # the narrowest the shape flow's plot is drawn (in Build's summary column): labels kept apart there
LABEL_CHAR_PX = 6.2  # a character of a shape label at 10 px


def _label_rows(labels: list[tuple[float, float, float]]) -> list[float]:
    """Heights for labels ``(centre x, width, lowest y)`` taken left to right: each at its lowest height, or one
    row above a label it would touch there."""
    placed: list[tuple[float, float, float]] = []
    for cx, w, y in labels:
        near = [p for p in placed if p[0] < cx + w / 2 and cx - w / 2 < p[1]]  # the labels it shares columns with
        while touching := [p[2] for p in near if abs(p[2] - y) < LABEL_ROW * 0.999]:  # (a float's last bit)
            y = max(touching) + LABEL_ROW
        placed.append((cx - w / 2, cx + w / 2, y))
    return [p[2] for p in placed]


def shape_flow(summary: Summary) -> go.Figure:
    """A diagram of the tensor flowing through the network: one block per layer, height ~ spatial size,
    width ~ log(channels). A shape is written where it changes (a norm or an activation keeps it), each label one
    row above any it would touch; residual blocks' inner layers are shown indented."""
    fig = go.Figure()
    stages = [("input", summary.input_shape, 0)] + [(f"{r.path} {r.type}", r.output_shape, r.depth) for r in summary.layers]
    max_side = max((s[1] if len(s) == 3 else 1) for _, s, _ in stages)
    blocks = []  # x, width, height, colour per stage
    x = 0.0
    for _name, shape, depth in stages:
        if len(shape) == 3:
            c, h, _ = shape
            height, width = 0.25 + 0.75 * h / max_side, 0.4 + 0.25 * math.log2(c + 1)
            colour = PALETTE[0] if depth == 0 else PALETTE[4]
        else:
            height, width, colour = 0.9, 0.35, PALETTE[2]
        blocks.append((x, width, height, colour))
        x += width + 0.25
    span = x + 0.2  # the x axis's range, [-0.2, x]
    written = [i for i, (_n, s, _d) in enumerate(stages) if i == 0 or tuple(s) != tuple(stages[i - 1][1])]
    texts = {i: "×".join(map(str, stages[i][1])) for i in written}
    labels = []
    for i in written:
        cx, w = blocks[i][0] + blocks[i][1] / 2, len(texts[i]) * LABEL_CHAR_PX * span / FLOW_WIDTH_PX
        under = [b[2] for b in blocks if b[0] < cx + w / 2 and cx - w / 2 < b[0] + b[1]]  # blocks below its ends too
        labels.append((cx, w, max(under) / 2 + 0.08))
    rows = _label_rows(labels)
    for i, ((name, _shape, _depth), (x0, width, height, colour)) in enumerate(zip(stages, blocks)):
        fig.add_shape(
            type="rect",
            x0=x0,
            x1=x0 + width,
            y0=-height / 2,
            y1=height / 2,
            fillcolor=tint(colour, 0.35 + 0.4 * (i == 0)),
            line={"color": colour, "width": 2},
        )
        fig.add_annotation(
            x=x0 + width / 2,
            y=-height / 2 - 0.08,
            text=name.split(" ", 1)[-1],
            showarrow=False,
            font={"size": 9},
            yanchor="top",
            textangle=-45 if len(stages) > 8 else 0,
        )
    for i, y in zip(written, rows):
        fig.add_annotation(
            x=blocks[i][0] + blocks[i][1] / 2, y=y, text=texts[i], showarrow=False, font={"size": 10}, yanchor="bottom"
        )
    fig.update_xaxes(visible=False, range=[-0.2, x])
    fig.update_yaxes(visible=False, range=[-1.1, max([0.8, *(y + LABEL_ROW for y in rows)])])
    # room at the sides for the first and last labels, and at the top for the toolbar (shown while pointed at)
    fig.update_layout(height=250, margin={"l": 28, "r": 28, "t": 34, "b": 0}, plot_bgcolor="rgba(0,0,0,0)")
    return fig


def class_distribution(
    labels: Tensor, classes: list[str] | tuple[str, ...], title: str = "", tr: Translator = EN
) -> go.Figure:
    """Bar chart of how many images each class has (seed 003's figure)."""
    counts = torch.bincount(labels, minlength=len(classes)).tolist()
    fig = go.Figure(go.Bar(x=list(classes), y=counts, marker_color=PALETTE[0]))
    fig.update_layout(
        height=280,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title=title,
        xaxis={"type": "category", "title": tr("class")},
        yaxis_title=tr("images"),
    )
    return fig


def _bins(values: Tensor, bins: int) -> tuple[list[float], list[float], float, int]:
    """The finite values of a tensor counted into ``bins`` (``torch.histc``): bin centres, counts, bin width and
    how many values were counted. Only these numbers go to the browser, never the values themselves."""
    v = values.detach().float().flatten()
    v = v[torch.isfinite(v)]
    lo, hi = (float(v.min()), float(v.max())) if v.numel() else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    width = (hi - lo) / bins
    counts = torch.histc(v, bins, lo, hi).tolist() if v.numel() else [0.0] * bins
    return [lo + (k + 0.5) * width for k in range(bins)], counts, width, v.numel()


def weight_histograms(named: list[tuple[str, Tensor]], bins: int = 60, tr: Translator = EN) -> go.Figure:
    """One histogram per layer's weights, overlaid. Counted here with ``torch.histc`` (``bins`` numbers a
    layer go to the browser, never the weights themselves: a 10-million-weight layer costs the same)."""
    fig = go.Figure()
    for j, (name, w) in enumerate(named):
        centres, counts, width, n = _bins(w, bins)
        if n == 0:
            continue
        fig.add_bar(
            x=centres,
            y=[c / n for c in counts],
            width=width,
            name=tr("layer {layer}", layer=name),
            marker={
                "color": tint(PALETTE[j % len(PALETTE)], 0.45),
                "line": {"color": PALETTE[j % len(PALETTE)], "width": 1},
            },
        )
    fig.update_layout(
        barmode="overlay",
        height=300,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title=tr("Weight distribution (each layer normalised)"),
        xaxis_title=tr("weight"),
        yaxis_title=tr("share of the layer"),
    )
    return fig


def epoch_table(hist: dict[str, Any]) -> list[dict[str, Any]]:
    """A run's curves as a table, one row per epoch (the numbers a chart shows, for whoever cannot see it)."""
    rows = []
    for e in _complete(hist.get("epochs"), ("epoch",)):
        row: dict[str, Any] = {"epoch": e["epoch"], "step": e.get("step")}
        for k in ("train_loss", "val_loss", "test_loss", "train_accuracy", "val_accuracy", "test_accuracy"):
            if _is_num(e.get(k)):
                row[k.replace("_", " ")] = round(e[k], 4) if "loss" in k else f"{e[k]:.2%}"
        rows.append(row)
    return rows


def vector_bar(values: Tensor, labels: list[str] | tuple[str, ...], tr: Translator = EN) -> go.Figure:
    """One layer's output vector as bars, one per unit (named by ``labels`` when they are the classes)."""
    names = list(labels) if len(labels) == values.numel() else [str(i) for i in range(values.numel())]
    fig = go.Figure(go.Bar(x=names, y=values.flatten().tolist(), marker_color=PALETTE[0]))
    fig.update_layout(
        height=260, margin={"l": 10, "r": 10, "t": 10, "b": 10}, xaxis={"type": "category"}, yaxis_title=tr("value")
    )
    return fig


def value_histogram(values: Tensor, title: str, bins: int = 60, tr: Translator = EN) -> go.Figure:
    """How a layer's activations are spread (counted here: ``bins`` numbers go to the browser)."""
    centres, counts, width, _ = _bins(values, bins)
    fig = go.Figure(go.Bar(x=centres, y=counts, width=width, marker_color=PALETTE[0], marker_line_width=0))
    fig.update_layout(
        height=260,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title=title,
        xaxis_title=tr("activation"),
        yaxis_title=tr("count"),
    )
    return fig
