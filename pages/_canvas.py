"""The drawing pad of the Draw page: a Streamlit components-v2 component, inline HTML/CSS/JS, no build step.

It answers while the pen moves: the drawing goes to the server as a small PNG at most 10 times a second
while drawing and at once on pen-up (no debounce). Brush width, draw/erase pen, undo/redo and clear are
handled in the browser; mouse, pen and touch all work through pointer events. The square is black with a
fixed size in CSS pixels, the same in every browser. ``canvas.dataset.seq`` counts the versions sent, and
the server's answer names the version it answered (the browser test times pen-up -> answer with it).

By keyboard alone (WCAG 2.1.1, 2.5.7), the pad is a grid of 28×28 cells: Tab to it, the arrow keys move a
visible cursor, Space inks the cell (or rubs it out with Erase on), Shift+arrows ink as they move; each cell
inked is sent at once, like a pen-up, and a polite live line says where the cursor is.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import streamlit as st

from explorer.i18n import DEFAULT_LANGUAGE, Translator, translator

SIZE = 280
CELLS = 28  # the keyboard's grid: one cell per pixel the model sees
PAD_LABEL = (
    f"drawing pad, {CELLS} by {CELLS} cells: arrow keys move the cursor, Space inks a cell, Shift and an "
    "arrow inks as it moves; or draw with a mouse, pen or finger"
)

HTML = f"""
<div class="pad">
  <div class="wrap">
    <canvas width="{SIZE}" height="{SIZE}" tabindex="0" role="application" aria-roledescription="drawing pad"
            aria-label="{PAD_LABEL}"></canvas>
    <div class="cursor" aria-hidden="true"></div>
  </div>
  <div class="where" aria-live="polite">Keyboard: Tab here, arrows move, Space inks.</div>
  <div class="bar">
    <label><span class="brush-word">Brush</span> <input type="range" class="brush" min="8" max="40" value="20"></label>
    <button class="pen on" title="draw white ink">Draw</button>
    <button class="erase" title="paint black: rub out part of the digit">Erase</button>
    <button class="undo" title="undo the last stroke">Undo</button>
    <button class="redo" title="redo">Redo</button>
    <button class="clear" title="start again">Clear</button>
  </div>
</div>
"""

CSS = f"""
.pad {{ display: flex; flex-direction: column; gap: 6px; width: 100%; max-width: {SIZE}px;
        font: 14px "Source Sans Pro", sans-serif; }}
canvas {{ width: 100%; aspect-ratio: 1 / 1; height: auto; background: #000; border-radius: 6px; touch-action: none;
         cursor: crosshair; display: block; }}  /* a black square: {SIZE} px, or the column's width if narrower */
