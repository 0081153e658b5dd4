"""``aekit report``: one self-contained HTML page per run (or comparing several) that Chromium renders with its
figures and without a single outside request; tables get per-column errors; markup in a run's config stays text."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from aekit.apps.report_figures import loss_series
from aekit.cli import main
from aekit.runs import Run

TINY = ["--epochs", "1", "--no-progress"]
INJECTION = '<img src=x onerror="document.title=\'injected\'"><script>document.title="injected"</script>'


@pytest.fixture(scope="module")
def seed_run(mnist_npz, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "seed"
    assert main(["train", "--preset", "seed", "--data", str(mnist_npz), "--out", str(run), "--val-fraction", "0.1",
                 *TINY]) == 0
    return run


@pytest.fixture(scope="module")
def vae_run(mnist_npz, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "vae"
    assert main(["train", "--model", "vae", "--code-size", "8", "--batch-size", "64", "--data", str(mnist_npz),
                 "--out", str(run), *TINY]) == 0
    return run


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    """A run on a CSV of scikit-learn's breast-cancer table (30 feature columns and a label column)."""
    from sklearn.datasets import load_breast_cancer

    cancer = load_breast_cancer()
    folder = tmp_path_factory.mktemp("table")
    with open(folder / "cancer.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*cancer.feature_names, "target"])
        w.writerows([*map(repr, map(float, row)), int(t)] for row, t in zip(cancer.data, cancer.target))
    assert main(["train", "--data", str(folder / "cancer.csv"), "--label-column", "target", "--code-size", "4",
                 "--out", str(folder / "run"), "--batch-size", "64", *TINY]) == 0
    return folder / "run"


def _report(tmp_path, *runs, name="report.html"):
    out = tmp_path / name
    assert main(["report", *map(str, runs), "--out", str(out)]) == 0
    return out


def _eval(run) -> dict:
    """The test metrics training wrote (``aekit.apps.evaluate.evaluate_run``'s, as the report computes them)."""
    return json.loads((run / "eval.json").read_text())


def _folder_state(folder):
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


def _render(page, out) -> dict:
    """Open the report in Chromium: what it requested, its figures (name, natural width), its text, a screenshot."""
    page.set_viewport_size({"width": 1100, "height": 900})
    page.goto(out.as_uri())
    page.wait_for_load_state("load")
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.dataset.figure, e.naturalWidth])")
    shot = np.asarray(Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("L"))
    return {"requested": list(page.requested), "images": images, "text": page.inner_text("body"), "shot": shot,
            "title": page.title()}


def _assert_offline(seen, out):
    assert seen["requested"][0] == out.as_uri()
    assert all(url.startswith(("file://", "data:")) for url in seen["requested"]), seen["requested"]
    assert [u for u in seen["requested"] if u.startswith("file://")] == [out.as_uri()]


def test_a_seed_run_gives_one_self_contained_page_with_its_figures(seed_run, tmp_path, page):
    before = _folder_state(seed_run)
    out = _report(tmp_path, seed_run)
    assert _folder_state(seed_run) == before  # nothing written into the run folder
    text = out.read_text()
    assert out.stat().st_size < 5_000_000
    assert "<script" not in text and not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    seen = _render(page, out)
    _assert_offline(seen, out)
    assert sorted(name for name, _ in seen["images"]) == ["curves", "map", "reconstructions"]
    assert all(width > 0 for _, width in seen["images"]), seen["images"]
    dark = (seen["shot"] < 128).mean()
    assert seen["shot"].shape[0] > 900 and 0.01 < dark < 0.9, dark  # drawn, and not one flat colour
    run = Run.open(seed_run)
    metrics = _eval(seed_run)
    assert run.fingerprint in seen["text"] and f"{sum(p.numel() for p in run.model.parameters()):,}" in seen["text"]
    assert f"{metrics['test_mse']:.6g}" in seen["text"] and f"{metrics['pca_mse']:.6g}" in seen["text"]
    assert "val_fraction" in seen["text"] and "no samples" in seen["text"]


def test_two_runs_give_one_comparison_page_with_both(seed_run, vae_run, tmp_path, page):
    out = _report(tmp_path, seed_run, vae_run)
    seen = _render(page, out)
    _assert_offline(seen, out)
    names = [name for name, _ in seen["images"]]
    assert names[0] == "sweep" and names.count("map") == 2 and names.count("reconstructions") == 2
    assert names.count("samples") == 1  # the VAE's prior; the plain autoencoder has none of its own
    assert all(width > 0 for _, width in seen["images"])
    rows = page.eval_on_selector_all("#comparison tbody tr", "rows => rows.map(r => r.innerText.split('\\t'))")
    assert [row[0] for row in rows] == ["1: seed", "2: vae"] and [row[3] for row in rows] == ["32", "8"]
    for row, run in zip(rows, (seed_run, vae_run)):
        metrics = _eval(run)
        assert row[6] == f"{metrics['test_mse']:.6g}" and row[7] == f"{metrics['pca_mse']:.6g}"
    assert page.locator("section#run-1 img[data-figure=samples]").count() == 0
    assert page.locator("section#run-2 img[data-figure=samples]").count() == 1


