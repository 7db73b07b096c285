"""How a run ended, in one sentence: the English the library writes into a run's history (and the command line
prints), and the same sentence said again in a student's language (:func:`say_run_message`).

A run's history keeps its message as plain English text (it is saved, published and read back from checkpoints),
so a page reads it back against these templates: a message that matches one is said in the language, any other
text is shown as it is. Only these templates are ever formatted, never a text read from a file.
"""

from __future__ import annotations

import re
from functools import cache

from ..i18n import N_, Translator
from .limits import MAX_RUN_MESSAGE_READ

__all__ = [
    "NOT_STARTED",
    "FINISHED",
    "STOPPED_AT",
    "DIVERGED",
    "OUT_OF_MEMORY",
    "FAILED",
    "INTERRUPTED",
    "SESSION_ENDED",
    "RUN_TIME_LIMIT",
    "WORKER_LOST",
    "MACHINE_LOST",
    "KEEPS_BEFORE",
    "say_run_message",
]

NOT_STARTED = N_("stopped before it started")
FINISHED = N_("finished {n} epochs")
STOPPED_AT = N_("stopped at step {step}")
DIVERGED = N_("loss diverged at step {step}: lower the learning rate (it was {lr}); the last good weights were kept")
OUT_OF_MEMORY = N_(
    "out of GPU memory at batch size {batch}: lower the batch size or use a smaller model; the last good weights were kept"
)
FAILED = N_("training failed: {error}")
INTERRUPTED = N_("interrupted: the session that ran it ended; the model has the weights saved at step {step}")
SESSION_ENDED = N_("stopped: its session ended")
RUN_TIME_LIMIT = N_(
    "stopped after {n} minutes, the longest one run may train here; the model keeps the weights it had reached"
)
WORKER_LOST = N_("Ended early: the place it trained in stopped unexpectedly ({error})")
MACHINE_LOST = N_("Ended early: the machine it trained on stopped or left the cluster")
KEEPS_BEFORE = N_("{why}; the model keeps the weights it had before this run")

TEMPLATES = (
    NOT_STARTED,
    FINISHED,
    STOPPED_AT,
    DIVERGED,
    OUT_OF_MEMORY,
    FAILED,
    INTERRUPTED,
    SESSION_ENDED,
    RUN_TIME_LIMIT,
    WORKER_LOST,
    MACHINE_LOST,
)


@cache
def _pattern(template: str) -> re.Pattern[str]:
    """``template`` as a pattern that reads its placeholders' values back from a message."""
    parts = re.split(r"\{(\w+)\}", template)
    return re.compile("".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts)))


def say_run_message(message: str, tr: Translator) -> str:
    """A run's ``message`` in ``tr``'s language when it is one of the library's own sentences (the values it holds
    kept as they are); any other text unchanged. A text past :data:`MAX_RUN_MESSAGE_READ` characters is not read
    back: the patterns' lazy parts cost time that grows with the square of its length (a loaded file chooses it)."""
    if len(message) > MAX_RUN_MESSAGE_READ:
        return message
    for template in TEMPLATES:
        if m := _pattern(template).fullmatch(message):
            return tr(template, **m.groupdict())
    if m := _pattern(KEEPS_BEFORE).fullmatch(message):
        why = m["why"]
        return tr(KEEPS_BEFORE, why=say_run_message(why, tr) if why != message else why)
    return message
