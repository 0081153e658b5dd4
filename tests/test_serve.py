"""``aekit serve``: its pages in a real browser (Chromium through Playwright), its API over plain HTTP, and its limits.

One server for the module, on a free loopback port, over three tiny runs trained once: a dense run with a 32-number
code (its map is a PCA), one with a 2-number code (its map is the code itself) and a swap run.
"""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
import torch
from serving import only_local, pixels, png, post_image, request, running_server, snapshot, stroke

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from aekit.apps.drawing import prepare_drawing  # noqa: E402
from aekit.apps.latent_map import latent_map  # noqa: E402
from aekit.cli import main  # noqa: E402
from aekit.runs.provenance import read_mark  # noqa: E402
from aekit.runs.run import Run  # noqa: E402

TINY_SWAP = ["--set", "channels=[8,16]", "--set", "blocks_per_stage=1", "--code-size", "8", "--no-progress"]


@pytest.fixture(scope="module")
def runs(mnist, mnist_npz, tmp_path_factory):
    """Run folders by name: code32, code2 (a 2-D code) and swap (domains a: MNIST, b: scikit-learn's digits)."""
    from aekit.data import load_dataset

    root = tmp_path_factory.mktemp("serve-runs")
    fast = ["train", "--preset", "fast", "--data", str(mnist_npz), "--no-progress", "--no-eval"]
    assert main([*fast, "--out", str(root / "code32"), "--epochs", "1"]) == 0
    assert main([*fast, "--out", str(root / "code2"), "--epochs", "2", "--code-size", "2",
                 "--set", "code_activation=identity"]) == 0
    digits = load_dataset("digits", image_size=(28, 28))
    np.savez(root / "a.npz", x_train=mnist.x_train[:192], x_test=mnist.x_test[:32])
    np.savez(root / "b.npz", x_train=digits.x_train[:192], x_test=digits.x_test[:32])
    assert main(["swap-train", "--domain", f"a={root / 'a.npz'}", "--domain", f"b={root / 'b.npz'}",
                 "--out", str(root / "swap"), "--epochs", "1", "--no-figure", *TINY_SWAP]) == 0
    return {name: root / name for name in ("code32", "code2", "swap")}


@pytest.fixture(scope="module")
def server(runs):
    """The base URL of a server over the three runs, in a thread of this process; the run folders' files (sizes and
    times) as they were before it started, under ``server.before``."""
    with running_server(runs.values()) as url:
        yield url


def _reconstruction(run: Run, image: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(run.normalizer.transform(image[None]))
    return run.normalizer.inverse(run.reconstruct(x).clamp(0, 1).numpy())[0]


def test_a_stroke_on_the_canvas_is_reconstructed_as_the_run_reconstructs_the_prepared_drawing(page, server, runs):
    page.goto(server + "reconstruct")
    stroke(page)
    page.wait_for_selector("#results[data-state=done]")
    canvas = page.evaluate("document.getElementById('pad').toDataURL('image/png')")
    drawn = pixels(canvas)[..., :3]
    prepared = prepare_drawing(drawn, (1, 28, 28))
    assert prepared.max() == 255 and (prepared > 0).sum() > 20  # a real stroke, MNIST-sized
    for name in ("code32", "code2"):
        card = page.locator(f".result[data-run={name}]")
        shown_input = pixels(card.locator("img.input").get_attribute("src"))
        shown_output = pixels(card.locator("img.output").get_attribute("src"))
        assert np.array_equal(shown_input, prepared)
        expected = _reconstruction(Run.open(runs[name]), prepared)
        assert np.abs(shown_output.astype(int) - expected.astype(int)).max() <= 1
        assert "MSE" in card.inner_text() and "SSIM" in card.inner_text()
    only_local(page, server)


def _click_decoded(page, x: float, y: float) -> tuple[np.ndarray, float, float]:
    box = page.locator("#map").bounding_box()
    old = page.locator("#decoded").get_attribute("data-x") or ""
    page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])
    page.wait_for_function("old => (document.getElementById('decoded').dataset.x || '') !== old", arg=old)
    decoded = page.locator("#decoded")
    return pixels(decoded.get_attribute("src")), float(decoded.get_attribute("data-x")), \
        float(decoded.get_attribute("data-y"))


