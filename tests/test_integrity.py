"""Integrity and safety of run folders: checksummed weights, NaN metrics refused, and output folders that hold only
what aekit writes."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import aekit
from aekit.apps.evaluate import evaluate_run
from aekit.cli import main
from aekit.errors import AekitError
from aekit.metrics.reconstruction import check_finite
from aekit.runs import Run
from aekit.runs import files as ckpt
from aekit.runs.train import resume_run
from aekit.storage import ChecksumMismatch, load_tensors, save_tensors, verify_checksum

FIXTURE = Path(__file__).parent / "fixtures" / "run-0.1.0"


@pytest.fixture
def old_run(tmp_path) -> Path:
    """A copy of a run folder written by aekit 0.1.0 (no checksums), its data path pointing at the copy's data."""
    shutil.copytree(FIXTURE, tmp_path / "old")
    run = tmp_path / "old" / "run"
    cfg = json.loads((run / "config.json").read_text())
    cfg["data"]["source"] = str(tmp_path / "old" / "digits.npy")
    (run / "config.json").write_text(json.dumps(cfg, indent=2))
    return run


@pytest.fixture
def sealed_run(old_run) -> Path:
    """The old run with its weights and checkpoint rewritten as this aekit writes them (checksums recorded)."""
    for name in (ckpt.WEIGHTS, ckpt.STATE):
        save_tensors(old_run / name, *load_tensors(old_run / name))
    return old_run


def flip_data_bytes(path: Path, count: int, seed: int = 0) -> None:
    """Invert ``count`` bytes of a safetensors file's tensor data (its header left whole)."""
    blob = bytearray(path.read_bytes())
    start = 8 + int.from_bytes(blob[:8], "little")
    for i in random.Random(seed).sample(range(start, len(blob)), min(count, len(blob) - start)):
        blob[i] ^= 0xFF
    path.write_bytes(bytes(blob))


def error_line(capsys) -> str:
    """The one line a failed command printed (and it printed nothing else)."""
    out = capsys.readouterr()
    err = out.err.strip().splitlines()
    assert len(err) == 1 and not out.out, out
    return err[0]


def test_a_safetensors_file_records_its_checksum_and_any_damage_is_refused(tmp_path):
    path = tmp_path / "t.safetensors"
    save_tensors(path, {"w": torch.arange(1000.0)}, {"lr": 0.001})
    assert verify_checksum(path) and load_tensors(path)[1] == {"lr": 0.001}
    good = path.read_bytes()
    flip_data_bytes(path, 1)
    with pytest.raises(ChecksumMismatch, match=f"^{path} is damaged"):
        load_tensors(path)
    path.write_bytes(good.replace(b'\\"lr\\": 0.001', b'\\"lr\\": 0.002'))  # the metadata is covered too
    assert path.read_bytes() != good
    with pytest.raises(ChecksumMismatch):
        load_tensors(path)
    save_file({"w": torch.arange(3.0)}, str(path))  # another tool's file, or an older aekit's: read unchecked
    assert not verify_checksum(path) and torch.equal(load_tensors(path)[0]["w"], torch.arange(3.0))


