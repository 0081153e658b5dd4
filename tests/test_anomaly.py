"""Anomaly detection: the scikit-learn detector (conformance and real digits) and ``aekit anomalies``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import roc_auc_score
from sklearn.utils.estimator_checks import check_estimator

from aekit.cli import main
from aekit.estimators import AutoencoderOutlierDetector
from aekit.runs.provenance import read_mark

FAST = ["--preset", "fast", "--epochs", "10", "--no-progress", "--no-eval"]  # about 2 s on 1,024 digits


def test_passes_scikit_learns_estimator_checks():
    results = check_estimator(AutoencoderOutlierDetector(hidden=(8,), code_size=2, epochs=1, min_steps=0,
                                                         random_state=0), on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert not failed and len(results) > 30


def test_detects_other_digits_when_fitted_on_zeros(mnist):
    zeros = mnist.x_train[mnist.y_train == 0][:600]
    det = AutoencoderOutlierDetector(hidden=(128,), code_size=8, epochs=5, contamination=0.1, random_state=0,
                                     min_steps=0)
    assert det.fit(zeros) is det and det.n_features_in_ == 28 and det.input_shape_ == (1, 28, 28)
    x, y = mnist.x_test[:1000], mnist.y_test[:1000]
    scores = det.score_samples(x)
    assert roc_auc_score(y == 0, scores) > 0.9
    assert np.allclose(det.decision_function(x), scores - det.offset_)
    assert np.mean(det.predict(zeros) == -1) == pytest.approx(0.1, abs=0.01)  # contamination on the training set
    pred = det.predict(x)
    assert set(np.unique(pred)) == {-1, 1} and np.mean(pred[y != 0] == -1) > np.mean(pred[y == 0] == -1)
    # The same images as flat rows with image_shape give the same model and the same scores.
    flat = AutoencoderOutlierDetector(hidden=(128,), code_size=8, epochs=5, contamination=0.1, random_state=0,
                                      image_shape=(28, 28), min_steps=0).fit(zeros.reshape(len(zeros), -1))
    assert np.allclose(flat.score_samples(x.reshape(len(x), -1)), scores)


def test_a_small_table_trains_for_at_least_min_steps(monkeypatch):
    """20 epochs of 200 rows in batches of 64 are 80 steps; the default trains at least 100."""
    import aekit.estimators.outlier as outlier

    seen = []
    monkeypatch.setattr(outlier, "train", lambda net, x, cfg, progress: seen.append(cfg.epochs_for(4)))
    x = np.random.default_rng(0).random((200, 6))
    AutoencoderOutlierDetector(hidden=(8,), code_size=2, random_state=0).fit(x)
    AutoencoderOutlierDetector(hidden=(8,), code_size=2, random_state=0, min_steps=0).fit(x)
    assert seen == [25, 20]


def test_bad_parameters_and_inputs_raise_value_errors():
    x = np.random.default_rng(0).random((20, 6))
    with pytest.raises(ValueError):
        AutoencoderOutlierDetector(contamination=0.7).fit(x)
    with pytest.raises(ValueError, match="conv"):
        AutoencoderOutlierDetector(model="conv", epochs=1).fit(x)
    with pytest.raises(ValueError, match="image_shape"):
        AutoencoderOutlierDetector(image_shape=(4, 4), epochs=1).fit(x)
    with pytest.raises(ValueError, match="tpu"):  # scikit-learn's error type, not aekit's own
        AutoencoderOutlierDetector(device="tpu", epochs=1).fit(x)
    det = AutoencoderOutlierDetector(hidden=(8,), code_size=2, epochs=1, random_state=0).fit(x)
    with pytest.raises(ValueError):
        det.score_samples(x[:, :5])


@pytest.fixture(scope="module")
def dense_run(mnist_npz, tmp_path_factory):
    run = tmp_path_factory.mktemp("an") / "run"
    assert main(["train", "--data", str(mnist_npz), "--out", str(run), "--code-size", "16", *FAST]) == 0
    return run


def test_cli_ranks_a_planted_anomaly_first_and_draws_the_figure(dense_run, mnist, tmp_path, capsys):
    x = mnist.x_test[:40].copy()
    x[17] = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)  # noise among digits
    np.save(tmp_path / "x.npy", x)
    fig = tmp_path / "top.png"
    assert main(["anomalies", str(dense_run), str(tmp_path / "x.npy"), "-k", "5", "--out", str(fig), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_scored"] == 40 and report["score"] == "1-ssim" and len(report["top"]) == 5
    assert report["top"][0]["input"] == "17" and report["top"][0]["rank"] == 1
    scores = [row["score"] for row in report["top"]]
    assert scores == sorted(scores, reverse=True)
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert read_mark(fig)["operation"] == "anomalies" and read_mark(fig)["synthetic"]  # its lower row is model output
    assert main(["anomalies", str(dense_run), str(tmp_path / "x.npy"), "--out", str(fig)]) == 1  # no overwrite
    assert "--force" in capsys.readouterr().err


def test_cli_scores_an_image_folder_and_a_dataset(dense_run, mnist_npz, mnist, tmp_path, capsys):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(5):
        Image.fromarray(mnist.x_test[i]).save(folder / f"d{i}.png")
    Image.fromarray(255 - mnist.x_test[5]).save(folder / "inverted.png")
    assert main(["anomalies", str(dense_run), str(folder), "-k", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "6 inputs" in out[0] and "inverted.png" in out[1]
    assert main(["anomalies", str(dense_run), str(mnist_npz), "--json", "-k", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_scored"] == 1280 and report["top"][0]["input"].startswith(("train[", "test["))  # all of it
    assert report["data"] == f"all 1280 samples of {mnist_npz}" and "label" in report["top"][0]
    assert set(report["by_label"]) == {str(d) for d in range(10)} and report["by_label"]["3"]["n"] == 95 + 23


def test_the_figure_shows_whole_names_under_a_clear_title():
    from aekit.apps.anomaly import anomaly_figure

    names = ["scans/2024-05-17_line-3/part_000417_left.png", "b.png", "c.png", "d.png", "e.png"]
    x = [np.full((28, 28), 100 * (i % 3), np.uint8) for i in range(5)]
    fig = anomaly_figure(x, x, names, np.linspace(0.5, 0.1, 5), "run: the 5 most anomalous of 40 (1-ssim score)")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    titles = [ax.title for ax in fig.axes if ax.get_title()]
    assert "".join(titles[0].get_text().split("\n")[:-1]) == names[0]  # the whole name, wrapped, then the score
    top = fig._suptitle.get_window_extent(renderer)
    assert not any(t.get_window_extent(renderer).overlaps(top) for t in titles)


@pytest.mark.parametrize("args", [["nope-such-data"], ["DATA", "-k", "0"], ["BAD_NPY"]])
def test_cli_errors_are_one_line(dense_run, tmp_path, capsys, args):
    np.save(tmp_path / "bad.npy", np.zeros((3, 5, 5), np.uint8))  # images of the wrong size
    args = [str(tmp_path / "bad.npy") if a == "BAD_NPY" else a for a in args]
    args = [str(tmp_path / "bad.npy") if a == "DATA" else a for a in args]
    assert main(["anomalies", str(dense_run), *args]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("aekit: error:") and "\n" not in err, err


def test_cli_resizes_like_the_run_and_refuses_a_wrong_size_otherwise(dense_run, mnist, tmp_path, capsys):
    big = tmp_path / "big"
    big.mkdir()
    for i in range(12):
        Image.fromarray(np.asarray(Image.fromarray(mnist.x_test[i]).resize((50, 40)))).save(big / f"d{i}.png")
    run = tmp_path / "sized"
    assert main(["train", "--data", str(big), "--image-size", "28x28", *FAST, "--epochs", "1", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["anomalies", str(run), str(big), "-k", "3", "--json"]) == 0  # resized as the run's data was
    assert json.loads(capsys.readouterr().out)["n_scored"] == 12
    assert main(["anomalies", str(dense_run), str(big), "-k", "3"]) == 1  # this run takes its own size only
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is 40x50; this model takes 28x28 images" in err[0]


def test_a_table_value_far_outside_the_training_range_is_not_clipped_into_looking_normal(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (256, 6)).astype(np.float32)
    np.save(tmp_path / "train.npy", x)
    run = tmp_path / "table"
    assert main(["train", "--data", str(tmp_path / "train.npy"), "--out", str(run), "--code-size", "3",
                 "--hidden", "16", *FAST]) == 0
    test = x[:30].copy()
    test[11, 2] = x[:, 2].max() + 50  # far above anything seen: clipped, it would read as the column's maximum
    np.save(tmp_path / "test.npy", test)
    capsys.readouterr()
    assert main(["anomalies", str(run), str(tmp_path / "test.npy"), "-k", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    top = report["top"][0]
    assert top["input"] == "11" and top["score"] > 20 * report["score_quantiles"]["0.5"], report
