"""Lesson files: a teacher saves dataset, model, training settings and which pages to hide; students open it
and the class starts from the same place. Plain JSON, validated on opening; nothing in it runs."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ..core.config import TrainConfig
from ..core.limits import MAX_LESSON_BYTES
from ..core.safejson import parse_json
from ..core.spec import SpecError, validate_spec
from .path import load_path, parse_steps
from .shortcut import check_shortcut

__all__ = ["Lesson", "HIDEABLE_PAGES", "START_PAGES", "lesson_to_json", "parse_lesson", "check_class_code"]

FORMAT = "cnn-explorer-lesson"
HIDEABLE_PAGES = (
    "Data",
    "Build",
    "Train",
    "Kernels",
    "Feature maps",
    "Filter images",
    "Confusion matrix",
    "Draw a digit",
    "Can we trust it?",
    "Convolution lab",
    "Augmentation",
    "Experiments",
    "Glossary",
    "Class board",
    "Teacher",
)
START_PAGES = ("Start", *(p for p in HIDEABLE_PAGES if p != "Teacher"), "Lesson")  # where a lesson can open the class


@dataclass
class Lesson:
    """What a lesson fixes for the class."""

    title: str
    dataset: str
    spec: dict[str, Any]
    train: dict[str, Any] = field(default_factory=dict)
    hidden: list[str] = field(default_factory=list)
    notes: str = ""
    class_code: str = ""  # students who opened the lesson can publish runs to this class's board
    start: str = "Start"  # the page the class opens on (one of START_PAGES, and not a hidden one)
    shortcut: dict[str, Any] = field(default_factory=dict)  # a hidden cue in one class's images (explorer.lessons.shortcut)
    path: str | list[dict[str, Any]] = ""  # a guided path the class follows: a built-in one's name, or its steps


def check_class_code(code: Any) -> str:
    """A class code: 3 to 40 letters, digits, '-' or '_' (empty: no board); ValueError otherwise."""
    if code in ("", None):
        return ""
    if not isinstance(code, str) or not 3 <= len(code) <= 40 or not all(c.isalnum() or c in "-_" for c in code):
        raise ValueError("a class code is 3 to 40 letters, digits, '-' or '_'")
    return code


def lesson_to_json(lesson: Lesson) -> str:
    """The lesson file's text (validated first, so a saved lesson always opens)."""
    parse_lesson(json.dumps({"format": FORMAT, **asdict(lesson)}))
    return json.dumps({"format": FORMAT, **asdict(lesson)}, indent=2)


def parse_lesson(text: str | bytes) -> Lesson:
    """Read and check a lesson file; ValueError with the reason if it is not one."""
    d = _lesson_dict(text)
    _check_text_fields(d)
    train = _checked_model_and_training(d)
    hidden = d.get("hidden") or []
    if not isinstance(hidden, list) or any(h not in HIDEABLE_PAGES for h in hidden):
        raise ValueError(f"lesson file: hidden pages must be among {', '.join(HIDEABLE_PAGES)}")
    code = _in_lesson(check_class_code, d.get("class_code", ""))
    start = d.get("start") or "Start"
    if start not in START_PAGES or start in hidden:
        raise ValueError(f"lesson file: start must be a page it does not hide, among {', '.join(START_PAGES)}")
    shortcut = d.get("shortcut") or {}
    if shortcut:
        shortcut = _in_lesson(check_shortcut, shortcut, d["spec"].get("num_classes") or 100_000)
    path = d.get("path") or ""
    if path:  # a built-in path's name, or a teacher's own steps (each naming a known check and page)
        _in_lesson(load_path if isinstance(path, str) else parse_steps, path, START_PAGES)
    return Lesson(
        d.get("title") or "lesson", d["dataset"], d["spec"], train, hidden, d.get("notes", ""), code, start, shortcut, path
    )


def _in_lesson(check: Any, *args: Any) -> Any:
    """``check(*args)``, its refusal said as the lesson file's."""
    try:
        return check(*args)
    except ValueError as e:
        raise ValueError(f"lesson file: {e}") from None


def _lesson_dict(text: str | bytes) -> dict[str, Any]:
    """The file's JSON object, of this format, with no field this app does not know."""
    if len(text) > MAX_LESSON_BYTES:
        raise ValueError("lesson file is over 1 MB")
    d = parse_json(text, "lesson file")
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise ValueError("not a CNN Explorer lesson file (save one from the Lesson page)")
    unknown = set(d) - {
        "format",
        "title",
        "dataset",
        "spec",
        "train",
        "hidden",
        "notes",
        "class_code",
        "start",
        "shortcut",
        "path",
    }
    if unknown:
        raise ValueError(f"lesson file: unknown field {sorted(unknown)[0]!r}")
    return d


def _check_text_fields(d: dict[str, Any]) -> None:
    for key in ("title", "dataset", "notes"):
        if not isinstance(d.get(key, ""), str):
            raise ValueError(f"lesson file: {key} must be text")
    if not d.get("dataset"):
        raise ValueError("lesson file: it names no dataset")
    if len(d["dataset"]) > 200:
        raise ValueError("lesson file: dataset must be a name")


def _checked_model_and_training(d: dict[str, Any]) -> dict[str, Any]:
    """Check the lesson's model and training settings; return the settings."""
    try:
        validate_spec(d.get("spec"))
    except SpecError as e:
        raise ValueError(f"lesson file: its model is invalid: {e}") from None
    train = d.get("train") or {}
    if not isinstance(train, dict):
        raise ValueError("lesson file: train must be an object of settings")
    try:
        TrainConfig.from_dict(train).validate()
    except (ValueError, TypeError) as e:
        raise ValueError(f"lesson file: training settings: {e}") from None
    return train
