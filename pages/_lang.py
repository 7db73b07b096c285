"""The session's language: picked from the page's ``?lang=``, the workspace's saved choice or the browser's locale,
changed in the sidebar, and used by every page through :func:`tr`. Light (no torch): the menu is translated from
the first paint. Each session has its own; nothing is installed process-wide.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import streamlit as st

from explorer.i18n import DEFAULT_LANGUAGE, LANGUAGES, PSEUDO, Refusal, Said, Translator, pick_language, translator
from pages._keys import LANG

__all__ = [
    "tr",
    "tr_n",
    "lang",
    "translate",
    "language_picker",
    "page_language",
    "md_text",
    "fmt_acc",
    "reason",
    "fixed_labels",
    "file_upload",
]

PICK = "language_pick"  # the sidebar's choice (a widget key)
UPLOAD_BUTTON = "[data-testid='stFileUploaderDropzone'] button"  # Streamlit's uploader: its button and size hint
UPLOAD_HINT = "[data-testid='stFileUploaderDropzoneInstructions'] span"
HINT_SAID = "[data-testid='stFileUploaderDropzoneInstructions'] > div::after"  # the hint, said in the language

# The parts Streamlit redraws while a student watches: a page translator (the browser's own) must keep out of them,
# or React loses the text nodes it updates. Marked translate="no" as they appear.
LIVE = (
    "[class*='st-key-live-'], [data-testid='stPlotlyChart'], [data-testid='stProgress'], "
    "[data-testid='stStatusWidget'], [data-testid='stDataFrame'], iframe, .st-key-menu"
)


def lang() -> str:
    """This session's language code (chosen once, at its first run, then kept)."""
    code = st.session_state.get(LANG)
    if code not in LANGUAGES and code != PSEUDO:
        code = pick_language(st.query_params.get("lang"), getattr(st.context, "locale", None))
        st.session_state[LANG] = code
    return code


def translate() -> Translator:
    return translator(lang())


def tr(message: str, /, **values: Any) -> str:
    """``message`` in this session's language, its ``{placeholders}`` filled from ``values``."""
    return translate()(message, **values)


def tr_n(singular: str, plural: str, count: int, /, **values: Any) -> str:
    """The form of ``singular``/``plural`` for ``count`` (``{n}``) in this session's language."""
    return translate().n(singular, plural, count, **values)


def _picked() -> None:
    st.session_state[LANG] = st.session_state[PICK]


def language_picker() -> None:
    """The sidebar's language choice, each language named in its own words."""
    now = lang()
    options = list(LANGUAGES) + ([PSEUDO] if now == PSEUDO else [])
    if st.session_state.get(PICK) != now:
        st.session_state[PICK] = now
    st.sidebar.selectbox(
        tr("Language"), options, key=PICK, format_func=lambda c: LANGUAGES.get(c, "[pseudo]"), on_change=_picked
    )


def page_language() -> None:
    """The page's ``lang`` and ``dir`` (a screen reader's voice, right to left for Arabic), the live parts kept from
    a page translator, and React's node calls made safe against one (its FONT stands for the text node React holds).
    Streamlit drops a script that holds an HTML tag, even in a comment: values go in through :func:`_in_script`."""
    t = translate()
    code = "en" if t.lang == PSEUDO else t.lang
    words = None if t.lang == DEFAULT_LANGUAGE else {"button": tr("Upload")}
    script = f"""<script>(function () {{
  const root = window.parent && window.parent.document.documentElement ? window.parent.document : document;
  root.documentElement.lang = {json.dumps(code)};
  root.documentElement.dir = {json.dumps("rtl" if t.rtl else "ltr")};
  const w = root.defaultView;
  w.__explorerUploader = {_in_script(words)};
  if (w.__explorerLanguage) {{ w.__explorerMark && w.__explorerMark(); return; }}
  w.__explorerLanguage = true;
  const LIVE = {json.dumps(LIVE)};
  const mark = () => {{
    root.querySelectorAll(LIVE).forEach(e => {{ if (e.getAttribute("translate") !== "no")
      e.setAttribute("translate", "no"); }});
    const words = w.__explorerUploader;  // Streamlit's own words in its file uploader, said in the language
    root.querySelectorAll(UPLOAD_BUTTON).forEach(e => {{
      if (words && e.getAttribute("aria-label") !== words.button) e.setAttribute("aria-label", words.button);
      if (!words && e.hasAttribute("aria-label")) e.removeAttribute("aria-label"); }});
    root.querySelectorAll(UPLOAD_HINT).forEach(e => {{ if (!!words !== (e.getAttribute("aria-hidden") === "true"))
      words ? e.setAttribute("aria-hidden", "true") : e.removeAttribute("aria-hidden"); }});
  }};
  const UPLOAD_BUTTON = {json.dumps(UPLOAD_BUTTON)}, UPLOAD_HINT = {json.dumps(UPLOAD_HINT)};
  w.__explorerMark = mark;
  // a translator puts a FONT element of its words in a text node's place; React still holds the text node, so
  // the FONT is remembered as standing for it: when React removes the text (a new page, a redrawn line), the FONT
  // goes too, instead of staying on the page with the old words
  const standIn = new w.WeakMap();
  new w.MutationObserver(records => {{
    for (const r of records) r.removedNodes.forEach((n, i) => {{ const put = r.addedNodes[i] || r.addedNodes[0];
      if (n.nodeType === 3 && put && put.nodeName === "FONT") standIn.set(n, put); }});
    mark();
  }}).observe(root.body, {{childList: true, subtree: true}});
  mark();
  const remove = w.Node.prototype.removeChild, insert = w.Node.prototype.insertBefore;
  const inPlace = (parent, node) => {{ const s = standIn.get(node); return s && s.parentNode === parent ? s : null; }};
  w.Node.prototype.removeChild = function (child) {{
    if (!child || child.parentNode === this) return remove.apply(this, arguments);
    const s = inPlace(this, child);
    if (s) remove.call(this, s);
    return child; }};
  w.Node.prototype.insertBefore = function (node, ref) {{
    return ref && ref.parentNode !== this ? insert.call(this, node, inPlace(this, ref)) : insert.apply(this, arguments); }};
  // and when React writes new words into the text node it holds (a heading on a new page), its FONT shows them
  for (const [proto, name] of [[w.Node.prototype, "nodeValue"], [w.CharacterData.prototype, "data"]]) {{
    const own = Object.getOwnPropertyDescriptor(proto, name);
    Object.defineProperty(proto, name, {{ configurable: true, enumerable: own.enumerable, get: own.get,
      set(value) {{ own.set.call(this, value); const s = standIn.get(this);
        if (s && s.isConnected && !this.isConnected) s.textContent = value; }} }});
  }}
}})();</script>"""
    with st.sidebar:
        st.html(script, unsafe_allow_javascript=True)
        if words:
            st.html(uploader_style(t))


