"""Whole images of any size through a run trained on patches: anomalies scored by tile (with a heat map),
reconstructions stitched from tiles, one pooled code per image."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from aekit.apps.patch_runs import patch_size, to_model
from aekit.apps.tiles import tile_spots
from aekit.cli import main
from aekit.runs.provenance import read_mark
from aekit.runs.run import Run

FAST = ["--preset", "fast", "--epochs", "6", "--no-progress", "--no-eval"]


def _sheets(mnist, n: int, start: int = 0) -> list[np.ndarray]:
    """Sheets of 2x3 test digits, 56x84 pixels each."""
    d = mnist.x_test[start:start + 6 * n]
    return [np.block([[d[6 * i + c] for c in range(3)], [d[6 * i + 3 + c] for c in range(3)]]) for i in range(n)]


@pytest.fixture(scope="module")
def sheets(mnist, tmp_path_factory):
    """A folder of 30 digit sheets (56x84) and a run trained on 14x14 patches of them."""
    root = tmp_path_factory.mktemp("sheets")
    folder = root / "sheets"
    folder.mkdir()
    for i, sheet in enumerate(_sheets(mnist, 30)):
        Image.fromarray(sheet).save(folder / f"sheet{i:02d}.png")
    run = root / "run"
    assert main(["train", "--data", str(folder), "--patches", "14x14", "--out", str(run), *FAST]) == 0
    return folder, run


def test_anomalies_scores_whole_images_by_their_worst_tile(sheets, mnist, tmp_path, capsys):
    folder, run = sheets
    capsys.readouterr()
    assert main(["anomalies", str(run), str(folder), "-k", "3", "--json"]) == 0  # its own training images
    report = json.loads(capsys.readouterr().out)
    assert report["n_scored"] == 30 and report["score"] == "1-ssim" and "14x14 tile" in report["image_score"]
    # A clean sheet with one 14x14 square of noise among clean sheets: ranked first, and the map says where.
    test = tmp_path / "test"
    test.mkdir()
    for i, sheet in enumerate(_sheets(mnist, 6, start=300)):
        if i == 4:
            sheet = sheet.copy()
            sheet[28:42, 56:70] = np.random.default_rng(0).integers(0, 256, (14, 14))
        Image.fromarray(sheet).save(test / f"{'odd' if i == 4 else 'plain'}{i}.png")
    fig = tmp_path / "odd.png"
    assert main(["anomalies", str(run), str(test), "-k", "6", "--json", "--out", str(fig)]) == 0
    report = json.loads(capsys.readouterr().out)
    first = report["top"][0]
    assert first["input"] == "odd4.png" and first["worst_tile"] == [28, 56, 14, 14], report["top"]
    assert first["tiles"] == 4 * 6 and first["mean_tile_score"] < first["score"]
    assert read_mark(fig)["rows"] == ["input, tile scores", "reconstruction"]
    capsys.readouterr()
    assert main(["anomalies", str(run), str(test / "odd4.png")]) == 0  # one image file
    assert "worst tile at y=28, x=56" in capsys.readouterr().out


def test_reconstruct_shows_whole_images_stitched_from_tiles(sheets, tmp_path, monkeypatch):
    import aekit.apps.figures as figures
    from aekit.apps.reconstruct import reconstruction_png
    from aekit.metrics.reconstruction import psnr

    folder, run = sheets
    drawn = {}
    monkeypatch.setattr(figures, "reconstruction_figure", lambda originals, recon, *a, **k: drawn.update(
        x=originals, y=recon, title=k["title"]))
    reconstruction_png(run, n=3, out=tmp_path / "r.png")
    assert len(drawn["x"]) == 3 and all(im.shape == (56, 84) for im in drawn["x"] + drawn["y"])
    assert "14x14 tiles" in drawn["title"]
    assert psnr(np.stack(drawn["x"]) / 255, np.stack(drawn["y"]) / 255) > 13  # the digits, not a blur of a resize


def test_embed_gives_one_pooled_code_per_whole_image(sheets, tmp_path, capsys):
    folder, run = sheets
    capsys.readouterr()
    assert main(["embed", str(run), "--out", str(tmp_path / "codes.npz")]) == 0  # the run's own folder, all of it
    assert (f"30 codes of size 32 (all 30 images in {folder}, each the mean of its 14x14 tiles' codes)"
            in capsys.readouterr().out)
    saved = np.load(tmp_path / "codes.npz")
    assert saved["ids"][0] == "sheet00.png" and saved["codes"].shape == (30, 32)
    opened = Run.open(run)
    x = torch.from_numpy(to_model(opened, np.asarray(Image.open(folder / "sheet00.png"))))
    tiles = torch.stack([x[:, y:y + 14, c:c + 14] for y, c in tile_spots((56, 84), (14, 14))])
    assert len(tiles) == 24 and patch_size(opened) == (14, 14)
    assert np.allclose(saved["codes"][0], opened.encode(tiles).mean(0).numpy(), atol=1e-5)
