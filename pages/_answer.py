"""Draw's answer, as light HTML drawn at every stroke: the prediction (a polite live region), what the model sees,
its saliency, and the class probabilities as bars. Inline images, no request of their own."""

from __future__ import annotations

import html
from typing import Any

from explorer.plots import png_data_url
from pages._lang import tr, translate

__all__ = ["answer_html", "prob_bars", "pixel_img"]


def pixel_img(a: Any, px: int, caption: str = "", alt: str = "") -> str:
    """A small image shown ``px`` wide with crisp pixels, inline (no request of its own); ``alt`` says what it
    shows (the caption when not given)."""
    cap = f'<div style="font:13px sans-serif;color:#555">{html.escape(caption)}</div>' if caption else ""
    return (
        f'<figure style="margin:0"><img src="{png_data_url(a)}" width="{px}" '
        f'style="image-rendering:pixelated;display:block" alt="{html.escape(alt or caption)}">{cap}</figure>'
    )


def answer_html(
    img: Any,
    sal: Any,
    classes: tuple[str, ...],
    probs: Any,
    order: list[int],
    h: int,
    w: int,
    version: int,
    threshold: float = 0.0,
    alts: tuple[str, str] = ("", ""),
) -> str:
    """The answer to the drawing as one block: the prediction (or "not sure", below ``threshold``), what the
    model sees, and its saliency. The prediction is a polite live region: a screen reader says each new answer
    ("it reads a 7, 93% sure") without moving the reader away from the pad. ``alts``: the two images' texts.
    ``version``: the pad's drawing number, kept in a data attribute (the benchmark times pen-up to answer by it)."""
    t = translate()
    top = int(order[0])
    sure = float(probs[top])
    name = html.escape(classes[top])
    others = " · ".join(f"{html.escape(classes[int(k)])} {t.percent(float(probs[k]))}" for k in order[1:3])
    answer = (
        f'<span style="color:#b3202a">{name}</span> '
        if sure >= threshold
        else f'<span style="color:#555">{html.escape(tr("not sure"))}</span> <span style="font-size:1.1rem">{name}?</span> '
    )
    spoken = html.escape(
        tr("it reads {cls}, {sure} sure", cls=classes[top], sure=t.percent(sure, 0))
        if sure >= threshold
        else tr("not sure; perhaps {cls}, {sure}", cls=classes[top], sure=t.percent(sure, 0))
    )
    return (
        f'<div style="font-family:sans-serif" data-drawing="v{int(version)}">'
        f'<div role="status" aria-live="polite" aria-label="{spoken}" '
        f'style="font-size:1.5rem;font-weight:600;margin:0 0 2px;overflow-wrap:anywhere">'
        f"{html.escape(tr('Prediction:'))} {answer}"
        f'<span style="font-size:1.1rem">({t.percent(sure, 0)})</span></div>'
        f'<div style="margin-bottom:8px">{others}</div>'
        f'<div style="display:flex;gap:12px;flex-wrap:wrap">'
        f"{pixel_img(img, 150, tr('what the model sees ({h}×{w})', h=h, w=w), alts[0])}"
        f"{pixel_img(sal, 150, tr('saliency: where a small change moves the score most'), alts[1])}</div></div>"
    )


def prob_bars(classes: list[str], probs: list[float], top: int, max_rows: int = 12) -> str:
    """Class probabilities as light HTML bars (the most likely first when there are many classes)."""
    t = translate()
    order = range(len(classes)) if len(classes) <= max_rows else sorted(range(len(classes)), key=lambda i: -probs[i])
    rows = []
    for i in list(order)[:max_rows]:
        colour = "#d62728" if i == top else "#1f77b4"
        rows.append(
            f'<div style="display:flex;align-items:center;gap:6px;height:20px;font:13px sans-serif">'
            f'<span style="width:2.5em;text-align:right">{html.escape(classes[i])}</span>'
            f'<span style="flex:1;background:#eee;height:14px"><span style="display:block;height:14px;'
            f'width:{probs[i] * 100:.1f}%;background:{colour}"></span></span>'
            f'<span style="width:3.5em">{t.percent(probs[i])}</span></div>'
        )
    return f'<div><b style="font:14px sans-serif">{html.escape(tr("Class probabilities"))}</b>' + "".join(rows) + "</div>"
