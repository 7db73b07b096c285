from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> subprocess.CompletedProcess:
    """``python -m explorer …`` through the same ``main()``, in this process: what it prints and its exit status,
    without two seconds of interpreter start-up per call. An exception that escapes ``main`` fails the test here,
    as it would show a traceback in a shell; :func:`cli_process` checks what a shell really sees."""
    out, err = io.StringIO(), io.StringIO()
    from explorer.__main__ import main

    here = os.getcwd()
    os.chdir(ROOT)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as e:  # argparse's own refusals
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(["explorer", *args], code, out.getvalue(), err.getvalue())


def cli_process(*args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    """``python -m explorer …`` as a shell runs it: a new interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "explorer", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize(
    "args,message", [(["frobnicate"], "invalid choice"), (["predict", "missing.safetensors", "a.png"], "no such checkpoint")]
)
def test_the_command_in_a_shell_exits_2_with_one_line_and_no_traceback(args, message):
    r = cli_process(*args)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_the_command_in_a_shell_answers():
    r = cli_process("presets")
    assert r.returncode == 0 and r.stdout.splitlines()[0].startswith("default")


def test_presets_lists_all_with_default_first():
    r = cli("presets")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[0].startswith("default") and any(line.startswith("preact-resnet") for line in lines)


def test_summary_json_has_counts_and_shapes():
    r = cli("summary", "mnist-features", "--json")
    d = json.loads(r.stdout)
    assert d["total_params"] == 55_744 and d["output_shape"] == [64, 3, 3] and len(d["layers"]) == 8


def test_summary_of_a_json_file(tmp_path):
    p = tmp_path / "s.json"
    p.write_text(
        json.dumps(
            {
                "input_shape": [1, 28, 28],
                "num_classes": 10,
                "layers": [
                    {"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "bias": False},
                    {"type": "BatchNorm2d"},
                    {"type": "ReLU"},
                    {"type": "MaxPool2d", "kernel_size": 2},
                    {"type": "Flatten"},
                    {"type": "Linear", "out_features": 10},
                ],
            }
        )
    )
    r = cli("summary", str(p))
    assert r.returncode == 0 and "4x13x13" in r.stdout and "6,814" in r.stdout


def test_train_then_predict(tmp_path):
    out = tmp_path / "m.safetensors"
    r = cli(
        "train", "default", "--dataset", "mnist-5k", "--epochs", "2", "--limit-train", "1024", "--json", "--out", str(out)
    )
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2]
    for key in ("train_loss", "test_loss", "test_accuracy", "samples_per_s", "seconds"):
        assert isinstance(rows[-1][key], float)
    assert out.is_file()
    img = np.zeros((200, 200), np.uint8)
    img[40:160, 95:110] = 255  # a "1"
    Image.fromarray(img).save(tmp_path / "one.png")
    r = cli("predict", str(out), str(tmp_path / "one.png"), "--json")
    assert r.returncode == 0, r.stderr
    pred = json.loads(r.stdout)
    assert abs(sum(pred["probabilities"].values()) - 1) < 1e-4 and pred["prediction"] in pred["probabilities"]


def write(tmp_path: Path, name: str, data: bytes) -> str:
    (tmp_path / name).write_bytes(data)
    return str(tmp_path / name)


BAD = [
    (lambda t: ["summary", "no-such-preset"], "neither a preset"),
    (lambda t: ["summary", write(t, "bad.json", b'{"input_shape": [1,28,28], "layers": [}')], "not valid JSON"),
    (
        lambda t: [
            "summary",
            '{"input_shape": [1, 4, 4], "layers": [{"type": "Conv2d", "out_channels": 2, "kernel_size": 7}]}',
        ],
        "smaller than its 7x7 kernel",
    ),
    (lambda t: ["train", "default", "--dataset", "imagenet"], "unknown dataset"),
    (lambda t: ["train", "default", "--epochs", "0"], "epochs must be"),
    (lambda t: ["train", "default", "--lr", "-1"], "lr must be"),
    (lambda t: ["train", "default", "--epochs", "many"], "invalid int value"),
    (lambda t: ["train", "mnist-features"], "ends with shape 64x3x3 but mnist-5k has 10 classes"),
    (lambda t: ["predict", write(t, "x.safetensors", b"\x80\x04garbage"), "a.png"], "not a CNN Explorer checkpoint"),
    (lambda t: ["predict", "missing.safetensors", "a.png"], "no such checkpoint"),
    (lambda t: ["train", "default", "--dataset", write(t, "d.csv", b"label,pixel1\n1,2,3\n")], "line 2 has 3 values"),
    (lambda t: ["frobnicate"], "invalid choice"),
    (lambda t: [], "required"),
    (lambda t: ["bench", "--only", "nothing"], "unknown bench section"),
]


@pytest.mark.parametrize("make_args,message", BAD)
def test_bad_input_exits_2_with_one_line(tmp_path, make_args, message):
    r = cli(*make_args(tmp_path))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr


def test_predict_bad_image_exits_2(tmp_path, trained_default, mnist5k):
    from explorer.core.checkpoint import save_checkpoint

    model, spec, _ = trained_default
    ck = tmp_path / "m.safetensors"
    save_checkpoint(model, spec, mnist5k.info(), path=ck)
    r = cli("predict", str(ck), write(tmp_path, "bad.png", b"not a png"))
    assert r.returncode == 2 and "bad.png is not an image this app can read" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_privacy_prints_the_data_pack_from_the_settings(capsys, monkeypatch):
    from explorer.__main__ import main
    from explorer.serve.datapack import privacy_doc

    monkeypatch.setenv("EXPLORER_CLASS_HOURS", "3")
    assert main(["privacy"]) == 0
    assert "at most **3 hours**" in capsys.readouterr().out  # this environment's settings
    assert main(["privacy", "--defaults"]) == 0
    assert capsys.readouterr().out == privacy_doc({})  # what docs/privacy.md holds
