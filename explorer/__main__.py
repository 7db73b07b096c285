"""The command line: ``python -m explorer {presets,summary,train,predict,export,bench,privacy} ...``.

Any bad input exits with status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from .core.train import RunStatus

__all__ = ["main", "load_spec_arg"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


class UsageError(ValueError):
    """Bad input on the command line."""


def load_spec_arg(value: str) -> dict[str, Any]:
    """A preset name, a path to a JSON file, or JSON text -> a validated spec."""
    from .core.presets import PRESETS, get_preset
    from .core.safejson import brief
    from .core.spec import MAX_SPEC_BYTES, parse_spec

    if value in PRESETS:
        return get_preset(value)
    if value.lstrip().startswith(("{", "[")) or len(value) > 4096:  # JSON text (no path is that long)
        return parse_spec(value)
    p = Path(value)
    if p.suffix.lower() == ".json" or p.exists():
        if not p.is_file():
            raise UsageError(f"no such spec file: {brief(value)}")
        if p.stat().st_size > MAX_SPEC_BYTES:
            raise UsageError(f"spec file {brief(value)} is over {MAX_SPEC_BYTES / 1e6:g} MB")
        return parse_spec(p.read_text(encoding="utf-8", errors="replace"))
    raise UsageError(f"{brief(value)} is neither a preset ({', '.join(PRESETS)}) nor a JSON spec file")


def _cmd_presets(args: argparse.Namespace) -> None:
    from .core.presets import PRESETS, preset_description
    from .core.spec import summarize

    for name in PRESETS:
        s = summarize(PRESETS[name][1])
        print(f"{name:<15} {s.total_params:>9,} params  {preset_description(name)}")


def _cmd_summary(args: argparse.Namespace) -> None:
    from .core.spec import format_summary, summarize

    s = summarize(load_spec_arg(args.spec))
    print(json.dumps(s.to_dict()) if args.json else format_summary(s))


def _dataset_for(args: argparse.Namespace) -> Any:
    from .core.data import load_dataset
    from .core.uploads import load_csv
    from .core.zipupload import load_image_zip

    name = args.dataset
    if name.lower().endswith(".csv"):
        return load_csv(name, name=Path(name).stem)
    if name.lower().endswith(".zip"):
        return load_image_zip(name, size=args.image_size, name=Path(name).stem)
    return load_dataset(name, args.data_dir, download=not args.no_download)


def _check_out(out: str, dataset: str) -> None:
    """Refuse, before training, a checkpoint path that would be lost or would destroy an input."""
    p = Path(out)
    if p.is_dir():
        raise UsageError(f"--out {out} is a folder; give a file name such as model.safetensors")
    if Path(dataset).exists() and p.resolve() == Path(dataset).resolve():
        raise UsageError(f"--out {out} is the dataset being trained on; choose another file")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"--out {out}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise UsageError(f"--out {out}: cannot write there")


def _cmd_train(args: argparse.Namespace) -> None:
    from .core.checkpoint import save_checkpoint
    from .core.config import TrainConfig
    from .core.train import Trainer

    cfg = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        lr=args.lr,
        schedule=args.schedule,
        seed=args.seed,
        device=args.device,
        limit_train=args.limit_train,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
    ).validate()  # before any work
    if args.out:
        _check_out(args.out, args.dataset)
    ds = _dataset_for(args)
    spec, model = _model_for(args, ds)
    trainer = Trainer(model, ds, cfg, on_event=lambda ev: _show_event(ev, args.json))
    if not args.json:
        print(
            f"training {spec.get('name', 'spec')} on {ds.name} ({ds.sizes()['train']:,} images) on {trainer.device}",
            flush=True,
        )
    hist = trainer.run()
    if args.out:
        save_checkpoint(model, spec, ds.info(), hist, cfg.to_dict(), name=spec.get("name", ""), path=args.out)
        if not args.json:
            print(f"saved {args.out}")
    if hist["status"] != RunStatus.FINISHED:
        raise SystemExit(1)


def _model_for(args: argparse.Namespace, ds: Any) -> tuple[dict[str, Any], Any]:
    """The spec named by ``--spec`` (a preset adapts to the dataset's classes and image shape) and its model."""
    from .core.presets import PRESETS, get_preset
    from .core.spec import build_model, validate_spec

    if args.spec in PRESETS:
        spec = validate_spec(get_preset(args.spec, num_classes=ds.num_classes, input_shape=ds.input_shape))
    else:
        spec = load_spec_arg(args.spec)
    nc = spec.get("num_classes")
    if nc is not None and nc != ds.num_classes:
        raise UsageError(f"the spec has num_classes {nc} but {ds.name} has {ds.num_classes} classes")
    return spec, build_model(spec, seed=args.seed)


def _show_event(ev: dict[str, Any], as_json: bool) -> None:
    """A training event on the terminal: each epoch's figures (a JSON line with ``--json``), and why a run that
    did not finish ended."""
    if ev["kind"] == "epoch":
        row = {k: (round(v, 5) if isinstance(v, float) else v) for k, v in ev.items() if k != "kind"}
        if as_json:
            print(json.dumps(row), flush=True)
        else:
            print(
                f"epoch {row['epoch']}: train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.2%}  "
                f"test loss {row['test_loss']:.4f} acc {row['test_accuracy']:.2%}  "
                f"{row['samples_per_s']:,.0f} samples/s  {row['seconds']:.1f} s",
                flush=True,
            )
    elif ev["kind"] == "end" and ev["status"] != RunStatus.FINISHED:
        print(ev["message"], file=sys.stderr, flush=True)


def _cmd_predict(args: argparse.Namespace) -> None:
    import torch

    from .core.checkpoint import load_checkpoint
    from .core.evaluate import predict_proba, require_image_classifier
    from .core.preprocess import load_image_file, prepare_image
    from .core.safejson import brief

    if args.top < 1:
        raise UsageError(f"--top must be at least 1, got {args.top}")
    ck = load_checkpoint(args.checkpoint)
    require_image_classifier(ck.spec)
    shape = ck.spec["input_shape"]
    xs = [prepare_image(load_image_file(p), shape) for p in args.images]
    probs = predict_proba(ck.model, torch.stack(xs), ck.dataset["mean"], ck.dataset["std"])
    classes = ck.dataset["classes"]
    for path, p in zip(args.images, probs):
        if not torch.isfinite(p).all():
            raise UsageError(
                f"the model's output for {brief(path)} is not a number: its weights are broken "
                "(retrain it, or check where the checkpoint came from)"
            )
        top = p.argsort(descending=True)[: args.top]
        if args.json:
            probs_ = {c: round(float(v), 6) for c, v in zip(classes, p)}
            print(json.dumps({"image": path, "prediction": classes[int(top[0])], "probabilities": probs_}, allow_nan=False))
        else:
            print(f"{path}: " + ", ".join(f"{classes[int(i)]} {float(p[i]):.1%}" for i in top))


def _cmd_export(args: argparse.Namespace) -> None:
    """A checkpoint (trained weights, normalisation built in) or a spec/preset (fresh weights) as ONNX, as a
    PyTorch script, or as a Jupyter notebook of its run."""
    from .core.checkpoint import load_checkpoint
    from .core.data import DEFAULT_DATASET
    from .core.spec import build_model
    from .lessons.export import to_onnx, to_python
    from .lessons.notebook import to_notebook

    out = Path(args.out)
    if out.exists() and out.is_dir():
        raise UsageError(f"--out {out} is a folder; give a file name")
    config: dict = {}
    if args.source.lower().endswith(".safetensors"):
        ck = load_checkpoint(args.source)
        spec, model, dataset, config = ck.spec, ck.model, ck.dataset, ck.config or ck.history.get("config") or {}
    else:
        spec = load_spec_arg(args.source)
        model, dataset = build_model(spec, seed=args.seed), None
        config = {"seed": args.seed}
    if args.format == "onnx":
        data = to_onnx(model, spec["input_shape"], dataset)
    elif args.format == "notebook":  # the run's settings (a checkpoint's last run; else the app's defaults)
        data = to_notebook(spec, config, (dataset or {}).get("name", "mnist")).encode()
    else:
        data = to_python(spec, config, (dataset or {}).get("name", DEFAULT_DATASET)).encode()
    out.write_bytes(data)
    print(f"wrote {out} ({len(data):,} bytes)")


def _cmd_bench(args: argparse.Namespace) -> None:
    try:  # the benchmarks are development tools: in the source checkout (devtools/), not in the installed package
        from devtools.bench import run_bench
        from devtools.classroom import run_classroom
    except ImportError:
        raise ValueError(
            "the benchmarks run from the project's source checkout (its devtools folder): run "
            "`python -m explorer bench` there"
        ) from None

    if args.classroom is not None:
        run_classroom(args.classroom, args.dataset, args.data_dir, epochs=args.epochs, mistakes=args.mistakes)
        return

    run_bench(args.data_dir, only=args.only, quick=args.quick, json_out=args.json)


def _cmd_privacy(args: argparse.Namespace) -> None:
    from .serve.datapack import privacy_doc

    sys.stdout.write(privacy_doc({} if args.defaults else None))


def _add_train(sub: Any) -> None:
    """The ``train`` command's arguments (its defaults are :class:`~explorer.core.train.TrainConfig`'s)."""
    from .core.config import OPTIMIZERS, SCHEDULES, TrainConfig
    from .core.data import DATASETS, DEFAULT_DATASET

    d = TrainConfig()
    t = sub.add_parser("train", help="train a spec or preset on a dataset")
    t.add_argument("spec")
    t.add_argument("--dataset", default=DEFAULT_DATASET, help=f"{', '.join(DATASETS)}, or a .csv / .zip file")
    t.add_argument("--data-dir", default=None, help="torchvision-layout data directory (env EXPLORER_DATA_DIR)")
    t.add_argument("--no-download", action="store_true", help="never try to download")
    t.add_argument("--image-size", type=int, default=32, help="side for images from a zip")
    t.add_argument("--epochs", type=int, default=d.epochs)
    t.add_argument("--batch-size", type=int, default=d.batch_size)
    t.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer)
    t.add_argument("--lr", type=float, default=d.lr)
    t.add_argument("--momentum", type=float, default=d.momentum)
    t.add_argument("--weight-decay", type=float, default=d.weight_decay)
    t.add_argument("--schedule", choices=SCHEDULES, default=d.schedule)
    t.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--limit-train", type=int, default=None, help="train on the first N images only")
    t.add_argument("--out", default=None, help="save a checkpoint (.safetensors) here")
    t.add_argument("--json", action="store_true", help="one JSON object per epoch")