def test_a_click_on_the_latent_map_decodes_that_point(page, server, runs):
    page.goto(server + "map?run=code2")
    page.wait_for_selector("#map[data-ready=code2]")
    assert "the code itself" in page.inner_text("#projection")
    run = Run.open(runs["code2"])
    images = []
    for fx, fy in ((0.25, 0.3), (0.8, 0.75)):
        shown, x, y = _click_decoded(page, fx, fy)
        expected = run.normalizer.inverse(run.decode(torch.tensor([[x, y]])).clamp(0, 1).numpy())[0]
        assert np.abs(shown.astype(int) - expected.astype(int)).max() <= 1
        images.append(shown)
    assert np.abs(images[0].astype(int) - images[1].astype(int)).max() > 20
    only_local(page, server)


def test_a_wide_code_is_mapped_by_pca_and_the_page_says_so(page, server, runs):
    page.goto(server + "map?run=code32")
    page.wait_for_selector("#map[data-ready=code32]")
    assert "principal components" in page.inner_text("#projection")
    shown, x, y = _click_decoded(page, 0.5, 0.5)
    expected = latent_map(Run.open(runs["code32"])).decode_at([(x, y)])[0]
    assert np.abs(shown.astype(int) - expected.astype(int)).max() <= 1
    page.mouse.move(*_centre(page, "#map"))
    page.wait_for_function("() => document.getElementById('nearest').src.startsWith('data:')")
    assert "test image" in page.inner_text("#nearest-label")
    page.click("#set-a")
    page.mouse.move(*_centre(page, "#map", 0.2, 0.2))
    time.sleep(0.3)
    page.click("#set-b")
    page.wait_for_function("() => document.getElementById('between').src.startsWith('data:')")
    only_local(page, server)


def _centre(page, selector: str, fx: float = 0.5, fy: float = 0.5) -> tuple[float, float]:
    box = page.locator(selector).bounding_box()
    return box["x"] + fx * box["width"], box["y"] + fy * box["height"]


