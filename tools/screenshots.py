"""Screenshots of `aekit serve`'s pages for the README: docs/serve-reconstruct.png and docs/serve-map.png (and
docs/serve-swap.png when a swap run is served), taken in the system's Chromium through Playwright.

    python tools/screenshots.py RUN [RUN ...] [--map RUN] [--out docs]

The reconstruct page gets a '7' drawn with the mouse; the map page (the run named by --map, else the first run with
a 2-D code, else the first run) gets a click and a hover. Each PNG is reduced to 64 colours to stay small.
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import threading
import time
from pathlib import Path

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


def shoot(page, url: str, map_run: str, swap_run: str | None, out: Path) -> None:
    page.goto(url + "reconstruct")
    stroke(page)
    page.wait_for_selector("#results[data-state=done]")
    save(page, out / "serve-reconstruct.png")
    page.goto(url + f"map?run={map_run}")
    page.wait_for_selector(f"#map[data-ready='{map_run}']")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + 0.3 * box["width"], box["y"] + 0.4 * box["height"])
    page.mouse.move(box["x"] + 0.6 * box["width"], box["y"] + 0.55 * box["height"])
    page.wait_for_function("() => document.getElementById('nearest').src.startsWith('data:')")
    time.sleep(0.5)
    save(page, out / "serve-map.png")
    if swap_run:
        page.goto(url + "swap")
        stroke(page)
        page.click("#go")
        page.wait_for_selector("#results[data-state=done]")
        save(page, out / "serve-swap.png")


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
    swap_run = next((r["name"] for r in served if r["domains"]), None)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
        page = browser.new_page(viewport=VIEWPORT)
        shoot(page, url, map_run, swap_run, Path(a.out))
        browser.close()
    server.should_exit = True


if __name__ == "__main__":
    main()
