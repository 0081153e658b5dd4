"""Screenshots of `aekit serve`'s pages for the README, taken in the system's Chromium through Playwright:
docs/serve-reconstruct.png and docs/serve-map.png, and docs/serve-denoise.png, serve-compress.png, serve-swap.png
and serve-anomalies.png when a run of that kind is served.

    python tools/screenshots.py RUN [RUN ...] [--map RUN] [--out docs]

The drawing pages get a '7' drawn with the mouse; the map page (the run named by --map, else the first run with
a 2-D code, else the first run) gets a click and a hover; the anomalies page is given 12 MNIST test digits and 3
scikit-learn digits, scaled up to 28x28. Each PNG is reduced to 64 colours to stay small.
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aekit.serve.server import make_server  # noqa: E402

VIEWPORT = {"width": 1000, "height": 680}


def start(runs: list[str]):
    """A server over ``runs`` in a thread; (server, its base URL)."""
    server, sock = make_server(runs, port=0)
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{sock.getsockname()[1]}/"


def save(page, path: Path) -> Path:
    """The page's screenshot, in 64 colours."""
    shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    shot.quantize(colors=64).save(path, optimize=True)
    print(path, f"{path.stat().st_size:,} bytes")
    return path


def stroke(page, selector: str = "#pad") -> None:
    """A '7' drawn with the mouse."""
    box = page.locator(selector).bounding_box()
    x, y = box["x"], box["y"]
    page.mouse.move(x + 70, y + 60)
    page.mouse.down()
    page.mouse.move(x + 210, y + 60, steps=8)
    page.mouse.move(x + 120, y + 230, steps=12)
    page.mouse.up()


def drawn(page, url: str, path: str, out: Path, go: bool = False, ready: bool = True) -> None:
    """A page that takes a drawing: a '7', then its results (``ready``: the page says when its runs are loaded)."""
    page.goto(url + path)
    page.wait_for_selector("body[data-ready=yes]" if ready else "#pad")
    stroke(page)
    if go:
        page.click("#go")
    page.wait_for_selector("#results[data-state=done]")
    time.sleep(0.3)
    save(page, out)


def latent_map(page, url: str, run: str, out: Path) -> None:
    """The map page after a click and a hover."""
    page.goto(url + f"map?run={run}")
    page.wait_for_selector(f"#map[data-ready='{run}']")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + 0.3 * box["width"], box["y"] + 0.4 * box["height"])
    page.mouse.move(box["x"] + 0.6 * box["width"], box["y"] + 0.55 * box["height"])
    page.wait_for_function("() => document.getElementById('nearest').src.startsWith('data:')")
    time.sleep(0.5)
    save(page, out)


def odd_digits(folder: Path) -> list[str]:
    """12 MNIST test digits and 3 scikit-learn digits (8x8, scaled to 28x28) as PNG files in ``folder``."""
    from sklearn.datasets import load_digits

    from aekit.data import load_dataset

    mnist = load_dataset("mnist").x_test[:12].reshape(12, 28, 28)  # uint8
    small = load_digits().images[:3] / 16.0
    paths = []
    for i, image in enumerate(mnist):
        paths.append(folder / f"mnist-{i:02d}.png")
        Image.fromarray(image).save(paths[-1])
    for i, image in enumerate(small):
        paths.append(folder / f"sklearn-{i}.png")
        Image.fromarray((image * 255).astype(np.uint8)).resize((28, 28), Image.BICUBIC).save(paths[-1])
    return [str(p) for p in paths]


def anomalies(page, url: str, run: str, out: Path) -> None:
    """The anomalies page ranking MNIST digits and scikit-learn's digits."""
    page.goto(url + f"anomalies?run={run}")
    page.wait_for_selector("body[data-ready=yes]")
    with tempfile.TemporaryDirectory() as folder:
        page.set_input_files("#files", odd_digits(Path(folder)))
        page.wait_for_selector("#results[data-state=done]")
    save(page, out)


def first(served: list[dict], key: str) -> str | None:
    """The name of the first served run whose description has ``key`` set."""
    return next((r["name"] for r in served if r[key]), None)


def shoot(page, url: str, served: list[dict], map_run: str, out: Path) -> None:
    drawn(page, url, "reconstruct", out / "serve-reconstruct.png", ready=False)
    latent_map(page, url, map_run, out / "serve-map.png")
    for key, path in (("denoiser", "denoise"), ("compress", "compress")):
        if run := first(served, key):
            drawn(page, url, f"{path}?run={run}", out / f"serve-{path}.png")
    if run := first(served, "domains"):
        drawn(page, url, f"swap?run={run}", out / "serve-swap.png", go=True, ready=False)
    plain = [r["name"] for r in served if not r["table"] and not r["domains"] and r["input_shape"] == [1, 28, 28]]
    if plain:
        anomalies(page, url, plain[0], out / "serve-anomalies.png")


def main(argv=None) -> None:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--map", help="the run whose latent map to show")
    ap.add_argument("--out", default=str(ROOT / "docs"))
    a = ap.parse_args(argv)
    server, url = start(a.runs)
    served = server.config.app.state.served.describe()
    flat = [r["name"] for r in served if not r["table"] and not r["domains"]]
    map_run = a.map or next((r["name"] for r in served if r["code_size"] == 2), flat[0] if flat else served[0]["name"])
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
        page = browser.new_page(viewport=VIEWPORT)
        shoot(page, url, served, map_run, Path(a.out))
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()