def test_a_table_run_shows_per_column_errors_and_no_image_grid(table_run, tmp_path, page):
    out = _report(tmp_path, table_run)
    seen = _render(page, out)
    _assert_offline(seen, out)
    assert sorted(name for name, _ in seen["images"]) == ["columns", "curves", "map"]
    assert all(width > 0 for _, width in seen["images"])
    metrics = _eval(table_run)
    page.click("summary")  # the table of every column, folded under its line
    cells = page.eval_on_selector_all("details tbody tr", "rows => rows.map(r => r.innerText.split('\\t'))")
    assert {c[0]: c[1] for c in cells} == {k: f"{v:.6g}" for k, v in metrics["test_mse_by_column"].items()}
    assert "PSNR" not in seen["text"]


def test_markup_in_a_run_config_is_shown_as_text(seed_run, tmp_path, page):
    run = tmp_path / "runs" / "marked"
    shutil.copytree(seed_run, run)
    config = json.loads((run / "config.json").read_text())
    config["data"]["origin"] = INJECTION
    (run / "config.json").write_text(json.dumps(config))
    out = _report(tmp_path, run)
    assert INJECTION not in out.read_text()
    seen = _render(page, out)
    _assert_offline(seen, out)  # the <img src=x> would have requested file:///.../x
    assert INJECTION in seen["text"] and seen["title"] == "aekit report: marked"
    assert page.locator("img:not([data-figure])").count() == 0 and page.locator("script").count() == 0


def test_a_report_replaces_nothing_without_force_and_stays_out_of_run_folders(seed_run, tmp_path, capsys):
    out = tmp_path / "r.html"
    out.write_text("mine")
    assert main(["report", str(seed_run), "--out", str(out)]) == 1
    assert "exists; pass --force" in capsys.readouterr().err and out.read_text() == "mine"
    assert main(["report", str(seed_run), "--out", str(seed_run / "r.html")]) == 1
    assert "inside the run folder" in capsys.readouterr().err and not (seed_run / "r.html").exists()
    assert main(["report", str(seed_run), "--out", str(tmp_path / "r.png")]) == 1
    assert "should be named .html" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nothing"), "--out", str(tmp_path / "n.html")]) == 1
    assert capsys.readouterr().err.startswith("aekit: error:")


def test_swap_runs_show_their_swaps_and_a_map_by_domain(mnist, tmp_path):
    from aekit.data import load_dataset

    digits = load_dataset("digits", image_size=(28, 28))
    np.savez(tmp_path / "a.npz", x_train=mnist.x_train[:128], x_test=mnist.x_test[:16])
    np.savez(tmp_path / "b.npz", x_train=digits.x_train[:128], x_test=digits.x_test[:16])
    run = tmp_path / "swap"
    assert main(["swap-train", "--domain", f"a={tmp_path / 'a.npz'}", "--domain", f"b={tmp_path / 'b.npz'}",
                 "--out", str(run), "--set", "channels=[8,16]", "--set", "blocks_per_stage=1", "--code-size", "8",
                 "--no-figure", *TINY]) == 0
    text = _report(tmp_path, run).read_text()
    assert re.findall(r'data-figure="(\w+)"', text) == ["curves", "swaps", "map"]
    assert "coloured by domain" in text and "own-domain reconstruction" in text


def test_loss_curves_keep_losses_and_drop_parts_equal_to_the_whole():
    history = [{"epoch": 1, "train_loss": 2.0, "train_recon": 2.0, "train_kl": 0.5, "train_kl_weight": 0.1,
                "val_loss": 3.0, "lr": 0.1}, {"epoch": 2, "train_loss": 1.0, "train_recon": 1.0, "train_kl": 0.2,
                                               "train_kl_weight": 0.2, "val_loss": 2.0, "lr": 0.05}]
    assert loss_series(history) == {"train_loss": [(1.0, 2.0), (2.0, 1.0)], "train_kl": [(1.0, 0.5), (2.0, 0.2)],
                                    "val_loss": [(1.0, 3.0), (2.0, 2.0)]}
