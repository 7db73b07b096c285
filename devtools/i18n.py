"""``python -m devtools.i18n``: the translation catalogues, from the code.

1. **extract**: every ``tr("…")``, ``tr_n("…", "…", n)`` and ``N_("…")`` of ``app.py``, ``pages/`` and ``explorer/``, and the
   title, text and goal of each step of the built-in guided paths, into ``explorer/locale/explorer.pot``;
2. **update**: each language's ``explorer.po`` gets the new messages (empty, to translate) and loses the ones the
   code no longer has;
3. **compile**: each ``explorer.po`` into the ``explorer.mo`` the app reads.

``python -m devtools.i18n --check`` changes nothing and exits 1 when a file is out of date (the tests check the
same). ``python -m devtools.i18n --status`` prints how complete each language is.
"""

from __future__ import annotations

import ast
import datetime
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from explorer.i18n import DOMAIN, LANGUAGES, LOCALE_DIR

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {"tr": None, "tr_n": (1, 2), "N_": None, "said": None, "said_n": (1, 2)}
STEP_FIELDS = ("title", "text", "goal")  # what a guided path's step says to the student
POT = LOCALE_DIR / f"{DOMAIN}.pot"
FIXED = datetime.datetime(2026, 12, 6, tzinfo=datetime.UTC)


def sources() -> list[Path]:
    """The code a student reads words from: the app, its pages, and the library's sentences (``tr`` in a
    library function is the translator it was given)."""
    return [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "explorer").rglob("*.py"))]


def extract_ast(fileobj: Any, keywords: Any, comment_tags: Any, options: Any) -> Iterator[tuple]:
    """Babel's extraction method for Python, read from the syntax tree: a ``tr("…")`` inside an f-string's
    braces is found too (Python 3.11's tokens hide it from Babel's own ``python`` method)."""
    for node in ast.walk(ast.parse(fileobj.read())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in keywords):
            continue
        spec = KEYWORDS[node.func.id] or (1,)
        args = [
            a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else None for a in node.args[: max(spec)]
        ]
        if len(args) < max(spec) or any(args[i - 1] is None for i in spec):
            continue  # a variable (a constant marked where it is defined, with N_)
        message = args[spec[0] - 1] if len(spec) == 1 else tuple(args[i - 1] for i in spec)
        yield node.lineno, node.func.id, message, []


def template() -> Catalog:
    """Every message the app may show through its translator, with where it comes from."""
    cat = Catalog(project="CNN Explorer", domain=DOMAIN, fuzzy=False, creation_date=FIXED, revision_date=FIXED)
    for path in sources():
        for line, message, comments, context in extract_from_file(extract_ast, path, keywords=KEYWORDS):
            cat.add(message, locations=[(path.relative_to(ROOT).as_posix(), line)], auto_comments=comments, context=context)
    for path in sorted((ROOT / "explorer" / "lessons" / "paths").glob("*.json")):
        for k, step in enumerate(json.loads(path.read_text())):
            for f in STEP_FIELDS:
                if step.get(f):
                    cat.add(step[f], locations=[(path.relative_to(ROOT).as_posix(), k + 1)])
    return cat


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(lang: str) -> Catalog:
    with po_path(lang).open("rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


def translated_languages() -> list[str]:
    return [lang for lang in LANGUAGES if po_path(lang).exists()]


def updated(lang: str, pot: Catalog) -> Catalog:
    """``lang``'s catalogue with the template's messages: new ones empty, gone ones dropped."""
    cat = read(lang) if po_path(lang).exists() else Catalog(locale=lang, domain=DOMAIN)
    cat.update(pot, no_fuzzy_matching=True)
    cat.obsolete.clear()
    cat.creation_date = cat.revision_date = FIXED  # the files change when their messages do, not with the clock
    return cat


def po_bytes(cat: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(
        out, cat, width=120, omit_header=False, sort_output=False, include_previous=False, include_lineno=False
    )  # a file changes when its messages do, not when code moves
    return out.getvalue()


def mo_bytes(cat: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, cat, use_fuzzy=False)
    return out.getvalue()


def _stable(data: bytes) -> bytes:
    """A .pot/.po without the lines that change with the clock alone (its creation and revision dates)."""
    return b"\n".join(ln for ln in data.splitlines() if not ln.startswith((b'"POT-Creation-Date', b'"PO-Revision')))


def plan() -> dict[Path, bytes]:
    """Each catalogue file as the code says it should be now."""
    pot = template()
    files = {POT: po_bytes(pot)}
    for lang in translated_languages():
        cat = updated(lang, pot)
        files[po_path(lang)] = po_bytes(cat)
        files[po_path(lang).with_suffix(".mo")] = mo_bytes(cat)
    return files


def stale() -> list[Path]:
    """The catalogue files that are not what the code says (empty when all are up to date)."""
    out = []
    for path, data in plan().items():
        have = path.read_bytes() if path.exists() else b""
        same = have == data if path.suffix == ".mo" else _stable(have) == _stable(data)
        if not same:
            out.append(path)
    return out


def status() -> dict[str, tuple[int, int]]:
    """For each language: (messages translated, messages in the template)."""
    total = len(template())
    done = lambda m: all(m.string) if isinstance(m.string, (tuple, list)) else bool(m.string)  # every plural form
    return {lang: (sum(1 for m in read(lang) if m.id and done(m)), total) for lang in translated_languages()}


def main(argv: list[str]) -> int:
    if "--status" in argv:
        for lang, (done, total) in status().items():
            print(f"{lang} {LANGUAGES[lang]}: {done} of {total} messages ({done / total:.0%})")
        return 0
    if "--check" in argv:
        if out := stale():
            print(
                "out of date: " + ", ".join(str(p.relative_to(ROOT)) for p in out) + " (python -m devtools.i18n)",
                file=sys.stderr,
            )
            return 1
        return 0
    for path, data in plan().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
