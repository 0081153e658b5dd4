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


def shell_commands(text: str, title: str) -> list[list[str]]:
    """The ``aekit`` command lines of the ```sh blocks of one ## section, as argument lists (comments dropped)."""
    import shlex

    lines = [line for block in re.findall(r"```sh\n(.*?)```", _section(text, title), re.S)
             for line in block.splitlines() if line.startswith("aekit ")]
    return [shlex.split(line, comments=True)[1:] for line in lines]


def _smooth_images(rng: np.random.Generator, n: int, size: int = 96) -> np.ndarray:
    """Grey photos of smooth shapes: a few soft blobs on a gradient, uint8."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = []
    for _ in range(n):
        img = 0.3 + 0.3 * (rng.random() * yy + rng.random() * xx)
        for _ in range(4):
            cy, cx, r, a = rng.random(), rng.random(), 0.05 + 0.15 * rng.random(), rng.uniform(-0.3, 0.3)
            img = img + a * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))
        images.append(np.clip(img, 0, 1))
    return np.rint(np.stack(images) * 255).astype(np.uint8)


def test_the_readme_walk_through_for_your_own_photos_denoises_them(monkeypatch, tmp_path, capsys):
    from PIL import Image

    from aekit.cli import main

    commands = shell_commands(README.read_text(), "Your own data")
    photos = [c for c in commands if "my_photos/" in c or "noisy.png" in c]
    assert 1 <= len(photos) <= 5
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    (tmp_path / "my_photos").mkdir()
    for i, img in enumerate(_smooth_images(rng, 12)):
        Image.fromarray(img).save(tmp_path / "my_photos" / f"p{i:02d}.png")
    clean = _smooth_images(np.random.default_rng(1), 1, 128)[0].astype(np.float64)
    noisy = np.clip(np.rint(clean + rng.normal(0, 25, clean.shape)), 0, 255).astype(np.uint8)
    Image.fromarray(noisy).save(tmp_path / "noisy.png")
    for argv in photos:  # as written, but trained for 80 steps here instead of the preset's 1,500
        assert main(argv + (["--min-steps", "80", "--no-progress"] if argv[0] == "train" else [])) == 0, argv
    out = np.asarray(Image.open(tmp_path / "clean" / "noisy.png"), dtype=np.float64)
    error = lambda x: float(((x - clean) ** 2).mean())  # noqa: E731
    assert out.shape == clean.shape and error(out) < error(noisy), (error(out), error(noisy))


def test_the_readme_walk_through_for_your_own_table_ranks_the_planted_outliers_first(monkeypatch, tmp_path, capsys):
    from aekit.cli import main

    commands = shell_commands(README.read_text(), "Your own data")
    table = [c for c in commands if "my_table.csv" in c or "runs/table" in c]
    assert 1 <= len(table) <= 5
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    z = rng.normal(size=(300, 2))
    x = z @ rng.normal(size=(2, 8)) + 0.05 * rng.normal(size=(300, 8))
    planted = [7, 123, 250]
    x[planted] += rng.choice([-6.0, 6.0], size=(3, 8))
    rows = ["id," + ",".join(f"f{i}" for i in range(8)) + ",target"]
    rows += [f"row{i}," + ",".join(f"{v:.4f}" for v in x[i]) + f",{int(z[i, 0] > 0)}" for i in range(300)]
    (tmp_path / "my_table.csv").write_text("\n".join(rows) + "\n")
    outputs = {}
    for argv in table:
        capsys.readouterr()
        assert main(argv + (["--no-progress"] if argv[0] == "train" else [])) == 0, argv
        outputs[argv[0]] = capsys.readouterr().out
    ranked = [line.split()[1] for line in outputs["anomalies"].splitlines() if re.match(r"\s+\d+\s", line)]
    assert sorted(ranked[:3]) == sorted(f"row{i}" for i in planted), ranked[:5]
    assert "codes" in outputs["embed"] and (tmp_path / "codes.csv").is_file()
