"""``aekit serve``'s denoise, compress and anomalies pages: in a real browser (Chromium through Playwright) and over
plain HTTP, each answer checked against what the library gives for the same pixels.

One server for the module over three tiny runs trained once: a denoiser (Gaussian noise 0.5), a compression run
(three quality levels) and a table run (a CSV).
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image
from serving import only_local, pixels, png, post_form, post_image, running_server, snapshot, stroke
from tiny import compress_train_args

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from aekit.apps.anomaly import anomalies_run  # noqa: E402
from aekit.apps.compress import compress_images, decompress_bytes, open_codec  # noqa: E402
from aekit.apps.denoise import denoise_array  # noqa: E402
from aekit.apps.drawing import prepare_drawing  # noqa: E402
from aekit.cli import main  # noqa: E402
from aekit.metrics.reconstruction import psnr  # noqa: E402
from aekit.runs.run import Run  # noqa: E402
from aekit.training.noise import corrupt  # noqa: E402

FAST = ["--preset", "fast", "--no-progress", "--no-eval"]


MIX = np.array([[1.0, 0.5, -1.0, 0.0, 2.0, 1.0], [0.0, 1.0, 1.0, -1.0, 0.5, -0.5]])


def _table(n: int, seed: int) -> np.ndarray:
    """Rows of 6 columns driven by 2 hidden factors, plus a little noise."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)) @ MIX + 0.05 * rng.normal(size=(n, 6))


def _csv(rows: np.ndarray, ids: bool = True) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow((["id"] if ids else []) + [f"c{j}" for j in range(rows.shape[1])])
    for i, row in enumerate(rows):
        w.writerow(([f"r{i}"] if ids else []) + [f"{v:.5f}" for v in row])
    return buf.getvalue().encode()


@pytest.fixture(scope="module")
def runs(mnist_npz, tmp_path_factory):
    """Run folders by name: denoiser, codec (a compression run) and table (rows of a CSV)."""
    root = tmp_path_factory.mktemp("serve-pages")
    assert main(["train", *FAST, "--data", str(mnist_npz), "--out", str(root / "denoiser"), "--epochs", "1",
                 "--noise", "gaussian", "--noise-strength", "0.5"]) == 0
    assert main(compress_train_args(mnist_npz, root / "codec")) == 0
    (root / "train.csv").write_bytes(_csv(_table(400, 0)))
    assert main(["train", "--data", str(root / "train.csv"), "--id-column", "id", "--code-size", "2", "--out",
                 str(root / "table"), "--epochs", "3", "--batch-size", "64", "--no-progress", "--no-eval"]) == 0
    return {name: root / name for name in ("denoiser", "codec", "table")}


@pytest.fixture(scope="module")
def server(runs):
    with running_server(runs.values()) as url:
        yield url


def _drawn(page) -> np.ndarray:
    return pixels(page.evaluate("document.getElementById('pad').toDataURL('image/png')"))[..., :3]


def _noisy(run: Run, clean: np.ndarray, kind: str, strength: float, seed: int) -> np.ndarray:
    x = torch.from_numpy(run.normalizer.transform(clean[None]))
    noisy = corrupt(x, kind, strength, torch.Generator().manual_seed(seed))
    return run.normalizer.inverse(noisy.clamp(0, 1).numpy())[0]


def test_the_denoise_page_cleans_the_noisy_drawing_as_the_library_does(page, server, runs):
    page.goto(server + "denoise")
    page.wait_for_selector("body[data-ready=yes]")
    assert page.input_value("#noise") == "gaussian" and float(page.input_value("#strength")) == 0.5
    stroke(page)
    page.wait_for_selector("#results[data-state=done]")
    run = Run.open(runs["denoiser"])
    clean = prepare_drawing(_drawn(page), (1, 28, 28))
    shown = {k: pixels(page.get_attribute(f"img.{k}", "src")) for k in ("clean", "noisy", "denoised")}
    seed = int(page.get_attribute("#results", "data-seed"))
    assert np.array_equal(shown["clean"], clean)
    assert np.array_equal(shown["noisy"], _noisy(run, clean, "gaussian", 0.5, seed))  # the noise made again
    expected = denoise_array(run.model, run.normalizer, shown["noisy"][None])[0]
    assert np.abs(shown["denoised"].astype(int) - expected.astype(int)).max() <= 1
    text = page.inner_text("#results")
    before, after = psnr(clean[None] / 255, shown["noisy"][None] / 255), psnr(clean[None] / 255, expected[None] / 255)
    assert f"PSNR {before:.2f} dB" in text and f"PSNR {after:.2f} dB" in text
    page.select_option("#noise", "salt_pepper")  # another kind: sent again, with new noise
    page.wait_for_function("() => document.querySelector('#results[data-state=done] img.noisy') && "
                           "document.querySelector('img.noisy').closest('.result').textContent.includes('salt')")
    only_local(page, server)


