"""The fixed limits, in one place: how large anything a user gives the app may be, and how much of it the server
keeps. What a piece of work may *cost* (parameters, activations, time) is the operator's to change, in
:mod:`explorer.core.budget`; these are the shapes the app accepts, the same on every server.

Each module imports its limits from here (a test keeps any ``MAX_*`` from being defined anywhere else), so a
reviewer reads every bound a student can reach on one page.
"""

from __future__ import annotations

__all__ = [
    "MAX_RUN_MESSAGE_READ",
    "MAX_LAYERS",
    "MAX_INPUT_SIDE",
    "MAX_INPUT_CHANNELS",
    "MAX_SPEC_BYTES",
    "MAX_DESCRIPTION_CHARS",
    "MAX_NAME_CHARS",
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "MAX_UPLOAD_MB",
    "MAX_UPLOAD_BYTES",
    "MAX_UNZIPPED_BYTES",
    "MAX_ZIP_RATIO",
    "MAX_ZIP_DEPTH",
    "MAX_ZIP_PIXELS",
    "MAX_IMAGES",
    "MAX_LABEL",
    "MAX_IMAGE_PIXELS",
    "MAX_IMAGE_FILE_BYTES",
    "MAX_CHECKPOINT_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_LESSON_BYTES",
    "MAX_STEPS",
    "MAX_KERNEL_SIDE",
    "MAX_BOARD_ENTRIES",
    "MAX_ENTRIES_PER_STUDENT",
    "MAX_CLASS_DIGITS",
    "MAX_CLASS_NAME",
    "MAX_PUBLISHED_EPOCHS",
    "MAX_CODE_CHARS",
    "MAX_KEY_CHARS",
    "MAX_GUESSES",
    "MAX_CLASS_GUESSES",
    "MAX_BROWSER_WAIT_S",
    "MAX_STUDENTS",
    "MAX_CLASSES_PER_HOUR",
    "MAX_ONNX_IN_EXPORT",
    "MAX_MESSAGE",
    "MAX_SNAPSHOTS",
    "MAX_MOSAIC_PIXELS",
    "MAX_STORED_NAME",
    "MAX_REMEMBERED_BLOBS",
    "MAX_PENDING",
    "MAX_OUTCOMES",
    "MAX_DRAWING_PIXELS",
    "MAX_SHARED_DATASETS",
    "MAX_REMEMBERED_KEYS",
]

# --- a network's spec (core.spec) -------------------------------------------------------------------------------
MAX_LAYERS = 200
MAX_INPUT_SIDE = 1024
MAX_INPUT_CHANNELS = 16
MAX_SPEC_BYTES = 1_000_000  # a spec file or text: the largest preset is about 2 KB
MAX_DESCRIPTION_CHARS = 4_000

# --- names and JSON, wherever they enter (core.safejson) --------------------------------------------------------
MAX_NAME_CHARS = 80  # a model's, a dataset's or an upload's name
MAX_DEPTH = 64  # nesting of any JSON we read: far deeper than any spec, lesson or checkpoint header we write
MAX_INT_DIGITS = 30

# --- files a user gives (core.uploads, core.preprocess, core.checkpoint, the Draw pad) -----------------------
MAX_UPLOAD_MB = 200  # one file (Streamlit's server.maxUploadSize says the same; a test pins them)
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
MAX_UNZIPPED_BYTES = 1024 * 1024 * 1024
MAX_ZIP_RATIO = 200  # a member that expands more than this is a zip bomb
MAX_ZIP_DEPTH = 16  # folders inside a zip
MAX_ZIP_PIXELS = 400_000_000  # decoded pixels of all the images of one upload together
MAX_IMAGES = 100_000  # images in one uploaded dataset
MAX_LABEL = 100_000  # a class label in a CSV
MAX_IMAGE_PIXELS = 40_000_000  # one image's decoded pixels: a 40 M-pixel photo, and no decompression bomb
MAX_IMAGE_FILE_BYTES = 64 * 2**20  # one image file: a 40 M-pixel image compresses far below this
MAX_DRAWING_PIXELS = 1_000_000  # a drawing the pad sends (280 CSS px a side: up to about 3.5 device pixels each)
MAX_CHECKPOINT_BYTES = 512 * 1024 * 1024
MAX_HEADER_BYTES = 16 * 1024 * 1024  # a checkpoint's JSON header

# --- lessons (lessons.lesson, lessons.path, lessons.lab) --------------------------------------------------------
MAX_LESSON_BYTES = 1_000_000
MAX_STEPS = 30  # a path a teacher writes: at most this many steps
MAX_KERNEL_SIDE = 15  # a hand-typed kernel: large enough for any lesson, small enough to read

# --- a class (serve.classroom, serve.teaching) ------------------------------------------------------------------
MAX_BOARD_ENTRIES = 200  # runs on one class's board
MAX_ENTRIES_PER_STUDENT = 3  # runs one student (one workspace) may have on it
MAX_CLASS_DIGITS = 2_000  # digits in one class's shared handwriting set
MAX_CLASS_NAME = 60  # a name on the board, a drawing's author (the columns hold 60)
MAX_PUBLISHED_EPOCHS = 500  # epochs a published history keeps (the last ones)
MAX_CODE_CHARS = 9  # a class code as typed: its six characters, a dash and a space or two
MAX_KEY_CHARS = 40  # a teacher key as typed (with spaces around it)
MAX_GUESSES = 5  # wrong keys one browser may try against a class ...
MAX_CLASS_GUESSES = 30  # ... and all browsers together, within teaching.GUESS_WINDOW_S (then one check at a time)
MAX_BROWSER_WAIT_S = 300  # past MAX_GUESSES, a browser's wait doubles up to this
MAX_ONNX_IN_EXPORT = 8  # models My data's zip also writes as ONNX (about 0.1 s each); the sidebar gives any model's
MAX_CLASSES_PER_HOUR = 5  # classes one person may make within an hour (a look-alike class per minute: no)
MAX_STUDENTS = 80  # students in one class
MAX_MESSAGE = 300  # a pause message

# --- what the server keeps (core.train, plots.images, serve.store, serve.saver, the pages' server) -------------
MAX_SNAPSHOTS = 400  # kernel snapshots one run keeps (thinned evenly past this)
MAX_MOSAIC_PIXELS = 4_000_000  # one kernel mosaic: a few MB of PNG at most, whatever the layer
MAX_STORED_NAME = 200  # the database's name columns' width (explorer/serve/migrations)
MAX_REMEMBERED_BLOBS = 20_000  # digests of blobs a store wrote or read, so an unchanged one is not written again
MAX_REMEMBERED_KEYS = 1_000  # teacher keys a server remembers as checked (a SHA-256 each, in memory only)
MAX_PENDING = 500  # workspaces with a save waiting at once (each holds one prepared save in memory)
MAX_OUTCOMES = 2_000  # save outcomes no tab has read yet (a closed tab never will): the oldest go first
MAX_SHARED_DATASETS = 8  # registry datasets the server holds at once (the least recently used is dropped)
MAX_RUN_MESSAGE_READ = 400  # a run's message read back against the library's sentences (theirs are far shorter)
