"""Filter images: the input that most excites each channel of a layer (gradient ascent in input space).

All chosen channels are optimised together as one batch (image i maximises channel i), at the model's own
input size. The forward pass stops at the target layer, and gradients go to the input only: the model's
weights and ``.grad`` are never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.augment import Augment, augment_batch
from ..core.budget import budget
from ..core.evaluate import eval_mode, fitting_batch, model_device, mult_adds
from ..i18n import Refusal, Said, said
from .inspect import named_layers

__all__ = [
    "REGULARIZERS",
    "FilterImages",
    "visualize_filters",
    "filter_chunk",
    "FilterPlan",
    "plan_filters",
    "channel_activation",
    "layer_channels",
    "top_activating",
    "filter_images",
    "compare_regularizers",
    "to_display",
    "PRETRAINED",
    "load_pretrained",
]

REGULARIZERS = ("none", "l2", "blur", "jitter", "fourier")


class _Reached(Exception):
    """Raised by the hook once the target layer has run: the rest of the network is not needed."""


@dataclass
class FilterImages:
    """``images (N, C, H, W)`` in the model's normalised input space, one per channel in ``channels``;
    ``start``/``end``: each channel's activation for the random start and the final image."""

    layer: str
    channels: list[int]
    images: Tensor
    start: Tensor
    end: Tensor
    regularizer: str


def _target(model: nn.Module, layer: str) -> nn.Module:
    m = dict(model.named_modules()).get(layer)
    if m is None:
        raise ValueError(f"no layer named {layer!r}; layers: {', '.join(n for n, _ in named_layers(model))}")
    return m


def _layer_output(model: nn.Module, layer: str, x: Tensor) -> Tensor:
    """The output of ``layer`` for ``x``; the forward stops there (the rest of the network never runs)."""
    store: list[Tensor] = []

    def hook(mod: nn.Module, inp: tuple[Tensor, ...], out: Tensor) -> None:
        store.append(out)
        raise _Reached

    h = _target(model, layer).register_forward_hook(hook)
    try:
        model(x)
    except _Reached:
        pass
    finally:
        h.remove()
    return store[0]


def channel_activation(model: nn.Module, layer: str, x: Tensor, channels: list[int] | Tensor) -> Tensor:
    """Activation of ``channels[i]`` of ``layer`` for image ``x[i]``, spatially averaged: ``(N,)``, with grad."""
    out = _layer_output(model, layer, x)  # (N, C, H, W) or (N, F)
    ch = torch.as_tensor(channels, device=out.device)
    picked = out[torch.arange(len(ch), device=out.device), ch]
    return picked.flatten(1).mean(1) if picked.ndim > 1 else picked


def _gaussian_blur(x: Tensor, sigma: float = 0.6) -> Tensor:
    k = torch.arange(-1, 2, dtype=x.dtype, device=x.device)
    w = torch.exp(-(k**2) / (2 * sigma**2))
    w = w / w.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (1, 1, 0, 0), mode="replicate"), w.view(1, 1, 1, 3).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, 1, 1), mode="replicate"), w.view(1, 1, 3, 1).repeat(c, 1, 1, 1), groups=c)


def _fourier_scale(h: int, w: int, device: torch.device) -> Tensor:
    """1/frequency weights for an rfft2 spectrum: the image starts smooth and stays decorrelated."""
    fy = torch.fft.fftfreq(h, device=device).view(-1, 1)
    fx = torch.fft.rfftfreq(w, device=device).view(1, -1)
    return 1.0 / torch.sqrt(fx**2 + fy**2).clamp_min(1.0 / max(h, w))