def test_a_text_file_upload_shows_an_error_and_the_server_keeps_serving(page, server, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image\n")
    page.goto(server + "reconstruct")
    page.set_input_files("#file", str(notes))
    page.wait_for_selector("#results[data-state=error]", state="attached")
    assert "not an image" in page.inner_text("#error")
    stroke(page)
    page.wait_for_selector("#results[data-state=done]")
    assert page.inner_text("#error") == ""
    only_local(page, server)


def test_a_swap_downloaded_from_the_page_carries_the_mark(page, server, runs, tmp_path, capsys):
    page.goto(server + "swap")
    page.wait_for_function("() => document.getElementById('to').value === 'b'")
    stroke(page)
    page.click("#go")
    page.wait_for_selector("#results[data-state=done]")
    with page.expect_download() as download:
        page.click("a.download-swap")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name.endswith("-a-to-b.png")
    mark = read_mark(path)
    assert mark["synthetic"] is True and mark["operation"] == "swap" and mark["to"] == "b"
    assert mark["model_fingerprint"] == Run.open(runs["swap"]).fingerprint
    assert main(["inspect", str(path)]) == 0 and '"synthetic": true' in capsys.readouterr().out
    only_local(page, server)


def test_other_hosts_are_refused(server):
    assert request(server, "GET", "/api/runs", headers={"Host": "attacker.example"})[0] == 400
    assert request(server, "GET", "/", headers={"Host": f"attacker.example:{server.port}"})[0] == 400
    assert request(server, "GET", "/api/runs", headers={"Host": f"localhost:{server.port}"})[0] == 200


def test_cross_site_posts_are_refused(server):
    digit = png(np.zeros((28, 28), np.uint8) + 255)
    for headers in ({"Origin": "http://attacker.example"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Sec-Fetch-Site": "same-site"}, {"Origin": "http://127.0.0.1:1"}):
        status, body = post_image(server, "/api/reconstruct", digit, headers=headers)
        assert status == 403 and b"cross-site" in body, headers
    same = {"Origin": f"http://127.0.0.1:{server.port}", "Sec-Fetch-Site": "same-origin"}
    assert post_image(server, "/api/reconstruct", digit, headers=same)[0] == 200


def test_wrong_uploads_are_refused_with_one_line(server):
    status, body = post_image(server, "/api/reconstruct", b"hello\n", name="notes.txt")
    assert status == 415 and "notes.txt is not an image" in json.loads(body)["error"]
    huge = png(np.zeros((4100, 4100), np.uint8))  # small as a file, too many pixels
    status, body = post_image(server, "/api/reconstruct", huge)
    assert status == 413 and "pixels" in json.loads(body)["error"]
    status, body = request(server, "POST", "/api/reconstruct", b"x" * 100, {"Content-Length": str(9 * 1024**2),
                                                                            "Content-Type": "multipart/form-data"})
    assert status == 413
    status, body = request(server, "POST", "/api/reconstruct", b"{}", {"Content-Type": "application/json"})
    assert status == 415


def test_an_unknown_run_is_a_404(server):
    for path in ("/api/map/nothing", "/api/map/nothing/decode?x=0&y=0", "/api/samples/nothing"):
        status, body = request(server, "GET", path)
        assert status == 404 and "nothing" in json.loads(body)["error"], path
    status, _ = post_image(server, "/api/swap", png(np.zeros((28, 28), np.uint8)), run="nothing", to="b")
    assert status == 404
    assert request(server, "GET", "/api/map/code2/decode?x=nan&y=0")[0] == 400


def test_concurrent_requests_all_get_answers(server):
    digit = png(np.eye(28, dtype=np.uint8) * 255)
    statuses: list[int] = []

    def client():
        for _ in range(5):
            statuses.append(post_image(server, "/api/reconstruct", digit)[0])

    clients = [threading.Thread(target=client) for _ in range(4)]
    for c in clients:
        c.start()
    for c in clients:
        c.join(60)
    assert statuses == [200] * 20


def test_a_port_in_use_is_one_line(server, runs, capsys):
    assert main(["serve", str(runs["code2"]), "--port", str(server.port)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"port {server.port} on 127.0.0.1 is in use" in err and "--port" in err


def test_the_run_folders_are_left_as_they_were(server, runs):
    """After the pages and API of every test above (and these, which make a map, samples and a swap): not one
    file in a run folder is new or changed."""
    assert request(server, "GET", "/api/map/code32")[0] == 200
    assert request(server, "GET", "/api/map/code32/interpolate?a=0&b=1&t=0.5")[0] == 200
    assert request(server, "GET", "/api/samples/code32")[0] == 422  # no prior: refused, nothing fitted and saved
    assert post_image(server, "/api/swap", png(np.eye(28, dtype=np.uint8) * 255), run="swap", **{"from": "a"},
                       to="b")[0] == 200
    assert snapshot(runs.values()) == server.before


def test_the_pca_map_and_its_inverse(runs):
    """A wide code's map is its first two principal components (as scikit-learn finds them); a point of the map
    goes back to the code whose projection it is, and a 2-D code is its own map."""
    from sklearn.decomposition import PCA

    m = latent_map(Run.open(runs["code32"]), n=200)
    assert m.points.shape == (200, 2) and m.codes.shape == (200, 32) and m.labels is not None
    pca = PCA(2).fit(m.codes)
    assert np.allclose(np.abs(m.points), np.abs(pca.transform(m.codes)), atol=1e-4)  # up to each axis's sign
    p = np.random.default_rng(0).normal(size=(5, 2)) * m.points.std(axis=0)
    codes = m.code_at(p)
    assert np.allclose((codes - m.mean) @ m.components.T, p, atol=1e-4)
    run2 = Run.open(runs["code2"])
    m2 = latent_map(run2, n=50)
    assert m2.components is None and np.array_equal(m2.code_at([(0.5, -1.0)]), np.float32([[0.5, -1.0]]))
    assert np.array_equal(m2.decode_at([(0.5, -1.0)]),
                          run2.normalizer.inverse(run2.decode(torch.tensor([[0.5, -1.0]])).clamp(0, 1).numpy()))
    assert m2.nearest(tuple(m2.points[7])) == 7 or np.allclose(m2.points[m2.nearest(tuple(m2.points[7]))], m2.points[7])
