"""Export a model to the tools people use next: a standalone, runnable PyTorch script of a spec (and its
training settings), or an ONNX file of a model with its weights (Netron, onnxruntime, other languages)."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..core.layers import LAYER_TYPES
from ..core.spec import SpecError, summarize

__all__ = ["to_python", "to_onnx", "export_refusal"]

ONNX_OPSET = 17


def to_onnx(model: nn.Module, input_shape: list[int] | tuple[int, ...], dataset: dict[str, Any] | None = None) -> bytes:
    """``model`` as an ONNX file (bytes), for any batch size.

    With ``dataset`` (its ``mean``, ``std`` and ``classes``, as a checkpoint holds them) the normalisation is
    part of the graph: the input ``pixels`` is float32 ``(N, C, H, W)`` in 0..255, as an image file gives them,
    and the class names travel in the file's metadata. Without it, the input ``image`` is already normalised.
    The output ``logits`` is ``(N, K)``. ``model`` is left as it was (mode and device).
    """
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    body: nn.Module = _Normalised(model, dataset).to(device) if dataset and dataset.get("mean") else model
    name = "pixels" if body is not model else "image"
    was = model.training
    model.eval()
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():  # the TorchScript exporter's notices are not the user's business
            warnings.simplefilter("ignore")
            torch.onnx.export(
                body,
                (torch.zeros(1, *[int(s) for s in input_shape], device=device),),
                buf,
                dynamo=False,
                input_names=[name],
                output_names=["logits"],
                opset_version=ONNX_OPSET,
                dynamic_axes={name: {0: "batch"}, "logits": {0: "batch"}},
            )
    except Exception as e:  # noqa: BLE001 - one sentence for the page and the CLI
        raise ValueError(f"this model cannot be exported to ONNX ({type(e).__name__}: {str(e)[:120]})") from None
    finally:
        model.train(was)
    if not dataset:
        return buf.getvalue()
    return _with_metadata(
        buf.getvalue(),
        {
            "classes": json.dumps(list(dataset.get("classes", []))),
            "mean": json.dumps(list(dataset.get("mean", []))),
            "std": json.dumps(list(dataset.get("std", []))),
            "input": "pixels: float32 (N, C, H, W) in 0..255" if name == "pixels" else "image: normalised (N, C, H, W)",
        },
    )


class _Normalised(nn.Module):
    """Pixels 0..255 -> the dataset's normalisation -> ``model``."""

    def __init__(self, model: nn.Module, dataset: dict[str, Any]) -> None:
        super().__init__()
        c = len(dataset["mean"])
        self.model = model
        self.register_buffer("mean", torch.tensor(dataset["mean"], dtype=torch.float32).view(1, c, 1, 1))
        self.register_buffer("std", torch.tensor(dataset["std"], dtype=torch.float32).view(1, c, 1, 1))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) in 0..255 -> (N, K)
        return self.model((pixels / 255.0 - self.mean) / self.std)


def _with_metadata(data: bytes, meta: dict[str, str]) -> bytes:
    import onnx

    m = onnx.load_from_string(data)
    for k, v in meta.items():
        m.metadata_props.add(key=k, value=v)
    return m.SerializeToString()


_TV_DATASETS = {
    "mnist": "MNIST",
    "mnist-5k": "MNIST",
    "fashion-mnist": "FashionMNIST",
    "kmnist": "KMNIST",
    "cifar10": "CIFAR10",
    "emnist-balanced": "EMNIST",
}


def _layer_code(layer: dict[str, Any], shape: tuple[int, ...], rows: dict[str, Any], path: str, indent: str) -> str:
    """One layer as the line of Python that builds it: torch's class, the arguments its input shape decides,
    and the spec's arguments that differ from torch's defaults."""
    t = layer["type"]
    if t == "Residual":
        inner, s = [], shape
        for i, sub in enumerate(layer["layers"]):
            inner.append(_layer_code(sub, s, rows, f"{path}.body.{i}", indent + "    "))
            s = rows[f"{path}.body.{i}"].output_shape
        body = ",\n".join(inner)
        return f"{indent}Residual(nn.Sequential(\n{body},\n{indent}), in_shape={list(shape)}, out_shape={list(s)})"
    kind = LAYER_TYPES[t]
    shown = {k: v for k, v in rows[path].args.items() if kind.args[k].default != v or kind.args[k].required}
    args = {**kind.from_shape(shape), **shown}
    text = ", ".join(f"{k}={tuple(v) if isinstance(v, list) else v!r}" for k, v in args.items())
    return f"{indent}nn.{t}({text})"


