"""Denoising: the library function improves real noisy digits; the CLI writes marked results and refuses bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from aekit import TrainConfig, train
from aekit.apps.denoise import denoise_array, denoise_image
from aekit.cli import main
from aekit.errors import AekitError
from aekit.metrics.reconstruction import psnr
from aekit.models import build_model
from aekit.runs import files as ckpt
from aekit.runs.provenance import read_mark
from aekit.runs.run import Run
from aekit.training.noise import corrupt

FAST = ["--epochs", "1", "--batch-size", "64", "--no-progress", "--no-eval"]


@pytest.fixture(scope="module")
def noisy_run(mnist_npz, tmp_path_factory):
    run = tmp_path_factory.mktemp("dn") / "run"
    assert main(["train", "--data", str(mnist_npz), "--out", str(run), "--noise", "gaussian", "--noise-strength",
                 "0.5", *FAST]) == 0
    return run


def _noisy(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """uint8 digits with Gaussian noise (sigma 0.5 in [0, 1] units), clipped, back as uint8."""
    t = torch.from_numpy(x.astype(np.float32) / 255)
    return np.rint(corrupt(t, "gaussian", 0.5, torch.Generator().manual_seed(seed)).numpy() * 255).astype(np.uint8)


def test_a_denoiser_beats_the_noisy_input_on_real_digits(mnist, small_x):
    torch.manual_seed(0)
    model = build_model("dense", input_shape=(1, 28, 28), hidden=(128,), code_size=32)
    train(model, small_x, TrainConfig(epochs=4, batch_size=32, seed=0, noise="gaussian", noise_strength=0.5,
                                      device="cpu"), progress=False)
    clean = mnist.x_test[:200]
    noisy = _noisy(clean)
    from aekit.data import Normalizer

    out = denoise_array(model, Normalizer("image", 0.0, 255.0), noisy)
    assert out.dtype == np.uint8 and out.shape == clean.shape
    before, after = psnr(clean / 255.0, noisy / 255.0), psnr(clean / 255.0, out / 255.0)
    assert before < 10.5 and after > before + 2, (before, after)  # 9.4 -> 12.1 dB measured


def test_the_denoise_preset_trains_a_denoiser_that_the_cli_uses(mnist_npz, mnist, tmp_path):
    run, out = tmp_path / "dn", tmp_path / "out"
    assert main(["train", "--preset", "denoise", "--data", str(mnist_npz), "--out", str(run), "--epochs", "1",
                 "--time-limit", "2", "--no-channels-last", "--no-eval", "--no-progress"]) == 0
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["train"]["noise"] == "gaussian" and cfg["train"]["noise_strength"] == 0.5
    assert cfg["config"]["spatial_code"] and cfg["config"]["head"] == "subpixel" and cfg["train"]["precision"] == "bf16"
    np.save(tmp_path / "noisy.npy", _noisy(mnist.x_test[:3]))
    assert main(["denoise", str(run), str(tmp_path / "noisy.npy"), "--out", str(out)]) == 0
    assert np.load(out / "noisy.npy").shape == (3, 28, 28)


def test_cli_denoises_images_and_arrays_into_marked_files(noisy_run, mnist, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    noisy = _noisy(mnist.x_test[:6], seed=1)
    Image.fromarray(noisy[0]).save(inputs / "a.png")
    np.save(inputs / "batch.npy", noisy)
    np.save(inputs / "floats.npy", noisy[1].astype(np.float32) / 255)  # one float image (H, W)
    out = tmp_path / "out"
    args = ["denoise", str(noisy_run), str(inputs / "a.png"), str(inputs / "batch.npy"), str(inputs / "floats.npy"),
            "--out", str(out)]
    assert main(args) == 0
    assert set(capsys.readouterr().out.split()) == {str(out / n) for n in ("a.png", "batch.npy", "floats.npy")}
    png = np.asarray(Image.open(out / "a.png"))
    batch, one = np.load(out / "batch.npy"), np.load(out / "floats.npy")
    assert png.shape == (28, 28) and batch.shape == (6, 28, 28) and batch.dtype == np.uint8
    assert one.shape == (28, 28) and one.dtype == np.float32 and 0 <= one.min() and one.max() <= 1
    # The same model on the same input gives the same result through every path.
    assert np.array_equal(png, batch[0]) and np.abs(one * 255 - batch[1]).max() <= 1
    model, _ = ckpt.load_model(noisy_run)
    assert np.array_equal(batch, denoise_array(model, Run.open(noisy_run).normalizer, noisy))
    with pytest.raises(AekitError, match="integer pixels 0..255"):  # [0, 1] floats would read as a black image
        denoise_array(model, Run.open(noisy_run).normalizer, noisy / 255.0)
    from aekit.apps.anomaly import anomaly_scores

    xt = torch.from_numpy(noisy[:2, None] / 255.0)  # float64 in model space: scored as float32
    assert anomaly_scores(model, xt, "mse").shape == (2,)
    for name in ("a.png", "batch.npy", "floats.npy"):
        mark = read_mark(out / name)
        assert mark["operation"] == "denoise" and mark["synthetic"] is True and mark["input"] == name
        assert mark["model_fingerprint"] == ckpt.fingerprint(noisy_run / "model.safetensors")
    # Nothing is overwritten without --force.
    before = (out / "a.png").read_bytes()
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert "--force" in err and "\n" not in err
    assert (out / "a.png").read_bytes() == before
    assert main([*args, "--force"]) == 0
    mine = (inputs / "a.png").read_bytes()  # results written over their own inputs: refused even with --force
    assert main(["denoise", str(noisy_run), str(inputs / "a.png"), "--out", str(inputs), "--force"]) == 1
    assert "is one of the inputs" in capsys.readouterr().err and (inputs / "a.png").read_bytes() == mine
    from aekit.apps.denoise import denoise_files

    assert denoise_files(noisy_run, str(inputs / "a.png"), tmp_path / "one") == [tmp_path / "one" / "a.png"]


@pytest.mark.parametrize("case", ["missing", "suffix", "overlap", "npy_size", "range", "rank", "clash", "out_is_file"])
def test_cli_refuses_bad_input_with_one_line(noisy_run, tmp_path, capsys, case):
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(good)
    out = tmp_path / "out"
    inputs = {"missing": [str(tmp_path / "nope.png")]}
    extra = ["--overlap", "28"] if case == "overlap" else []  # as large as the model's 28x28 tiles
    if case == "suffix":
        (tmp_path / "x.txt").write_text("hello")
        inputs[case] = [str(tmp_path / "x.txt")]
    elif case == "overlap":
        Image.fromarray(np.zeros((32, 30), np.uint8)).save(tmp_path / "big.png")
        inputs[case] = [str(tmp_path / "big.png")]
    elif case == "npy_size":
        np.save(tmp_path / "s.npy", np.zeros((3, 64, 64), np.uint8))
        inputs[case] = [str(tmp_path / "s.npy")]
    elif case == "range":
        np.save(tmp_path / "r.npy", np.full((2, 28, 28), 3.0, np.float32))
        inputs[case] = [str(tmp_path / "r.npy")]
    elif case == "rank":  # one row of numbers is not an image
        np.save(tmp_path / "oned.npy", np.zeros(100, np.uint8))
        inputs[case] = [str(tmp_path / "oned.npy")]
    elif case == "clash":
        (tmp_path / "sub").mkdir()
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "sub" / "good.png")
        inputs[case] = [str(good), str(tmp_path / "sub" / "good.png")]
    elif case == "out_is_file":
        out.write_text("")
        inputs[case] = [str(good)]
    assert main(["denoise", str(noisy_run), *inputs[case], "--out", str(out), *extra]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("aekit: error:") and "\n" not in err, err
    assert case != "rank" or "got shape (100,)" in err, err
    assert out.is_file() if case == "out_is_file" else not out.exists()  # nothing written, no folder, on a refusal


def test_an_ensemble_averages_its_runs_and_marks_every_model(noisy_run, mnist_npz, mnist, tmp_path, capsys):
    second = tmp_path / "second"
    assert main(["train", "--data", str(mnist_npz), "--out", str(second), "--noise", "gaussian", "--noise-strength",
                 "0.5", "--seed", "1", *FAST]) == 0
    noisy = _noisy(mnist.x_test[:8], seed=2)
    np.save(tmp_path / "noisy.npy", noisy)
    out = tmp_path / "out"
    assert main(["denoise", str(noisy_run), str(tmp_path / "noisy.npy"), "--ensemble", str(second),
                 "--out", str(out)]) == 0
    (m1, _), (m2, _) = ckpt.load_model(noisy_run), ckpt.load_model(second)
    norm = Run.open(noisy_run).normalizer
    got = np.load(out / "noisy.npy").astype(int)
    one, two = denoise_array(m1, norm, noisy).astype(int), denoise_array(m2, norm, noisy).astype(int)
    assert np.abs(one - two).max() > 10  # two different models ...
    assert np.abs(got - (one + two) / 2).max() <= 1  # ... and the ensemble is their mean (rounding apart)
    mark = read_mark(out / "noisy.npy")
    assert mark["model_fingerprint"] == ckpt.fingerprint(noisy_run / "model.safetensors")
    assert mark["ensemble"] == [ckpt.fingerprint(second / "model.safetensors")]
    # A run for other data is refused with one line, before anything is written.
    other = tmp_path / "digits"
    assert main(["train", "--dataset", "digits", "--out", str(other), *FAST]) == 0
    capsys.readouterr()
    assert main(["denoise", str(noisy_run), str(tmp_path / "noisy.npy"), "--ensemble", str(other),
                 "--out", str(tmp_path / "out2")]) == 1
    err = capsys.readouterr().err.strip()
    assert "other data" in err and "\n" not in err and not (tmp_path / "out2").exists()


def test_images_of_another_size_are_denoised_in_blended_tiles(noisy_run, mnist, tmp_path, capsys):
    model, _ = ckpt.load_model(noisy_run)
    norm = Run.open(noisy_run).normalizer
    clean = mnist.x_test[:4]
    noisy = _noisy(clean, seed=3)
    canvas = np.block([[noisy[0], noisy[1]], [noisy[2], noisy[3]]])  # 56x56: four noisy digits
    per_digit = denoise_array(model, norm, noisy)
    # Without overlap the tiles are exactly the four digits: the same result as denoising each digit alone.
    flush = denoise_image(model, norm, canvas, overlap=0)
    assert np.array_equal(flush, np.block([[per_digit[0], per_digit[1]], [per_digit[2], per_digit[3]]]))
    # With the default overlap (half a tile) every pixel is a blend of up to four tiles, most of them off-centre
    # digits; still far closer to the clean canvas than the noisy input is.
    blended = denoise_image(model, norm, canvas)
    target = np.block([[clean[0], clean[1]], [clean[2], clean[3]]]) / 255.0
    before, after = psnr(target, canvas / 255.0), psnr(target, blended / 255.0)
    assert blended.shape == canvas.shape and blended.dtype == np.uint8 and after > before + 2, (before, after)
    # Through the CLI: an odd-sized image and one smaller than the model, each written back at its own size, marked.
    Image.fromarray(canvas[:41, :50]).save(tmp_path / "wide.png")
    Image.fromarray(noisy[0][:20, :17]).save(tmp_path / "small.png")
    out = tmp_path / "out"
    assert main(["denoise", str(noisy_run), str(tmp_path / "wide.png"), str(tmp_path / "small.png"),
                 "--out", str(out), "--overlap", "7"]) == 0
    wide, small = np.asarray(Image.open(out / "wide.png")), np.asarray(Image.open(out / "small.png"))
    assert wide.shape == (41, 50) and small.shape == (20, 17)
    assert np.array_equal(wide, denoise_image(model, norm, canvas[:41, :50], overlap=7))
    assert read_mark(out / "wide.png")["operation"] == "denoise"


def test_the_figure_of_a_denoising_run_shows_its_noisy_inputs(noisy_run, tmp_path, monkeypatch):
    import aekit.apps.figures as figures
    from aekit.apps.reconstruct import reconstruction_png

    fig = reconstruction_png(noisy_run, n=4, out=tmp_path / "f.png")
    assert read_mark(fig)["rows"] == ["input", "noisy input (gaussian 0.5)", "denoised"]
    drawn = {}
    monkeypatch.setattr(figures, "reconstruction_figure", lambda x, y, *a, **k: drawn.update(x=x, y=y, **k))
    reconstruction_png(noisy_run, n=4, out=tmp_path / "g.png")
    clean, noisy, (label, denoised) = np.stack(drawn["x"]), np.stack(drawn["y"]), drawn["extra"][0]
    assert drawn["labels"] == ("input", "noisy input (gaussian 0.5)") and label == "denoised"
    assert psnr(clean / 255, noisy / 255) < 12  # the run's own noise (seeded: the same figure each time) ...
    model, _ = ckpt.load_model(noisy_run)  # ... and the model's output for it
    assert np.abs(np.stack(denoised) - denoise_array(model, Run.open(noisy_run).normalizer, noisy).astype(int)).max() <= 1


def test_a_grey_photo_comes_back_grey_from_a_colour_denoiser(tmp_path):
    from skimage import data

    (tmp_path / "colour").mkdir()
    for i, (y, x) in enumerate([(0, 0), (200, 200), (300, 100)]):
        Image.fromarray(data.astronaut()[y:y + 48, x:x + 48]).save(tmp_path / "colour" / f"a{i}.png")
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "colour"), "--patches", "16x16", "--preset", "fast", "--out", str(run),
                 *FAST]) == 0
    assert Run.open(run).model.config.input_shape == (3, 16, 16)
    Image.fromarray(data.camera()[100:140, 200:236]).save(tmp_path / "grey.png")
    assert main(["denoise", str(run), str(tmp_path / "grey.png"), "--out", str(tmp_path / "out")]) == 0
    with Image.open(tmp_path / "out" / "grey.png") as im:
        assert im.mode == "L" and im.size == (36, 40)
