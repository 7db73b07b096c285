"""Hostile and careless inputs: every one gives a sentence (CLI: exit 2, one line), nothing is lost, and no small
file can take the server's memory. Files are made here; nothing is downloaded."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from explorer.core.config import TrainConfig
from explorer.core.data import DataError
from explorer.core.preprocess import load_image_file
from explorer.core.spec import SpecError, build_model, parse_spec, validate_spec
from explorer.core.uploads import load_csv
from explorer.core.zipupload import load_image_zip
from explorer.lessons.lesson import parse_lesson
from tests.test_cli import cli

ROOT = Path(__file__).resolve().parents[1]


def png(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


def zip_of(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def peak_rss_mb(code: str) -> tuple[int, str]:
    """Run ``code`` in a fresh interpreter (after importing the library, which alone takes ~0.5 GB with torch):
    how much its peak resident memory grew while ``code`` ran (MB), and what it printed."""
    prog = (
        "import resource, explorer.core.uploads, explorer.core.zipupload\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        + textwrap.dedent(code)
        + "\nprint((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024)"
    )
    r = subprocess.run([sys.executable, "-c", prog], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    return int(lines[-1]), "\n".join(lines[:-1])


# --- denial of service from tiny files ---


def test_a_tiny_zip_of_huge_one_bit_images_is_refused_within_bounded_memory(tmp_path):
    big = png(Image.new("1", (6300, 6300)))  # 39.7 M pixels each: just under the per-image limit, ~5 KB
    data = zip_of({f"{'ab'[i % 2]}/{i}.png": big for i in range(30)})
    assert len(data) < 400_000
    path = tmp_path / "bomb.zip"
    path.write_bytes(data)
    mb, out = peak_rss_mb(f"""
        from explorer.core.data import DataError
        from explorer.core.zipupload import load_image_zip
        try:
            load_image_zip({str(path)!r})
        except DataError as e:
            print(e)
    """)
    assert "too many pixels" in out
    assert mb < 1000  # the old loader kept every decoded image: over 4.5 GB


def test_one_image_over_the_pixel_limit_is_refused_from_its_header():
    data = zip_of({"a/1.png": png(Image.new("1", (7000, 7000))), "b/1.png": png(Image.new("L", (8, 8)))})
    with pytest.raises(DataError, match="over the 40,000,000-pixel limit"):
        load_image_zip(data)


def test_bzip2_and_lzma_members_are_refused():
    for method in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        data = zip_of({"a/1.png": b"\0" * 10, "b/1.png": b"\0" * 10}, method)
        with pytest.raises(DataError, match="method this app does not read"):
            load_image_zip(data)


def test_a_member_that_lies_about_its_size_is_refused():
    real = png(Image.new("L", (8, 8), 7))
    data = bytearray(zip_of({"a/1.png": real + b"\0" * 200_000, "b/1.png": real}))
    # claim 100 bytes in the central directory: the reader must stop there, not inflate what follows
    cd = data.rfind(b"PK\x01\x02", 0, data.rfind(b"PK\x01\x02"))
    struct.pack_into("<I", data, cd + 24, 100)
    with pytest.raises(DataError, match="a/1.png"):
        load_image_zip(bytes(data))


def test_deep_paths_are_refused_before_any_image_is_read():
    deep = "/".join(["d"] * 300)
    data = zip_of({f"{deep}/{c}/{i}.png": b"x" for c in "ab" for i in range(500)})
    with pytest.raises(DataError, match="folders deep"):
        load_image_zip(data)


def test_zip_names_that_are_not_utf8_give_a_sentence():
    data = bytearray(zip_of({"a/x.png": b"x", "b/y.png": b"y"}))
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):  # mark names UTF-8 and break the bytes
        i = -1
        while (i := data.find(sig, i + 1)) != -1:
            flag_at = i + (6 if sig == b"PK\x03\x04" else 8)
            struct.pack_into("<H", data, flag_at, struct.unpack_from("<H", data, flag_at)[0] | 0x800)
    data = bytes(data).replace(b"a/x.png", b"a/\xff.png")
    with pytest.raises(DataError, match="not a zip file this app can read|cannot|image"):
        load_image_zip(data)


def test_parsing_a_5_mb_csv_stays_well_under_a_gigabyte(tmp_path):
    rng = np.random.default_rng(0)
    rows = ["label," + ",".join(f"pixel{i}" for i in range(1, 785))]
    px = rng.integers(0, 10, size=(3000, 784))
    rows += [f"{i % 10}," + ",".join(map(str, r)) for i, r in enumerate(px)]
    path = tmp_path / "big.csv"
    path.write_text("\n".join(rows))
    assert 4e6 < path.stat().st_size < 6e6
    mb, out = peak_rss_mb(f"""
        from explorer.core.uploads import load_csv
        ds = load_csv({str(path)!r})
        print(sum(ds.sizes().values()))
    """)
    assert out == "3000" and mb < 1000


# --- crashes become sentences ---


def header_file(header: str, body: bytes = b"") -> bytes:
    raw = header.encode()
    return struct.pack("<Q", len(raw)) + raw + body


@pytest.mark.parametrize(
    "header, message",
    [
        ("[" * 100_000 + "]" * 100_000, "nested more than"),
        (json.dumps({"__metadata__": {"format": "cnn-explorer-checkpoint", "version": 1}}), "metadata values must be text"),
        ('{"__metadata__": {"format": "cnn-explorer-checkpoint", "n": ' + "9" * 5000 + "}}", "digits"),
    ],
)
def test_hostile_checkpoint_headers_are_sentences(header, message):
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(header_file(header))


def test_duplicate_class_names_in_a_checkpoint_are_refused():
    spec = {
        "input_shape": [1, 4, 4],
        "num_classes": 2,
        "layers": [{"type": "Flatten"}, {"type": "Linear", "out_features": 2}],
    }
    data = save_checkpoint(build_model(spec), spec, {"classes": ["cat", "cat"], "mean": [0.5], "std": [0.5]})
    with pytest.raises(CheckpointError, match="same name"):
        load_checkpoint(data)


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"input_shape": [1, 28, 28], "layers": [{"type": ["Conv2d"]}]}', "unknown type"),
        ('{"input_shape": [1, 28, 28], "layers": [{"type": {"a": 1}}]}', "unknown type"),
        ('{"input_shape": [1, 28, 28], "layers": [{"type": "Dropout", "p": ' + "1" * 5000 + "}]}", "digits"),
        ('{"input_shape": [1, 28, 28], "layers": [{"type": "Dropout", "p": 1e400}]}', "beyond the range"),
        ('{"input_shape": [1, 28, 28], "layers": [{"type": "Dropout", "p": NaN}]}', "not a number JSON allows"),
        ('{"input_shape": [1, 28, 28], "name": 7, "layers": []}', "name must be text"),
        ("[" * 50_000, "nested more than"),
    ],
)
def test_hostile_specs_are_sentences(text, message):
    with pytest.raises(SpecError, match=message):
        parse_spec(text)


def test_a_huge_integer_in_a_spec_dict_is_a_sentence():
    with pytest.raises(SpecError, match="Dropout: p must be a number"):
        validate_spec({"input_shape": [1, 28, 28], "layers": [{"type": "Dropout", "p": 10**400}]})


def test_decompression_bombs_and_garbage_images_are_sentences():
    with pytest.raises(ValueError, match="over the 40,000,000-pixel limit"):
        load_image_file(png(Image.new("1", (20_000, 20_000))))
    with pytest.raises(ValueError, match="the image is not an image") as e:
        load_image_file(b"GIF89a garbage")
    assert "BytesIO" not in str(e.value)


@pytest.mark.parametrize(
    "csv_text, message",
    [
        ("label,p1,p2,p3,p4\n1," + "9" * 200_000 + ",1,1,1\n", "not a readable CSV"),
        ("label,p1,p2,p3,p4\n" + "\n".join(f"{2**63 + i % 2},1,2,3,4" for i in range(20)), "not a whole number"),
        ("label,p1,p2,p3,p4\n" + "\n".join(f"{-(i % 2)},1,2,3,4" for i in range(20)), "not a whole number"),
    ],
)
def test_hostile_csvs_are_sentences(csv_text, message):
    with pytest.raises(DataError, match=message):
        load_csv(csv_text.encode(), class_names=["a", "b"])


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"train": {"augment": [1, 2]}}, "augment must be an object"),
        ({"train": {"seed": "abc"}}, "seed must be an integer"),
        ({"train": {"epochs": 5000}}, "epochs must be an integer from 1 to 1,000"),
        ({"train": {"lr": 1e-9}}, "lr must be a number from 1e-06"),
        ({"train": {"seed": 2**64}}, "seed must be an integer"),
    ],
)
def test_hostile_lessons_are_sentences(patch, message):
    from explorer.core.presets import get_preset

    lesson = {
        "format": "cnn-explorer-lesson",
        "title": "t",
        "dataset": "mnist-5k",
        "spec": get_preset("default"),
        "train": {},
        "hidden": [],
        "notes": "",
    }
    lesson.update(patch)
    with pytest.raises(ValueError, match=message):
        parse_lesson(json.dumps(lesson))
    with pytest.raises(ValueError, match="nested more than"):
        parse_lesson('{"format": "cnn-explorer-lesson", "notes": ' + "[" * 10_000 + "]" * 10_000 + "}")


def test_every_accepted_lesson_setting_is_accepted_by_the_train_page_limits():
    from explorer.core.config import LIMITS

    for name, (lo, hi) in LIMITS.items():
        for v in (lo, hi):
            TrainConfig(**{name: type(getattr(TrainConfig(), name))(v)}).validate()


# --- accepted, then failing later: now refused at once ---


def test_a_dataset_whose_split_would_be_empty_is_refused_at_load():
    img = png(Image.new("L", (8, 8), 9))
    data = zip_of({"train/a/1.png": img, "test/a/1.png": img, "test/b/1.png": img})  # one training image
    with pytest.raises(DataError, match="split would be empty"):
        load_image_zip(data)


def test_same_padding_with_reflect_and_a_kernel_larger_than_the_input_is_refused():
    spec = {
        "input_shape": [1, 3, 3],
        "layers": [{"type": "Conv2d", "out_channels": 2, "kernel_size": 7, "padding": "same", "padding_mode": "reflect"}],
    }
    with pytest.raises(SpecError, match="must be smaller than the input"):
        validate_spec(spec)
    spec["layers"][0]["kernel_size"] = 3
    model = build_model(validate_spec(spec))
    assert model(torch.zeros(1, 1, 3, 3)).shape == (1, 2, 3, 3)  # what validates, runs


# --- lost or corrupted work ---


def test_train_out_onto_its_own_dataset_is_refused_and_the_file_kept(tmp_path):
    rows = "label,p1,p2,p3,p4\n" + "\n".join(f"{i % 2},{i % 7},2,3,4" for i in range(40))
    data = tmp_path / "d.csv"
    data.write_text(rows)
    r = cli("train", "default", "--dataset", str(data), "--out", str(data), "--epochs", "1")
    assert r.returncode == 2 and "is the dataset being trained on" in r.stderr and len(r.stderr.splitlines()) == 1
    assert data.read_text() == rows


@pytest.mark.parametrize(
    "args, message",
    [
        (["--out", "/no/such/folder/m.safetensors"], "does not exist"),
        (["--seed", str(2**64)], "seed must be an integer"),
    ],
)
def test_bad_train_arguments_are_refused_before_training(args, message):
    r = cli("train", "default", "--dataset", "mnist-5k", "--epochs", "1", *args)
    assert r.returncode == 2 and message in r.stderr and "epoch 1" not in r.stdout
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_spec_name_that_is_not_text_is_refused_before_training(tmp_path):
    spec = tmp_path / "s.json"
    spec.write_text(
        json.dumps(
            {
                "name": ["x"],
                "input_shape": [1, 28, 28],
                "num_classes": 10,
                "layers": [{"type": "Flatten"}, {"type": "Linear", "out_features": 10}],
            }
        )
    )
    r = cli("train", str(spec), "--dataset", "mnist-5k", "--epochs", "1", "--out", str(tmp_path / "m.safetensors"))
    assert r.returncode == 2 and "name must be text" in r.stderr and not (tmp_path / "m.safetensors").exists()


def test_sixteen_bit_images_are_scaled_and_exif_orientation_is_applied():
    arr16 = np.full((4, 4), 32768, dtype=np.uint16)
    assert load_image_file(png(Image.fromarray(arr16))).max() == 128  # scaled 65535 -> 255, not clipped to 255
    img = Image.new("L", (20, 10), 0)
    img.paste(255, (0, 0, 5, 10))  # a white bar on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to show": how phones store portrait photos
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    out = load_image_file(buf.getvalue())
    assert out.shape[:2] == (20, 10) and out[:5].mean() > 200  # upright: the bar is now at the top


def _digit_png(tmp_path: Path) -> Path:
    img = tmp_path / "x.png"
    digit = Image.new("L", (28, 28), 0)
    digit.paste(255, (10, 6, 18, 22))
    img.write_bytes(png(digit))
    return img


def test_predict_never_prints_a_row_of_nulls_for_huge_weights(tmp_path):
    spec = {
        "input_shape": [1, 4, 4],
        "num_classes": 2,
        "layers": [{"type": "Flatten"}, {"type": "Linear", "out_features": 2}],
    }
    model = build_model(spec)
    with torch.no_grad():
        model[1].weight.fill_(3e38)  # finite, but the logits overflow
    ck = tmp_path / "m.safetensors"
    save_checkpoint(model, spec, {"classes": ["a", "b"], "mean": [0.0], "std": [1.0]}, path=ck)
    img = _digit_png(tmp_path)
    r = cli("predict", str(ck), str(img), "--json")
    assert r.returncode == 2 and r.stdout == "", r.stdout
    assert "output for" in r.stderr and "is not a number" in r.stderr and len(r.stderr.splitlines()) == 1
    r = cli("predict", str(ck), str(img), "--top", "0")
    assert r.returncode == 2 and "--top must be at least 1" in r.stderr


def test_a_checkpoint_with_a_negative_batchnorm_variance_is_refused_at_load(tmp_path):
    spec = {
        "input_shape": [1, 8, 8],
        "num_classes": 2,
        "layers": [
            {"type": "Conv2d", "out_channels": 2, "kernel_size": 3},
            {"type": "BatchNorm2d"},
            {"type": "Flatten"},
            {"type": "Linear", "out_features": 2},
        ],
    }
    model = build_model(spec)
    with torch.no_grad():
        model[1].running_var.fill_(-1.0)
    ck = tmp_path / "m.safetensors"
    save_checkpoint(model, spec, {"classes": ["a", "b"], "mean": [0.0], "std": [1.0]}, path=ck)
    with pytest.raises(CheckpointError, match="negative variance"):
        load_checkpoint(ck)
    r = cli("predict", str(ck), str(_digit_png(tmp_path)), "--json")
    assert r.returncode == 2 and "negative variance" in r.stderr and r.stdout == ""


@pytest.mark.parametrize(
    "spec,words",
    [
        (
            {"input_shape": [1, 8, 8], "layers": [{"type": "Conv2d", "out_channels": 2, "kernel_size": 3}]},
            "no class outputs",
        ),
        (
            {"input_shape": [16], "num_classes": 2, "layers": [{"type": "Linear", "out_features": 2}]},
            "takes a vector of 16 values, not an image",
        ),
    ],
)
def test_predict_with_a_model_that_cannot_classify_images_says_why(tmp_path, spec, words):
    ck = tmp_path / "m.safetensors"
    classes = ["a", "b"] if spec.get("num_classes") else []
    c = spec["input_shape"][0]  # normalisation has one value per channel (per value of a vector input)
    save_checkpoint(build_model(spec), spec, {"classes": classes, "mean": [0.0] * c, "std": [1.0] * c}, path=ck)
    r = cli("predict", str(ck), str(_digit_png(tmp_path)))
    assert r.returncode == 2 and words in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr


def test_a_huge_image_is_one_line_on_stderr(tmp_path, trained_default, mnist5k):
    model, spec, _ = trained_default
    ck = tmp_path / "m.safetensors"
    save_checkpoint(model, spec, mnist5k.info(), path=ck)
    big = tmp_path / "big.png"
    Image.new("1", (10_000, 10_000)).save(big)  # 100 M pixels in a few KB: PIL warns before our limit refuses
    r = cli("predict", str(ck), str(big))
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "10000x10000 pixels, over the 40,000,000-pixel limit" in r.stderr


def test_a_path_that_is_not_a_regular_file_is_refused_before_it_is_read(tmp_path):
    import os

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # reading it would block for ever
    for path, words in ((Path("/dev/zero"), "not a regular file"), (fifo, "not a regular file"), (tmp_path, "a folder")):
        with pytest.raises(ValueError, match=words):
            load_image_file(path)


def test_a_spec_argument_of_100k_brackets_is_a_short_sentence():
    r = cli("summary", "[" * 100_000)
    assert r.returncode == 2 and len(r.stderr) < 300, r.stderr[:300]
    assert "Traceback" not in r.stderr and len(r.stderr.splitlines()) == 1


def test_specs_over_a_megabyte_are_refused_before_they_are_parsed():
    text = json.dumps({"input_shape": [1, 28, 28], "layers": [], "description": "x" * 1_200_000})
    with pytest.raises(SpecError, match="at most 1 MB"):
        parse_spec(text)
    with pytest.raises(SpecError, match="description is 5,000 characters long; at most 4,000"):
        validate_spec({"input_shape": [1, 28, 28], "layers": [], "description": "x" * 5000})


def test_a_csv_with_thousands_of_labels_is_refused_with_a_sentence():
    rows = "\n".join(f"{i},{','.join(['0'] * 16)}" for i in range(20_000))
    csv = ("label," + ",".join(f"pixel{i}" for i in range(1, 17)) + "\n" + rows).encode()
    with pytest.raises(
        DataError, match="1,001 different labels by line 1,002 make 1,001 classes; at most 1,000 are allowed here"
    ):
        load_csv(csv)  # refused at the first label too many, not after parsing the whole file


def test_a_zip_of_many_tiny_images_is_refused_by_what_it_would_become(monkeypatch):
    tiny = png(Image.new("RGB", (2, 2), (200, 10, 10)))
    files = {f"c{k}/{i}.png": tiny for k in range(2) for i in range(3000)}
    data = zip_of(files)
    decoded: list[int] = []
    import explorer.core.zipupload as D

    real = D.decode_image
    monkeypatch.setattr(D, "decode_image", lambda *a, **k: decoded.append(1) or real(*a, **k))
    monkeypatch.setenv("EXPLORER_MAX_DATASET_MB", "64")
    with pytest.raises(
        DataError,
        match=r"6,000 images of 128×128 would take 281 MB once decoded; one dataset may take "
        r"at most 64 MB here: an image size of 48 px would fit",
    ):
        load_image_zip(data, size=128)
    assert decoded == []  # refused from the zip's directory, before one image was decoded
    ds = load_image_zip(data, size=16)  # the size the sentence suggests (or smaller) loads
    assert ds.sizes()["train"] + ds.sizes()["val"] + ds.sizes()["test"] == 6000


def test_the_grey_conversion_of_an_admitted_upload_stays_within_its_budget():
    """A zip of many small images loaded in grey: the conversion works a chunk at a time (it made a 2.4 GB
    int32 temporary for an upload the budget had admitted). Peak memory in a fresh process, and the result equals
    PIL's own grey conversion."""
    mb, out = peak_rss_mb("""
        import numpy as np, torch
        from PIL import Image
        from explorer.core.zipupload import _to_mode
        one = torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        x = one.expand(40_000, 3, 64, 64).contiguous()  # 491 MB of RGB pixels, within the 512 MB budget
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # the images themselves are the caller's
        g = _to_mode(x, "L")
        assert g.shape == (40_000, 1, 64, 64) and g.dtype == torch.uint8
        ref = np.asarray(Image.fromarray(one.permute(1, 2, 0).numpy()).convert("L"))
        print(int(np.abs(g[0, 0].numpy().astype(int) - ref).max()), int((g[-1] != g[0]).sum()))
    """)
    differ, changed = map(int, out.split())
    assert differ <= 1 and changed == 0  # PIL's luma weights (PIL rounds in fixed point), the same for every copy
    assert mb < 400  # the 164 MB result and one chunk; the whole-batch conversion took over 1.9 GB more


