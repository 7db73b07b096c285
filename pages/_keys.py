"""Every session key shared by more than one file, in one light module (no torch, no Streamlit): app.py reads
them before anything heavy loads, the pages and the tests import them from here. A key one page keeps to itself
is defined on that page.
"""

from __future__ import annotations

__all__ = [
    "WS",
    "DATASET",
    "UPLOADS",
    "TRAIN_CFG",
    "DRAFT",
    "WS_ID",
    "PERSON",
    "OWNER",
    "PERSON_SET",
    "WS_VERSION",
    "WS_SAVED",
    "HIDDEN",
    "LESSON",
    "CLASS",
    "TEACHER",
    "LAST_ERROR",
    "PATH",
    "LANG",
    "PAGE",
    "SAVED_KEYS",
    "DRAWING",
    "CONFIDENCE",
    "DEFAULT_CONFIDENCE",
    "FLASH",
    "UNASKED",
    "TRAIN_ERROR",
]

# Durable state lives in these non-widget keys.
WS = "workspace"  # Workspace: this session's models and runs
DATASET = "dataset_name"  # name of the chosen dataset (registry name or an upload's name)
UPLOADS = "uploaded_datasets"  # name -> Dataset, this session's uploads
TRAIN_CFG = "train_config"  # dict: the Train page's settings (TrainConfig.to_dict())
DRAFT = "build_draft"  # the spec being edited on the Build page


WS_ID = "workspace_id"  # the id in the page URL (?ws=...): the key to this work
PERSON = "person_id"  # whose limits this tab counts against: the browser's signed cookie, else the workspace id
# (a browser that keeps no cookie: the one shared person of all such browsers; pages._person)
OWNER = "owner_id"  # whose saved work this tab's is (My data lists it): PERSON, or this workspace for a cookieless tab
PERSON_SET = "person_cookie_set"  # the cookie-writing snippet was sent in this session
WS_VERSION = "workspace_version"  # the version this session last read or wrote
WS_SAVED = "workspace_saved"  # (fingerprint, time) of the last save
HIDDEN = "hidden_pages"  # page titles an opened lesson hides (the menu leaves them out)
LESSON = "lesson"  # the open lesson: title, notes, hidden shortcut (shown in the sidebar)
CLASS = "class_membership"  # {"code", "name"}: the class this student joined (the workspace keeps the code only)
TEACHER = "teacher_session"  # {"code", "key"}: the class this tab's teacher signed in to (never saved: sign in again)
LAST_ERROR = "last_error"  # (sentence, time): the last refusal or error shown (a stuck mark on the teacher's roster)
LANG = "language"  # the session's language code (pages._lang reads and sets it)
PAGE = "current_page"  # the title of the page this run draws, in the code's words (app.py sets it; the roster and
# the guided path read it)
PATH = "guided_path"  # the guided path this student follows: its name (or a lesson's steps), steps done, skipped
SAVED_KEYS = (DATASET, TRAIN_CFG, DRAFT, HIDDEN, LESSON, CLASS, PATH, LANG)  # settings a workspace keeps


DRAWING = "drawing"  # uint8 (1, 28, 28): the last digit drawn on the Draw page
CONFIDENCE = "confidence_threshold"  # below it, the Draw page says "not sure" (set there and on "Can we trust it?")
DEFAULT_CONFIDENCE = 0.9  # the threshold both pages start from
FLASH = "flash_messages"  # [(kind, sentence)]: messages left for the next run of the page (pages._state.flash)
UNASKED = "rerun_unasked"  # this run was started by the page itself, not by the student (pages._server.rerun_unasked)
TRAIN_ERROR = "train_error"  # why a one-click training could not start, shown once by the page
