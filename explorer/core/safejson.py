"""JSON from users' files, parsed so that no input can crash us or take the server down.

``json.loads`` alone raises ``RecursionError`` on deep nesting, ``ValueError`` on integers over 4,300
digits, and turns ``1e400`` into infinity and ``NaN`` into a float. ``parse_json`` refuses all of these with
one sentence (a ``ValueError`` subclass chosen by the caller).
"""

from __future__ import annotations

import json
import math
from typing import Any

from .limits import MAX_DEPTH, MAX_INT_DIGITS, MAX_NAME_CHARS

__all__ = ["parse_json", "brief", "bounded_name", "name_skeleton"]


def bounded_name(text: Any, most: int = MAX_NAME_CHARS, default: str = "unnamed") -> str:
    """A name as it may enter the app: one line of printable text, at most ``most`` characters, trimmed with an
    ellipsis (``default`` when nothing is left). The same on every database, so no name is ever refused by one."""
    clean = " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())
    if not clean:
        return default
    return clean if len(clean) <= most else clean[: most - 1].rstrip() + "…"


# letters of other scripts that look like Latin ones (Unicode TR39's confusables, the ones a name would use): a
# skeleton maps each to its Latin twin, so "Аda" (Cyrillic А) and "Ada" are one name in a class
_LOOKALIKES = str.maketrans(
    {
        **dict(zip("АВЕКМНОРСТУХЅІЈԁаеорсухѕіјһԛԝӏ", "ABEKMHOPCTYXSIJdaeopcyxsijhqwl")),  # Cyrillic
        **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧοινρτυχ", "ABEZHIKMNOPTYXoivptux")),  # Greek
        "ı": "i",
        "ℓ": "l",
        "ǀ": "l",
        "０": "0",
        "Ο": "O",
    }
)


def name_skeleton(name: str) -> str:
    """What a name looks like, for telling names apart: NFKC (full-width and ligature forms become plain), no
    invisible format characters, case folded, look-alike letters of other scripts as their Latin twins, no spaces
    (an invisible character may have become one). Two names with one skeleton look alike on a roster."""
    import unicodedata

    text = unicodedata.normalize("NFKC", str(name))
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    text = text.translate(_LOOKALIKES).casefold().translate(_LOOKALIKES)
    return "".join(text.split())


def brief(v: Any) -> str:
    """A value for an error message: its repr, never thousands of characters long."""
    r = repr(v) if not isinstance(v, int) or abs(v) < 10**30 else f"a {len(str(abs(v)))}-digit integer"
    return r if len(r) <= 60 else r[:57] + "..."


def _depth(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` outside strings, in one pass."""
    depth = deepest = 0
    in_str = escaped = False
    for ch in text:
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _int(s: str) -> int:
    if len(s.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"the number {s[:12]}… has more than {MAX_INT_DIGITS} digits")
    return int(s)


def _float(s: str) -> float:
    v = float(s)
    if not math.isfinite(v):
        raise ValueError(f"the number {s[:20]} is beyond the range of a float")
    return v


def _constant(s: str) -> Any:
    raise ValueError(f"{s} is not a number JSON allows")


def parse_json(text: str | bytes, what: str, error: type[ValueError] = ValueError) -> Any:
    """Parse ``text`` as JSON; anything malformed, nested deeper than ``MAX_DEPTH``, or holding numbers
    that are not finite or too long raises ``error("<what>: <reason>")``."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise error(f"{what} is not UTF-8 text") from None
    if not isinstance(text, str):
        raise error(f"{what} must be JSON text, got {type(text).__name__}")
    if _depth(text) > MAX_DEPTH:
        raise error(f"{what} is nested more than {MAX_DEPTH} levels deep")
    try:
        return json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as e:
        raise error(f"{what} is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except (ValueError, RecursionError, OverflowError) as e:
        raise error(f"{what} is not usable JSON: {e}") from None
