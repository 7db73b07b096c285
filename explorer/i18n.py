"""The interface in the student's language: one translator per language, read from gettext catalogues, with
numbers and dates written the way that language writes them (Babel's CLDR data).

Light: no torch and no streamlit, so the app's menu is in the student's language from the first paint. Nothing
is installed process-wide (``gettext.install`` would give every session one language): each session asks for its
own :func:`translator`, and the catalogues it reads are never changed after they are loaded.

The catalogues: ``explorer/locale/explorer.pot`` is extracted from the code (``tr("…")`` in the pages) and from
the built-in guided paths; ``explorer/locale/<lang>/LC_MESSAGES/explorer.po`` holds a language's translations,
compiled to ``explorer.mo`` beside it (``python -m devtools.i18n``; docs/translating.md says how). The
pseudo-locale ``qps`` is not a catalogue: every message comes back bracketed, accented and a third longer, so that
a test can see which strings escape translation and which layouts break with longer words.

>>> tr = translator("es")
>>> tr("Start")
'Inicio'
>>> tr("{n} steps", n=19)
'19 pasos'
"""

from __future__ import annotations

import datetime as _dt
import gettext
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "N_",
    "LANGUAGES",
    "PSEUDO",
    "RTL",
    "DEFAULT_LANGUAGE",
    "LOCALE_DIR",
    "DOMAIN",
    "Translator",
    "translator",
    "pick_language",
    "pseudo",
    "Said",
    "said",
    "said_n",
    "said_of",
    "Refusal",
    "EN",
]

LANGUAGES = {"en": "English", "es": "Español", "de": "Deutsch", "ar": "العربية"}  # each in its own words
DEFAULT_LANGUAGE = "en"  # the language the code is written in (its catalogue is empty)
PSEUDO = "qps"  # the pseudo-locale (the tests' own; ``?lang=qps``)
RTL = frozenset({"ar"})  # written right to left
LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "explorer"

_KEEP = re.compile(r"(\{[^{}]*\}|:material/[a-z_]+:|`[^`]*`|\]\([^)]*\)|https?://\S+|\*\*|&[a-z]+;|<[^>]+>|\n)")
_ACCENTED = str.maketrans("aeiouycnAEIOUYCN", "áéíóúýçñÁÉÍÓÚÝÇÑ")


def N_(message: str) -> str:  # noqa: N802 - gettext's own name for it
    """Mark ``message`` for the catalogue where it is defined (a constant); a translator translates it where it
    is shown."""
    return message


def pseudo(message: str) -> str:
    """``message`` as the pseudo-locale shows it: ``⟦Stáŕt··⟧``: accented, a third longer, bracketed; its
    placeholders, icons, code, links and markup kept as they are (they must survive a translation too)."""
    if not message.strip():
        return message
    parts = _KEEP.split(message)
    body = "".join(p if i % 2 else p.translate(_ACCENTED) for i, p in enumerate(parts))
    letters = sum(ch.isalpha() for ch in message)
    return f"⟦{body}{'·' * max(1, letters // 3)}⟧"


@cache
def _catalogue(lang: str) -> gettext.NullTranslations:
    """A language's compiled catalogue, read once per process and never changed after (shared read-only)."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if lang == DEFAULT_LANGUAGE or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as f:
        return gettext.GNUTranslations(f)


@dataclass(frozen=True)
class Translator:
    """Messages, numbers and dates in one language. Call it on a message (its ``{name}`` placeholders filled from
    the keywords); :meth:`n` picks a plural form."""

    lang: str

    @property
    def rtl(self) -> bool:
        return self.lang in RTL

    @property
    def locale(self) -> str:
        """The language Babel formats numbers and dates for (English for the pseudo-locale)."""
        return DEFAULT_LANGUAGE if self.lang == PSEUDO else self.lang

    def __call__(self, message: str, /, **values: Any) -> str:
        text = pseudo(message) if self.lang == PSEUDO else _catalogue(self.lang).gettext(message)
        return text.format(**values) if values else text

    def n(self, singular: str, plural: str, count: int, /, **values: Any) -> str:
        """The plural form for ``count`` (``{n}`` in the message is the count, written for the language)."""
        if self.lang == PSEUDO:
            text = pseudo(singular if count == 1 else plural)
        else:
            text = _catalogue(self.lang).ngettext(singular, plural, count)
        return text.format(n=self.number(count), **values)

    def number(self, x: float, digits: int = 0) -> str:
        """``x`` as the language writes it, with ``digits`` decimals: 12,544 in English, 12.544 in German."""
        return self._format(x, "decimal_formats", digits)

    def percent(self, x: float, digits: int = 1) -> str:
        """A fraction as the language writes a percentage: 0.9912 -> 99.1% (99,1 % in German and Spanish)."""
        return self._format(x, "percent_formats", digits)

    def _format(self, x: float, kind: str, digits: int) -> str:
        loc, pattern = _number_pattern(self.locale, kind, digits)
        return pattern.apply(x, loc)

    def date(self, t: float) -> str:
        """A moment's date, long form: 5 January 2027, 5. Januar 2027."""
        from babel.dates import format_date

        return format_date(_dt.date.fromtimestamp(t), format="long", locale=self.locale)