.wrap {{ position: relative; width: 100%; }}
canvas:focus-visible {{ outline: 3px solid #1a5fb4; outline-offset: 2px; }}
.cursor {{ display: none; position: absolute; width: calc(100% / {CELLS}); height: calc(100% / {CELLS});
           box-sizing: border-box; border: 2px solid #f6d32d; pointer-events: none; }}
.wrap:focus-within .cursor {{ display: block; }}
.where {{ font-size: 13px; color: #333; min-height: 1.2em; }}
.bar button {{ min-width: 24px; min-height: 24px; }}  /* WCAG 2.5.8: targets at least 24x24 px */
.bar {{ display: flex; flex-wrap: wrap; gap: 4px; align-items: center; width: 100%; }}
.bar label {{ display: flex; align-items: center; gap: 4px; width: 100%; }}
.bar input {{ flex: 1; accent-color: #d33; }}
.bar button {{ flex: 1; padding: 4px 0; border: 1px solid #ccc; border-radius: 6px; background: #fff; cursor: pointer;
              font: inherit; }}
.bar button.on {{ background: #d33; color: #fff; border-color: #d33; }}
"""

INTERVAL_MS = 100  # while drawing: about 10 drawings a second, each answered in about 50 ms here

JS = """
const INTERVAL = __INTERVAL_MS__, CELLS = __CELLS__;
export default function (component) {
  const { parentElement, setStateValue, data } = component;
  const canvas = parentElement.querySelector("canvas");
  if (!canvas) return;
  let st = canvas.__pad;
  if (!st) {  // first mount: the state lives on the canvas, so reruns keep the drawing
    st = canvas.__pad = { strokes: [], undone: [], current: null, erase: false, base: null, seq: 0,
                          lastSent: 0, timer: null, answered: 0, pending: false };
    const ctx = canvas.getContext("2d");
    const brush = parentElement.querySelector(".brush");
    const penBtn = parentElement.querySelector(".pen"), eraseBtn = parentElement.querySelector(".erase");
    const paint = (s) => {
      ctx.strokeStyle = s.erase ? "#000" : "#fff"; ctx.fillStyle = ctx.strokeStyle;
      ctx.lineWidth = s.width; ctx.lineCap = "round"; ctx.lineJoin = "round";
      const p = s.points;
      if (p.length === 1) { ctx.beginPath(); ctx.arc(p[0][0], p[0][1], s.width / 2, 0, 2 * Math.PI); ctx.fill(); return; }
      ctx.beginPath(); ctx.moveTo(p[0][0], p[0][1]);
      for (let i = 1; i < p.length; i++) ctx.lineTo(p[i][0], p[i][1]);
      ctx.stroke();
    };
    const redraw = () => {
      ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height);
      if (st.base) ctx.drawImage(st.base, 0, 0, canvas.width, canvas.height);
      st.strokes.forEach(paint);
      if (st.current) paint(st.current);
    };
    const send = () => {
      clearTimeout(st.timer); st.timer = null;
      st.seq += 1; st.lastSent = performance.now();
      canvas.dataset.seq = String(st.seq);
      const empty = !st.base && st.strokes.length === 0 && !st.current;
      st.component.setStateValue("drawing", { seq: st.seq, png: empty ? "" : canvas.toDataURL("image/png") });
    };
    const sendSoon = () => {  // while drawing: every INTERVAL ms at most, never past an unanswered version
      if (st.answered < st.seq) { st.pending = true; return; }
      const wait = INTERVAL - (performance.now() - st.lastSent);
      if (wait <= 0) send(); else if (!st.timer) st.timer = setTimeout(send, wait);
    };
    st.sendSoon = sendSoon;
    const at = (e) => {
      const r = canvas.getBoundingClientRect();
      return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
    };
    canvas.addEventListener("pointerdown", (e) => {
      canvas.setPointerCapture(e.pointerId);
      st.current = { points: [at(e)], width: Number(brush.value), erase: st.erase };
      st.undone = []; redraw(); sendSoon();
    });
    canvas.addEventListener("pointermove", (e) => {
      if (!st.current) return;
      st.current.points.push(at(e)); redraw(); sendSoon();
    });
    const end = () => {
      if (!st.current) return;
      st.strokes.push(st.current); st.current = null; redraw(); send();  // pen-up: at once
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    penBtn.onclick = () => { st.erase = false; penBtn.classList.add("on"); eraseBtn.classList.remove("on"); };
    eraseBtn.onclick = () => { st.erase = true; eraseBtn.classList.add("on"); penBtn.classList.remove("on"); };
    parentElement.querySelector(".undo").onclick = () => {
      if (st.strokes.length) { st.undone.push(st.strokes.pop()); redraw(); send(); }
    };
    parentElement.querySelector(".redo").onclick = () => {
      if (st.undone.length) { st.strokes.push(st.undone.pop()); redraw(); send(); }
    };
    parentElement.querySelector(".clear").onclick = () => {
      st.strokes = []; st.undone = []; st.base = null; redraw(); send();
    };
    // keyboard: a cursor on a CELLS x CELLS grid; Space inks its cell, Shift+arrow inks while moving
    const cursor = parentElement.querySelector(".cursor"), where = parentElement.querySelector(".where");
    st.cell = [Math.floor(CELLS / 2), Math.floor(CELLS / 2)];
    const showCursor = (said) => {
      cursor.style.left = (100 * st.cell[1] / CELLS) + "%"; cursor.style.top = (100 * st.cell[0] / CELLS) + "%";
      const w = st.words || {};
      where.textContent = (w.where || "row {row}, column {col} of {n}").replace("{row}", st.cell[0] + 1)
        .replace("{col}", st.cell[1] + 1).replace("{n}", CELLS) + (said ? `: ${said}` : "");
    };
    const ink = () => {
      const size = canvas.width / CELLS;
      st.strokes.push({ points: [[(st.cell[1] + 0.5) * size, (st.cell[0] + 0.5) * size]],
                        width: Number(brush.value), erase: st.erase });
      st.undone = []; redraw(); send();
      return st.erase ? ((st.words || {}).rubbed || "rubbed out") : ((st.words || {}).inked || "inked");
    };
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    canvas.addEventListener("focus", () => showCursor(""));
    canvas.addEventListener("keydown", (e) => {
      if (moves[e.key]) {
        e.preventDefault();
        const [dr, dc] = moves[e.key];
        st.cell = [Math.min(CELLS - 1, Math.max(0, st.cell[0] + dr)), Math.min(CELLS - 1, Math.max(0, st.cell[1] + dc))];
        showCursor(e.shiftKey ? ink() : "");
      } else if (e.key === " " || e.key === "Spacebar") {
        e.preventDefault();
        showCursor(ink());
      }
    });
    showCursor("");
    st.redraw = redraw;
    redraw();
  }
  if (data && data.words && data.words !== st.wordsJson) {  // the page's language: the pad's words in it
    st.wordsJson = data.words;
    const w = st.words = JSON.parse(data.words), q = (s) => parentElement.querySelector(s);
    for (const [sel, text, title] of [[".pen", w.draw, w.draw_title], [".erase", w.erase, w.erase_title],
                                      [".undo", w.undo, w.undo_title], [".redo", w.redo, w.redo_title],
                                      [".clear", w.clear, w.clear_title], [".brush-word", w.brush, null]]) {
      const e = q(sel);
      if (e) { e.textContent = text; if (title) e.title = title; }
    }
    canvas.setAttribute("aria-label", w.label);
    canvas.setAttribute("aria-roledescription", w.role);
  }
  st.component = component;  // the latest mount's setters
  if (data && data.answered > st.answered) {  // the server answered a version: the pen may send again
    st.answered = data.answered;
    if (st.pending && st.current) { st.pending = false; st.sendSoon(); }
  }
  if (data && data.restore && !st.restored && st.strokes.length === 0) {  // back on the page: show the last drawing
    st.restored = true;
    const img = new Image();
    img.onload = () => { st.base = img; st.redraw(); };
    img.src = data.restore;
  }
}
"""

_pad = st.components.v2.component(
    "cnn_explorer_drawing_pad",
    html=HTML,
    css=CSS,
    js=JS.replace("__INTERVAL_MS__", str(INTERVAL_MS)).replace("__CELLS__", str(CELLS)),
)


def pad_words(tr: Translator) -> str:
    """The pad's words in ``tr``'s language (its buttons, their tooltips, its name for a screen reader), as the
    JSON the pad reads."""
    return json.dumps(
        {
            "draw": tr("Draw"),
            "draw_title": tr("draw white ink"),
            "erase": tr("Erase"),
            "erase_title": tr("paint black: rub out part of the digit"),
            "undo": tr("Undo"),
            "undo_title": tr("undo the last stroke"),
            "redo": tr("Redo"),
            "redo_title": tr("redo"),
            "clear": tr("Clear"),
            "clear_title": tr("start again"),
            "brush": tr("Brush"),
            "role": tr("drawing pad"),
            "label": tr(
                "drawing pad, {n} by {n} cells: arrow keys move the cursor, Space inks a cell, Shift and an arrow "
                "inks as it moves; or draw with a mouse, pen or finger",
                n=CELLS,
            ),
            "where": tr("row {row}, column {col} of {n}"),  # the pad fills the placeholders (no values: kept)
            "inked": tr("inked"),
            "rubbed": tr("rubbed out"),
        },
        ensure_ascii=False,
    )


def drawing_pad(key: str, restore_png: bytes | None = None, tr: Translator | None = None) -> tuple[bytes | None, int]:
    """Show the pad (its words in ``tr``'s language); return the latest drawing as PNG bytes (None when empty) and
    its version number.

    The version answered is handed back to the pad on the next run: while the pen moves, the pad sends a new
    version only once the last one has been answered, so answers never queue behind each other."""
    restore = "data:image/png;base64," + base64.b64encode(restore_png).decode() if restore_png else ""
    state = st.session_state.get(key)
    seen = getattr(state, "drawing", None) or (state.get("drawing") if isinstance(state, dict) else None) or {}
    words = pad_words(tr or translator(DEFAULT_LANGUAGE))
    res: Any = _pad(
        key=key,
        data={"restore": restore, "answered": int(seen.get("seq") or 0), "words": words},
        default={"drawing": None},
        height="content",
        on_drawing_change=lambda: None,
    )
    d = getattr(res, "drawing", None) or {}
    png = d.get("png") or ""
    if not png.startswith("data:image/png;base64,"):
        return None, int(d.get("seq") or 0)
    return base64.b64decode(png.split(",", 1)[1]), int(d.get("seq") or 0)
