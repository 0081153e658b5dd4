"""Generation and interpolation from trained runs; every written file carries its provenance mark."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from aekit.apps.generate import sample_images
from aekit.apps.samplers import GaussianMixtureSampler, grid
from aekit.cli import main
from aekit.errors import AekitError
from aekit.runs.provenance import read_mark, save_array

FAST = ["--epochs", "1", "--batch-size", "64", "--no-progress", "--no-eval"]


@pytest.fixture(scope="module")
def dense_run(mnist_npz, tmp_path_factory):
    run = tmp_path_factory.mktemp("gen") / "dense"
    assert main(["train", "--data", str(mnist_npz), "--out", str(run), "--code-size", "8", *FAST]) == 0
    return run


def test_generate_from_a_plain_autoencoder_writes_marked_files(dense_run, tmp_path, capsys):
    out, sep = tmp_path / "grid.png", tmp_path / "each"
    assert main(["generate", str(dense_run), "-n", "6", "--out", str(out), "--separate", str(sep)]) == 0
    with Image.open(out) as im:
        assert im.size == (3 * 30 + 2, 2 * 30 + 2)  # 6 digits of 28x28 in a 3x2 grid, 2-pixel gaps
    files = sorted(sep.glob("sample-*.png"))
    assert len(files) == 6
    for f in [out, *files]:
        mark = read_mark(f)
        assert mark["synthetic"] is True and mark["tool"] == "aekit" and mark["operation"] == "generate"
        assert mark["sampler"] == "gmm" and len(mark["model_fingerprint"]) == 64
    assert (dense_run / "gmm.safetensors").exists()  # the fitted mixture is kept beside the model
    capsys.readouterr()
    assert main(["inspect", str(out), *map(str, files)]) == 0
    assert capsys.readouterr().out.count('"synthetic": true') == 7
    # Same seed, same samples; and no silent overwrite.
    assert main(["generate", str(dense_run), "-n", "6", "--out", str(out)]) == 1
    again = tmp_path / "again.png"
    assert main(["generate", str(dense_run), "-n", "6", "--out", str(again)]) == 0
    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(out)))
    fresh = tmp_path / "fresh.png"  # --separate naming a file: refused before anything is written
    assert main(["generate", str(dense_run), "-n", "6", "--out", str(fresh), "--separate", str(again)]) == 1
    assert "should name a folder" in capsys.readouterr().err and not fresh.exists()
    for seed in ("-1", str(2**32)):  # a seed scikit-learn's mixture would reject: refused before anything runs
        with pytest.raises(SystemExit) as e:
            main(["generate", str(dense_run), "-n", "2", "--seed", seed, "--out", str(fresh)])
        assert e.value.code == 2 and "invalid seed" in capsys.readouterr().err and not fresh.exists()
    assert main(["generate", str(dense_run), "-n", "2", "--seed", str(2**32 - 1), "--out", str(fresh)]) == 0
    with pytest.raises(AekitError, match="seed must be"):
        sample_images(dense_run, 2, seed=-5)


def test_interpolate_and_inspect_unmarked(dense_run, tmp_path, capsys):
    strip = tmp_path / "strip.png"
    assert main(["interpolate", str(dense_run), "0", "1", "--steps", "5", "--out", str(strip)]) == 0
    with Image.open(strip) as im:
        assert im.size == (5 * 30 + 2, 30 + 2)
    assert read_mark(strip)["operation"] == "interpolate"
    plain = tmp_path / "plain.png"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(plain)
    capsys.readouterr()
    assert main(["inspect", str(plain)]) == 3
    assert "no aekit provenance mark" in capsys.readouterr().out
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("aekit:provenance", "x" * (20 << 20), zip=True)  # expands past Pillow's text-chunk limit
    bomb = tmp_path / "bomb.png"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(bomb, pnginfo=info)
    assert main(["inspect", str(bomb)]) == 1
    assert "is not a readable image" in capsys.readouterr().err
    cut = tmp_path / "cut.png"  # a marked image cut short: damaged, not merely unmarked
    cut.write_bytes(strip.read_bytes()[:-200])
    assert main(["inspect", str(cut)]) == 1
    assert "image file is truncated" in capsys.readouterr().err
    import struct
    import zlib

    body = b"aekit:provenance\x00\x00\x00\x00\x00" + b'{"operation": "late"}'  # an iTXt chunk after the pixels
    chunk = struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body))
    late = tmp_path / "late.png"
    late.write_bytes(plain.read_bytes()[:-12] + chunk + plain.read_bytes()[-12:])
    assert read_mark(late) == {"operation": "late"}
    assert main(["interpolate", str(dense_run), "0", "999999", "--out", str(tmp_path / "x.png")]) == 1
    assert main(["generate", str(dense_run), "--sampler", "prior", "--out", str(tmp_path / "y.png")]) == 1


def test_array_sidecar_mark(tmp_path):
    path = save_array(tmp_path / "x.npy", np.zeros((2, 3)), {"synthetic": True, "operation": "swap"})
    assert read_mark(path)["operation"] == "swap"
    assert np.load(path, allow_pickle=False).shape == (2, 3)


def test_gaussian_mixture_sampler_round_trip():
    rng = np.random.default_rng(0)
    codes = np.concatenate([rng.normal(-3, 0.5, (300, 2)), rng.normal(3, 0.5, (300, 2))])
    gm = GaussianMixtureSampler.fit(codes, n_components=2)
    again = GaussianMixtureSampler.from_tensors(gm.tensors(), 2)
    z = again.sample(2000, torch.Generator().manual_seed(0)).numpy()
    assert abs(z[:, 0].mean()) < 0.3 and 2.5 < np.abs(z[:, 0]).mean() < 3.5  # two modes at -3 and +3
    with pytest.raises(AekitError):
        GaussianMixtureSampler.from_tensors(gm.tensors(), 3)


def test_grid_layout():
    ims = np.full((5, 2, 3), 255, np.uint8)
    g = grid(ims, pad=1, cols=2)
    assert g.shape == (3 * 3 + 1, 2 * 4 + 1) and g.sum() == 5 * 6 * 255


@pytest.mark.parametrize("model, sampler", [("vae", "prior"), ("vq", "vq-prior")])
def test_generative_models_sample_from_their_priors(model, sampler, mnist_npz, tmp_path):
    run = tmp_path / model
    assert main(["train", "--model", model, "--code-size", "8", "--data", str(mnist_npz), "--out", str(run),
                 *FAST]) == 0
    out = tmp_path / "g.png"
    assert main(["generate", str(run), "-n", "4", "--out", str(out)]) == 0
    mark = read_mark(out)
    assert mark["sampler"] == sampler and mark["model"] == model
    arr = np.asarray(Image.open(out))
    assert arr.shape == (2 * 30 + 2, 2 * 30 + 2) and arr.max() > 0
    if model == "vq":  # the learned prior is kept and reused
        assert (run / "prior.safetensors").exists()
        assert main(["generate", str(run), "-n", "4", "--out", str(tmp_path / "g2.png")]) == 0
        assert np.array_equal(np.asarray(Image.open(tmp_path / "g2.png")), arr)


def test_a_code_map_too_large_for_a_mixture_is_refused_before_any_fitting(mnist_npz, tmp_path, capsys):
    run = tmp_path / "map"
    assert main(["train", "--model", "conv", "--data", str(mnist_npz), "--out", str(run), "--set", "channels=[8]",
                 "--set", "blocks_per_stage=1", "--set", "spatial_code=true", "--code-size", "8", "--epochs", "0.1",
                 "--no-progress", "--no-eval"]) == 0
    capsys.readouterr()
    assert main(["generate", str(run), "-n", "2", "--out", str(tmp_path / "g.png")]) == 1
    assert "code holds 1568 numbers per sample" in capsys.readouterr().err  # 8 channels x 14 x 14
    assert not (run / "gmm.safetensors").exists() and not (tmp_path / "g.png").exists()


def test_a_run_trained_from_an_array_samples_from_a_mixture_over_the_data_given(mnist, tmp_path):
    import aekit
    from aekit.data.dataset import IMAGE, Dataset

    ds = Dataset("slice", mnist.x_train[:512], mnist.y_train[:512], mnist.x_test[:64], mnist.y_test[:64], IMAGE,
                 "mnist slice")
    ae = aekit.build("dense", code_size=4)
    ae.fit(ds.x_train, epochs=1, batch_size=64, verbose=False, run_dir=tmp_path / "run")
    with pytest.raises(AekitError, match="in-memory array: pass its training data as `dataset`"):
        sample_images(tmp_path / "run", 4)  # the run records no data source to fit the mixture on
    images, mark = sample_images(tmp_path / "run", 4, dataset=ds)
    again, _ = sample_images(tmp_path / "run", 4, dataset=ds)
    assert images.shape == (4, 28, 28) and images.dtype == np.uint8 and np.array_equal(images, again)
    assert mark["sampler"] == "gmm" and not (tmp_path / "run" / "gmm.safetensors").exists()  # fitted per call
