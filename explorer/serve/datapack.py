"""The teacher's data pack: what the app stores about students, where, for how long, who else receives it, and how
to export and delete it, written from the server's own settings (never a hand-kept text that drifts). The same
text, at the default settings, is ``docs/privacy.md`` (a test keeps the two alike), with a data-protection impact
assessment template a school fills in.
"""

from __future__ import annotations

import os

from ..core.budget import Budget
from .door import class_hours
from .retention import purge_every_s

__all__ = ["data_pack", "privacy_doc", "DPIA_TEMPLATE"]


def _workspace_days(env: dict[str, str]) -> float:
    try:
        return float(env.get("EXPLORER_WORKSPACE_TTL_DAYS", 30))
    except ValueError:
        return 30.0


def _rows(env: dict[str, str], hours: float, days: float) -> list[tuple[str, str, str, str]]:
    """The pack's table: what is kept, where, how long, and who sees it."""
    where = (
        "a PostgreSQL database the school runs"
        if env.get("EXPLORER_DATABASE_URL")
        else "one SQLite file on the server's own disk (deleted rows are overwritten: secure_delete)"
    )
    return [
        (
            "a student's work: models, training runs, uploaded datasets, the page settings",
            f"{where}, under the workspace's unguessable link",
            f"deleted **{days:g} days** after its last change",
            "whoever has the link (the student)",
        ),
        (
            "a student's name in a class (a first name or a nickname is enough) and what their app reports: page, "
            "model, runs, best accuracy, an error shown",
            "the same database",
            f"until the teacher ends the class, at most **{hours:g} hours** after it was made",
            "the class's teacher",
        ),
        (
            "drawings a student adds to their class's set",
            "the same database",
            f"with the class: at most **{hours:g} hours**",
            "the class (the teacher can remove one)",
        ),
        (
            "runs a student publishes to the class board",
            "the same database",
            f"with the class: at most **{hours:g} hours**",
            "the class",
        ),
        (
            "wrong teacher keys or school passwords, by browser (an opaque id)",
            "the same database",
            "**10 minutes**",
            "nobody (they only slow further tries)",
        ),
        (
            "a browser's id (a signed random cookie, `explorer_person`), so that one person's tabs share their limits",
            "the student's browser",
            "30 days, or until *Forget this computer*",
            "nobody",
        ),
    ]


def data_pack(env: dict[str, str] | None = None) -> str:
    """The data pack as Markdown, from the settings in ``env`` (default: this process's environment)."""
    env = dict(os.environ if env is None else env)
    # the settings' own readers, so that the pack says what the server does
    hours, days, purge_min = class_hours(env), _workspace_days(env), purge_every_s(env) / 60
    b = Budget.from_env(env)
    rows = _rows(env, hours, days)
    table = "\n".join("| " + " | ".join(r) + " |" for r in rows)
    return f"""## What CNN Explorer stores about students

| what | where | how long | who sees it |
|---|---|---|---|
{table}

- **Deletion on a timer**: the server purges expired classes and workspaces every **{purge_min:g} minutes**
  (`EXPLORER_PURGE_MINUTES`), whether or not anyone opens the app.
- **Quotas**: one person keeps at most **{b.stored_person_mb:,} MB** of saved work, everyone together
  **{b.stored_mb:,} MB** (`EXPLORER_MAX_STORED_PERSON_MB`, `EXPLORER_MAX_STORED_MB`).
- **Nobody else receives it**: no analytics, no telemetry, no advertising, no third-party fonts, scripts or images;
  every file a page loads comes from the app's own address, and the server opens no outbound connection in normal
  use (its Ray cluster and its database are the school's own).
- **Take it home, delete it**: every student's **My data** page lists what is kept about them, downloads all of it as
  one zip (models that load back, runs as JSON and CSV, uploads, drawings as PNG, what they published), and deletes
  all of it after a confirmation, with a receipt (what, how many, when). *Forget this computer* clears a shared
  computer's cookie and link. A teacher's **End the class** deletes the class's names, drawings and board at once.
- **Names are pseudonyms by default**: the join form asks for a first name or a nickname, and nothing else about a
  student is asked.

Settings this pack was written from: `EXPLORER_CLASS_HOURS={hours:g}`, `EXPLORER_WORKSPACE_TTL_DAYS={days:g}`,
`EXPLORER_PURGE_MINUTES={purge_min:g}`.
"""


DPIA_TEMPLATE = """## Data-protection impact assessment (a template the school fills in)

1. **The processing**: a browser app for a lesson on convolutional networks; students build and train small models
   on handwritten-digit images. Controller: *(the school)*. Server run by: *(who, where)*.
2. **Data subjects and data**: students *(age range)*; a first name or nickname per class, the work they make, the
   drawings they add (28x28 images of digits), an opaque browser id. No email, no account, no birth date, no photo.
3. **Necessity and proportionality**: names only inside a class, for the teacher's roster; lifetimes as in the
   table above; the settings used: *(paste the line of settings above)*.
4. **Risks to students**: *(e.g. a name seen by classmates on the board; a shared computer)*. Measures: nicknames,
   the board shows only what a student publishes, *Forget this computer*, classes end after their hours.
5. **Security**: HTTPS in front (the documented HAProxy set-up), teacher keys stored as salted hashes, a school
   password to make classes, the database on the school's network. *(Add the school's own measures.)*
6. **Rights**: access and portability (My data, Download all of it), erasure (Delete all of it, with a receipt).
7. **Sign-off**: *(name, role, date)*.
"""


def privacy_doc(env: dict[str, str] | None = None) -> str:
    """``docs/privacy.md``: the data pack at these settings, then the DPIA template."""
    return (
        "# Privacy: what is kept, for how long, who sees it\n\n"
        "Generated by `python -m explorer privacy --defaults` from the default settings. A teacher "
        "finds the same pack, with their server's own settings, on the Teacher page.\n\n"
        + data_pack(env)
        + "\n"
        + DPIA_TEMPLATE
    )
