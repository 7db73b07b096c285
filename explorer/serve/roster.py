"""The roster and results as a CSV file, as the teacher's console exports it: every cell quoted (a spreadsheet in a
``;`` locale splits no name) and no cell a formula (a leading apostrophe before ``= + - @``)."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

__all__ = ["roster_csv", "CSV_FIELDS", "safe_cell"]


def safe_cell(value: Any) -> Any:
    """A spreadsheet cell that is never run: text that begins with = + - @ (or a tab or a return, which some
    spreadsheets skip before them) gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


CSV_FIELDS = (
    "name",
    "model",
    "parameters",
    "best test accuracy",
    "runs",
    "last run",
    "path",
    "page",
    "joined",
    "last seen",
    "stuck",
)


def roster_csv(rows: list[dict[str, Any]]) -> str:
    """The roster and results as CSV text (what the console's Export gives), formulas neutralised."""
    out = io.StringIO()
    w = csv.writer(out, quoting=csv.QUOTE_ALL)  # every cell quoted: a spreadsheet in a ';' locale splits none
    w.writerow(CSV_FIELDS)
    stamp = lambda t: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))  # noqa: E731
    for r in rows:
        acc = r.get("best_accuracy")
        w.writerow(
            [
                safe_cell(v)
                for v in (
                    r["name"],
                    r["model"],
                    r["params"],
                    "" if acc is None else f"{acc:.4f}",
                    r["runs"],
                    r["run_state"],
                    r.get("path", ""),
                    r["page"],
                    stamp(r["joined"]),
                    stamp(r["seen"]),
                    r["stuck"],
                )
            ]
        )
    return out.getvalue()
