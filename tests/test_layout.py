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


def test_no_function_in_aekit_is_over_60_lines():
    assert long_functions(REPO / "aekit") == []


def test_the_function_length_check_finds_long_functions(tmp_path):
    (tmp_path / "m.py").write_text("def short():\n    return 1\n\n\ndef long():\n" + "    x = 1\n" * 70)
    assert long_functions(tmp_path) == [f"{tmp_path / 'm.py'}:5: long is 71 lines"]


# Reading a run's config.json, hashing its weights and telling models apart by name belong to the runs and models
# packages: everything else asks a Run (``run.config``, ``run.fingerprint``, ``run.domains``) or the model itself.
RUN_INTERNALS = {
    "reads config.json": re.compile(r"config\.json\"|\bCONFIG\b|read_run_config|load_model\(|read_detector_files"),
    "hashes a weights file": re.compile(r"\bfingerprint\(|hashlib"),
    "branches on a model's name": re.compile(
        r"""(==|!=)\s*["'](dense|conv|vae|vq|compress|swap)["']|\[["']model["']\]"""),
}
OWNERS = ("runs", "models")
# the data package checks downloaded datasets against SHA-256 digests; storage checks each safetensors file's own
CHECKSUM_OWNERS = ("data", "storage.py")


def _offences(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        package = path.relative_to(root).parts[0]
        if package in OWNERS:
            continue
        for what, pattern in RUN_INTERNALS.items():
            if what == "hashes a weights file" and package in CHECKSUM_OWNERS:
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#", 1)[0]
                if pattern.search(code):
                    found.append(f"{path.relative_to(root)}:{n} {what}: {line.strip()}")
    return found


def test_only_runs_and_models_read_run_files_hash_weights_or_branch_on_model_names(tmp_path):
    assert _offences(REPO / "aekit") == []
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "bad.py").write_text('cfg = read("config.json")\nif cfg["model"] == "swap":\n    pass\n')
    assert [line.split(" ", 1)[1].split(":")[0] for line in _offences(tmp_path)] == [
        "reads config.json", "branches on a model's name"]


def test_every_app_entry_point_takes_a_run():
    import importlib
    import inspect

    checked = 0
    for path in sorted((REPO / "aekit" / "apps").glob("*.py")):
        module = importlib.import_module(f"aekit.apps.{path.stem}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ != module.__name__ or name.startswith("_"):
                continue
            params = list(inspect.signature(fn).parameters.values())
            if params and params[0].name == "run":
                assert "Run" in str(params[0].annotation), f"{module.__name__}.{name} takes run as {params[0].annotation}"
                checked += 1
    assert checked >= 15


MACHINE_PATH = re.compile(r"/(tmp|root|home)/")


def _machine_paths(files: list[Path]) -> list[str]:
    found = []
    for path in files:
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue  # binary files (weights, figures) hold no paths to read
        found += [f"{path}:{n}" for n, line in enumerate(text.splitlines(), 1) if MACHINE_PATH.search(line)]
    return found


def test_no_committed_file_names_a_machine_path(tmp_path):
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    assert _machine_paths([REPO / f for f in tracked.stdout.splitlines()]) == []
    planted = tmp_path / "result.json"
    planted.write_text('{"run": "/' + 'tmp/s4/cmp"}\n')  # split so that this file holds no such path itself
    assert _machine_paths([planted]) == [f"{planted}:1"]


DIARY = re.compile(r"\b(sessions?|issues?|work periods?)\s+#?\d+|\bthe issues?'s? targets?\b|\b(was|were) lent\b",
                   re.IGNORECASE)


def _diary_lines(files: list[Path]) -> list[str]:
    found = []
    for path in files:
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        found += [f"{path}:{n}" for n, line in enumerate(text.splitlines(), 1) if DIARY.search(line)]
    return found


def test_no_committed_file_keeps_a_diary_of_how_the_work_was_organised(tmp_path):
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    assert _diary_lines([REPO / f for f in tracked.stdout.splitlines()]) == []
    planted = tmp_path / "notes.md"
    planted.write_text("A probe run.\nSession " + "12: the GPU run " + "was" + " lent for an hour.\n")  # split: no hit here
    assert _diary_lines([planted]) == [f"{planted}:2"]
