"""A guided path through the lecture, bound to the student's own model: steps are data, checks are code.

A path is a list of :class:`Step` records (``explorer/lessons/paths/<name>.json``: id, page, title, text, the key
of the element to highlight, the goal in words, and the name of its check). A check is a small pure function of
a :class:`Learner`, the student's own state as plain facts (their runs, their current model, the pages they
opened, what they did there), registered in :data:`CHECKS` with :func:`check`. A teacher writes another path
as another list of records and names it in a lesson file; a new kind of goal is one record and one function.

:func:`advance` completes the current step while its check holds (or the student skipped it) and says where the
student is now. Nothing here reads Streamlit or a workspace object: the app builds the ``Learner``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.limits import MAX_STEPS

__all__ = ["Step", "Learner", "RunFacts", "PathProgress", "CHECKS", "check", "load_path", "parse_steps", "advance"]

PATHS = Path(__file__).with_name("paths")  # the built-in paths, one JSON file each
PASS_ACCURACY = 0.98  # the last goal of the lecture's path
STEP_FIELDS = ("id", "page", "title", "text", "element", "goal", "check")


@dataclass(frozen=True)
class Step:
    id: str
    page: str  # the page title the step opens (one of the menu's)
    title: str
    text: str  # 2-4 sentences
    element: str  # the key of the element it speaks of (highlighted on its page)
    goal: str  # what the check looks for, in words
    check: str  # the name of its check in CHECKS


@dataclass(frozen=True)
class RunFacts:
    """One run, as a check reads it: the layer types of its model, its dataset, how it ended, its test accuracy."""

    layers: tuple[str, ...]
    dataset: str
    status: str
    test_accuracy: float | None = None

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    @property
    def convs(self) -> int:
        return self.layers.count("Conv2d")

    @property
    def linear(self) -> bool:
        """A linear model: no convolution, a Linear layer."""
        return self.convs == 0 and "Linear" in self.layers

    @staticmethod
    def of(spec: dict[str, Any], dataset: str, history: dict[str, Any]) -> RunFacts:
        """From a model's spec and a run's history (its last epoch's test accuracy)."""
        epochs = [e for e in history.get("epochs", []) if isinstance(e, dict)]
        acc = next((e["test_accuracy"] for e in reversed(epochs) if isinstance(e.get("test_accuracy"), float)), None)
        return RunFacts(tuple(_layer_types(spec.get("layers", []))), dataset, str(history.get("status", "")), acc)


def _layer_types(layers: Iterable[Any]) -> Iterable[str]:
    for layer in layers:
        if isinstance(layer, dict):
            yield str(layer.get("type", ""))
            yield from _layer_types(layer.get("layers", []))  # inside a residual block


@dataclass(frozen=True)
class Learner:
    """The student's own state: their runs, the pages they opened, and what they did on them (``events``: the
    app records e.g. ``drew``, ``kernels``, ``feature_maps``, ``dead_relus``, ``experiment:rot``,
    ``fooled_own_7``)."""

    runs: tuple[RunFacts, ...] = ()
    pages: frozenset[str] = frozenset()
    events: frozenset[str] = frozenset()

    def finished(self, keep: Callable[[RunFacts], bool] = lambda r: True) -> list[RunFacts]:
        return [r for r in self.runs if r.finished and keep(r)]


CHECKS: dict[str, Callable[[Learner], bool]] = {}


def check(name: str) -> Callable[[Callable[[Learner], bool]], Callable[[Learner], bool]]:
    """Register a check under ``name`` (what a step's record names)."""
    def register(fn: Callable[[Learner], bool]) -> Callable[[Learner], bool]:
        CHECKS[name] = fn
        return fn
    return register


@check("seen_data")
def _seen_data(s: Learner) -> bool:
    return "Data" in s.pages


@check("trained_linear")
def _trained_linear(s: Learner) -> bool:
    return bool(s.finished(lambda r: r.linear))


@check("trained_one_conv")
def _trained_one_conv(s: Learner) -> bool:
    return bool(s.finished(lambda r: r.convs == 1))


@check("compared_linear_and_conv")
def _compared(s: Learner) -> bool:
    linear = {r.dataset for r in s.finished(lambda r: r.linear)}
    conv = {r.dataset for r in s.finished(lambda r: r.convs >= 1)}
    return bool(linear & conv) and "Train" in s.pages


@check("trained_pooling")
def _pooling(s: Learner) -> bool:
    return bool(s.finished(lambda r: r.convs >= 1 and ("MaxPool2d" in r.layers or "AvgPool2d" in r.layers)))


@check("trained_deeper")
def _deeper(s: Learner) -> bool:
    return bool(s.finished(lambda r: r.convs >= 2))


@check("ran_invariance_experiment")
def _invariance(s: Learner) -> bool:
    return bool({"experiment:rot", "experiment:shift"} & s.events)


@check("passed_98")
def _passed(s: Learner) -> bool:
    return bool(s.finished(lambda r: (r.test_accuracy or 0.0) >= PASS_ACCURACY))


# the checks that hold once the student did one thing on a page (the event a page records with ``did``)
EVENT_CHECKS = {"saw_trained_kernels": "kernels", "saw_feature_maps": "feature_maps", "found_dead_relus": "dead_relus",
                "drew_a_digit": "drew", "fooled_own_7": "fooled_own_7"}
CHECKS.update({name: (lambda s, event=event: event in s.events) for name, event in EVENT_CHECKS.items()})


def parse_steps(records: Any, pages: Iterable[str] | None = None) -> list[Step]:
    """A path's records as steps: each with every field, a known check and (given ``pages``) a known page;
    unique ids; at most :data:`MAX_STEPS`. ValueError (a sentence) otherwise."""
    if not isinstance(records, list) or not records:
        raise ValueError("a path is a list of steps")
    if len(records) > MAX_STEPS:
        raise ValueError(f"a path has at most {MAX_STEPS} steps, not {len(records)}")
    known = set(pages) if pages is not None else None
    steps = []
    for i, r in enumerate(records, 1):
        if not isinstance(r, dict) or any(not isinstance(r.get(f), str) or not r.get(f) for f in STEP_FIELDS):
            raise ValueError(f"step {i} needs these fields, as text: {', '.join(STEP_FIELDS)}")
        if r["check"] not in CHECKS:
            raise ValueError(f"step {i} ({r['id']}) names the check {r['check']!r}, which does not exist; "
                             f"known: {', '.join(sorted(CHECKS))}")
        if known is not None and r["page"] not in known:
            raise ValueError(f"step {i} ({r['id']}) opens the page {r['page']!r}, which the app does not have")
        steps.append(Step(**{f: r[f][:2000] for f in STEP_FIELDS}))
    if len({s.id for s in steps}) != len(steps):
        raise ValueError("two steps of the path have the same id")
    return steps


def load_path(name: str, pages: Iterable[str] | None = None) -> list[Step]:
    """A built-in path by name (``paths/<name>.json``)."""
    path = PATHS / f"{name}.json"
    if not name.replace("-", "").isalnum() or not path.is_file():
        names = ", ".join(sorted(p.stem for p in PATHS.glob("*.json")))
        raise ValueError(f"there is no path called {name!r}; built in: {names}")
    return parse_steps(json.loads(path.read_text()), pages)


@dataclass
class PathProgress:
    """Where a student is on a path: the steps done and skipped (by id). Saved with the workspace."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def current(self, steps: list[Step]) -> int:
        """The index of the first step neither done nor skipped (``len(steps)``: the path is complete)."""
        return next((i for i, s in enumerate(steps) if s.id not in self.done and s.id not in self.skipped), len(steps))

    def label(self, steps: list[Step]) -> str:
        """For the teacher's roster: "4/13" (the steps done or skipped, of all)."""
        return f"{min(self.current(steps), len(steps))}/{len(steps)}"


def advance(steps: list[Step], progress: PathProgress, learner: Learner) -> list[Step]:
    """Complete the current step while its check holds; returns the steps completed now (in order)."""
    completed = []
    while (i := progress.current(steps)) < len(steps) and CHECKS[steps[i].check](learner):
        progress.done.append(steps[i].id)
        completed.append(steps[i])
    return completed
