"""The compressive autoencoder, the .aek file format (round trips, hostile files, a fuzz test) and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from tiny import TINY_COMPRESS, compress_train_args, fit_batch

from aekit.apps.codec import MAGIC, Codec, CodecError
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


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_decoder_never_crashes(codec, files, data):
    """Random bytes, and valid files with random bytes changed, cut or appended (checksum refitted or not): the
    decoder returns an image or raises CodecError, never anything else."""
    valid = files[1][data.draw(st.integers(0, len(files[1]) - 1))]
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
    assert img.shape == (1, 28, 28) and torch.isfinite(img).all() and 0 <= level < 3


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
