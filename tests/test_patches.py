"""Training on patches: seeded random crops of each image, split by image, rebuilt identically for evaluation."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from PIL import Image

from aekit.cli import main
from aekit.data import load_dataset
from aekit.data.patches import cut_patches, default_count
from aekit.errors import AekitError


def _windows(img: np.ndarray, ph: int, pw: int) -> dict[bytes, list[tuple[int, int]]]:
    """Every ph x pw window of img, by its bytes -> the positions holding it."""
    out: dict[bytes, list[tuple[int, int]]] = {}
    for r in range(img.shape[0] - ph + 1):
        for c in range(img.shape[1] - pw + 1):
            out.setdefault(img[r:r + ph, c:c + pw].tobytes(), []).append((r, c))
    return out


def test_each_patch_is_a_window_of_its_own_image_at_distinct_positions():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, size=s, dtype=np.uint8) for s in [(9, 12), (7, 7), (4, 30), (3, 9)]]
    labels = np.array([5, 6, 7, 8])
    x, y = cut_patches(images, labels, (4, 5), per_image=6, seed=1)
    # positions: 9x12 has 48, 7x7 12, 4x30 26, and the 3-row image none
    assert x.shape == (18, 4, 5) and x.dtype == np.uint8 and list(y) == [5] * 6 + [6] * 6 + [7] * 6
    for patch, label in zip(x, y):
        assert patch.tobytes() in _windows(images[int(label) - 5], 4, 5)
    for i in range(3):  # distinct crops within one image (random bytes: one position per window)
        assert len({p.tobytes() for p in x[6 * i:6 * i + 6]}) == 6
    again, _ = cut_patches(images, labels, (4, 5), per_image=6, seed=1)
    other, _ = cut_patches(images, labels, (4, 5), per_image=6, seed=2)
    assert np.array_equal(again, x) and not np.array_equal(other, x)


def test_counts_default_to_twice_the_area_and_never_exceed_the_positions():
    assert default_count((28, 28), (14, 14)) == 8
    assert default_count((28, 28), (28, 28)) == 1
    assert default_count((30, 28), (28, 28)) == 3  # 2 * 840 / 784 rounds up to 3, and there are 3 positions
    rgb = np.zeros((5, 6, 3), np.uint8)
    x, y = cut_patches([rgb], None, (5, 5), per_image=100)
    assert x.shape == (2, 5, 5, 3) and y is None  # only two positions exist


def test_small_images_are_skipped_with_a_warning_and_none_at_all_is_an_error(caplog):
    images = [np.zeros((10, 10), np.uint8), np.zeros((3, 10), np.uint8)]
    with caplog.at_level(logging.WARNING, logger="aekit.data.patches"):
        x, _ = cut_patches(images, None, (4, 4), per_image=2)
    assert len(x) == 2 and "1 of 2 images are smaller than the 4x4 patch size" in caplog.text
    with pytest.raises(AekitError, match="no images are at least 11x11"):
        cut_patches(images, None, (11, 11))
    with pytest.raises(AekitError, match="patches per image must be between"):
        cut_patches(images, None, (4, 4), per_image=0)


def _folder_of_mixed_sizes(root, n=10):
    """Images of different sizes, each filled with its own grey level, so a patch tells which image it came from."""
    root.mkdir()
    for i in range(n):
        Image.fromarray(np.full((20 + 3 * i, 40 - 2 * i), 10 + 20 * i, np.uint8)).save(root / f"im{i:02d}.png")
    return root


def test_a_folder_of_mixed_sizes_becomes_patches_split_by_image(tmp_path):
    folder = _folder_of_mixed_sizes(tmp_path / "mixed")
    with pytest.raises(AekitError, match=r"mixed sizes.*pass `image_size` \(e.g. 20x40\)"):
        load_dataset(str(folder))
    ds = load_dataset(str(folder), patches=(16, 16), patches_per_image=4, test_fraction=0.2)
    assert ds.x_train.shape == (32, 16, 16) and ds.x_test.shape == (8, 16, 16)
    assert all(len(np.unique(p)) == 1 for p in np.concatenate([ds.x_train, ds.x_test]))
    train_levels, test_levels = set(ds.x_train[:, 0, 0]), set(ds.x_test[:, 0, 0])
    assert len(train_levels) == 8 and len(test_levels) == 2 and not train_levels & test_levels
    again = load_dataset(str(folder), patches=(16, 16), patches_per_image=4, test_fraction=0.2)
    assert np.array_equal(again.x_train, ds.x_train) and np.array_equal(again.x_test, ds.x_test)
    (tmp_path / "one").mkdir()
    Image.fromarray(np.zeros((50, 50), np.uint8)).save(tmp_path / "one" / "a.png")
    with pytest.raises(AekitError, match="needs at least 2 images"):
        load_dataset(str(tmp_path / "one"), patches=(16, 16))


def test_array_datasets_are_cut_on_each_side_of_their_split(mnist_npz, tmp_path):
    ds = load_dataset(str(mnist_npz), patches=(14, 14), patches_per_image=3)
    assert ds.x_train.shape == (3 * 1024, 14, 14) and ds.x_test.shape == (3 * 256, 14, 14)
    assert np.array_equal(ds.y_train[:6], np.repeat(load_dataset(str(mnist_npz)).y_train[:2], 3))
    table = tmp_path / "t.csv"
    table.write_text("1,2\n3,4\n5,6\n")
    with pytest.raises(AekitError, match="patches need images"):
        load_dataset(str(table), patches=(1, 1))


def test_cli_trains_on_patches_and_evaluates_the_same_test_patches(tmp_path, capsys):
    folder = _folder_of_mixed_sizes(tmp_path / "mixed")
    run = tmp_path / "run"
    assert main(["train", "--data", str(folder), "--patches", "16x16", "--patches-per-image", "5", "--epochs", "1",
                 "--no-eval", "--out", str(run)]) == 0
    data = json.loads((run / "config.json").read_text())["data"]
    assert data["patches"] == [16, 16] and data["patches_per_image"] == 5
    assert json.loads((run / "config.json").read_text())["config"]["input_shape"] == [1, 16, 16]
    capsys.readouterr()
    assert main(["eval", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n_test"] == 5
    for args, message in ([["--patches-per-image", "3"], "needs a patch size"],
                          [["--patches", "16"], "--patches should look like 28x28"],
                          [["--patches", "99x99"], "no training images in"]):
        assert main(["train", "--data", str(folder), "--epochs", "1", "--out", str(tmp_path / "bad"), *args]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert message in err[-1] and not (tmp_path / "bad").exists()
