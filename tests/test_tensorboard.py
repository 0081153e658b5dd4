"""`aekit train --tensorboard`: the log read back with TensorBoard's own event reader and projector files."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from aekit import storage
from aekit.cli import main
from aekit.runs import Run
from aekit.runs import files as ckpt

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCALARS = ("train/loss", "validation/loss", "learning_rate", "samples_per_s")


def _train_args(data, out, epochs: str = "2") -> list[str]:
    return ["train", "--preset", "fast", "--data", str(data), "--out", str(out), "--epochs", epochs,
            "--val-fraction", "0.1", "--no-progress", "--no-eval"]


def _events(run: Path) -> EventAccumulator:
    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def _steps(acc: EventAccumulator, tag: str) -> list[int]:
    return [e.step for e in acc.Scalars(tag)]


@pytest.fixture(scope="module")
def logged(mnist_npz, tmp_path_factory):
    """A two-epoch run of the fast recipe on 1,024 digits, logged to TensorBoard."""
    run = tmp_path_factory.mktemp("tb") / "run"
    assert main(_train_args(mnist_npz, run) + ["--tensorboard"]) == 0
    return run


def test_scalars_read_back_one_finite_value_per_epoch_as_in_metrics(logged):
    acc = _events(logged)
    rows = ckpt.read_metrics(logged)
    assert set(SCALARS) <= set(acc.Tags()["scalars"])
    for tag in SCALARS:
        values = [e.value for e in acc.Scalars(tag)]
        assert _steps(acc, tag) == [1, 2] and all(math.isfinite(v) for v in values), tag
    assert [e.value for e in acc.Scalars("train/loss")] == pytest.approx([r["train_loss"] for r in rows])
    assert [e.value for e in acc.Scalars("validation/loss")] == pytest.approx([r["val_loss"] for r in rows])
    assert [e.value for e in acc.Scalars("learning_rate")] == pytest.approx([r["lr"] for r in rows])
    assert all(e.value > 100 for e in acc.Scalars("samples_per_s"))  # images a second, not seconds


def test_reconstructions_are_logged_every_epoch(logged):
    acc = _events(logged)
    assert "reconstructions" in acc.Tags()["images"]
    images = acc.Images("reconstructions")
    assert [e.step for e in images] == [1, 2]
    assert (images[0].height, images[0].width) == (2 * 28, 8 * 28)  # 8 test digits over their reconstructions
    assert images[0].encoded_image_string != images[1].encoded_image_string  # the model changed between epochs


def test_the_projector_gets_every_test_code_with_its_label_and_image(logged, mnist):
    from PIL import Image

    board = logged / "tensorboard"
    config = (board / "projector_config.pbtxt").read_text()
    assert 'tensor_name: "test_codes:00002"' in config and 'tensor_path: "00002/test_codes/tensors.tsv"' in config
    assert 'metadata_path: "00002/test_codes/metadata.tsv"' in config
    assert 'image_path: "00002/test_codes/sprite.png"' in config and "single_image_dim: 28" in config
    folder = board / "00002" / "test_codes"
    codes = np.loadtxt(folder / "tensors.tsv", delimiter="\t", dtype=np.float32)
    run = Run.open(logged)
    x_test = torch.from_numpy(run.normalizer.transform(mnist.x_test[:256]))
    assert codes.shape == (256, run.model.config.code_size)
    np.testing.assert_allclose(codes, run.encode(x_test).numpy(), atol=1e-5)  # the trained model's codes
    assert (folder / "metadata.tsv").read_text().split() == [str(v) for v in mnist.y_test[:256]]
    with Image.open(folder / "sprite.png") as sprite:
        assert sprite.size == (16 * 28, 16 * 28)  # 256 thumbnails, 16 a side


def test_the_setting_is_recorded_for_resume_and_the_folder_belongs_to_the_run(logged):
    assert ckpt.read_run_config(logged)["train"]["tensorboard"] is True
    assert main(["train", "--resume", str(logged), "--no-eval"]) == 0  # finished: a second embedding, no clash
    assert main(["info", str(logged)]) == 0


class Stop(Exception):
    """Stands in for a kill."""


def test_resume_appends_to_the_log_dropping_what_a_killed_run_logged_after_its_checkpoint(mnist_npz, tmp_path,
                                                                                          monkeypatch):
    save = storage.save_tensors

    def die_at_the_last_checkpoint(path, tensors, meta=None):
        if meta is not None and meta["epoch"] == 2:  # epoch 2 is logged; its checkpoint is never written
            raise Stop
        save(path, tensors, meta)

    monkeypatch.setattr(storage, "save_tensors", die_at_the_last_checkpoint)
    run = tmp_path / "run"
    assert main(_train_args(mnist_npz, run) + ["--tensorboard"]) == 1
    monkeypatch.undo()
    assert _steps(_events(run), "train/loss") == [1, 2] and not (run / "tensorboard" / "00002").exists()
    assert main(["train", "--resume", str(run), "--no-eval"]) == 0
    acc = _events(run)
    assert len(list((run / "tensorboard").glob("events.out.tfevents.*"))) == 2  # one log per process, read as one
    for tag in SCALARS:
        assert _steps(acc, tag) == [1, 2], tag  # epoch 2 once: the killed run's record of it purged
    assert [e.value for e in acc.Scalars("train/loss")] == pytest.approx(
        [r["train_loss"] for r in ckpt.read_metrics(run)])
    assert (run / "tensorboard" / "00002" / "test_codes" / "tensors.tsv").is_file()


def test_a_run_that_fails_before_its_first_checkpoint_leaves_no_folder_log_included(mnist_npz, tmp_path,
                                                                                   monkeypatch):
    save = storage.save_tensors

    def die_at_the_first_checkpoint(path, tensors, meta=None):
        if meta is not None:
            raise Stop
        save(path, tensors, meta)

    monkeypatch.setattr(storage, "save_tensors", die_at_the_first_checkpoint)
    assert main(_train_args(mnist_npz, tmp_path / "run") + ["--tensorboard"]) == 1
    assert not (tmp_path / "run").exists()  # the log of epoch 1 went with the rest, so a retry is not refused


def test_without_the_flag_no_log_is_written_and_tensorboard_is_never_imported(mnist_npz, tmp_path):
    run = tmp_path / "run"
    code = ("import sys\nfrom aekit.cli import main\n"
            f"assert main({_train_args(mnist_npz, run, '1')!r}) == 0\n"
            "loaded = [m for m in sys.modules if m.split('.')[0] == 'tensorboard' or 'utils.tensorboard' in m]\n"
            "assert not loaded, loaded\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (run / ckpt.WEIGHTS).is_file() and not (run / "tensorboard").exists()
    assert json.loads((run / ckpt.CONFIG).read_text())["train"]["tensorboard"] is False


def test_without_tensorboard_installed_the_flag_is_one_line_naming_the_extra(mnist_npz, tmp_path, monkeypatch,
                                                                             capsys):
    for name in ("tensorboard", "torch.utils.tensorboard"):
        monkeypatch.setitem(sys.modules, name, None)  # an import of it fails, as when it is not installed
    assert main(_train_args(mnist_npz, tmp_path / "run") + ["--tensorboard"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == ("aekit: error: a TensorBoard log (--tensorboard) needs the tensorboard package: "
                   "pip install aekit[tensorboard]")
    assert not (tmp_path / "run").exists()


def test_the_loop_logs_training_on_arrays_to_a_log_given_as_an_observer(small_x, tmp_path):
    from aekit.models import build_model
    from aekit.runs.tensorboard_log import TensorBoardLog
    from aekit.training.config import TrainConfig
    from aekit.training.loop import train

    model = build_model("dense", input_shape=(1, 28, 28), hidden=(32,), code_size=4)
    log = TensorBoardLog(tmp_path / "tensorboard", small_x[:30], labels=[f"digit {i}" for i in range(30)])
    result = train(model, small_x[30:], TrainConfig(epochs=2, batch_size=64), progress=False, observers=[log])
    acc = _events(tmp_path)
    assert _steps(acc, "train/loss") == [1, 2] and "validation/loss" not in acc.Tags()["scalars"]  # no split
    assert [e.value for e in acc.Scalars("train/loss")] == pytest.approx([r["train_loss"] for r in result.history])
    folder = tmp_path / "tensorboard" / "00002" / "test_codes"
    assert (folder / "metadata.tsv").read_text().splitlines()[29] == "digit 29"
    assert np.loadtxt(folder / "tensors.tsv", delimiter="\t").shape == (30, 4) and not model.training
