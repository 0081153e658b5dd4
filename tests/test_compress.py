"""The compressive autoencoder, the .aek file format (round trips, hostile files, a fuzz test) and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from tiny import TINY_COMPRESS, compress_train_args, fit_batch

from aekit.apps.codec import MAGIC, MAX_TILES, Codec, CodecError
from aekit.apps.tiles import split_grid
from aekit.cli import main
from aekit.errors import AekitError
from aekit.models import build_model
from aekit.runs import files as ckpt

TINY = TINY_COMPRESS


@pytest.fixture(scope="module")
def codec():
    torch.manual_seed(0)
    return Codec(build_model("compress", **TINY).eval(), "ab12" * 16)


@pytest.fixture(scope="module")
def files(codec, mnist):
    x = torch.from_numpy(mnist.x_test[:6, None].astype(np.float32) / 255)
    return x, codec.encode(x, 1)


def _sheet(mnist, rows: int, cols: int) -> np.ndarray:
    """Test digits side by side: a uint8 image (28 * rows, 28 * cols)."""
    return np.block([[mnist.x_test[r * cols + c] for c in range(cols)] for r in range(rows)])


@pytest.fixture(scope="module")
def tiled(codec, mnist):
    """A 40x60 crop of a sheet of digits, its 2x3 grid of 28x28 tiles, and its tiled file."""
    image = _sheet(mnist, 2, 3)[:40, 3:63]
    tiles = torch.from_numpy(split_grid(image[None].astype(np.float32) / 255, (28, 28)))
    return image, tiles, codec.encode_tiles(tiles, 2, image.shape)


def test_prior_is_autoregressive():
    model = build_model("compress", **TINY)
    s = torch.randn(3, 12)
    lv = torch.tensor([0, 1, 2])
    m1, s1 = model.entropy_parameters(s, lv)
    changed = s.clone()
    changed[:, 5:] = torch.randn(3, 7)
    m2, s2 = model.entropy_parameters(changed, lv)
    assert torch.equal(m1[:, :6], m2[:, :6]) and torch.equal(s1[:, :6], s2[:, :6])  # dim i sees dims < i only
    assert not torch.allclose(m1[:, 6:], m2[:, 6:])


def test_levels_trade_rate_for_distortion(small_x):
    model = build_model("compress", **TINY)
    x = small_x[:64]
    torch.manual_seed(0)
    fit_batch(model, x, 60)
    model.eval()
    with torch.no_grad():
        outs = [model(x, level=lv) for lv in range(3)]
    bits = [o["bits"].mean().item() for o in outs]
    mse = [(o["x_hat"] - x).pow(2).mean().item() for o in outs]
    assert bits[0] < bits[1] < bits[2] and mse[0] > mse[2]


def test_round_trip_is_exact_and_small(codec, files):
    x, data = files
    with torch.no_grad():
        expected = codec.model.decode_symbols(codec.model.symbols(x, 1), 1)
    decoded = codec.decode_many(data)
    for (img, level, size), ref in zip(decoded, expected):
        assert level == 1 and size == (28, 28)
        assert torch.allclose(img, ref, atol=1e-6)
    assert data[0][:2] == MAGIC and data[0][3:7] == bytes.fromhex("ab12ab12")
    bits = codec.model(x, level=1)["bits"]
    overhead = [len(f) - b.item() / 8 for f, b in zip(data, bits)]
    assert all(9 <= o <= 16 for o in overhead)  # 11 header bytes, minus trimming, plus the coder's last word


def test_other_model_and_damage_are_refused(codec, files):
    _, data = files
    other = Codec(codec.model, "cd34" * 16)
    with pytest.raises(CodecError, match="another model"):
        other.decode(data[0])
    flipped = bytearray(data[0])
    flipped[9] ^= 0x10
    with pytest.raises(CodecError, match="checksum"):
        codec.decode(bytes(flipped))
    for cut in (1, 5, len(data[0]) - 3):
        with pytest.raises(CodecError):
            codec.decode(data[0][:cut])
    with pytest.raises(CodecError, match="file 1"):
        codec.decode_many([data[0], b"nonsense-bytes"])


def test_a_tiled_file_holds_every_tile_of_the_image(codec, tiled):
    from aekit.apps.compress import decompress_bytes

    image, tiles, data = tiled
    assert tiles.shape == (6, 1, 28, 28)  # 40x60 padded by reflection to 56x84: a 2x3 grid
    pixels = np.rint(tiles[:, 0].numpy() * 255)
    assert np.array_equal(pixels[0], image[:28, :28]) and np.array_equal(pixels[3, 12:], image[38:22:-1, :28])
    with torch.no_grad():
        expected = codec.model.decode_symbols(codec.model.symbols(tiles, 2), 2)
    out, level, size = codec.decode(data)
    assert out.shape == (6, 1, 28, 28) and level == 2 and size == (40, 60)
    assert torch.allclose(out, expected, atol=1e-6)
    assert data[7:10] == bytes([81, 60, 2])  # height 40 with the tile bit, width 60, then the grid: 2 rows ...
    separate = codec.encode(tiles, 2)  # ... and 3 columns: one header, and one range coder for every tile
    assert len(data) < sum(map(len, separate)) - 5 * 9
    back = decompress_bytes(codec, data)  # stitched and cropped back to the original size
    stitched = np.block([[t[0].numpy() for t in expected[:3]], [t[0].numpy() for t in expected[3:]]])[:40, :60]
    assert back.shape == (40, 60) and np.abs(back.astype(int) - np.rint(stitched * 255)).max() <= 1


# Written by aekit 0.1.0 (format version 1) with the `codec` fixture's model: test digits 0 and 1 at level 2, the
# second declared 40x30 (the format keeps any original size; the decoder resizes the code's 28x28 image to it).
VERSION_1_FILES = ["ae4b22ab12ab121c1c8510566c14f626", "ae4b22ab12ab12281e83b8dc0aa3cd36"]


def test_version_1_files_still_decode(codec, mnist):
    x = torch.from_numpy(mnist.x_test[:2, None].astype(np.float32) / 255)
    old = codec.decode_many([bytes.fromhex(f) for f in VERSION_1_FILES])
    new = codec.decode_many(codec.encode(x, 2, [(28, 28), (40, 30)]))
    assert [(level, size) for _, level, size in old] == [(2, (28, 28)), (2, (40, 30))]
    assert all(torch.equal(a, b) for (a, _, _), (b, _, _) in zip(old, new))


def _refit_checksum(body: bytes) -> bytes:
    from aekit.apps.codec import _crc

    return body + _crc(body)


def test_hostile_headers_behind_a_valid_checksum(codec, files):
    _, data = files
    head = data[0][:-2]
    with pytest.raises(CodecError, match="version"):
        codec.decode(_refit_checksum(head[:2] + bytes([7 << 5 | 1]) + head[3:]))
    with pytest.raises(CodecError, match="level"):
        codec.decode(_refit_checksum(head[:2] + bytes([1 << 5 | 30]) + head[3:]))
    with pytest.raises(CodecError, match="size"):  # 0 x 28
        codec.decode(_refit_checksum(head[:7] + b"\x00" + head[8:]))
    with pytest.raises(CodecError, match="size"):  # a huge side declared
        codec.decode(_refit_checksum(head[:7] + b"\xff\xff\x7f" + head[8:]))


def test_hostile_tile_grids_are_refused_before_anything_is_allocated(codec, tiled):
    head, payload = tiled[2][:11], tiled[2][11:-2]
    with pytest.raises(CodecError, match="is a 2x3 grid, not 2x4"):
        codec.decode(_refit_checksum(head[:10] + b"\x04" + payload))
    with pytest.raises(CodecError, match="too large"):  # 8192x8192: the right grid, but far more tiles than allowed
        side = b"\x81\x80\x01" + b"\x80\x40"
        codec.decode(_refit_checksum(head[:7] + side + b"\xa5\x02\xa5\x02" + payload))
    assert 293 * 293 > MAX_TILES
    with pytest.raises(CodecError, match="too large"):
        codec.encode_tiles(torch.zeros(293 * 293, 1, 28, 28), 0, (8192, 8192))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_decoder_never_crashes(codec, files, tiled, data):
    """Random bytes, and valid files (whole or tiled) with random bytes changed, cut or appended (checksum refitted
    or not): the decoder returns an image or raises CodecError, never anything else."""
    valid = [*files[1], tiled[2]][data.draw(st.integers(0, len(files[1])))]
    kind = data.draw(st.sampled_from(["random", "mutate", "mutate-refit", "cut", "append-refit"]))
    if kind == "random":
        blob = data.draw(st.binary(max_size=80))
    elif kind.startswith("mutate"):
        blob = bytearray(valid)
        for _ in range(data.draw(st.integers(1, 4))):
            blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
        blob = _refit_checksum(bytes(blob[:-2])) if kind == "mutate-refit" else bytes(blob)
    elif kind == "cut":
        blob = valid[: data.draw(st.integers(0, len(valid) - 1))]
    else:
        blob = _refit_checksum(valid[:-2] + data.draw(st.binary(min_size=1, max_size=40)))
    try:
        img, level, (h, w) = codec.decode(blob)
    except CodecError:
        return
    assert img.shape[-3:] == (1, 28, 28) and torch.isfinite(img).all() and 0 <= level < 3
    assert img.ndim == 3 or len(img) == -(-h // 28) * -(-w // 28)


# ---- the commands --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def run(mnist_npz, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "compress"
    assert main(compress_train_args(mnist_npz, out)) == 0
    return out


def test_compress_and_decompress_from_the_cli(run, mnist, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        Image.fromarray(mnist.x_test[i]).save(src / f"d{i}.png")
    Image.fromarray(np.tile(mnist.x_test[3], (2, 3))).save(src / "wide.png")  # 56x84: resized for coding and back
    assert main(["compress", str(run), str(src), "--out", str(tmp_path / "aek"), "--level", "2"]) == 0
    aek = sorted((tmp_path / "aek").iterdir())
    assert [p.name for p in aek] == ["d0.aek", "d1.aek", "d2.aek", "wide.aek"]
    assert all(p.stat().st_size < 200 for p in aek)
    capsys.readouterr()
    assert main(["decompress", str(run), *map(str, aek), "--out", str(tmp_path / "png")]) == 0
    with Image.open(tmp_path / "png" / "wide.png") as im:
        assert im.size == (84, 56)
    with Image.open(tmp_path / "png" / "d0.png") as im:
        assert im.size == (28, 28)
    capsys.readouterr()
    assert main(["inspect", str(tmp_path / "png" / "d0.png")]) == 0
    assert "decompress" in capsys.readouterr().out
    # nothing is overwritten without --force
    assert main(["compress", str(run), str(src / "d0.png"), "--out", str(tmp_path / "aek")]) == 1
    assert "exists" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["garbage", "level", "too-tall", "not-compress-run"])
def test_cli_errors_are_one_line(case, run, mnist_npz, mnist, tmp_path, capsys):
    bad = tmp_path / "bad.aek"
    bad.write_bytes(b"\xaeK" + bytes(20))
    if case == "garbage":
        code = main(["decompress", str(run), str(bad), "--out", str(tmp_path / "o")])
    elif case == "level":
        Image.fromarray(mnist.x_test[0]).save(tmp_path / "d.png")
        code = main(["compress", str(run), str(tmp_path / "d.png"), "--out", str(tmp_path / "o"), "--level", "9"])
    elif case == "too-tall":  # a side no .aek header can hold: refused, not written as a file that cannot decode
        Image.fromarray(np.zeros((8193, 2), np.uint8)).save(tmp_path / "tall.png")
        code = main(["compress", str(run), str(tmp_path / "tall.png"), "--out", str(tmp_path / "o")])
    else:
        other = tmp_path / "dense"
        assert main(["train", "--data", str(mnist_npz), "--out", str(other), "--epochs", "0.05", "--no-eval",
                     "--no-progress"]) == 0
        capsys.readouterr()
        code = main(["decompress", str(other), str(bad), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("aekit: error:") and "\n" not in err
    assert case != "too-tall" or "2x8193 pixels" in err, err
    assert not (tmp_path / "o").exists()


def test_fingerprint_is_the_run_weights(run, tmp_path):
    from aekit.apps.compress import open_codec

    codec = open_codec(run)
    assert codec.model_id.hex() == ckpt.fingerprint(run / ckpt.WEIGHTS)[:8]


def test_rgb_images_of_any_size_round_trip():
    from aekit.apps.compress import compress_images, decompress_bytes

    torch.manual_seed(0)
    model = build_model("compress", **{**TINY, "input_shape": (3, 16, 16)}).eval()
    codec = Codec(model, "0f" * 32)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (20, 24, 3), dtype=np.uint8), rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)]
    files = compress_images(codec, images, level=0)
    back = [decompress_bytes(codec, f) for f in files]
    assert back[0].shape == (20, 24, 3) and back[1].shape == (16, 16, 3) and back[0].dtype == np.uint8
    for bad, message in ((images[0] / 255.0, "uint8 pixels"), (np.zeros((8193, 4, 3), np.uint8), "4x8193")):
        with pytest.raises(AekitError, match=message):  # refused, not coded as black or as an undecodable file
            compress_images(codec, [bad], level=0)


@pytest.fixture(scope="module")
def patch_run(mnist_npz, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "patches"
    assert main(compress_train_args(mnist_npz, out) + ["--patches", "16x16", "--patches-per-image", "2", "--no-eval"]) == 0
    return out


def test_a_run_trained_on_patches_codes_an_image_in_tiles_of_its_size(patch_run, run, mnist, tmp_path, capsys):
    from aekit.apps.compress import open_codec

    sheet = _sheet(mnist, 2, 3)[:50, :]  # 50x84: 4x6 tiles of 16x16, the last row padded
    Image.fromarray(sheet).save(tmp_path / "sheet.png")
    capsys.readouterr()
    assert main(["compress", str(patch_run), str(tmp_path / "sheet.png"), "--out", str(tmp_path / "aek")]) == 0
    assert "in 16x16 tiles, as the run was trained on 16x16 patches" in capsys.readouterr().out
    data = (tmp_path / "aek" / "sheet.aek").read_bytes()
    assert data[7:11] == bytes([101, 84, 4, 6])  # 50 rows (tiled), 84 columns, a 4x6 grid
    assert main(["decompress", str(patch_run), str(tmp_path / "aek" / "sheet.aek"), "--out", str(tmp_path / "png")]) == 0
    back = np.asarray(Image.open(tmp_path / "png" / "sheet.png"))
    # Each tile is the model's own reconstruction of that part of the image, at its own resolution.
    codec = open_codec(patch_run)
    tiles = torch.from_numpy(split_grid(sheet[None].astype(np.float32) / 255, (16, 16)))
    with torch.no_grad():
        own = codec.model(tiles, level=codec.model.config.default_level)["x_hat"][:, 0].numpy()
    expected = np.rint(np.block([list(own[r * 6:(r + 1) * 6]) for r in range(4)])[:50, :84] * 255)
    assert back.shape == sheet.shape and np.mean(np.abs(back - expected) <= 1) > 0.99
    # A run trained on whole images still resizes, and says so.
    assert main(["compress", str(run), str(tmp_path / "sheet.png"), "--out", str(tmp_path / "aek2")]) == 0
    assert "whole, other sizes resized to 28x28 and back" in capsys.readouterr().out
    assert (tmp_path / "aek2" / "sheet.aek").read_bytes()[7:9] == bytes([100, 84])
