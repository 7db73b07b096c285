"""The charts of the lecture's experiments (:mod:`explorer.lessons.experiments`), one per experiment, drawn from
the result each experiment returns."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from ..i18n import EN, Translator
from .charts import PALETTE, tint

__all__ = ["experiment_figure", "EXPERIMENT_CHARTS", "experiment_table"]

_MARGIN = {"l": 10, "r": 10, "t": 10, "b": 10}


def _lines(
    series: dict[str, list[tuple[float, float]]],
    xtitle: str,
    tr: Translator,
    log_x: bool = False,
    colours: list[str] | None = None,
) -> go.Figure:
    fig = go.Figure()
    for i, (label, pts) in enumerate(series.items()):
        fig.add_scatter(
            x=[p for p, _ in pts],
            y=[a for _, a in pts],
            mode="lines+markers",
            name=label,
            line={"color": (colours or PALETTE)[i % len(PALETTE)], "width": 3},
        )
    fig.update_layout(
        height=320,
        xaxis_title=xtitle,
        xaxis_type="log" if log_x else None,
        yaxis_title=tr("test accuracy"),
        yaxis_tickformat=".0%",
        margin=_MARGIN,
    )
    return fig


def architectures(res: dict[str, Any], tr: Translator = EN) -> go.Figure:
    fig = _lines(
        {
            tr("{model} ({n} parameters)", model=r["name"], n=tr.number(r["params"])): list(
                enumerate(r["test_accuracy"], start=1)
            )
            for r in res["rows"]
        },
        tr("epoch"),
        tr,
    )
    fig.update_layout(xaxis_dtick=1)
    return fig


def rotation(res: dict[str, Any], tr: Translator = EN) -> go.Figure:
    return _lines(
        {tr("trained upright"): res["plain"], tr("trained with rotations"): res["augmented"]}, tr("rotation (degrees)"), tr
    )


def shift(res: dict[str, Any], model_name: str = "", tr: Translator = EN) -> go.Figure:
    return _lines({model_name or tr("your model"): res["sweep"]}, tr("shift (pixels)"), tr)


def pixel_shuffle(res: dict[str, Any], tr: Translator = EN) -> go.Figure:
    fig = go.Figure()
    for i, m in enumerate(("CNN", "MLP")):
        rows = [r for r in res["rows"] if r["model"] == m]
        fig.add_bar(x=[tr(r["images"]) for r in rows], y=[r["test_accuracy"] for r in rows], name=m, marker_color=PALETTE[i])
    fig.update_layout(height=300, barmode="group", yaxis_tickformat=".0%", yaxis_title=tr("test accuracy"), margin=_MARGIN)
    return fig


def data_size(res: dict[str, Any], tr: Translator = EN) -> go.Figure:
    rows = res["rows"]
    sizes = sorted({r["per_class"] for r in rows})
    means = [
        sum(r["test_accuracy"] for r in rows if r["per_class"] == n) / sum(1 for r in rows if r["per_class"] == n)
        for n in sizes
    ]
    fig = _lines(
        {tr("mean"): list(zip(sizes, means))},
        tr("training images per class (log scale)"),
        tr,
        log_x=True,
        colours=[PALETTE[1]],
    )
    fig.add_scatter(
        x=[r["per_class"] for r in rows],
        y=[r["test_accuracy"] for r in rows],
        mode="markers",
        name=tr("one repeat"),
        marker={"color": tint(PALETTE[0], 0.5), "size": 9, "line": {"color": PALETTE[0], "width": 1.5}},
    )
    return fig


def imbalance(res: dict[str, Any], rare_name: str = "", tr: Translator = EN) -> go.Figure:
    xs = [r["share"] for r in res["rows"]]
    fig = _lines(
        {
            tr("recall of class {cls}", cls=rare_name or res.get("cls_name", "?")): list(
                zip(xs, [r["recall"] for r in res["rows"]])
            ),
            tr("overall accuracy"): list(zip(xs, [r["accuracy"] for r in res["rows"]])),
        },
        tr("share of that class's training images kept (log)"),
        tr,
        log_x=True,
        colours=[PALETTE[3], PALETTE[0]],
    )
    fig.update_layout(yaxis_title="")
    return fig


EXPERIMENT_CHARTS = {
    "arch": architectures,
    "rot": rotation,
    "shift": shift,
    "shuf": pixel_shuffle,
    "size": data_size,
    "imb": imbalance,
}


def experiment_figure(name: str, res: dict[str, Any], tr: Translator = EN, **labels: str) -> go.Figure:
    """The chart of experiment ``name`` (a key of :data:`EXPERIMENT_CHARTS`) for its result ``res``; ``labels``
    name what the result does not (``model_name`` for the shift, ``rare_name`` for the imbalance)."""
    if name not in EXPERIMENT_CHARTS:
        raise ValueError(f"no chart for an experiment called {name!r}; known: {', '.join(EXPERIMENT_CHARTS)}")
    return EXPERIMENT_CHARTS[name](res, tr=tr, **labels)


def experiment_table(name: str, res: dict[str, Any]) -> list[dict[str, Any]]:
    """The numbers behind experiment ``name``'s chart, one row per point (for whoever cannot see the chart)."""
    if name == "arch":
        return [
            {
                "model": r["name"],
                "parameters": r["params"],
                **{f"epoch {i}": f"{a:.1%}" for i, a in enumerate(r["test_accuracy"], start=1)},
            }
            for r in res["rows"]
        ]
    if name == "rot":
        return [
            {"rotation (degrees)": d, "trained upright": f"{a:.1%}", "trained with rotations": f"{b:.1%}"}
            for (d, a), (_, b) in zip(res["plain"], res["augmented"])
        ]
    if name == "shift":
        return [{"shift (pixels)": k, "test accuracy": f"{a:.1%}"} for k, a in res["sweep"]]
    if name in ("shuf", "size", "imb"):
        return [
            {
                k: (f"{v:.1%}" if isinstance(v, float) and k in ("test_accuracy", "recall", "accuracy", "share") else v)
                for k, v in r.items()
            }
            for r in res["rows"]
        ]
    raise ValueError(f"no table for an experiment called {name!r}; known: {', '.join(EXPERIMENT_CHARTS)}")