def test_damaged_weights_are_one_error_line_for_every_load_info_and_eval(sealed_run, capsys):
    weights = sealed_run / ckpt.WEIGHTS
    assert main(["info", str(sealed_run), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["weights"] == "ok" and info["checksum"] == "verified" and info["checkpoint"] == "checksum verified"
    flip_data_bytes(weights, 2000)
    with pytest.raises(ChecksumMismatch, match=f"{weights} is damaged"):
        _ = Run.open(sealed_run).model
    with pytest.raises(ChecksumMismatch):
        ckpt.load_model(sealed_run)
    assert main(["info", str(sealed_run), "--json"]) == 1
    info = json.loads(capsys.readouterr().out)
    assert info["weights"].startswith(f"unusable: {weights} is damaged") and info["checksum"] == "mismatch"
    assert main(["eval", str(sealed_run)]) == 1
    assert error_line(capsys).startswith(f"aekit: error: {weights} is damaged")


def test_a_damaged_checkpoint_is_refused_by_resume_and_reported_by_info(sealed_run, capsys):
    flip_data_bytes(sealed_run / ckpt.STATE, 10)
    with pytest.raises(ChecksumMismatch, match="checkpoint.safetensors is damaged"):
        resume_run(sealed_run, progress=False)
    assert main(["info", str(sealed_run), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["checkpoint"].startswith("unusable: ")


def test_an_old_run_without_checksums_opens_and_resuming_records_them(old_run, capsys):
    assert main(["info", str(old_run), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["weights"] == "ok" and info["checksum"] == "not recorded"
    assert info["checkpoint"] == "checksum not recorded"
    _ = Run.open(old_run).model  # loads, unchecked
    resume_run(old_run, progress=False)
    assert verify_checksum(old_run / ckpt.WEIGHTS) and verify_checksum(old_run / ckpt.STATE)


def test_a_nan_metric_is_an_error_not_a_result(old_run, capsys):
    tensors, _ = load_tensors(old_run / ckpt.WEIGHTS)
    tensors = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in tensors.items()}
    save_file(tensors, str(old_run / ckpt.WEIGHTS))  # damaged before checksums were recorded: it loads
    with pytest.raises(AekitError, match=f"^evaluating {old_run} gave test_bce=nan, test_mse=nan"):
        evaluate_run(old_run)
    assert main(["eval", str(old_run)]) == 1
    assert "there is no result" in error_line(capsys)


def test_check_finite_names_nested_entries_and_passes_finite_ones():
    assert check_finite({"a": 1.0, "n": 3, "d": {"x": 0.5}}, "it") == {"a": 1.0, "n": 3, "d": {"x": 0.5}}
    with pytest.raises(AekitError, match=r"^it gave d\.x=inf: "):
        check_finite({"a": 1.0, "d": {"x": float("inf")}}, "it")


def test_no_run_goes_into_the_root_or_home_folder_even_with_force(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for folder, name in [(Path(Path.cwd().anchor), "the root folder"), (home, "your home folder")]:
        for force in (False, True):
            with pytest.raises(AekitError, match=f"is {name}; a run goes into a folder of its own"):
                ckpt.check_run_dir(folder, force=force)
    assert not any(home.iterdir())
    ckpt.check_run_dir(home / "runs" / "mine")  # a folder inside it is fine


def test_a_folder_of_the_users_files_is_refused_by_every_command_that_writes_a_run(old_run, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg", "notes.txt"):
        (photos / name).write_text(name)
    data = old_run.parent / "digits.npy"
    assert main(["train", "--data", str(data), "--out", str(photos), "--force", "--epochs", "0.1", "--no-progress"]) == 1
    assert error_line(capsys) == (f"aekit: error: {photos} holds files that are not a run's (a.jpg, b.jpg, c.jpg and 2 "
                                  "more); a run goes into a new or empty folder, or replaces one (--force): choose "
                                  "another --out")
    model = aekit.build("dense", code_size=2, hidden=(8,))
    model.fit(np.random.default_rng(0).random((32, 4)), epochs=1, verbose=False)
    with pytest.raises(AekitError, match="not a run's"):
        model.save(photos, force=True)
    from aekit.runs.detector import prepare_detector_dir

    with pytest.raises(AekitError, match="holds files that are not a detector's"):
        prepare_detector_dir(photos, force=True)
    assert sorted(p.name for p in photos.iterdir()) == ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "notes.txt"]


def test_a_forced_replacement_replaces_every_file_of_the_old_run(old_run):
    (old_run / ckpt.SAMPLES).write_bytes(b"made by the old weights")
    model = aekit.build("dense", code_size=2, hidden=(8,))
    model.fit(np.random.default_rng(0).random((32, 4)), epochs=1, verbose=False)
    model.save(old_run, force=True)  # the old run's checkpoint, metrics and samples go with its weights
    assert sorted(p.name for p in old_run.iterdir()) == [ckpt.CONFIG, ckpt.WEIGHTS]


def test_unreadable_images_are_named_in_one_warning(tmp_path, caplog):
    from PIL import Image

    from aekit.data.images import read_images

    (tmp_path / "cats").mkdir()
    for i in range(2):
        Image.fromarray(np.full((4, 4), 60 * i, np.uint8)).save(tmp_path / "cats" / f"ok{i}.png")
    for name in ("b.png", "a.jpg", "c.png", "d.webp", "e.bmp"):
        (tmp_path / "cats" / name).write_text("not an image")
    with caplog.at_level("WARNING", logger="aekit"):
        arrays, _, _ = read_images(tmp_path)
    assert len(arrays) == 2 and len(caplog.records) == 1
    assert caplog.records[0].getMessage() == (
        f"skipped 5 of 7 image files in {tmp_path} that could not be read: cats/a.jpg, cats/b.png, cats/c.png "
        "and 2 more (with `verbose`, each one's reason is logged)")


def test_an_image_over_the_pixel_limit_is_one_clean_refusal_without_pillows_warning(old_run, tmp_path, capsys):
    import warnings

    from PIL import Image

    from aekit.apps.inputs import read_image
    from aekit.data.images import read_images

    bomb = tmp_path / "in" / "bomb.png"  # 100 megapixels (Pillow warns above 89): a 12 kB file
    bomb.parent.mkdir()
    Image.new("1", (10_000, 10_000)).save(bomb)
    Image.new("L", (4, 4)).save(tmp_path / "in" / "small.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        with pytest.raises(AekitError, match="bomb.png is too large: over aekit's limit of 64,000,000 pixels"):
            read_image(bomb, 1)
        assert len(read_images(tmp_path / "in")[0]) == 1  # skipped, and named in the warning
        assert main(["denoise", str(old_run), str(bomb), "--out", str(tmp_path / "out")]) == 1
    assert error_line(capsys) == f"aekit: error: {bomb} is too large: over aekit's limit of 64,000,000 pixels"


@pytest.mark.parametrize("argv, message", [
    (["train", "--image-size", "-5x5"], "argument --image-size: expected one argument; a value starting with '-' is "
                                        "written --image-size=VALUE (see aekit train --help)"),
    (["train", "--resume", "a", "--init", "b"], "argument --init: not allowed with argument --resume"),
])
def test_a_usage_error_is_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and err.startswith("aekit train: error: ") and message in err