def _sources() -> str:
    """The app's own code for the parts of a run a plain loop would do differently: the validation split,
    the normalisation statistics, the batched augmentation and the one-logit convention."""
    import inspect
    import textwrap

    from ..core.augment import AUGMENT_LIMITS, Augment, augment_batch
    from ..core.data import channel_stats, stratified_split
    from ..core.safejson import brief
    from ..core.spec import output_logits_to_classes

    parts = [stratified_split, channel_stats, brief, Augment, augment_batch, output_logits_to_classes]
    limits = f"AUGMENT_LIMITS = {AUGMENT_LIMITS!r}"  # the ranges Augment checks, as the library has them
    return "\n\n".join([limits] + [textwrap.dedent(inspect.getsource(p)) for p in parts])


def export_refusal(dataset: str) -> str | None:
    """Why a run on ``dataset`` cannot be exported as a script or a notebook (None: it can), without writing one."""
    if dataset not in _TV_DATASETS:
        return f"export: no torchvision loader for dataset {dataset!r}; choose one of {', '.join(_TV_DATASETS)}"
    return None


TEMPLATE = Path(__file__).with_name("script_template.py")  # a real script, linted; the export fills it in


def to_python(spec: dict[str, Any], config: dict[str, Any] | None = None, dataset: str = "mnist") -> str:
    """A self-contained script that reproduces the app's run: the model as ``nn.Sequential`` (same
    initialisation for the same seed), the same validation split, normalisation, optimiser, schedule,
    augmentation and batch order. Given the same images, it ends with the same weights as the app.

    It is ``script_template.py`` with its lines marked ``# export: NAME`` filled in and its ``APP_CODE``
    imports replaced by those functions' source."""
    from ..core.config import TrainConfig

    if (refusal := export_refusal(dataset)) is not None:
        raise SpecError(refusal)
    cfg = TrainConfig.from_dict({k: v for k, v in (config or {}).items() if k in TrainConfig.__dataclass_fields__})
    cfg_json = json.dumps(
        {k: v for k, v in cfg.to_dict().items() if k not in ("device", "log_every", "snapshot_every", "eval_splits")}
    )
    tv = _TV_DATASETS[dataset]
    fill = {
        "CONFIG": f"CONFIG = json.loads({cfg_json!r})",
        "TV_DATASET": f"TV_DATASET = {tv!r}",
        "TV_OPTIONS": "TV_OPTIONS: dict = " + ('{"split": "balanced"}' if tv == "EMNIST" else "{}"),
        "TRANSPOSED": f"TRANSPOSED = {tv == 'EMNIST'}",
        "LAYERS": ",\n".join(_model_lines(spec)) + ",",
    }
    # user text (the name, the spec's strings) goes in only as escaped literals, never into the docstring raw
    fill["MODEL_NAME"] = f"MODEL_NAME = {str(spec.get('name', 'model'))!r}"
    fill["SPEC"] = f"SPEC = json.loads({json.dumps(spec)!r})"
    text = TEMPLATE.read_text()
    if dataset == "mnist-5k":  # the embedded digits are 5,000 of MNIST's: the script trains on all of them
        text = text.replace(
            '\n"""\n',
            "\n\nIt loads the full MNIST (the app's default data is 5,000 of its digits), "
            'so its figures differ a little.\n"""\n',
            1,
        )
    out, skipping = [], False
    for line in text.splitlines():
        marker = line.partition("# export: ")[2]
        if marker == "APP_CODE begin (the export puts these functions' source here)":
            skipping = True
            out.append(_sources())
        elif marker == "APP_CODE end":
            skipping = False
        elif marker in fill:
            out.append(fill[marker])
        elif not skipping:
            out.append(line)
    return "\n".join(out) + "\n"


def _model_lines(spec: dict[str, Any]) -> list[str]:
    """The spec's layers as the lines of an ``nn.Sequential(...)``, with the shapes the summary worked out."""
    summary = summarize(spec)
    rows = {r.path: r for r in summary.layers}
    shape, lines = summary.input_shape, []
    for i, layer in enumerate(spec["layers"]):
        lines.append(_layer_code(layer, shape, rows, str(i), "            "))
        shape = rows[str(i)].output_shape
    return lines