def test_denoise_over_http_reproduces_a_seeded_noise_of_every_kind(server, runs):
    run = Run.open(runs["denoiser"])
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255
    for kind in ("gaussian", "salt_pepper", "mask"):
        status, body = post_image(server, "/api/denoise", png(digit), run="denoiser", noise=kind, strength="0.3",
                                  seed="7")
        assert status == 200, body
        r = json.loads(body)
        assert r["seed"] == 7 and np.array_equal(pixels(r["noisy"]), _noisy(run, digit, kind, 0.3, 7))
        assert r["psnr_noisy"] == pytest.approx(psnr(digit[None] / 255, pixels(r["noisy"])[None] / 255))
    for fields, status in (({"noise": "blur", "strength": "0.3"}, 400), ({"noise": "gaussian", "strength": "2"}, 400),
                           ({"noise": "gaussian", "strength": "nan"}, 400), ({"noise": "gaussian"}, 400)):
        assert post_image(server, "/api/denoise", png(digit), run="denoiser", **fields)[0] == status, fields
    status, body = post_image(server, "/api/denoise", png(digit), run="codec", noise="gaussian", strength="0.5")
    assert status == 422 and "not trained to denoise" in json.loads(body)["error"]
    assert post_image(server, "/api/denoise", png(digit), run="nothing", noise="gaussian", strength="0.5")[0] == 404


def test_the_compress_page_shows_the_librarys_files_beside_jpeg_and_webp(page, server, runs):
    page.goto(server + "compress")
    page.wait_for_selector("body[data-ready=yes]")
    stroke(page)
    page.wait_for_selector("#results[data-state=done]")
    picture = prepare_drawing(_drawn(page), (1, 28, 28))
    codec = open_codec(runs["codec"])
    rows = page.locator("#results tr")
    assert rows.count() == codec.model.levels == 3
    for level in range(3):
        row = page.locator(f"#results tr[data-level='{level}']")
        data = compress_images(codec, [picture], level)[0]
        shown = row.locator(".result:has(img.aek)")
        assert int(shown.get_attribute("data-bytes")) == len(data) and f"{len(data)} bytes" in shown.inner_text()
        decoded = pixels(row.locator("img.aek").get_attribute("src"))
        assert np.array_equal(decoded, decompress_bytes(codec, data))
        for fmt, name in (("jpeg", "JPEG"), ("webp", "WebP")):
            cell = row.locator(f".result:has(img.{fmt})")
            assert int(cell.get_attribute("data-bytes")) > 0 and f"{name} quality" in cell.inner_text()
    only_local(page, server)


def _pillow(image: np.ndarray, fmt: str, quality: int) -> bytes:
    buf = io.BytesIO()
    options = {"optimize": True} if fmt == "JPEG" else {"method": 6}
    Image.fromarray(image).save(buf, format=fmt, quality=quality, **options)
    return buf.getvalue()


def test_compress_over_http_matches_the_library_and_picks_the_highest_quality_that_fits(server, runs, mnist):
    upload = np.asarray(Image.fromarray(mnist.x_test[3]).resize((56, 56)), dtype=np.uint8)  # resized to 28x28
    status, body = post_image(server, "/api/compress", png(upload), run="codec")
    assert status == 200, body
    r = json.loads(body)
    picture = pixels(r["input"])
    assert picture.shape == (28, 28) and r["coding"] == "whole"
    codec = open_codec(runs["codec"])
    for level in r["levels"]:
        data = compress_images(codec, [picture], level["level"])[0]
        assert level["bytes"] == len(data) and np.array_equal(pixels(level["image"]), decompress_bytes(codec, data))
        for fmt, qualities in (("JPEG", range(1, 96)), ("WEBP", range(0, 101))):
            pick = level[fmt.lower()]
            sizes = {q: len(_pillow(picture, fmt, q)) for q in qualities}
            assert sizes[pick["quality"]] == pick["bytes"]
            if pick["fits"]:  # the highest quality whose file is no larger than the .aek file
                assert pick["bytes"] <= len(data) and all(sizes[q] > len(data) for q in qualities
                                                          if q > pick["quality"])
            else:  # none is: the smallest file
                assert min(sizes.values()) == pick["bytes"] > len(data)
    status, body = post_image(server, "/api/compress", png(upload), run="denoiser")
    assert status == 422 and "not a compression run" in json.loads(body)["error"]
    assert post_image(server, "/api/compress", b"text\n", name="notes.txt", run="codec")[0] == 415


def test_jpeg_and_webp_beside_a_file_take_the_highest_quality_that_is_no_larger():
    from aekit.serve.compress import at_most, pillow_sizes

    assert at_most({95: 500, 90: 300, 80: 320, 70: 250}, 310) == (90, True)  # sizes need not grow with quality
    assert at_most({95: 500, 90: 300, 80: 320, 70: 250}, 249) == (70, False)  # none fits: the smallest file
    assert at_most({3: 90, 2: 90, 1: 95}, 80) == (3, False)
    y, x = np.mgrid[0:48, 0:48]
    image = np.stack([x * 5, y * 5, (x * y) % 256], axis=-1).astype(np.uint8)
    for fmt in ("jpeg", "webp"):
        sizes = pillow_sizes(image, fmt)
        limit = sizes[50]
        q, fits = at_most(sizes, limit)
        assert fits and q >= 50 and sizes[q] <= limit and all(size > limit for p, size in sizes.items() if p > q)


