"""The notebook to take home: the app's run as a Jupyter notebook (nbformat 4, written with the ``nbformat``
library), in the form the lecture came in.

Markdown cells explain each part: the data, the model, the app's own code for the split and the augmentation,
training, evaluation, and a look at the kernels and one feature map (plotted with matplotlib when it is there).
Code cells are the exported script (:func:`explorer.lessons.export.to_python`) cut at its definitions, so they
train the way the app does, with torch and torchvision only: the same split, seed and settings. The first code
cell holds the settings; it reads the data folder from ``EXPLORER_DATA_DIR`` when that is set.

A name or a description is user text: in markdown it is escaped (no heading, link, image or HTML comes of it),
in code it is a JSON string literal, whatever quotes or newlines it carries.
"""

from __future__ import annotations

import ast
import html
import re
from typing import Any

from .export import to_python

__all__ = ["to_notebook", "inert_markdown"]

SETTINGS = ("MODEL_NAME", "SPEC", "CONFIG", "TV_DATASET", "TV_OPTIONS", "TRANSPOSED")
MODEL = ("Residual", "build_model")
TRAINING = ("make_optimizer", "train", "accuracy")
SKIPPED = ("main",)  # the notebook runs its steps as cells instead

DATA_CELL = """\
x_tr, y_tr, x_te, y_te = load_data(DATA_DIR)
keep, val = stratified_split(y_tr, 0.1, seed=0)  # the app's fixed validation split
mean, std = channel_stats(x_tr[keep])  # the normalisation, from the training images only
print(f"{len(keep):,} training, {len(val):,} validation and {len(y_te):,} test images of shape {tuple(x_tr.shape[1:])}")
print("mean", [round(m, 4) for m in mean], "std", [round(s, 4) for s in std])"""

MODEL_CELL = """\
model = build_model()
print(MODEL_NAME)
print(model)
print("parameters:", sum(p.numel() for p in model.parameters()))"""

TRAIN_CELL = """\
device = "cuda" if torch.cuda.is_available() else "cpu"


def report(epoch, m):
    val_acc = accuracy(m, x_tr[val], y_tr[val], mean, std, device)
    print(f"epoch {epoch}: validation accuracy {val_acc:.2%}")


model = train(model, x_tr[keep], y_tr[keep], mean, std, device=device, on_epoch=report)"""

EVAL_CELL = """\
test_accuracy = accuracy(model, x_te, y_te, mean, std, device)
print(f"test accuracy: {test_accuracy:.2%}")"""

PLOT_SETUP = """\
try:
    import matplotlib.pyplot as plt
except ImportError:  # the figures need matplotlib (pip install matplotlib); the numbers are printed anyway
    plt = None
convs = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]"""

KERNELS_CELL = """\
if not convs:
    print("this model has no convolution: nothing to show here")
else:
    name, conv = convs[0]
    w = conv.weight.detach()[:16, 0]  # up to 16 kernels, first input channel
    print(f"layer {name}: {tuple(conv.weight.shape)} weights; showing {len(w)} kernels")
    if plt is not None:
        lim = float(w.abs().max())
        fig, axes = plt.subplots(1, len(w), figsize=(1.2 * len(w), 1.4))
        for ax, k in zip(list(getattr(axes, "flat", [axes])), w):
            ax.imshow(k, cmap="RdBu_r", vmin=-lim, vmax=lim)  # blue < 0 < red
            ax.axis("off")
        plt.show()"""

FEATURE_CELL = """\
if convs:
    name, conv = convs[0]
    maps = {}
    hook = conv.register_forward_hook(lambda mod, inp, out: maps.update(out=out.detach()))
    x = (x_te[:1].float() / 255.0 - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)
    with torch.no_grad():
        model.cpu().eval()(x)
    hook.remove()
    out = maps["out"][0]
    c = int(out.flatten(1).max(1).values.argmax())  # the channel that answers this image most strongly
    print(f"layer {name}: {tuple(out.shape)} feature maps; channel {c} is the strongest on the first test image")
    if plt is not None:
        fig, (a, b) = plt.subplots(1, 2, figsize=(5, 2.5))
        a.imshow(x_te[0].permute(1, 2, 0).squeeze(), cmap="gray")
        a.set_title("the input")
        b.imshow(out[c], cmap="magma")
        b.set_title(f"feature map {c}")
        for ax in (a, b):
            ax.axis("off")
        plt.show()"""

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def inert_markdown(text: Any, one_line: bool = False) -> str:
    """User text as markdown that renders as the text itself: HTML escaped, every markdown sign escaped, lines
    kept as line breaks (``one_line``: joined by spaces, for a heading), never a new block."""
    lines = str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return (" " if one_line else "  \n").join(_MD_SPECIAL.sub(r"\\\1", html.escape(line, quote=False)) for line in lines)


