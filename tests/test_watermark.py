"""The pixel watermark: its code, round trip, robustness, absence on real photographs, and what inspect reports."""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aekit.cli import main
from aekit.runs import watermark
from aekit.runs.bch import BCH
from aekit.runs.provenance import make_mark, read_pixel_mark, save_png

FINGERPRINT = "3fa9c2d1e07b"


def photo(name: str, side: int = 256, at: tuple[int, int] = (0, 0)) -> np.ndarray:
    """A crop of one of scikit-image's bundled lossless photographs."""
    import skimage

    img = np.asarray(Image.open(Path(skimage.__file__).parent / "data" / f"{name}.png"))
    img = img[..., :3] if img.ndim == 3 else img
    return np.ascontiguousarray(img[at[0]:at[0] + side, at[1]:at[1] + side])


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(buf))


@pytest.mark.parametrize("m,t", [(6, 5), (7, 10)])
def test_bch_corrects_up_to_t_errors_and_refuses_rather_than_guesses(m, t):
    code, rng = BCH(m, t), random.Random(m)
    for _ in range(30):
        message = [rng.randint(0, 1) for _ in range(code.k)]
        word = code.encode(message)
        assert word[: code.k] == message and code.decode(word) == message
        for p in rng.sample(range(code.n), t):
            word[p] ^= 1
        assert code.decode(word) == message
    # t + 1 errors: never a wrong message within t of the word (bounded-distance decoding)
    for _ in range(30):
        word = code.encode([rng.randint(0, 1) for _ in range(code.k)])
        for p in rng.sample(range(code.n), t + 1):
            word[p] ^= 1
        found = code.decode(word)
        assert found is None or sum(a != b for a, b in zip(code.encode(found), word)) <= t


def test_bch_random_words_decode_at_the_rate_the_bound_uses():
    code, rng = BCH(6, 5), random.Random(0)
    accepted = sum(code.decode([rng.randint(0, 1) for _ in range(code.n)]) is not None for _ in range(2000))
    assert abs(accepted / 2000 - code.accept_probability()) < 0.02  # 0.057
    assert watermark.false_positive_bound() < 1e-3


def test_round_trip_on_a_colour_photo_at_the_promised_psnr():
    clean = photo("astronaut", at=(0, 128))
    marked = watermark.embed(clean, FINGERPRINT)
    mse = np.mean((marked.astype(float) - clean) ** 2)
    assert 10 * np.log10(255**2 / mse) >= 40
    found = watermark.detect(marked)
    assert found is not None and found.fingerprint_prefix == FINGERPRINT[: watermark.PREFIX_HEX]
    assert found.scale == 1 and found.corrected <= watermark.CODE.t


def test_survives_jpeg_q75_a_crop_and_a_half_size_copy():
    marked = watermark.embed(photo("coffee", at=(60, 200)), FINGERPRINT)
    prefix = FINGERPRINT[: watermark.PREFIX_HEX]
    assert watermark.detect(jpeg(marked, 75)).fingerprint_prefix == prefix
    assert watermark.detect(marked[17:247, 9:239]).fingerprint_prefix == prefix  # 10 % cut, off the tile grid
    half = np.asarray(Image.fromarray(marked).resize((128, 128), Image.BILINEAR))
    found = watermark.detect(half)
    assert found.fingerprint_prefix == prefix and found.scale == 0.5


@pytest.mark.parametrize("at", [(32, 128), (160, 64)])
def test_informed_embedding_carries_the_mark_through_grass_where_a_blind_one_is_lost(at, monkeypatch):
    grass, prefix = photo("grass", at=at), FINGERPRINT[: watermark.PREFIX_HEX]
    marked = watermark.embed(grass, FINGERPRINT)
    assert 40 <= 10 * np.log10(255**2 / np.mean((marked.astype(float) - grass) ** 2)) < 41
    for copy in (marked, jpeg(marked, 75)):
        assert watermark.detect(copy).fingerprint_prefix == prefix
    monkeypatch.setattr(watermark, "ROUNDS", 1)  # the same mark, written without reading it back
    assert watermark.detect(watermark.embed(grass, FINGERPRINT)) is None


@pytest.mark.parametrize("name", ["camera", "grass", "coins", "chelsea", "moon", "brick"])
def test_no_mark_is_found_in_real_photographs(name):
    assert watermark.detect(photo(name)) is None
    assert watermark.detect(jpeg(photo(name), 75)) is None


@pytest.mark.parametrize("name,side,at", [("astronaut", (64, 64), (200, 180)), ("camera", (64, 64), (30, 300)),
                                          ("coffee", (48, 40), (120, 250)), ("chelsea", (28, 28), (60, 160))])
