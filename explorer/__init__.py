"""CNN Explorer's engine: build, train, save and look inside convolutional networks.

Usable from a notebook or the command line (``python -m explorer``); it never imports streamlit. The face is lazy
(PEP 562): a name loads its module, and torch, on first use, so that a light part (``explorer.i18n``) is light.
"""

from __future__ import annotations

from ._lazy import lazy_face

_HOME = {
    **dict.fromkeys(["Checkpoint", "CheckpointError", "load_checkpoint", "save_checkpoint"], "core.checkpoint"),
    **dict.fromkeys(["DATASETS", "DataError", "Dataset", "load_dataset", "normalize"], "core.data"),
    **dict.fromkeys(["Confusion", "confusion_matrix", "evaluate", "predict_proba"], "core.evaluate"),
    **dict.fromkeys(["EmptyImageError", "mnist_style", "prepare_image"], "core.preprocess"),
    **dict.fromkeys(["PRESETS", "get_preset", "preset_names"], "core.presets"),
    **dict.fromkeys(
        ["SpecError", "Summary", "build_model", "format_summary", "parse_spec", "summarize", "validate_spec"], "core.spec"
    ),
    **dict.fromkeys(["Augment", "augment_batch"], "core.augment"),
    **dict.fromkeys(["TrainConfig", "resolve_device"], "core.config"),
    **dict.fromkeys(["Trainer", "train"], "core.train"),
    "load_csv": "core.uploads",
    "load_image_zip": "core.zipupload",
}
__all__ = sorted(_HOME)
__getattr__, __dir__ = lazy_face(__name__, _HOME)
