"""The package's shape: layers that import downwards only (import-linter), and no overlong functions."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
from long_functions import long_functions  # noqa: E402


def _lint_copy(tmp_path: Path, edit=None) -> subprocess.CompletedProcess:
    """import-linter's verdict on a copy of aekit named ``aekitcopy`` (the installed aekit would shadow a copy of
    the same name), with ``edit(package_dir)`` applied first."""
    pkg = tmp_path / "aekitcopy"
    shutil.copytree(REPO / "aekit", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for f in pkg.rglob("*.py"):
        f.write_text(re.sub(r"\baekit\b(?=[. ])", "aekitcopy", f.read_text()))
    config = (REPO / ".importlinter").read_text().replace("root_package = aekit", "root_package = aekitcopy")
    (tmp_path / ".importlinter").write_text(re.sub(r"^    aekit$", "    aekitcopy", config, flags=re.M))
    if edit:
        edit(pkg)
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    return subprocess.run([lint, "--no-cache"], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})


def test_the_layers_contract_holds_and_catches_an_upward_import(tmp_path):
    if not shutil.which("lint-imports", path=str(Path(sys.executable).parent)) and not shutil.which("lint-imports"):
        pytest.fail("import-linter is not installed (it is in the test extra)")
    kept = _lint_copy(tmp_path / "clean")
    assert kept.returncode == 0, kept.stdout + kept.stderr

    def upward(pkg: Path) -> None:  # a model that reaches up into the CLI
        with open(pkg / "models" / "dense.py", "a") as f:
            f.write("\nfrom aekitcopy.cli import main  # noqa\n")

    broken = _lint_copy(tmp_path / "upward", upward)
    assert broken.returncode != 0
    assert "aekitcopy.models is not allowed to import aekitcopy.cli" in broken.stdout


def test_the_function_length_check_finds_long_functions(tmp_path):
    (tmp_path / "m.py").write_text("def short():\n    return 1\n\n\ndef long():\n" + "    x = 1\n" * 70)
    assert long_functions(tmp_path) == [f"{tmp_path / 'm.py'}:5: long is 71 lines"]