def build_parser() -> argparse.ArgumentParser:
    from .core.data import DEFAULT_DATASET

    p = _Parser(prog="python -m explorer", description="CNN Explorer engine: specs, training, prediction, benchmarks")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    sub.add_parser("presets", help="list the preset architectures")
    s = sub.add_parser("summary", help="layer table: output shapes, parameters, mult-adds, receptive field")
    s.add_argument("spec", help="preset name, JSON file, or JSON text")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    _add_train(sub)
    pr = sub.add_parser("predict", help="class probabilities for images")
    pr.add_argument("checkpoint")
    pr.add_argument("images", nargs="+")
    pr.add_argument("--top", type=int, default=3)
    pr.add_argument("--json", action="store_true")
    ex = sub.add_parser("export", help="a checkpoint or a spec as an ONNX file (or a PyTorch script, or a notebook)")
    ex.add_argument("source", help="a .safetensors checkpoint (trained weights), a preset or a JSON spec")
    fmt = ex.add_mutually_exclusive_group()
    fmt.add_argument("--onnx", dest="format", action="store_const", const="onnx", help="ONNX (the default)")
    fmt.add_argument("--python", dest="format", action="store_const", const="python", help="a PyTorch script")
    fmt.add_argument(
        "--notebook",
        dest="format",
        action="store_const",
        const="notebook",
        help="a Jupyter notebook that reproduces the run (data, model, training, evaluation, a look inside)",
    )
    ex.set_defaults(format="onnx")
    ex.add_argument("--out", required=True, help="the file to write")
    ex.add_argument("--seed", type=int, default=0, help="initialisation of a spec's fresh weights")
    b = sub.add_parser("bench", help="speed figures, side by side with the seed notebooks' loop")
    b.add_argument("--data-dir", default=None)
    b.add_argument(
        "--only",
        default=None,
        help="comma list: trainer,default,dashboard,featureviz,confusion,draw,pen,first,console,class",
    )
    b.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    b.add_argument("--json", action="store_true")
    b.add_argument(
        "--classroom",
        type=int,
        default=None,
        metavar="N",
        help="N sessions train the default CNN at once in Ray workers: total time, page latency",
    )
    b.add_argument("--dataset", default=DEFAULT_DATASET, help="for --classroom (default: the app's default)")
    b.add_argument("--epochs", type=int, default=3, help="for --classroom")
    b.add_argument(
        "--mistakes",
        action="store_true",
        help="for --classroom: the N runs again while a further student makes the expensive mistakes",
    )
    pv = sub.add_parser("privacy", help="the data pack: what is kept about students, where, how long (from the settings)")
    pv.add_argument(
        "--defaults", action="store_true", help="at the default settings (docs/privacy.md), not this environment's"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {
        "presets": _cmd_presets,
        "summary": _cmd_summary,
        "train": _cmd_train,
        "predict": _cmd_predict,
        "export": _cmd_export,
        "bench": _cmd_bench,
        "privacy": _cmd_privacy,
    }
    try:
        handlers[args.cmd](args)
    except (ValueError, OSError) as e:  # our errors are ValueErrors with a sentence; files give OSError
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        sys.stderr.write(f"error: {msg}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except (RecursionError, OverflowError, MemoryError) as e:
        sys.stderr.write(f"error: the input is too large or too deeply nested ({type(e).__name__})\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