def _parametrise(
    n: int, shape: tuple[int, ...], fourier: bool, gen: torch.Generator, dev: torch.device
) -> tuple[Tensor, Callable[[], Tensor]]:
    """The tensor the optimiser changes and how it becomes ``n`` images: the pixels themselves, or a 1/f-scaled
    spectrum (``fourier``) turned into pixels by an inverse FFT."""
    c, h, w = shape
    if fourier:
        scale = _fourier_scale(h, w, dev)
        spectrum = (torch.randn(n, c, h, w // 2 + 1, 2, generator=gen) * 0.01).to(dev).requires_grad_()
        return spectrum, lambda: torch.fft.irfft2(torch.view_as_complex(spectrum) * scale, s=(h, w), norm="ortho") * 4.0
    pixels = (torch.randn(n, c, h, w, generator=gen) * 0.1).to(dev).requires_grad_()
    return pixels, lambda: pixels


def visualize_filters(
    model: nn.Module,
    layer: str,
    channels: list[int] | None = None,
    input_shape: list[int] | tuple[int, ...] | None = None,
    steps: int = 128,
    lr: float = 0.05,
    regularizer: str = "none",
    seed: int = 0,
    l2: float = 0.05,
    blur_every: int = 4,
    on_progress: Callable[[int, int], None] | None = None,
    max_bytes: int | None = None,
) -> FilterImages:
    """Optimise one input per channel of ``layer`` to maximise that channel's mean activation.

    ``input_shape`` defaults to ``model.spec["input_shape"]``. ``regularizer`` is one of
    none, l2 (decay towards grey), blur (every ``blur_every`` steps), jitter (random shift, scale, rotation
    each step) and fourier (optimise a 1/f-scaled spectrum). Returns images in the normalised input space.

    The channels are optimised in chunks whose activations and gradients stay within ``max_bytes`` (default: the
    server's view budget), so every channel of a 4,096-channel layer costs time, not gigabytes; a model for which
    one image is over the budget is refused with a sentence (:func:`explorer.core.evaluate.fitting_batch`).
    """
    shape, chans = _checked(model, layer, channels, input_shape, steps, regularizer)
    chunk = filter_chunk(model, shape, len(chans), max_bytes)
    dev = model_device(model)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    aug_gen = torch.Generator(device=dev).manual_seed(seed)
    parts = []
    n_chunks = -(-len(chans) // chunk)
    for k in range(n_chunks):

        def step(done: int, _total: int, k: int = k) -> None:
            if on_progress is not None:
                on_progress(k * steps + done, n_chunks * steps)

        parts.append(
            _ascend(
                model,
                layer,
                chans[k * chunk : (k + 1) * chunk],
                shape,
                steps,
                lr,
                regularizer,
                (gen, aug_gen),
                l2,
                blur_every,
                step,
            )
        )
    images, start, end = (torch.cat([p[i] for p in parts]) for i in range(3))
    return FilterImages(layer, chans, images, start, end, regularizer)


def _checked(
    model: nn.Module,
    layer: str,
    channels: list[int] | None,
    input_shape: list[int] | tuple[int, ...] | None,
    steps: int,
    regularizer: str,
) -> tuple[tuple[int, ...], list[int]]:
    """:func:`visualize_filters`'s arguments checked (a ValueError that says what is wrong): the input's shape and
    the channels to optimise."""
    if regularizer not in REGULARIZERS:
        raise ValueError(f"regularizer must be one of {', '.join(REGULARIZERS)}, got {regularizer!r}")
    if not 1 <= steps <= 5000:
        raise ValueError(f"steps must be between 1 and 5000, got {steps}")
    shape = tuple(input_shape or getattr(model, "spec", {}).get("input_shape") or ())
    if len(shape) != 3:
        raise ValueError("give input_shape (C, H, W): this model does not carry a spec")
    probe = layer_channels(model, layer, shape)
    chans = list(range(probe)) if channels is None else list(channels)
    if not chans or min(chans) < 0 or max(chans) >= probe:
        raise ValueError(f"channels must lie in 0..{probe - 1} for layer {layer}, got {chans[:5]}")
    return shape, chans


def filter_chunk(model: nn.Module, input_shape: tuple[int, ...], count: int, max_bytes: int | None = None) -> int:
    """How many channels' images are optimised together: as many as fit the view budget with their gradients
    (at most ``count``). A ValueError with a sentence when not even one fits."""
    return fitting_batch(model, input_shape, most=count, grads=True, max_bytes=max_bytes)


STEP_OVERHEAD_S = 0.005  # one ascent step's own cost beside its arithmetic (hooks, the optimiser, Python)


@dataclass(frozen=True)
class FilterPlan:
    """A filter-images job, estimated before it starts: channels per chunk, chunks, and about how long."""

    chunk: int
    chunks: int
    seconds: float


def plan_filters(
    model: nn.Module, input_shape: tuple[int, ...], count: int, steps: int, max_bytes: int | None = None
) -> FilterPlan:
    """How ``count`` channels' images over ``steps`` steps would run: in chunks that fit the view budget
    (:func:`filter_chunk`), and about how many seconds (each step a forward and a backward pass, about three
    forwards, at the budget's ``mult_adds_per_s``). A job estimated past the time one job may take
    (``EXPLORER_MAX_JOB_MINUTES``) is refused with the estimate and a smaller choice that fits."""
    b = budget()
    chunk = filter_chunk(model, input_shape, count, max_bytes)
    step_s = STEP_OVERHEAD_S + 3 * mult_adds(model, input_shape) * chunk / b.mult_adds_per_s
    chunks = -(-count // chunk)
    seconds = chunks * steps * step_s
    limit = b.job_minutes * 60
    if seconds > limit:
        fit_channels = int(limit // (steps * step_s)) * chunk
        fit_steps = int(limit // (chunks * step_s))
        channels_fit = said("ask for at most {n} channels", n=f"{fit_channels:,}")
        steps_fit = said("ask for at most {n} steps", n=f"{fit_steps:,}")
        fix = (
            said(
                "ask for at most {channels} channels or at most {steps} steps",
                channels=f"{fit_channels:,}",
                steps=f"{fit_steps:,}",
            )
            if fit_channels >= 1 and fit_steps >= 1
            else channels_fit
            if fit_channels >= 1
            else steps_fit
            if fit_steps >= 1
            else said("pick an earlier layer or a smaller model")
        )
        raise Refusal(
            said(
                "{channels} channels × {steps} steps would take about {time}, over the {most} minutes one "
                "job may take here: {fix}",
                channels=f"{count:,}",
                steps=f"{steps:,}",
                time=_minutes(seconds),
                most=b.job_minutes,
                fix=fix,
            )
        )
    return FilterPlan(chunk, chunks, seconds)


def _minutes(seconds: float) -> Said:
    return said("{n} minutes", n=f"{seconds / 60:,.0f}") if seconds >= 90 else said("{n} seconds", n=f"{seconds:.0f}")


def _ascend(
    model: nn.Module,
    layer: str,
    chans: list[int],
    shape: tuple[int, ...],
    steps: int,
    lr: float,
    regularizer: str,
    gens: tuple[torch.Generator, torch.Generator],
    l2: float,
    blur_every: int,
    on_step: Callable[[int, int], None],
) -> tuple[Tensor, Tensor, Tensor]:
    """Gradient ascent for one chunk of channels: their images ``(n, C, H, W)`` (CPU), start and end activations."""
    dev = model_device(model)
    gen, aug_gen = gens
    with eval_mode(model), _frozen(model):
        param, image = _parametrise(len(chans), shape, regularizer == "fourier", gen, dev)
        opt = torch.optim.Adam([param], lr=lr)
        jitter = Augment(rotation=5, shift=max(1, round(shape[1] / 14)) / shape[1], scale=0.95)
        with torch.no_grad():
            start = channel_activation(model, layer, image(), chans)
        for step in range(steps):
            x = image()
            if regularizer == "jitter":
                x = augment_batch(x, jitter, aug_gen)
            act = channel_activation(model, layer, x, chans)
            loss = -act.sum()
            if regularizer == "l2":
                loss = loss + l2 * x.pow(2).mean(dim=(1, 2, 3)).sum() * act.detach().abs().mean().clamp_min(1.0)
            (grad,) = torch.autograd.grad(loss, [param])
            param.grad = grad
            opt.step()
            if regularizer == "blur" and (step + 1) % blur_every == 0:
                with torch.no_grad():
                    param.copy_(_gaussian_blur(param))
            on_step(step + 1, steps)
        with torch.no_grad():
            final = image().detach()
            end = channel_activation(model, layer, final, chans)
    return final.cpu(), start.cpu(), end.cpu()


@contextmanager
def _frozen(model: nn.Module) -> Iterator[None]:
    """Weights need no gradient while the input is optimised (a smaller graph); restored afterwards."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        yield
    finally:
        for p, f in flags:
            p.requires_grad_(f)


def layer_channels(model: nn.Module, layer: str, input_shape: list[int] | tuple[int, ...]) -> int:
    """How many channels (or features) ``layer`` outputs for inputs of ``input_shape`` (C, H, W)."""
    with torch.no_grad(), eval_mode(model):
        x = torch.zeros(1, *input_shape, device=model_device(model))
        return int(_layer_output(model, layer, x).shape[1])


@torch.no_grad()
def top_activating(
    model: nn.Module, layer: str, x: Tensor, k: int = 9, batch_size: int | None = None, max_bytes: int | None = None
) -> Tensor:
    """Indices ``(C, k)`` of the images in normalised ``x (N, C, H, W)`` that most excite each channel.

    The images go through in batches whose activations fit the view budget (``max_bytes``; the caller's
    ``batch_size`` if given), and only the best ``k`` per channel are kept between batches."""
    dev = model_device(model)
    if batch_size is None:
        batch_size = fitting_batch(model, tuple(x.shape[1:]), most=min(1000, max(len(x), 1)), max_bytes=max_bytes)
    best: tuple[Tensor, Tensor] | None = None  # (k, C) scores and their image indices
    with eval_mode(model):
        for i in range(0, len(x), batch_size):
            a = _layer_output(model, layer, x[i : i + batch_size].to(dev))
            s = (a.flatten(2).mean(2) if a.ndim > 2 else a).cpu().T  # (C, b)
            idx = torch.arange(i, i + s.shape[1]).expand_as(s)
            if best is not None:
                s, idx = torch.cat([best[0], s], 1), torch.cat([best[1], idx], 1)
            top = s.topk(min(k, s.shape[1]), dim=1)
            best = (top.values, idx.gather(1, top.indices))
    assert best is not None, "no images"
    return best[1].contiguous()


def filter_images(
    model: nn.Module,
    layer: str,
    count: int,
    input_shape: list[int] | tuple[int, ...],
    steps: int,
    lr: float,
    regularizer: str,
    dataset: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The Filter images page's job: images for the first ``count`` channels of ``layer`` and, with a
    ``dataset``, the 9 test images (of its first 5,000) that excite each channel most."""
    from ..core.data import normalize

    res = visualize_filters(model, layer, list(range(count)), input_shape, steps, lr, regularizer, on_progress=progress)
    top = (
        None
        if dataset is None
        else top_activating(model, layer, normalize(dataset.test_x[:5000], dataset.mean, dataset.std), k=9)
    )
    return {"kind": "all", "res": res, "top": top}


def compare_regularizers(
    model: nn.Module,
    layer: str,
    channel: int,
    input_shape: list[int] | tuple[int, ...],
    steps: int,
    lr: float,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """One channel's image under each regulariser, for side-by-side comparison."""
    out = {}
    for i, r in enumerate(REGULARIZERS):

        def step(d: int, t: int, i: int = i) -> None:
            if progress is not None:
                progress(i * t + d, t * len(REGULARIZERS))

        out[r] = visualize_filters(model, layer, [channel], input_shape, steps, lr, r, on_progress=step)
    return {"kind": "compare", "channel": channel, "res": out}


def to_display(
    x: Tensor, mean: list[float] | tuple[float, ...], std: list[float] | tuple[float, ...], stretch: bool = True
) -> Tensor:
    """Normalised images ``(N, C, H, W)`` -> uint8 for display; ``stretch`` maps each image's range to 0..255."""
    m = torch.tensor(mean).view(1, -1, 1, 1)
    s = torch.tensor(std).view(1, -1, 1, 1)
    img = x.float() * s + m
    if stretch:
        lo = img.amin(dim=(1, 2, 3), keepdim=True)
        hi = img.amax(dim=(1, 2, 3), keepdim=True)
        img = (img - lo) / (hi - lo).clamp_min(1e-8)
    return (img.clamp(0, 1) * 255).round().to(torch.uint8)


# --- pretrained torchvision models, from local weight files only ---

PRETRAINED: dict[str, tuple[str, str]] = {
    # name -> (torchvision constructor, the official weight file name in $TORCH_HOME/hub/checkpoints)
    "vgg16": ("vgg16", "vgg16-397923af.pth"),
    "resnet18": ("resnet18", "resnet18-f37072fd.pth"),
    "alexnet": ("alexnet", "alexnet-owt-7be5be79.pth"),
}
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def load_pretrained(name: str, weights: str | Path | None = None) -> nn.Module:
    """A torchvision ImageNet model with its pretrained weights, read from a local file (never downloaded).

    ``weights`` defaults to the official file name in ``$TORCH_HOME/hub/checkpoints``. The file is read with
    ``torch.load(weights_only=True)`` and must match the architecture exactly. The model carries a
    ``spec``-like ``input_shape`` (3x224x224) and ImageNet normalisation.
    """
    import torchvision

    if name not in PRETRAINED:
        raise ValueError(f"unknown pretrained model {name!r}; available: {', '.join(PRETRAINED)}")
    ctor, fname = PRETRAINED[name]
    path = Path(weights) if weights else Path(torch.hub.get_dir()) / "checkpoints" / fname
    if not path.is_file():
        raise ValueError(
            f"{name}'s pretrained weights are not on this server: its administrator can copy {fname} "
            "into torch's hub/checkpoints folder ($TORCH_HOME) from a machine with a network (torchvision "
            "downloads it to the same place)"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - a refused pickle or a corrupt file
        raise ValueError(f"{path.name} is not a plain weights file ({type(e).__name__}): refused") from None
    model = getattr(torchvision.models, ctor)(weights=None)
    expected = model.state_dict()
    if not isinstance(state, dict) or set(state) != set(expected):
        raise ValueError(f"{path.name} does not hold {name}'s weights (its tensor names differ)")
    for k, v in expected.items():
        if not isinstance(state[k], Tensor) or state[k].shape != v.shape:
            raise ValueError(f"{path.name}: weight {k} has the wrong shape for {name}")
    model.load_state_dict(state)
    model.eval()
    model.spec = {"input_shape": [3, 224, 224]}  # type: ignore[assignment]
    model.normalization = (IMAGENET_MEAN, IMAGENET_STD)  # type: ignore[assignment]
    return model
