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

from .charts import (
    PALETTE,
    SYMBOLS,
    class_distribution,
    ema,
    epoch_table,
    shape_flow,
    summary_rows,
    tint,
    training_curves,
    value_histogram,
    vector_bar,
    weight_histograms,
)
from .describe import (
    describe_attribution,
    describe_bars,
    describe_board,
    describe_class_counts,
    describe_confusion,
    describe_coverage,
    describe_curves,
    describe_experiment,
    describe_flow,
    describe_image,
    describe_images,
    describe_kernel,
    describe_kernels,
    describe_learned_map,
    describe_map,
    describe_values,
    describe_weights,
    where,
)
from .experiments import EXPERIMENT_CHARTS, experiment_figure, experiment_table
from .images import (
    as_picture,
    cells_read,
    channel_strip,
    colorize,
    feature_tile,
    framed,
    image_grid,
    kernel_mosaic,
    number_table,
    overlay,
    png_data_url,
    upscale,
)
from .results import board_figure, confusion_heatmap, coverage_figure, learned_map_figure

__all__ = [
    "experiment_table",
    "epoch_table",
    "where",
    "describe_image",
    "describe_images",
    "describe_kernel",
    "describe_kernels",
    "describe_map",
    "describe_attribution",
    "describe_curves",
    "describe_confusion",
    "describe_coverage",
    "describe_bars",
    "describe_values",
    "describe_weights",
    "describe_flow",
    "describe_class_counts",
    "describe_board",
    "describe_learned_map",
    "describe_experiment",
    "PALETTE",
    "SYMBOLS",
    "tint",
    "class_distribution",
    "ema",
    "shape_flow",
    "summary_rows",
    "training_curves",
    "value_histogram",
    "vector_bar",
    "weight_histograms",
    "EXPERIMENT_CHARTS",
    "experiment_figure",
    "as_picture",
    "cells_read",
    "channel_strip",
    "colorize",
    "feature_tile",
    "framed",
    "image_grid",
    "kernel_mosaic",
    "number_table",
    "overlay",
    "png_data_url",
    "upscale",
    "board_figure",
    "confusion_heatmap",
    "coverage_figure",
    "learned_map_figure",
]