@cache
def _number_pattern(locale: str, kind: str, digits: int) -> tuple[Any, Any]:
    """The language's number or percent pattern with ``digits`` decimals, parsed once (the live panel formats its
    numbers every second)."""
    from babel import Locale
    from babel.numbers import parse_pattern

    loc = Locale.parse(locale)
    pattern = parse_pattern(getattr(loc, kind)[None].pattern)
    pattern.frac_prec = (digits, digits)
    return loc, pattern


def translator(lang: str) -> Translator:
    """The translator for ``lang`` (a code of :data:`LANGUAGES`, or the pseudo-locale); another code is English."""
    return Translator(lang if lang in LANGUAGES or lang == PSEUDO else DEFAULT_LANGUAGE)


EN = translator(DEFAULT_LANGUAGE)  # the words the code is written in (a translator is immutable: one for all)


def pick_language(*wanted: str | None) -> str:
    """The first of ``wanted`` (a ``?lang=`` value, a saved choice, the browser's locale such as ``es-ES`` or
    ``de_AT``) that the app speaks; English when none does."""
    for w in wanted:
        code = (w or "").replace("_", "-").split("-")[0].strip().lower()
        if code in LANGUAGES or code == PSEUDO:
            return code
    return DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Said:
    """A sentence the library says (a refusal, a diagnosis) with what a translator needs to say it again in another
    language: its English ``template`` (a catalogue message) and its ``values`` (numbers, names, or other
    :class:`Said` parts, each said in the same language). ``str()`` is the English."""

    template: str
    values: tuple[tuple[str, Any], ...] = ()
    plural: str | None = None  # a plural message: its plural form, chosen by ``count`` (``{n}`` in it)
    count: int = 0

    def say(self, tr: Translator) -> str:
        values = {k: v.say(tr) if isinstance(v, Said) else v for k, v in self.values}
        if self.plural is not None:
            return tr.n(self.template, self.plural, self.count, **values)
        return tr(self.template, **values)

    def __str__(self) -> str:
        return self.say(EN)


def said(template: str, /, **values: Any) -> Said:
    """Mark ``template`` for the catalogue and keep its ``values``: ``said("{n} kernels", n=4)``."""
    return Said(template, tuple(values.items()))


def said_n(singular: str, plural: str, count: int, /, **values: Any) -> Said:
    """A plural :func:`said`: ``said_n("{n} more try", "{n} more tries", left)`` (``{n}`` is the count)."""
    return Said(singular, tuple(values.items()), plural, count)


def said_of(e: BaseException) -> Said | str:
    """What an error says, kept translatable: a :class:`Refusal`'s sentence, or the error's own words."""
    return e.said if isinstance(e, Refusal) and e.said is not None else str(e)


class Refusal(ValueError):
    """A refusal the library raises with a sentence a page can say in the student's language (:meth:`say`); its
    message (``str()``) is the English."""

    def __init__(self, message: str | Said) -> None:
        super().__init__(str(message))
        self.said = message if isinstance(message, Said) else None

    def say(self, tr: Translator) -> str:
        return self.said.say(tr) if self.said is not None else str(self)
