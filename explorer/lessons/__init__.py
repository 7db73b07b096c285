"""Lessons built on the core: the convolution lab, lesson files, experiments, export, planted shortcuts."""

from __future__ import annotations

from .experiments import (
    compare_architectures,
    data_size_experiment,
    imbalance_experiment,
    merge_data_size,
    mlp_spec,
    pixel_shuffle_experiment,
    rotate,
    rotation_experiment,
    rotation_sweep,
    shift,
    translation_sweep,
)
from .export import to_onnx, to_python
from .lab import (
    KERNELS,
    MAX_KERNEL_SIDE,
    ExplainedPixel,
    convolve,
    explain_pixel,
    gabor,
    gabor_bank,
    kernel,
    kernel_from_table,
    output_size,
    pool,
    unit_gray,
)
from .lesson import HIDEABLE_PAGES, START_PAGES, Lesson, check_class_code, lesson_to_json, parse_lesson
from .notebook import inert_markdown, to_notebook
from .shortcut import CUES, check_shortcut, plant_cue, reveal, shortcut_dataset

__all__ = [
    "CUES",
    "ExplainedPixel",
    "HIDEABLE_PAGES",
    "KERNELS",
    "MAX_KERNEL_SIDE",
    "Lesson",
    "START_PAGES",
    "check_class_code",
    "check_shortcut",
    "compare_architectures",
    "convolve",
    "data_size_experiment",
    "explain_pixel",
    "gabor",
    "gabor_bank",
    "imbalance_experiment",
    "kernel",
    "kernel_from_table",
    "lesson_to_json",
    "merge_data_size",
    "mlp_spec",
    "output_size",
    "parse_lesson",
    "pixel_shuffle_experiment",
    "plant_cue",
    "pool",
    "reveal",
    "rotate",
    "rotation_experiment",
    "rotation_sweep",
    "shift",
    "shortcut_dataset",
    "to_onnx",
    "to_python",
    "to_notebook",
    "inert_markdown",
    "translation_sweep",
    "unit_gray",
]
