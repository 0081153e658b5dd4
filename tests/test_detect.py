"""The detector: trained on a run's real images vs its swaps and reconstructions; scores files by pixels, flags
them at its threshold, and is evaluated on the same run, another swap run and other generators."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from aekit.apps.detect import train_detector
from aekit.apps.detect_data import jittered
from aekit.cli import main
from aekit.errors import AekitError
from aekit.metrics.reconstruction import auroc
from aekit.runs.run import Run


@pytest.fixture(scope="module")
def run_and_detector(mnist, tmp_path_factory):
    """A tiny swap run (MNIST vs inverted MNIST, 128 images each) and a detector trained on it."""
    folder = tmp_path_factory.mktemp("detect")
    np.savez(folder / "a.npz", x_train=mnist.x_train[:128], x_test=mnist.x_test[:16])
    np.savez(folder / "b.npz", x_train=255 - mnist.x_train[128:256], x_test=255 - mnist.x_test[16:32])
    run, det = folder / "run", folder / "det"
    assert main(["swap-train", "--domain", f"a={folder / 'a.npz'}", "--domain", f"b={folder / 'b.npz'}",
                 "--out", str(run), "--epochs", "1", "--set", "channels=[8,16]", "--set", "blocks_per_stage=1",
                 "--no-figure", "--no-progress"]) == 0
    assert main(["detect-train", str(run), "--out", str(det), "--max-per-domain", "100"]) == 0
    return run, det


def test_auroc_matches_its_definition():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = rng.normal(size=300) + y
    s[:40] = 0.25  # ties count half
    pos, neg = s[y == 1], s[y == 0]
    pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert auroc(y, s) == pytest.approx(pairs, abs=1e-12)
    assert auroc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0 and auroc([0, 1], [0.9, 0.1]) == 0.0
    with pytest.raises(ValueError):
        auroc([1, 1], [0.2, 0.3])


def test_a_jittered_copy_changes_every_decoder_and_nothing_else(run_and_detector):
    model = Run.open(run_and_detector[0]).model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    copy, again = jittered(model, 0.05, seed=1), jittered(model, 0.05, seed=1)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # the model itself is untouched
    changed = {k for k, v in copy.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(k.startswith("decoders.") for k in changed)
    assert {k.split(".")[1] for k in changed} == {"0", "1"}  # both identities' decoders
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in copy.state_dict().items())  # seeded
    w = "decoders.0." + next(k.split(".", 2)[2] for k in changed if k.endswith("weight"))
    spread = (copy.state_dict()[w] - before[w]).std() / before[w].std()
    assert 0.03 < float(spread) < 0.07  # noise of 5 % of each tensor's own spread


def test_detector_folder_and_scores_on_pixels_alone(run_and_detector, tmp_path, capsys):
    run, det = run_and_detector
    cfg = json.loads((det / "config.json").read_text())
    assert sorted(p.name for p in det.iterdir()) == ["config.json", "model.safetensors"]
    assert cfg["kind"] == "aekit-detector" and cfg["input_shape"] == [1, 28, 28]
    assert cfg["network"] == "ensemble" and [v["network"] for v in cfg["views"]] == ["spectral", *["residual-cnn"] * 3]
    assert [v.get("seed") for v in cfg["views"]] == [None, 0, 1, 2] and cfg["scale_size"] == 20
    assert cfg["threshold"] == 20 / 21  # too few held-out real images to tell 1 %: above all 20 in some view
    made = ("reconstruction", "swap-to-b", *(f"jittered{k}-{kind}" for k in (1, 2, 3)
                                            for kind in ("reconstruction", "swap-to-b")), "from-noisy", "code-mix")
    assert cfg["trained_on"] == {"real-a": 100, **{f"{kind}-from-a": 100 for kind in made},
                                 "real-b": 100, **{f"{kind.replace('-b', '-a')}-from-b": 100 for kind in made}}
    assert cfg["val_real"] == 20 and cfg["val_synthetic"] == 200  # 10% of each domain's images, with what they made
    assert 0.5 < cfg["val_auroc"] <= 1
    # Swaps written by aekit (marked) and the same pixels without the mark score the same.
    test = np.load(run.parent / "a.npz")["x_test"][:4]
    real = tmp_path / "real"
    real.mkdir()
    for i, im in enumerate(test):
        Image.fromarray(im).save(real / f"r{i}.png")
    assert main(["swap", str(run), "--to", "b", str(real), "--out", str(tmp_path / "fake")]) == 0
    stripped = tmp_path / "stripped"
    stripped.mkdir()
    for f in sorted((tmp_path / "fake").glob("*.png")):
        Image.fromarray(np.asarray(Image.open(f))).save(stripped / f.name)
    capsys.readouterr()
    assert main(["detect", str(det), str(tmp_path / "fake"), str(stripped), str(real), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    scores, threshold = found["scores"], found["threshold"]
    assert len(scores) == 12 and all(0 <= s <= 1 for s in scores.values()) and threshold == cfg["threshold"]
    assert found["synthetic"] == [f for f, s in scores.items() if s > threshold]
    for f in sorted((tmp_path / "fake").glob("*.png")):
        assert scores[str(f)] == scores[str(stripped / f.name)]
    assert main(["detect", str(det), str(real / "r0.png")]) == 0
    name, score, verdict = capsys.readouterr().out.strip().rsplit(" ", 2)
    assert name == f"{real / 'r0.png'}:" and 0 <= float(score) <= 1
    assert verdict == ("synthetic" if float(score) > threshold else "real")


def test_a_detector_for_jpeg_files_learns_from_resaves_and_each_kind_warns_of_the_other(
        run_and_detector, mnist, tmp_path, capsys, caplog):
    run, det = run_and_detector
    jdet = tmp_path / "jdet"
    assert main(["detect-train", str(run), "--out", str(jdet), "--max-per-domain", "60", "--epochs", "1",
                 "--jpeg"]) == 0
    jcfg, cfg = (json.loads((d / "config.json").read_text()) for d in (jdet, det))
    assert jcfg["jpeg"] is True and cfg["jpeg"] is False
    files = tmp_path / "files"
    files.mkdir()
    for i, im in enumerate(mnist.x_test[:3]):
        Image.fromarray(im).save(files / f"{i}.png")
    Image.fromarray(mnist.x_test[3]).save(files / "3.jpg", quality=90)
    Image.fromarray(mnist.x_test[4]).save(files / "4.png", format="JPEG")  # a JPEG by its bytes, not its name
    for detector, warned in ((det, "2 of 5 files are JPEG (3.jpg, ...)"), (jdet, "3 of 5 files are not JPEG")):
        caplog.clear(), capsys.readouterr()
        with caplog.at_level("WARNING", logger="aekit"):
            assert main(["detect", str(detector), str(files), "--json"]) == 0
        assert warned in caplog.text, caplog.text
        assert len(json.loads(capsys.readouterr().out)["scores"]) == 5
    caplog.clear()
    with caplog.at_level("WARNING", logger="aekit"):
        assert main(["detect", str(jdet), str(files / "3.jpg"), str(files / "4.png")]) == 0
    assert "JPEG" not in caplog.text  # files of the kind it learned from: nothing to say
    ref = tmp_path / "ref"
    ref.mkdir()
    for i, im in enumerate(mnist.x_test[100:200]):
        Image.fromarray(im).save(ref / f"{i:03d}.png")
    with caplog.at_level("WARNING", logger="aekit"):
        assert main(["detect", str(jdet), str(files / "3.jpg"), "--reference", str(ref)]) == 0
    assert "100 of 100 reference files are not JPEG" in caplog.text  # a threshold set on the other kind
    with pytest.raises(AekitError, match="JPEG re-saves"):
        train_detector(run, tmp_path / "nope", jpeg=True, augment=False, network="residual-cnn")
    assert not (tmp_path / "nope").exists()


def test_a_reference_of_real_images_sets_the_threshold(run_and_detector, mnist, tmp_path, capsys):
    _, det = run_and_detector
    ref, few = tmp_path / "ref", tmp_path / "few"
    ref.mkdir(), few.mkdir()
    for i, im in enumerate(mnist.x_test[100:220]):
        Image.fromarray(255 - im).save(ref / f"{i:03d}.png")  # real images of domain b
        if i < 99:
            Image.fromarray(255 - im).save(few / f"{i:03d}.png")
    capsys.readouterr()
    assert main(["detect", str(det), str(ref), "--json"]) == 0
    own = json.loads(capsys.readouterr().out)
    assert main(["detect", str(det), str(ref), "--reference", str(ref), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)  # the ensemble ranks among the reference: its own scores change
    ref_scores = np.array(list(found["scores"].values()))
    # the 120th of the reference's 120 scores (k = ceil(121 * 0.99)), each ranked among the other 119 (left out)
    assert found["threshold"] == pytest.approx(ref_scores.max() * 121 / 120) != own["threshold"]
    assert (ref_scores > found["threshold"]).mean() <= 0.01
    assert found["synthetic"] == [f for f, s in found["scores"].items() if s > found["threshold"]]
    assert not np.allclose(ref_scores, list(own["scores"].values()))
    assert main(["detect", str(det), str(ref / "000.png"), "--reference", str(few), "--reference", str(few)]) == 1
    err = capsys.readouterr().err  # the same images named twice count once
    assert err.startswith("aekit: error:") and "at least 100 real images" in err and "got 99" in err
    assert err.count("\n") == 1


def test_most_files_flagged_without_a_reference_is_worth_a_warning(run_and_detector, mnist, tmp_path, caplog):
    _, det = run_and_detector
    low = tmp_path / "low"  # the same detector, its threshold below every score: every file is flagged
    low.mkdir()
    for f in det.iterdir():
        (low / f.name).write_bytes(f.read_bytes())
    cfg = json.loads((low / "config.json").read_text())
    (low / "config.json").write_text(json.dumps({**cfg, "threshold": 1e-9}))
    files = tmp_path / "files"
    files.mkdir()
    for i, im in enumerate(mnist.x_test[300:420]):
        Image.fromarray(255 - im).save(files / f"{i:03d}.png")
    with caplog.at_level("WARNING", logger="aekit"):
        assert main(["detect", str(low), str(files)]) == 0
    assert "120 of 120 files score above the threshold" in caplog.text and "as a reference" in caplog.text
    for quiet in ([str(low), *map(str, sorted(files.iterdir())[:19])],  # too few files to tell
                  [str(low), str(files), "--reference", str(files)],  # the threshold is the reference's
                  [str(det), str(files)]):  # the detector's own threshold, on real images of the run's domain b
        caplog.clear()
        with caplog.at_level("WARNING", logger="aekit"):
            assert main(["detect", *quiet]) == 0
        assert "score above the threshold" not in caplog.text


def test_detector_errors_are_one_line(run_and_detector, tmp_path, capsys):
    run, det = run_and_detector
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "big.png")
    (tmp_path / "junk.png").write_bytes(b"not an image")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "model.safetensors").write_bytes(b"mine")
    cases = [["detect", str(tmp_path / "missing"), str(tmp_path / "big.png")],  # no detector
             ["detect", str(tmp_path), str(tmp_path / "big.png")],  # a folder without a config
             ["detect", str(run), str(tmp_path / "big.png")],  # a run folder, not a detector
             ["detect", str(tmp_path / "bad"), str(tmp_path / "big.png")],  # corrupt config
             ["detect", str(det), str(tmp_path / "nope.png")],  # missing input
             ["detect", str(det), str(tmp_path / "big.png")],  # wrong size
             ["detect", str(det), str(tmp_path / "junk.png")],  # not an image
             ["detect-train", str(tmp_path), "--out", str(tmp_path / "d1")],  # not a run
             ["detect-train", str(run), "--out", str(det)],  # exists: needs --force
             ["detect-train", str(run), "--out", str(tmp_path / "w")],  # holds the user's weights file
             ["detect-train", str(run), "--out", str(tmp_path / "d2"), "--network", "spectral", "--epochs", "3"],
             ["detect-train", str(run), "--out", str(tmp_path / "d3"), "--no-augment"],  # a residual-cnn setting
             ["detect-train", str(run), "--out", str(tmp_path / "d4"), "--network", "residual-cnn", "--no-augment",
              "--jpeg"]]  # --jpeg trains on re-saves
    for args in cases:
        capsys.readouterr()
        assert main(args) == 1, args
        err = capsys.readouterr().err
        assert err.startswith("aekit: error:") and err.count("\n") == 1, (args, err)
    assert (tmp_path / "w" / "model.safetensors").read_bytes() == b"mine"
    capsys.readouterr()
    assert main(["eval", str(det)]) == 1  # a detector is not a model run, and the error says what it is
    assert "is a swap detector" in capsys.readouterr().err
    assert main(["train", "--resume", str(run)]) == 0  # one run lifecycle: train --resume continues a swap run too
    assert "test MSE of own-domain reconstructions" in capsys.readouterr().out


def test_a_detector_for_a_plain_run_is_named_for_what_it_detects(mnist_npz, tmp_path, caplog):
    run = tmp_path / "dense"
    assert main(["train", "--data", str(mnist_npz), "--out", str(run), "--epochs", "1", "--no-eval",
                 "--no-progress"]) == 0
    with caplog.at_level("INFO", logger="aekit"):
        assert main(["detect-train", str(run), "--out", str(tmp_path / "det"), "--max-per-domain", "20",
                     "--epochs", "1", "--no-augment", "--network", "residual-cnn"]) == 0
    assert "synthetic-image detector for the outputs of dense (seed 0)" in caplog.text
    assert "swap detector" not in caplog.text
    cfg = json.loads((tmp_path / "det" / "config.json").read_text())
    assert cfg["augment"] is False and cfg["detects"] == "synthetic-image"
    assert cfg["trained_on"] == {"real-data": 20, "reconstruction-from-data": 20,
                                 **{f"jittered{k}-reconstruction-from-data": 20 for k in (1, 2, 3)},
                                 "from-noisy-from-data": 20,
                                 "code-mix-from-data": 20}
