"""Charts of what a model got right and wrong: confusion matrices, the trust curve, the learned map."""

from __future__ import annotations

import html
from typing import Any

import plotly.graph_objects as go
from torch import Tensor

from ..i18n import EN, Translator
from .charts import PALETTE, SYMBOLS

__all__ = ["coverage_figure", "learned_map_figure", "confusion_heatmap", "board_figure"]


def coverage_figure(curve: list[Any], threshold: float, tr: Translator = EN) -> go.Figure:
    """Coverage (share answered) and accuracy of the answered images against the confidence threshold
    (``curve``: :func:`explorer.interpret.trust.coverage_curve`), with the chosen threshold marked."""
    fig = go.Figure()
    xs = [c.threshold for c in curve]
    fig.add_scatter(
        x=xs,
        y=[c.coverage for c in curve],
        mode="lines",
        name=tr("answered (coverage)"),
        line={"color": PALETTE[0], "width": 3},
    )
    fig.add_scatter(
        x=xs,
        y=[c.accuracy for c in curve],
        mode="lines",
        name=tr("right, among the answered"),
        line={"color": PALETTE[2], "width": 3},
    )
    fig.add_vline(x=threshold, line_color="red", line_width=2)
    fig.update_layout(
        height=320,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={"orientation": "h", "y": -0.25},
        xaxis_title=tr("answer only when at least this sure"),
        yaxis_tickformat=".0%",
        yaxis_range=[max(0.0, min(min(c.coverage for c in curve), min(c.accuracy for c in curve)) - 0.05), 1.01],
    )
    return fig


def learned_map_figure(
    points: Tensor,
    labels: Tensor,
    classes: list[str] | tuple[str, ...],
    here: Tensor | None = None,
    here_label: str = "your drawing",
    tr: Translator = EN,
) -> go.Figure:
    """Reference images on the 2-D map of a model's features, one colour and one shape per class (its name at its
    centre), and ``here`` (a ``(2,)`` point) as a star."""
    fig = go.Figure()
    for k, name in enumerate(classes[:20]):  # past 20 classes the legend is no help: the rest share one colour
        if (labels == k).any():
            _add_class(fig, points[labels == k], k, str(name))
    rest = labels >= 20
    if rest.any():
        fig.add_scattergl(
            x=points[rest, 0].tolist(),
            y=points[rest, 1].tolist(),
            mode="markers",
            name=tr("others"),
            marker={"size": 4, "color": "#767676"},
            hoverinfo="skip",
        )
    if here is not None:
        fig.add_scatter(
            x=[float(here[0])],
            y=[float(here[1])],
            mode="markers+text",
            name=here_label,
            text=[here_label],
            textposition="top center",
            marker={"symbol": "star", "size": 20, "color": "#000", "line": {"width": 2, "color": "#fff"}},
        )
    fig.update_layout(
        height=360,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        legend={"itemsizing": "constant"},
        xaxis={"showticklabels": False, "title": tr("first direction")},
        yaxis={"showticklabels": False, "title": tr("second direction")},
    )
    return fig


def _add_class(fig: go.Figure, points: Tensor, k: int, name: str) -> None:
    """Class ``k``'s points on the map in its colour and shape, and its name at their centre (colour is never the
    only way to tell the classes apart)."""
    fig.add_scattergl(
        x=points[:, 0].tolist(),
        y=points[:, 1].tolist(),
        mode="markers",
        name=name,
        marker={
            "size": 7,
            "color": PALETTE[k % len(PALETTE)],
            "line": {"width": 0.5, "color": "#fff"},
            "symbol": SYMBOLS[k % len(SYMBOLS)],
        },
        hovertemplate=f"{name}<extra></extra>",
    )
    centre = points.mean(0)
    fig.add_annotation(
        x=float(centre[0]),
        y=float(centre[1]),
        text=f"<b>{html.escape(name)}</b>",
        showarrow=False,
        font={"size": 14, "color": "#111"},
        bgcolor="rgba(255,255,255,0.7)",
    )


def confusion_heatmap(
    matrix: Tensor,
    classes: list[str] | tuple[str, ...],
    height: int = 320,
    normalized: bool = False,
    clickable: bool = False,
    titles: tuple[str, str] | None = None,
    row_totals: Tensor | None = None,
    tr: Translator = EN,
) -> go.Figure:
    """A confusion matrix ``(K, K)`` (rows: true class, columns: predicted) with its counts written in (shares of
    each row with ``normalized``, of ``row_totals`` when the matrix shows only some classes; numbers only up to
    20 classes, where they still fit). ``clickable`` lays
    near-invisible square markers over the cells: they take the hover and report clicks (a heatmap reports no
    clicks to Streamlit), each cell's count as ``customdata``."""
    labels = [str(c) for c in classes]
    n = len(labels)
    titles = titles or (tr("what it said"), tr("what was drawn"))
    hover = tr("true") + " %{y}, " + tr("said") + " %{x}: "
    counts = matrix.long()
    z = counts.float()
    if normalized:
        totals = z.sum(1) if row_totals is None else row_totals.float()
        z = z / totals.clamp(min=1)[:, None]
    text = [[(f"{v:.0%}" if normalized else str(int(v))) if v > 0 else "" for v in row] for row in z.tolist()]
    fig = go.Figure(
        go.Heatmap(
            z=z.tolist(),
            x=labels,
            y=labels,
            text=text,
            texttemplate="%{text}" if n <= 20 else "",
            colorscale="Blues",
            showscale=False,
            hoverinfo="skip" if clickable else None,
            hovertemplate=None if clickable else hover + "%{text}<extra></extra>",
        )
    )
    if clickable:
        fig.add_scatter(
            x=[labels[j] for i in range(n) for j in range(n)],
            y=[labels[i] for i in range(n) for j in range(n)],
            mode="markers",
            customdata=[int(v) for row in counts.tolist() for v in row],
            showlegend=False,
            marker={"size": max(6, 420 // max(n, 1)), "opacity": 0.01, "symbol": "square"},
            hovertemplate=hover + "%{customdata}<extra></extra>",
        )
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": titles[0], "type": "category", "side": "top"},
        modebar={"orientation": "v"},  # down the right edge: across the top it would hide the top axis's title
        yaxis={"title": titles[1], "type": "category", "autorange": "reversed"},
    )
    return fig


def board_figure(rows: list[dict[str, Any]], tr: Translator = EN) -> go.Figure:
    """The class board: each published run a dot at its parameters (log scale) and test accuracy, named.
    Names and architectures are escaped: plotly draws tags, and these are the students' words."""
    fig = go.Figure(
        go.Scatter(
            x=[r["params"] for r in rows],
            y=[r["accuracy"] for r in rows],
            mode="markers+text",
            text=[html.escape(r["name"]) for r in rows],
            textposition="top center",
            customdata=[html.escape(r["architecture"]) for r in rows],
            marker={"size": 14, "color": PALETTE[0], "line": {"width": 1, "color": "#fff"}},
            hovertemplate="<b>%{text}</b><br>%{y:.1%} "
            + tr("test accuracy")
            + "<br>%{x:,} "
            + tr("parameters")
            + "<br>%{customdata}<extra></extra>",
        )
    )
    low = min((r["accuracy"] for r in rows), default=0.0)
    fig.update_layout(
        height=420,
        xaxis_type="log",
        xaxis_title=tr("parameters (log scale)"),
        yaxis_title=tr("test accuracy"),
        yaxis_tickformat=".0%",
        yaxis_range=[max(0.0, low - 0.05), 1.01],
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        clickmode="event+select",
    )
    return fig
