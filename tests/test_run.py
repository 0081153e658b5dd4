"""The Run object: one run folder, opened once; and run folders of aekit 0.1.0 still open, evaluate and resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import aekit
from aekit.apps.evaluate import evaluate_run
from aekit.cli import main
from aekit.errors import AekitError
from aekit.runs import Run, RunConfig
from aekit.runs.train import resume_run

FIXTURE = Path(__file__).parent / "fixtures" / "run-0.1.0"


@pytest.fixture
def old_run(tmp_path) -> Path:
    """A copy of a run folder written by aekit 0.1.0 before the Run object existed: a dense 64-16-4-16-64 model on
    120 scikit-learn digits, killed after a mid-epoch checkpoint in its second of two epochs. Its data path is put
    back to where the copy's data lies."""
    shutil.copytree(FIXTURE, tmp_path / "old")
    run = tmp_path / "old" / "run"
    cfg = json.loads((run / "config.json").read_text())
    cfg["data"]["source"] = str(tmp_path / "old" / "digits.npy")
    (run / "config.json").write_text(json.dumps(cfg, indent=2))
    return run


def test_an_old_run_opens_with_its_model_scaling_data_and_fingerprint(old_run):
    run = Run.open(old_run)
    assert run.name == "dense" and run.domains == () and run.config.aekit == "0.1.0"
    assert tuple(run.model.config.input_shape) == (1, 8, 8) and run.model.config.code_size == 4
    assert len(run.fingerprint) == 64 and run.fingerprint == Run.open(old_run).fingerprint
    ds = run.dataset()
    assert ds.x_train.shape[1:] == (8, 8) and len(ds.x_train) + len(ds.x_test) == 120
    x = torch.from_numpy(run.normalizer.transform(ds.x_test))
    z = run.encode(x, batch_size=5)
    assert z.shape == (len(x), 4)
    assert torch.allclose(run.decode(z, batch_size=7), run.reconstruct(x, batch_size=3), atol=1e-6)
    assert len(run.history()) == 1  # killed in its second epoch


def test_an_old_run_evaluates_and_describes_itself(old_run, capsys):
    metrics = evaluate_run(old_run)
    assert metrics["code_size"] == 4 and np.isfinite(metrics["test_mse"]) and metrics["n_test"] == 12
    assert main(["info", str(old_run), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["weights"] == "ok" and info["model"] == "dense" and info["fingerprint"] == Run.open(old_run).fingerprint


def test_an_old_run_resumes_to_the_end_of_its_schedule(old_run):
    run = resume_run(old_run, progress=False)
    assert [r["epoch"] for r in run.history()] == [1, 2]
    assert run.fingerprint != Run.open(FIXTURE / "run").fingerprint  # new weights after the second epoch


def test_a_run_config_round_trips_and_keeps_what_it_does_not_know(old_run):
    doc = json.loads((old_run / "config.json").read_text())
    doc["data"]["written_by_a_newer_aekit"] = {"x": 1}
    cfg = RunConfig.from_dict(doc)
    assert cfg.to_dict() == doc
    assert cfg.data.image_size is None and cfg.data.test_fraction == 0.1 and cfg.provenance == {"aekit": "0.1.0"}


def test_opening_something_that_is_not_a_run_is_one_clear_error(tmp_path):
    with pytest.raises(AekitError, match="not a run folder"):
        Run.open(tmp_path)
    (tmp_path / "config.json").write_text('{"model": "nope", "config": {}}')
    with pytest.raises(AekitError, match="unknown model 'nope'"):
        Run.open(tmp_path)


def test_a_damaged_data_entry_is_one_error_line_for_every_command(old_run, capsys):
    cfg = json.loads((old_run / "config.json").read_text())
    cfg["data"]["image_size"] = 5  # hand-edited: not a pair
    (old_run / "config.json").write_text(json.dumps(cfg))
    for argv in (["eval", str(old_run)], ["generate", str(old_run), "-n", "2"], ["reconstruct", str(old_run)]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith("aekit: error:") and "data image_size 5" in err and err.count("\n") == 1, err
    with pytest.raises(AekitError, match="data image_size 5"):
        aekit.load(old_run)
