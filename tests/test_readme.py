"""The README's front door cannot drift from the code: its Python API blocks run as written, on a slice of MNIST."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parent.parent / "README.md"


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else None]


def python_blocks(text: str, title: str) -> list[str]:
    """The ```python blocks of one ## section of a markdown text."""
    return re.findall(r"```python\n(.*?)```", _section(text, title), re.S)


def test_python_blocks_are_found():
    text = "# x\n## A\n```python\nprint(1)\n```\n## B\n```python\nprint(2)\n```\n"
    assert python_blocks(text, "A") == ["print(1)\n"]


def test_the_readme_python_api_runs_as_written(mnist, monkeypatch, tmp_path):
    import aekit
    from aekit.data import Dataset

    blocks = python_blocks(README.read_text(), "The Python API")
    assert len(blocks) >= 3
    small = Dataset("mnist", mnist.x_train[:1000], mnist.y_train[:1000], mnist.x_test[:200], mnist.y_test[:200],
                    mnist.kind, mnist.source)
    monkeypatch.setattr(aekit, "load_dataset", lambda *a, **k: small)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    for i, block in enumerate(blocks):  # one shared namespace, as in a notebook; tracebacks name the block
        exec(compile(block, f"README.md, Python API block {i + 1}", "exec"), scope)  # noqa: S102 - README's code
    assert scope["codes"].shape == (200, 32) and scope["digits"].shape == (200, 28, 28)
    assert scope["xy"].shape == (1000, 2) and set(np.unique(scope["flags"])) <= {-1, 1}
    assert (tmp_path / "digits.png").is_file()


def test_the_first_screen_says_what_aekit_is_and_how_to_start():
    first = "\n".join(README.read_text().splitlines()[:40])
    assert "autoencoder" in first.lower() and "](docs/seed.png)" in first
    assert (README.parent / "docs" / "seed.png").is_file()
    for command in ("pip install", "make demo", "make test"):
        assert command in first, command