def test_the_chunked_conversion_equals_the_whole_batch_one():
    from explorer.core.zipupload import _to_mode

    x = torch.randint(0, 256, (23, 3, 5, 5), dtype=torch.uint8)
    whole = _to_mode(x, "L", chunk_bytes=1 << 30)
    parts = _to_mode(x, "L", chunk_bytes=5 * 5 * 3 * 4 * 4)  # four images a chunk
    assert torch.equal(whole, parts) and whole.shape == (23, 1, 5, 5)
    assert _to_mode(x, "RGB") is x  # colour stays as it is, no copy


def test_normalisation_statistics_are_summed_in_chunks_and_equal_the_whole_set_ones():
    from explorer.core.data import channel_stats

    x = torch.randint(0, 256, (301, 3, 9, 7), dtype=torch.uint8)
    mean, std = channel_stats(x, chunk_bytes=2 * 3 * 9 * 7 * 8)  # two images a chunk
    ref = x.double() / 255
    assert mean == tuple(round(v, 4) for v in ref.mean(dim=(0, 2, 3)).tolist())
    assert std == tuple(round(v, 4) for v in ref.std(dim=(0, 2, 3)).tolist())


@pytest.mark.slow
def test_a_zip_upload_peaks_near_the_size_it_was_admitted_for(tmp_path):
    """20,000 colour images of 64×64 (235 MB once decoded in RGB, within the 512 MB budget): the whole load (decode,
    stack, shuffle, split, statistics) peaks near that size, not at several times it (the float32 statistics alone
    took four times the training images, the shuffle and the split a copy each)."""
    colours = [png(Image.new("RGB", (64, 64), (i * 37 % 256, i * 91 % 256, i * 53 % 256))) for i in range(16)]
    data = zip_of({f"c{i % 4}/{i}.png": colours[i % 16] for i in range(20_000)})
    path = tmp_path / "many.zip"
    path.write_bytes(data)
    decoded_mb = 20_000 * 64 * 64 * 3 / 2**20
    mb, out = peak_rss_mb(f"""
        from explorer.core.zipupload import load_image_zip
        ds = load_image_zip({str(path)!r}, size=64)
        print(ds.train_x.shape[1], sum(ds.sizes().values()))
    """)
    assert out.split() == ["3", "20000"]
    assert mb < 2.3 * decoded_mb, (mb, decoded_mb)  # the images and their one copy as the dataset (was 7.6×)