def test_a_small_image_carries_the_dither_mark_through_stripping_and_jpeg(name, side, at, monkeypatch):
    clean = photo(name, side=max(side), at=at)[: side[0], : side[1]]
    marked, prefix = watermark.embed(clean, FINGERPRINT), FINGERPRINT[: watermark.PREFIX_HEX]
    assert marked.shape == clean.shape
    assert 40 <= 10 * np.log10(255**2 / np.mean((marked.astype(float) - clean) ** 2)) < 43
    for copy in (marked, jpeg(marked, 75)):
        found = watermark.detect(copy)
        assert found.fingerprint_prefix == prefix and found.scale == 1 and np.isnan(found.pilot_z)
    assert watermark.detect(clean) is None and watermark.detect(jpeg(clean, 75)) is None
    if name == "astronaut":  # a textured crop: the spread-spectrum mark, at the same PSNR, is lost in it
        monkeypatch.setattr(watermark, "DITHER_BELOW", 0)
        assert watermark.detect(jpeg(watermark.embed(clean, FINGERPRINT), 75)) is None


def test_the_dither_mark_holds_its_psnr_floor_on_a_black_background():
    digit = np.zeros((64, 64), np.uint8)  # ink on black: clipping at 0 takes part of every correction away
    digit[16:48, 28:36] = 255
    digit[16:24, 20:44] = 200
    marked = watermark.embed(digit, FINGERPRINT)
    assert 10 * np.log10(255**2 / np.mean((marked.astype(float) - digit) ** 2)) >= watermark.PSNR_FLOOR_DB
    assert watermark.detect(marked).fingerprint_prefix == FINGERPRINT[: watermark.PREFIX_HEX]


@pytest.mark.parametrize("psnr_db", [38.0, 45.0])
def test_a_dither_mark_at_another_psnr_is_still_read(psnr_db):
    clean = photo("astronaut", side=64, at=(200, 180))
    marked = watermark.embed(clean, FINGERPRINT, psnr_db=psnr_db)
    assert 10 * np.log10(255**2 / np.mean((marked.astype(float) - clean) ** 2)) >= psnr_db - 0.5
    assert watermark.detect(marked).fingerprint_prefix == FINGERPRINT[: watermark.PREFIX_HEX]


def test_the_dither_mark_leaves_alpha_alone():
    clean = np.dstack([photo("coffee", side=64, at=(120, 250)), np.full((64, 64), 200, np.uint8)])
    marked = watermark.embed(clean, FINGERPRINT)
    assert np.array_equal(marked[..., 3], clean[..., 3]) and not np.array_equal(marked[..., :3], clean[..., :3])
    assert watermark.detect(marked[..., :3]).fingerprint_prefix == FINGERPRINT[: watermark.PREFIX_HEX]


def test_flat_and_tiny_images_are_simply_unmarked():
    # a flat image reads the dither mark's one fixed word (every projection 0), at any size: the code refuses it
    for value, side in ((0, 28), (128, 64), (255, 100)):
        assert watermark.detect(np.full((side, side), value, np.uint8)) is None
        assert watermark.detect(np.full((side, side, 3), value, np.uint8)) is None
    assert watermark.detect(np.full((64, 64), 128, np.uint8)) is None
    assert watermark.detect(np.zeros((4, 4), np.uint8)) is None
    assert watermark.embed(np.zeros((3, 5), np.uint8), FINGERPRINT).shape == (3, 5)


@pytest.fixture(scope="module")
def trained(mnist_npz, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "seed"
    assert main(["train", "--data", str(mnist_npz), "--out", str(run), "--epochs", "0.05", "--batch-size", "64",
                 "--no-progress", "--no-eval"]) == 0
    return run


def test_save_png_marks_what_a_model_made_and_edits_only_when_asked(tmp_path):
    image, mark = photo("camera", at=(100, 100)), make_mark("generate", FINGERPRINT)
    made = save_png(tmp_path / "made.png", image, mark)
    assert read_pixel_mark(made).fingerprint_prefix == FINGERPRINT[: watermark.PREFIX_HEX]
    Image.fromarray(image).save(tmp_path / "input.png")
    edit = save_png(tmp_path / "edit.png", image, mark, parent=tmp_path / "input.png")
    assert np.array_equal(np.asarray(Image.open(edit)), image) and read_pixel_mark(edit) is None
    asked = save_png(tmp_path / "asked.png", image, mark, parent=tmp_path / "input.png", pixel_mark=True)
    assert read_pixel_mark(asked) is not None


def test_inspect_reads_the_mark_of_a_stripped_jpeg_and_names_the_run(tmp_path, capsys, trained):
    from aekit.runs.run import as_run

    fingerprint = as_run(trained).fingerprint
    made = save_png(tmp_path / "made.png", photo("chelsea", at=(20, 100)), make_mark("swap", fingerprint))
    stripped = tmp_path / "stripped.jpg"
    Image.open(made).save(stripped, quality=75)  # no metadata survives: no manifest, no iTXt mark
    Image.fromarray(photo("chelsea", at=(20, 100))).save(tmp_path / "plain.png")
    capsys.readouterr()
    assert main(["inspect", str(stripped), "--run", str(trained)]) == 0
    out = capsys.readouterr().out
    assert out == (f"{stripped}: credentials absent; no aekit provenance mark; pixel mark aekit (model "
                   f"{fingerprint[:watermark.PREFIX_HEX]}, matches run {as_run(trained).name})\n")
    assert main(["inspect", str(tmp_path / "plain.png")]) == 3
    assert capsys.readouterr().out.endswith("no aekit provenance mark; no pixel mark\n")
