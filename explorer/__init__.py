"""CNN Explorer's engine: build, train, save and look inside convolutional networks.

Usable from a notebook or the command line (``python -m explorer``); it never imports streamlit.
"""

from __future__ import annotations

from .core.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from .core.data import DATASETS, DataError, Dataset, load_dataset, normalize
from .core.evaluate import Confusion, confusion_matrix, evaluate, predict_proba
from .core.preprocess import EmptyImageError, mnist_style, prepare_image
from .core.presets import PRESETS, get_preset, preset_names
from .core.spec import SpecError, Summary, build_model, format_summary, parse_spec, summarize, validate_spec
from .core.train import Augment, TrainConfig, Trainer, augment_batch, resolve_device, train
from .core.uploads import load_csv, load_image_zip

__all__ = [
    "Augment", "Checkpoint", "CheckpointError", "Confusion", "DATASETS", "DataError", "Dataset", "EmptyImageError",
    "PRESETS", "SpecError", "Summary", "TrainConfig", "Trainer", "augment_batch", "build_model", "confusion_matrix",
    "evaluate", "format_summary", "get_preset", "load_checkpoint", "load_csv", "load_dataset", "load_image_zip",
    "mnist_style", "normalize", "parse_spec", "predict_proba", "prepare_image", "preset_names", "resolve_device",
    "save_checkpoint", "summarize", "train", "validate_spec",
]