def _in_script(value: Any) -> str:
    """``value`` as JavaScript, with no ``<`` in it (Streamlit would drop a script holding an HTML tag)."""
    return json.dumps(value).replace("<", "\\u003c")


def _css_string(text: str) -> str:
    """``text`` as a CSS string (its own letters, any script; a quote or backslash escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _size_hint(t: Translator, mb: int) -> str:
    """An uploader's size hint in ``t``'s language, as a CSS string (drawn over Streamlit's English one)."""
    return _css_string(tr("One file, at most {n} MB", n=t.number(mb)))


def uploader_style(t: Translator) -> str:
    """Streamlit's file uploader in ``t``'s language: its *Upload* button and its size hint are Streamlit's own
    English words, with no setting to change them; they are drawn in the language instead (the page's script gives
    the button the same name for a screen reader, and hides the English hint from it)."""
    button = _css_string(tr("Upload"))
    hint = _size_hint(t, int(st.get_option("server.maxUploadSize")))
    return (
        f"<style>{UPLOAD_BUTTON} [data-testid='stMarkdownContainer'] p {{ font-size: 0 !important; }} "
        f"{UPLOAD_BUTTON} [data-testid='stMarkdownContainer'] p::after {{ content: {button}; font-size: 0.875rem; }} "
        f"{UPLOAD_HINT} {{ font-size: 0 !important; }} "
        f"{HINT_SAID} {{ content: {hint}; font-size: 0.875rem; "
        "opacity: 0.9; }</style>"
    )


def file_upload(label: str, types: list[str], key: str, most_bytes: int | None = None) -> Any:
    """Streamlit's file uploader, whose hint names this file's own limit (``most_bytes``, the library's, in whole
    MB) where it is below the server's, so that a student is not told 200 MB for a lesson file of at most 1 MB; the
    browser then refuses a larger file before sending it. In another language the hint is said in it."""
    server_mb = int(st.get_option("server.maxUploadSize"))
    mb = min(server_mb, math.ceil(most_bytes / 2**20)) if most_bytes else server_mb
    t = translate()
    if mb < server_mb and t.lang != DEFAULT_LANGUAGE:  # over the language's hint for every uploader (uploader_style)
        hint = _size_hint(t, mb)
        st.html(f"<style>.st-key-{key} {HINT_SAID} {{ content: {hint}; }}</style>")
    return st.file_uploader(label, type=types, key=key, max_upload_size=mb if mb < server_mb else None)


def md_text(text: str) -> str:
    """A user's text (a name on the board, a file's name) for ``st.markdown``: every character that Markdown
    would read as markup (``![x](…)`` an image, ``[a](…)`` a link, ``**``, ``<…>``) is shown as itself."""
    return "".join("\\" + c if c in "\\`*_{}[]()#+-.!|<>~$:" else c for c in str(text))


def fixed_labels(say: Callable[[Any], str]) -> Callable[[Any], str]:
    """A widget's ``format_func`` that keeps what it said for each option during the run that drew the widget.
    Streamlit's test harness calls it again between runs, where the session's language cannot be read; it then
    gets the same words the page showed (and a real browser session is unchanged)."""
    said: dict[str, str] = {}

    def fmt(option: Any) -> str:
        key = repr(option)
        if key not in said:
            said[key] = say(option)
        return said[key]

    return fmt


def reason(e: BaseException | Said | str) -> str:
    """Why the library refused, in the session's language: a :class:`~explorer.i18n.Refusal` (or a
    :class:`~explorer.i18n.Said` a job ended with) is said again in it; any other error keeps its own words."""
    if isinstance(e, (Refusal, Said)):
        return e.say(translate())
    return str(e)


def fmt_acc(v: float | None) -> str:
    """An accuracy as the session's language writes a percentage (96.8% in English, 96,8 % in Spanish)."""
    return "—" if v is None else translate().percent(v)
