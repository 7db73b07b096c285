"""Plotly figures and image grids the pages show; kept here so pages stay short and figures testable."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from torch import Tensor

from .core.spec import Summary

__all__ = ["png_data_url", "ema", "training_curves", "shape_flow", "summary_rows", "class_distribution", "image_grid",
           "PALETTE"]

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]


def ema(values: list[float], smoothing: float) -> list[float]:
    """Exponential moving average with TensorBoard's debiasing; ``smoothing`` in [0, 1)."""
    out, acc = [], 0.0
    for i, v in enumerate(values, start=1):
        acc = smoothing * acc + (1 - smoothing) * v
        out.append(acc / (1 - smoothing ** i) if smoothing > 0 else v)
    return out


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _complete(rows: Any, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """The rows of a history that carry every one of ``keys`` as a number (a history from a file or the class
    board may be malformed: what cannot be drawn is left out, never a KeyError)."""
    if not isinstance(rows, list):
        return []
    return [r for r in rows if isinstance(r, dict) and all(_is_num(r.get(k)) for k in keys)]


def training_curves(runs: list[tuple[str, dict[str, Any]]], metric: str = "loss", smoothing: float = 0.6,
                    per: str = "step", max_points: int = 400, raw: bool = True) -> go.Figure:
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
            xs = [s["step"] for s in steps]
            ys = [s[metric] for s in steps]
            smooth = ema(ys, smoothing)
            stride = max(1, len(steps) // max_points)  # a few hundred points draw fast and look the same
            xs, ys, smooth = xs[::stride], ys[::stride], smooth[::stride]
            if raw and smoothing > 0:
                fig.add_scatter(x=xs, y=ys, mode="lines", line={"color": colour, "width": 1}, opacity=0.25,
                                name=f"{label} train (raw)", showlegend=False, hoverinfo="skip")
            fig.add_scatter(x=xs, y=smooth, mode="lines", line={"color": colour, "width": 2},
                            name=f"{label} train")
        x_ep = [e["step"] if per == "step" else e["epoch"] for e in epochs]
        if per == "epoch" and epochs and all(_is_num(e.get(f"train_{metric}")) for e in epochs):
            fig.add_scatter(x=x_ep, y=[e[f"train_{metric}"] for e in epochs], mode="lines+markers",
                            line={"color": colour, "width": 2}, name=f"{label} train")
        for split, dash in (("val", "dot"), ("test", "dash")):
            key = f"{split}_{metric}"
            if epochs and all(_is_num(e.get(key)) for e in epochs):
                fig.add_scatter(x=x_ep, y=[e[key] for e in epochs], mode="lines+markers",
                                line={"color": colour, "dash": dash, "width": 2}, marker={"size": 8},
                                name=f"{label} {split}")
    fig.update_layout(height=340, margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"orientation": "h", "y": -0.2},
                      xaxis_title="step" if per == "step" else "epoch", yaxis_title=metric, title=metric.capitalize())
    if metric == "accuracy":
        fig.update_yaxes(tickformat=".0%")
    return fig


def summary_rows(summary: Summary) -> list[dict[str, Any]]:
    """The summary as table rows for display."""
    rows = []
    for r in summary.layers:
        rf = f"{r.receptive_field[0]}×{r.receptive_field[1]}" if r.receptive_field else "whole image"
        rows.append({"layer": r.path, "type": ("· " * r.depth) + r.type,
                     "output shape": "×".join(map(str, r.output_shape)), "params": r.params,
                     "mult-adds": r.mult_adds, "receptive field": rf})
    return rows


def shape_flow(summary: Summary) -> go.Figure:
    """A diagram of the tensor flowing through the network: one block per layer, height ~ spatial size,
    width ~ log(channels), labelled with its shape. Residual blocks' inner layers are shown indented."""
    fig = go.Figure()
    stages = [("input", summary.input_shape, 0)] + [(f"{r.path} {r.type}", r.output_shape, r.depth)
                                                     for r in summary.layers]
    x = 0.0
    max_side = max((s[1] if len(s) == 3 else 1) for _, s, _ in stages)
    for i, (name, shape, depth) in enumerate(stages):
        if len(shape) == 3:
            c, h, _ = shape
            height = 0.25 + 0.75 * h / max_side
            width = 0.4 + 0.25 * math.log2(c + 1)
            colour = PALETTE[0] if depth == 0 else PALETTE[4]
        else:
            c, height, width, colour = shape[0], 0.9, 0.35, PALETTE[2]
        fig.add_shape(type="rect", x0=x, x1=x + width, y0=-height / 2, y1=height / 2,
                      fillcolor=colour, opacity=0.35 + 0.4 * (i == 0), line={"color": colour})
        fig.add_annotation(x=x + width / 2, y=height / 2 + 0.08, text="×".join(map(str, shape)), showarrow=False,
                           font={"size": 10}, yanchor="bottom")
        fig.add_annotation(x=x + width / 2, y=-height / 2 - 0.08, text=name.split(" ", 1)[-1], showarrow=False,
                           font={"size": 9}, yanchor="top", textangle=-45 if len(stages) > 8 else 0)
        x += width + 0.25
    fig.update_xaxes(visible=False, range=[-0.2, x])
    fig.update_yaxes(visible=False, range=[-1.1, 0.8])
    fig.update_layout(height=230, margin={"l": 0, "r": 0, "t": 10, "b": 0}, plot_bgcolor="rgba(0,0,0,0)")
    return fig


def class_distribution(labels: Tensor, classes: list[str] | tuple[str, ...], title: str = "") -> go.Figure:
    """Bar chart of how many images each class has (seed 003's figure)."""
    counts = torch.bincount(labels, minlength=len(classes)).tolist()
    fig = go.Figure(go.Bar(x=list(classes), y=counts, marker_color=PALETTE[0]))
    fig.update_layout(height=280, margin={"l": 10, "r": 10, "t": 30, "b": 10}, title=title,
                      xaxis={"type": "category", "title": "class"}, yaxis_title="images")
    return fig


def image_grid(x: Tensor, ncols: int, pad: int = 2, scale: int = 1, background: int = 128) -> np.ndarray:
    """uint8 images ``(N, C, H, W)`` -> one uint8 array ``(rows*(H+pad), ncols*(W+pad)[, 3])`` for display."""
    if x.ndim != 4:
        raise ValueError(f"expected images (N, C, H, W), got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    rows = max(1, math.ceil(n / ncols))
    grid = np.full((rows * (h + pad) + pad, ncols * (w + pad) + pad, c), background, dtype=np.uint8)
    arr = x.permute(0, 2, 3, 1).numpy()
    for i in range(n):
        r, col = divmod(i, ncols)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + col * (w + pad): pad + col * (w + pad) + w] = arr[i]
    if scale > 1:
        grid = grid.repeat(scale, 0).repeat(scale, 1)
    return grid[..., 0] if c == 1 else grid


# --- images for kernels and feature maps (numpy, fast enough to redraw live) ---

_DIVERGING = np.array([[33, 102, 172], [103, 169, 207], [209, 229, 240], [247, 247, 247], [253, 219, 199],
                       [239, 138, 98], [178, 24, 43]], dtype=np.float32)  # blue - white - red (RdBu reversed)


def colorize(a: np.ndarray | Tensor, cmap: str = "gray", vmin: float | None = None,
             vmax: float | None = None) -> np.ndarray:
    """A 2-D array -> uint8 RGB ``(H, W, 3)``. ``diverging`` is centred on zero (white), blue < 0 < red;
    ``gray`` maps vmin..vmax to black..white."""
    a = np.asarray(a.detach().cpu() if isinstance(a, Tensor) else a, dtype=np.float32)
    if cmap == "diverging":
        m = max(abs(vmin or 0.0), abs(vmax or 0.0)) if (vmin is not None or vmax is not None) else float(np.abs(a).max())
        t = (np.clip(a / (m or 1.0), -1, 1) + 1) / 2 * (len(_DIVERGING) - 1)
        lo = np.floor(t).astype(int).clip(0, len(_DIVERGING) - 2)
        f = (t - lo)[..., None]
        return (_DIVERGING[lo] * (1 - f) + _DIVERGING[lo + 1] * f).round().astype(np.uint8)
    lo_v = float(a.min()) if vmin is None else vmin
    hi_v = float(a.max()) if vmax is None else vmax
    g = np.clip((a - lo_v) / ((hi_v - lo_v) or 1.0), 0, 1)
    return np.repeat((g * 255).round().astype(np.uint8)[..., None], 3, axis=2)


def png_data_url(img: np.ndarray) -> str:
    """A small uint8 image ``(H, W)`` or ``(H, W, 3)`` as a ``data:image/png`` URL, for inline HTML: the page
    gets it in the same message as the text around it (no extra request per image)."""
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img)).save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def upscale(img: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour enlarge so the longer side is about ``size`` pixels (crisp pixels for small maps)."""
    f = max(1, size // max(img.shape[:2]))
    return img.repeat(f, 0).repeat(f, 1)


MAX_MOSAIC_PIXELS = 4_000_000  # one kernel mosaic: a few MB of PNG at most, whatever the layer


def kernel_mosaic(w: Tensor, scale: str = "shared", max_in: int = 16, cell: int = 40, pad: int = 3,
                  max_out: int = 64) -> np.ndarray:
    """Kernels ``(O, I, kh, kw)`` as one RGB image: row o = output channel, column i = input channel (with one
    input channel, rows of 8 kernels), diverging colours centred on zero; ``scale`` is "shared" (one range for
    the layer) or "per-kernel". At most ``max_out`` output and ``max_in`` input channels are drawn, and cells
    shrink so the image stays under :data:`MAX_MOSAIC_PIXELS` (a 4096-channel layer is a page, not a poster)."""
    if w.ndim != 4:
        raise ValueError(f"expected conv weights (O, I, kh, kw), got shape {tuple(w.shape)}")
    w = w[:max_out, :max_in]
    o, i, kh, kw = w.shape
    rows_, cols_ = (-(-o // 8), min(o, 8)) if i == 1 else (o, i)
    while cell > 4 and rows_ * cols_ * (cell + pad) ** 2 > MAX_MOSAIC_PIXELS:
        cell //= 2
    f = max(1, cell // max(kh, kw))
    h, wd = kh * f, kw * f
    # one input channel: wrap the kernels into rows of 8 instead of one tall column
    rows, cols = (-(-o // 8), min(o, 8)) if i == 1 else (o, i)
    out = np.full((rows * (h + pad) + pad, cols * (wd + pad) + pad, 3), 255, dtype=np.uint8)
    m = float(w.abs().max()) or 1.0
    for r in range(o):
        for c in range(i):
            k = w[r, c]
            lim = (float(k.abs().max()) or 1.0) if scale == "per-kernel" else m
            tile = upscale(colorize(k, "diverging", -lim, lim), max(h, wd))[:h, :wd]
            y, x = divmod(r, 8) if i == 1 else (r, c)
            out[pad + y * (h + pad): pad + y * (h + pad) + h, pad + x * (wd + pad): pad + x * (wd + pad) + wd] = tile
    return out


def weight_histograms(named: list[tuple[str, Tensor]], bins: int = 60) -> go.Figure:
    """One histogram per layer's weights, overlaid. Counted here with ``torch.histc`` (``bins`` numbers a
    layer go to the browser, never the weights themselves: a 10-million-weight layer costs the same)."""
    fig = go.Figure()
    for j, (name, w) in enumerate(named):
        v = w.detach().float().flatten()
        v = v[torch.isfinite(v)]
        if v.numel() == 0:
            continue
        lo, hi = float(v.min()), float(v.max())
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        share = (torch.histc(v, bins, lo, hi) / v.numel()).tolist()
        width = (hi - lo) / bins
        fig.add_bar(x=[lo + (k + 0.5) * width for k in range(bins)], y=share, width=width, name=f"layer {name}",
                    opacity=0.6, marker_color=PALETTE[j % len(PALETTE)], marker_line_width=0)
    fig.update_layout(barmode="overlay", height=300, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      title="Weight distribution (each layer normalised)", xaxis_title="weight",
                      yaxis_title="share of the layer")
    return fig


def overlay(gray: np.ndarray | Tensor, attr: np.ndarray | Tensor, size: int = 168, alpha: float = 0.65) -> np.ndarray:
    """An attribution map over the image it explains: ``gray (H, W)`` in 0..255 and ``attr (H, W)`` -> RGB.

    Signed maps use the diverging colours (blue against, red for); non-negative maps go from the image to red.
    """
    g = np.asarray(gray.cpu() if isinstance(gray, Tensor) else gray, dtype=np.float32)
    a = np.asarray(attr.detach().cpu() if isinstance(attr, Tensor) else attr, dtype=np.float32)
    base = np.repeat((g / 255.0 * 0.6 * 255)[..., None], 3, axis=2)
    m = float(np.abs(a).max()) or 1.0
    col = colorize(a, "diverging", -m, m).astype(np.float32)
    w = (np.abs(a) / m)[..., None] * alpha
    out = base * (1 - w) + col * w
    return upscale(out.clip(0, 255).astype(np.uint8), size)


def coverage_figure(curve: list[Any], threshold: float) -> go.Figure:
    """Coverage (share answered) and accuracy of the answered images against the confidence threshold
    (``curve``: :func:`explorer.interpret.trust.coverage_curve`), with the chosen threshold marked."""
    fig = go.Figure()
    xs = [c.threshold for c in curve]
    fig.add_scatter(x=xs, y=[c.coverage for c in curve], mode="lines", name="answered (coverage)",
                    line={"color": PALETTE[0], "width": 3})
    fig.add_scatter(x=xs, y=[c.accuracy for c in curve], mode="lines", name="right, among the answered",
                    line={"color": PALETTE[2], "width": 3})
    fig.add_vline(x=threshold, line_color="red", line_width=2)
    fig.update_layout(height=320, margin={"l": 10, "r": 10, "t": 10, "b": 10}, legend={"orientation": "h", "y": -0.25},
                      xaxis_title="answer only when at least this sure", yaxis_tickformat=".0%",
                      yaxis_range=[max(0.0, min(min(c.coverage for c in curve), min(c.accuracy for c in curve)) - 0.05),
                                   1.01])
    return fig


def learned_map_figure(points: Tensor, labels: Tensor, classes: list[str] | tuple[str, ...],
                       here: Tensor | None = None, here_label: str = "your drawing") -> go.Figure:
    """Reference images on the 2-D map of a model's features, one colour per class, and ``here`` (a ``(2,)``
    point) as a star."""
    fig = go.Figure()
    for k, name in enumerate(classes[:20]):  # past 20 classes the legend is no help: the rest share one colour
        sel = labels == k
        if sel.any():
            fig.add_scattergl(x=points[sel, 0].tolist(), y=points[sel, 1].tolist(), mode="markers", name=str(name),
                              marker={"size": 5, "opacity": 0.6, "color": PALETTE[k % len(PALETTE)]},
                              hovertemplate=f"{name}<extra></extra>")
    rest = labels >= 20
    if rest.any():
        fig.add_scattergl(x=points[rest, 0].tolist(), y=points[rest, 1].tolist(), mode="markers", name="others",
                          marker={"size": 4, "opacity": 0.4, "color": "#999"}, hoverinfo="skip")
    if here is not None:
        fig.add_scatter(x=[float(here[0])], y=[float(here[1])], mode="markers+text", name=here_label,
                        text=[here_label], textposition="top center",
                        marker={"symbol": "star", "size": 20, "color": "#000", "line": {"width": 2, "color": "#fff"}})
    fig.update_layout(height=360, margin={"l": 10, "r": 10, "t": 10, "b": 10}, legend={"itemsizing": "constant"},
                      xaxis={"showticklabels": False, "title": "first direction"},
                      yaxis={"showticklabels": False, "title": "second direction"})
    return fig


def confusion_heatmap(matrix: Tensor, classes: list[str] | tuple[str, ...], height: int = 320) -> go.Figure:
    """A small confusion matrix ``(K, K)`` (rows: true class, columns: predicted) with its counts written in."""
    labels = [str(c) for c in classes]
    z = matrix.float().tolist()
    text = [[str(int(v)) if v else "" for v in row] for row in matrix.tolist()]
    fig = go.Figure(go.Heatmap(z=z, x=labels, y=labels, text=text, texttemplate="%{text}", colorscale="Blues",
                               showscale=False, hovertemplate="true %{y}, said %{x}: %{z}<extra></extra>"))
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      xaxis={"title": "what it said", "type": "category", "side": "top"},
                      yaxis={"title": "what was drawn", "type": "category", "autorange": "reversed"})
    return fig
