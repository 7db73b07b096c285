"""Plotly figures and images the pages show, from tensors and results: kept here so pages only wire and every
figure is testable without a browser.

- :mod:`.images`: grids of samples, colour maps, kernel mosaics, feature tiles, attribution overlays;
- :mod:`.charts`: training curves, the shape flow, class counts, weight and activation histograms;
- :mod:`.results`: confusion matrices, the trust curve, the learned map, the class board;
- :mod:`.experiments`: one chart per lecture experiment;
- :mod:`.describe`: each figure's text alternative, a sentence written from the same data.
"""

from __future__ import annotations

# pandas whole, before any figure: plotly takes pandas from sys.modules when it validates an array, and a figure
# drawn in one session while another thread was still importing pandas met it half-imported ("partially
# initialized module 'pandas' has no attribute 'Series'"). Imported here, a page's first figure waits for it.
import pandas  # noqa: F401, I001

from .._lazy import lazy_face

_HOME = {
    "class_distribution": "charts",
    "ema": "charts",
    "epoch_table": "charts",
    "PALETTE": "charts",
    "shape_flow": "charts",
    "summary_rows": "charts",
    "SYMBOLS": "charts",
    "tint": "charts",
    "training_curves": "charts",
    "value_histogram": "charts",
    "vector_bar": "charts",
    "weight_histograms": "charts",
    "describe_attribution": "describe",
    "describe_bars": "describe",
    "describe_board": "describe",
    "describe_class_counts": "describe",
    "describe_confusion": "describe",
    "describe_coverage": "describe",
    "describe_curves": "describe",
    "describe_experiment": "describe",
    "describe_flow": "describe",
    "describe_image": "describe",
    "describe_images": "describe",
    "describe_kernel": "describe",
    "describe_kernels": "describe",
    "describe_learned_map": "describe",
    "describe_map": "describe",
    "describe_values": "describe",
    "describe_weights": "describe",
    "where": "describe",
    "EXPERIMENT_CHARTS": "experiments",
    "experiment_figure": "experiments",
    "experiment_table": "experiments",
    "as_picture": "images",
    "cells_read": "images",
    "channel_strip": "images",
    "colorize": "images",
    "feature_tile": "images",
    "framed": "images",
    "image_grid": "images",
    "kernel_mosaic": "images",
    "number_table": "images",
    "overlay": "images",
    "png_data_url": "images",
    "upscale": "images",
    "board_figure": "results",
    "confusion_heatmap": "results",
    "coverage_figure": "results",
    "learned_map_figure": "results",
}
__all__ = sorted(_HOME)
__getattr__, __dir__ = lazy_face(__name__, _HOME)
