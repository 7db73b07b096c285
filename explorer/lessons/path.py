"""A guided path through the lecture, bound to the student's own model: steps are data, checks are code.

A path is a list of :class:`Step` records (``explorer/lessons/paths/<name>.json``: id, page, title, text, the key
of the element to highlight, the goal in words, and the name of its check). A check is a small pure function of
a :class:`Learner`, the student's own state as plain facts (their runs, their current model, the pages they
opened, what they did there), registered in :data:`CHECKS` with :func:`check`. A teacher writes another path
as another list of records and names it in a lesson file; a new kind of goal is one record and one function.

:func:`advance` completes the current step once it has been shown (:meth:`PathProgress.show`) and its check holds
on what the student did *after* that: one step per action, never a cascade of steps the student did not read.
Nothing here reads Streamlit or a workspace object: the app builds the ``Learner``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.limits import MAX_STEPS
from ..core.spec import summarize
from ..i18n import DEFAULT_LANGUAGE, N_, Translator, translator
from .notebook import inert_markdown

__all__ = [
    "Step",
    "Learner",
    "RunFacts",
    "Mark",
    "PathProgress",
    "CHECKS",
    "check",
    "load_path",
    "parse_steps",
    "advance",
    "model_sentence",
    "pass_target",
    "PATH_TITLES",
    "KNOWN_ELEMENTS",
    "shown_text",
]

PATHS = Path(__file__).with_name("paths")  # the built-in paths, one JSON file each
PASS_ACCURACY = 0.98  # the last goal of the lecture's path (per dataset: PASS_TARGETS)
# the controls a step may ring (a key on its page): a lesson's path names one of these, never free text (its key
# goes into the page's style)
KNOWN_ELEMENTS = frozenset(
    {
        "data_pick",
        "lab_row",
        "lab_pad",
        "lab_stride",
        "lab_k",
        "build_preset",
        "build_name",
        "train_compare",
        "train_epochs",
        "train_aug",
        "kernels_layer",
        "fm_view",
        "fm_stats",
        "cm_pickers",
        "run-arch",
        "run-rot",
        "run-shuf",
        "run-shift",
        "run-size",
        "run-imb",
        "draw_pad",
        "draw_method",
        "draw_compare",
        "draw_learned",
        "trust_threshold",
        "trust_reject",
        "trust_eps",
        "trust_handwriting",
        "trust_shortcut",
    }
)
PATH_TITLES = {"lecture": N_("The lecture"), "trust": N_("Can we trust it?")}  # the built-in paths, as a student reads them
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
    """One run, as a check reads it: the layer types of its model, its dataset, how it ended, its accuracies on
    the validation and test splits (the server's own measurement: a run whose history came with a loaded file is
    ``claimed`` and counts for nothing), its width (the first convolution's kernels), whether it trained on
    augmented images, its epochs, and its key (to tell the runs that came after a step was shown)."""

    layers: tuple[str, ...]
    dataset: str
    status: str
    test_accuracy: float | None = None
    val_accuracy: float | None = None
    key: str = ""
    width: int = 0  # out_channels of the first convolution (0: none)
    augmented: bool = False
    epochs: int = 0
    claimed: bool = False

    @property
    def finished(self) -> bool:
        return self.status == "finished" and not self.claimed

    @property
    def convs(self) -> int:
        return self.layers.count("Conv2d")

    @property
    def linear(self) -> bool:
        """A linear model: no convolution, a Linear layer."""
        return self.convs == 0 and "Linear" in self.layers

    @property
    def pools(self) -> bool:
        return "MaxPool2d" in self.layers or "AvgPool2d" in self.layers

    @staticmethod
    def of(
        spec: dict[str, Any], dataset: str, history: dict[str, Any], key: str = "", config: dict[str, Any] | None = None
    ) -> RunFacts:
        """From a model's spec, a run's history (its last epoch's accuracies) and its settings."""
        epochs = [e for e in history.get("epochs", []) if isinstance(e, dict)]

        def last(metric: str) -> float | None:
            return next((e[metric] for e in reversed(epochs) if isinstance(e.get(metric), float)), None)

        layers = list(_layers(spec.get("layers", [])))
        width = next((int(x.get("out_channels", 0)) for x in layers if x.get("type") == "Conv2d"), 0)
        aug = (config or {}).get("augment") or {}
        augmented = isinstance(aug, dict) and any(bool(v) for v in aug.values())
        return RunFacts(
            tuple(str(x.get("type", "")) for x in layers),
            dataset,
            str(history.get("status", "")),
            last("test_accuracy"),
            last("val_accuracy"),
            key,
            width,
            augmented,
            len(epochs),
            bool(history.get("claimed")),
        )


def _layers(layers: Iterable[Any]) -> Iterable[dict[str, Any]]:
    for layer in layers:
        if isinstance(layer, dict):
            yield layer
            yield from _layers(layer.get("layers", []))  # inside a residual block


@dataclass(frozen=True)
class Mark:
    """When a step was first shown as the current one: the clock then, and the runs already finished. Only what
    happened after it counts for that step."""

    tick: int = 0
    runs: frozenset[str] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        return {"tick": self.tick, "runs": sorted(self.runs)}

    @staticmethod
    def of(d: Any) -> Mark:
        if not isinstance(d, dict):
            return Mark()
        return Mark(int(d.get("tick", 0)), frozenset(str(r) for r in d.get("runs", []) if isinstance(r, str)))


@dataclass(frozen=True)
class Learner:
    """The student's own state: their runs, the pages they opened and what they did on them (``events``: the app
    records e.g. ``drew``, ``kernels``, ``feature_maps``, ``unit_stats``, ``experiment:rot``, ``fooled_own_7``),
    each page and event with the clock's tick when it last happened. A check reads the learner *since* its step
    was shown (:meth:`since`): the events and pages after that, every run, and the runs that are new."""

    runs: tuple[RunFacts, ...] = ()
    pages: Mapping[str, int] | frozenset[str] = frozenset()
    events: Mapping[str, int] | frozenset[str] = frozenset()
    new_runs: frozenset[str] | None = None  # keys of the runs that finished after the step was shown (None: all)

    def finished(self, keep: Callable[[RunFacts], bool] = lambda r: True) -> list[RunFacts]:
        return [r for r in self.runs if r.finished and keep(r)]

    def new(self, keep: Callable[[RunFacts], bool] = lambda r: True) -> list[RunFacts]:
        """The finished runs that were not finished yet when the step was shown."""
        return [r for r in self.finished(keep) if self.new_runs is None or r.key in self.new_runs]

    def since(self, mark: Mark) -> Learner:
        """What counts for a step shown at ``mark``: pages and events after it, every run, the new ones named."""

        def after(seen: Mapping[str, int] | frozenset[str]) -> frozenset[str]:
            return frozenset(k for k, t in seen.items() if t > mark.tick) if isinstance(seen, Mapping) else frozenset(seen)

        new = frozenset(r.key for r in self.runs if r.finished and r.key not in mark.runs)
        return Learner(self.runs, after(self.pages), after(self.events), new)


CHECKS: dict[str, Callable[[Learner], bool]] = {}


def check(name: str) -> Callable[[Callable[[Learner], bool]], Callable[[Learner], bool]]:
    """Register a check under ``name`` (what a step's record names)."""

    def register(fn: Callable[[Learner], bool]) -> Callable[[Learner], bool]:
        CHECKS[name] = fn
        return fn

    return register


# what a run must reach on validation, per dataset, for the last step (a dataset of one's own: OWN_DATA_TARGET)
PASS_TARGETS = {
    "mnist": PASS_ACCURACY,
    "mnist-5k": 0.97,
    "fashion-mnist": 0.88,
    "kmnist": 0.93,
    "emnist-balanced": 0.85,
    "cifar10": 0.65,
}
OWN_DATA_TARGET = 0.9


def pass_target(dataset: str) -> float:
    """The validation accuracy the lecture's last step asks for on ``dataset``."""
    return PASS_TARGETS.get(dataset, OWN_DATA_TARGET)


@check("seen_data")
def _seen_data(s: Learner) -> bool:
    return "Data" in s.pages


@check("trained_linear")
def _trained_linear(s: Learner) -> bool:
    return bool(s.new(lambda r: r.linear))


@check("trained_one_conv")
def _trained_one_conv(s: Learner) -> bool:
    return bool(s.new(lambda r: r.convs == 1))


@check("compared_linear_and_conv")
def _compared(s: Learner) -> bool:
    """A linear and a convolutional run of one dataset, and the two overlaid on the Train page since."""
    linear = {r.dataset for r in s.finished(lambda r: r.linear)}
    conv = {r.dataset for r in s.finished(lambda r: r.convs >= 1)}
    return bool(linear & conv) and "overlay:linear+conv" in s.events


@check("trained_pooling")
def _pooling(s: Learner) -> bool:
    """A convolutional run with pooling and one without, on one dataset, one of them new: pooling compared."""
    pooled = {r.dataset for r in s.finished(lambda r: r.convs >= 1 and r.pools)}
    plain = {r.dataset for r in s.finished(lambda r: r.convs >= 1 and not r.pools)}
    return bool(pooled & plain) and bool(s.new(lambda r: r.convs >= 1 and r.dataset in pooled & plain))


@check("trained_deeper")
def _deeper(s: Learner) -> bool:
    return bool(s.new(lambda r: r.convs >= 2))


@check("trained_wider")
def _wider(s: Learner) -> bool:
    """A new convolutional run whose first layer's width differs from another run's on the same dataset."""
    every = s.finished(lambda r: r.width > 0)
    return any(n.dataset == o.dataset and n.width != o.width for n in s.new(lambda r: r.width > 0) for o in every)


@check("trained_long")
def _trained_long(s: Learner) -> bool:
    """A new run of at least :data:`LONG_EPOCHS` epochs: long enough for the curves to part."""
    return bool(s.new(lambda r: r.epochs >= LONG_EPOCHS and r.val_accuracy is not None))


@check("regularised")
def _regularised(s: Learner) -> bool:
    return bool(s.new(lambda r: r.augmented or "Dropout" in r.layers or "Dropout2d" in r.layers))


@check("ran_invariance_experiment")
def _invariance(s: Learner) -> bool:
    return bool({"experiment:rot", "experiment:shift"} & s.events)


@check("explained_two_ways")
def _explained(s: Learner) -> bool:
    """A drawing explained with the class comparison ("why this and not that") or a second method."""
    return bool({"explain:compare", "explain:method"} & s.events)


@check("passed_98")
def _passed(s: Learner) -> bool:
    """A finished run at or above its dataset's target on validation (the test set is kept for the end)."""
    return bool(s.finished(lambda r: (r.val_accuracy or 0.0) >= pass_target(r.dataset)))


LONG_EPOCHS = 8  # the overfitting step: a run at least this long

# the checks that hold once the student did one thing on a page (the event a page records with ``did``)
EVENT_CHECKS = {
    "saw_trained_kernels": "kernels",
    "saw_feature_maps": "feature_maps",
    "read_unit_stats": "unit_stats",
    "drew_a_digit": "drew",
    "fooled_own_7": "fooled_own_7",
    "explained_a_pixel": "lab:pixel",
    "read_confusion": "confusion",
    "ran_shuffle_experiment": "experiment:shuf",
    "moved_threshold": "trust:threshold",
    "ran_reject_class": "trust:reject",
    "read_class_handwriting": "trust:handwriting",
    "saw_learned_map": "learned_map",
    "ran_data_size": "experiment:size",
    "fooled_the_model": "fooled",
    "found_shortcut": "shortcut",
}
CHECKS.update({name: (lambda s, event=event: event in s.events) for name, event in EVENT_CHECKS.items()})


def shown_text(text: str) -> str:
    """A step's words as markdown that shows them as written: every markdown and HTML sign escaped (no image, link
    or tag from a lesson file), except `code` spans, which markdown shows as they are."""
    parts = str(text).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: nothing is code
        return inert_markdown(text, one_line=True)
    return "`".join(p if i % 2 else inert_markdown(p, one_line=True) for i, p in enumerate(parts))


def model_sentence(spec: dict[str, Any], tr: Translator | None = None, name: str = "") -> str:
    """The student's own model in figures, for the path's panel: "Your model has 8 kernels of 5×5 in its first
    convolution and 13,618 parameters, 99% of them in its last layer." (with its ``name``; in ``tr``'s language)."""
    tr = tr or translator(DEFAULT_LANGUAGE)
    try:
        rows = summarize(spec).layers
    except ValueError:
        return ""
    total = sum(r.params for r in rows)
    if total == 0:
        return ""
    last = next((r for r in reversed(rows) if r.type == "Linear"), None)
    conv = next((r for r in rows if r.type == "Conv2d"), None)
    k = conv.args.get("kernel_size", 3) if conv is not None else 0
    k = k if isinstance(k, int) else k[0]
    model = tr("Your model {name}", name=name) if name else tr("Your model")
    figures = {
        "model": model,
        "params": tr.number(total),
        "share": tr.percent(last.params / total, 0) if last is not None else "",
        "kernels": conv.output_shape[0] if conv is not None else 0,
        "k": k,
    }
    if conv is not None and last is not None:
        return tr(
            "{model} has {kernels} kernels of {k}×{k} in its first convolution and {params} parameters, "
            "{share} of them in its last layer.",
            **figures,
        )
    if conv is not None:
        return tr("{model} has {kernels} kernels of {k}×{k} in its first convolution and {params} parameters.", **figures)
    if last is not None:
        return tr("{model} has {params} parameters, {share} of them in its last layer.", **figures)
    return tr("{model} has {params} parameters.", **figures)


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
        if r["element"] not in KNOWN_ELEMENTS:
            raise ValueError(
                f"step {i} ({r['id']}) rings the element {r['element'][:40]!r}, which is not a control "
                f"of the app; known: {', '.join(sorted(KNOWN_ELEMENTS))}"
            )
        if r["check"] not in CHECKS:
            raise ValueError(
                f"step {i} ({r['id']}) names the check {r['check']!r}, which does not exist; "
                f"known: {', '.join(sorted(CHECKS))}"
            )
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
    """Where a student is on a path: the steps done and skipped (by id), and when each was first shown as the
    current step (:class:`Mark`, by id). Saved with the workspace."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    shown: dict[str, Any] = field(default_factory=dict)  # step id -> Mark.to_dict()

    def current(self, steps: list[Step]) -> int:
        """The index of the first step neither done nor skipped (``len(steps)``: the path is complete)."""
        return next((i for i, s in enumerate(steps) if s.id not in self.done and s.id not in self.skipped), len(steps))

    def label(self, steps: list[Step]) -> str:
        """For the teacher's roster: "4/13" (the steps done or skipped, of all)."""
        return f"{min(self.current(steps), len(steps))}/{len(steps)}"

    def show(self, steps: list[Step], learner: Learner, tick: int) -> None:
        """The current step is on screen now: from here on, what the student does counts for it (the first time
        only: a step shown again keeps its first mark)."""
        i = self.current(steps)
        if i < len(steps) and steps[i].id not in self.shown:
            finished = frozenset(r.key for r in learner.runs if r.finished)
            self.shown[steps[i].id] = Mark(tick, finished).to_dict()


def advance(steps: list[Step], progress: PathProgress, learner: Learner) -> list[Step]:
    """Complete the current step if it was shown and its check holds on what happened since (one step at a time:
    the next one must be shown before anything counts for it); returns the step completed now, or []."""
    i = progress.current(steps)
    if i >= len(steps) or steps[i].id not in progress.shown:
        return []
    step = steps[i]
    if not CHECKS[step.check](learner.since(Mark.of(progress.shown[step.id]))):
        return []
    progress.done.append(step.id)
    return [step]