def _digits_with_an_outlier(mnist) -> list[tuple[str, np.ndarray]]:
    """Seven test digits and, fifth, a negative: dark ink on white, as a scan nobody inverted."""
    images = [(f"digit{i}.png", mnist.x_test[i]) for i in range(7)]
    images.insert(4, ("negative.png", 255 - mnist.x_test[7]))
    return images


def test_the_anomalies_page_ranks_uploads_as_the_library_does(page, server, runs, mnist, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    images = _digits_with_an_outlier(mnist)
    for name, image in images:
        Image.fromarray(image).save(folder / name)
    page.goto(server + "anomalies?run=denoiser")
    page.wait_for_selector("body[data-ready=yes]")
    page.set_input_files("#files", [str(folder / name) for name, _ in images])
    page.wait_for_selector("#results[data-state=done]")
    shown = page.eval_on_selector_all("#results tr", "rows => rows.map(r => [r.dataset.name, +r.dataset.score])")
    report = anomalies_run(runs["denoiser"], str(folder), top=len(images))
    assert [name for name, _ in shown] == [row["input"] for row in report["top"]]
    assert np.allclose([s for _, s in shown], [row["score"] for row in report["top"]], rtol=1e-6)
    assert shown[0][0] == "negative.png" and report["score"] == "1-ssim" in page.inner_text("#summary")
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image\n")
    page.set_input_files("#files", str(notes))
    page.wait_for_selector("#results[data-state=error]", state="attached")
    assert "notes.txt is not an image" in page.inner_text("#error")
    only_local(page, server)


def test_the_anomalies_page_ranks_the_rows_of_a_csv_as_the_library_does(page, server, runs, tmp_path):
    rows = _table(40, 1)
    rows[17] = [4.0, -4.0, 4.0, 4.0, -4.0, 4.0]  # planted: far from the two factors' plane
    path = tmp_path / "new.csv"
    path.write_bytes(_csv(rows))
    page.goto(server + "anomalies?run=table")
    page.wait_for_selector("body[data-ready=yes]")
    page.set_input_files("#files", str(path))
    page.wait_for_selector("#results[data-state=done]")
    shown = page.eval_on_selector_all("#results tr", "rows => rows.map(r => [r.dataset.name, +r.dataset.score])")
    report = anomalies_run(runs["table"], str(path), top=len(rows))
    assert report["score"] == "mse" and [n for n, _ in shown] == [str(row["input"]) for row in report["top"]]
    assert np.allclose([s for _, s in shown], [row["score"] for row in report["top"]], rtol=1e-6)
    assert shown[0][0] == "r17"
    only_local(page, server)


def test_anomaly_uploads_are_bounded_and_typed(server, mnist):
    digit = png(mnist.x_test[0])
    status, body = post_form(server, "/api/anomalies", {"run": "denoiser"}, [("files", f"{i}.png", digit)
                                                                               for i in range(65)])
    assert status == 413 and "at most 64 files" in json.loads(body)["error"]
    huge = png(np.zeros((3000, 3000), np.uint8))  # 9 million pixels each: two pass the limit together
    status, body = post_form(server, "/api/anomalies", {"run": "denoiser"}, [("files", "a.png", huge),
                                                                               ("files", "b.png", huge)])
    assert status == 413 and "pixels" in json.loads(body)["error"]
    status, body = post_form(server, "/api/anomalies", {"run": "table"}, {"files": ("digit.png", digit)})
    assert status == 415 and "CSV" in json.loads(body)["error"]
    status, body = post_form(server, "/api/anomalies", {"run": "table"}, {"files": ("x.csv", b"\xff\xfe\x00bin")})
    assert status == 415 and "not a CSV" in json.loads(body)["error"]
    many = b"c0,c1,c2,c3,c4,c5\n" + b"1,2,3,4,5,6\n" * 10_001
    status, body = post_form(server, "/api/anomalies", {"run": "table"}, {"files": ("many.csv", many)})
    assert status == 413 and "10,000" in json.loads(body)["error"]
    status, body = post_form(server, "/api/anomalies", {"run": "table"}, {"files": ("short.csv", b"id,c0\nr1,1\n")})
    assert status == 422 and "short.csv" in json.loads(body)["error"] and "upload.csv" not in body.decode()
    status, body = post_form(server, "/api/anomalies", {"run": "nothing"}, {"files": ("d.png", digit)})
    assert status == 404


def test_the_pages_leave_the_run_folders_as_they_were(server, runs):
    assert snapshot(runs.values()) == server.before