def _blocks(script: str) -> dict[str, list[str]]:
    """The script's top-level statements as source, grouped: imports, settings, model, training, data, app code."""
    tree = ast.parse(script)
    lines = script.splitlines()
    groups: dict[str, list[str]] = {k: [] for k in ("imports", "settings", "model", "training", "data", "app")}
    for node in tree.body:
        src = "\n".join(lines[node.lineno - 1 - len(getattr(node, "decorator_list", [])) : node.end_lineno])
        name = getattr(node, "name", None) or next(
            (t.id for t in getattr(node, "targets", [getattr(node, "target", None)]) if isinstance(t, ast.Name)), None
        )
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):  # the docstring
            continue
        if isinstance(node, ast.If) or name in SKIPPED:  # `if __name__ == "__main__"` and main(): cells instead
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":  # a cell is not a module's start
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            groups["imports"].append(src)
        elif name in SETTINGS:
            groups["settings"].append(src)
        elif name in MODEL:
            groups["model"].append(src)
        elif name in TRAINING:
            groups["training"].append(src)
        elif name == "load_data":
            groups["data"].append(src)
        else:
            groups["app"].append(src)
    return groups


APP_MD = (
    "## The app's own code\n\nThe split, the statistics, the augmentation and the one-logit convention, "
    "copied from the app so that this notebook trains exactly as it does."
)

DATA_MD = (
    "## The data\n\nImages are kept as `uint8` and normalised per batch, as the app does. One tenth of the "
    "training images (the same for every class) is held out for validation; the test images are never "
    "trained on."
)

MODEL_MD = (
    "## The model\n\nThe spec's layers as an `nn.Sequential`, initialised as the app initialises them for the same seed."
)

TRAIN_MD = (
    "## Training\n\nThe optimiser and schedule of the run, one pass over the shuffled training images per "
    "epoch; the validation accuracy after each."
)

LOOK_MD = (
    "## A look inside\n\nThe first convolution's kernels (blue below zero, red above), and the feature map of "
    "its strongest channel for the first test image: what the layer passes on."
)


EVAL_MD = "## Evaluation\n\nThe accuracy on the test images, which training never saw."


def _settings(g: dict[str, list[str]]) -> str:
    """The settings cell: the imports, where the data is, the spec, ``CONFIG`` and the dataset."""
    return "\n".join(
        [
            "import os",
            *g["imports"],
            "",
            "# where torchvision finds (or puts) the data: EXPLORER_DATA_DIR when it is set",
            'DATA_DIR = os.environ.get("EXPLORER_DATA_DIR") or "data"',
            *g["settings"],
        ]
    )


def to_notebook(spec: dict[str, Any], config: dict[str, Any] | None = None, dataset: str = "mnist") -> str:
    """The notebook (its JSON text) that reproduces the app's run of ``spec`` with ``config`` on ``dataset``."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    script = to_python(spec, config, dataset)
    g = _blocks(script)
    name = inert_markdown(spec.get("name") or "model", one_line=True)
    about = inert_markdown(spec["description"]) if spec.get("description") else ""
    full = " (the app's default data is 5,000 of MNIST's digits; this loads all of MNIST)" if dataset == "mnist-5k" else ""
    md, code = new_markdown_cell, new_code_cell
    cells = [
        md(
            f"# {name}\n\nA model built in **CNN Explorer**, with the settings of its run. This notebook trains it "
            "the way the app does, with torch and torchvision only: the same validation split, normalisation, "
            "initialisation, optimiser, schedule, augmentation and batch order. On the same images it reaches the "
            "same weights." + (f"\n\n> {about}" if about else "")
        ),
        md(
            "## Settings\n\nEverything this run depends on, in one cell: the model's spec, the training settings "
            f"(`CONFIG`) and the dataset (`{inert_markdown(dataset)}`{full}). Change a setting and run the "
            "notebook again."
        ),
        code(_settings(g)),
        md(APP_MD),
        code("\n\n\n".join(g["app"])),
        md(DATA_MD),
        code("\n\n\n".join(g["data"])),
        code(DATA_CELL),
        md(MODEL_MD),
        code("\n\n\n".join(g["model"])),
        code(MODEL_CELL),
        md(TRAIN_MD),
        code("\n\n\n".join(g["training"])),
        code(TRAIN_CELL),
        md(EVAL_MD),
        code(EVAL_CELL),
        md(LOOK_MD),
        code(PLOT_SETUP),
        code(KERNELS_CELL),
        code(FEATURE_CELL),
    ]
    nb = new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    )
    nbformat.validate(nb)
    return nbformat.writes(nb)
