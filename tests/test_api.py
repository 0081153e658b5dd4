"""The Python API, used the way the article uses Keras."""

from __future__ import annotations

import numpy as np
import pytest

import aekit


def test_keras_like_flow_on_flattened_floats(mnist, tmp_path):
    x_train = mnist.x_train[:1024].reshape(-1, 784).astype("float32") / 255  # the article's preprocessing
    x_test = mnist.x_test[:256].reshape(-1, 784).astype("float32") / 255
    ae = aekit.build("dense", code_size=32)
    assert ae.net is None  # built at the first fit, from the data's shape
    ae.fit(x_train, epochs=2, batch_size=64, verbose=False)
    assert ae.config.input_shape == (784,) and len(ae.history) == 2
    codes = ae.encode(x_test)
    assert codes.shape == (256, 32) and codes.dtype == np.float32
    rebuilt = ae.decode(codes)
    assert rebuilt.shape == (256, 784) and 0 <= rebuilt.min() and rebuilt.max() <= 1
    assert np.allclose(ae.reconstruct(x_test), rebuilt, atol=1e-6)
    metrics = ae.evaluate(x_test)
    assert metrics["mse"] < 0.1 and metrics["bce"] < 0.3
    refined = ae.encode(x_test, refine=20)  # encoder-side refinement: same code size, closer reconstructions
    assert refined.shape == codes.shape and not np.array_equal(refined, codes)
    err = lambda y: float(((y - x_test) ** 2).mean())  # noqa: E731
    assert err(ae.decode(refined)) < err(rebuilt)
    assert np.allclose(ae.reconstruct(x_test, refine=20), ae.decode(refined), atol=1e-6)

    ae.save(tmp_path / "run")
    again = aekit.load(tmp_path / "run", device=str(ae.device))  # where fit put it: the same arithmetic
    assert np.array_equal(again.encode(x_test), codes)
    recipe = aekit.Run.open(tmp_path / "run").config.train  # the saved run says how it was trained
    assert recipe["epochs"] == 2 and recipe["batch_size"] == 64 and recipe["lr"] == 1e-3
    with pytest.raises(aekit.AekitError, match="already holds a run"):
        ae.save(tmp_path / "run")


def test_uint8_images_round_trip_as_images(mnist, tmp_path):
    ae = aekit.build("dense", code_size=16, hidden=(64,))
    ae.fit(mnist.x_train[:512], epochs=1, verbose=False, lr=3e-3)
    assert ae.config.input_shape == (1, 28, 28)
    out = ae.reconstruct(mnist.x_test[:8])
    assert out.dtype == np.uint8 and out.shape == (8, 28, 28)
    with pytest.raises(aekit.AekitError, match="uint8"):
        ae.encode(mnist.x_test[:8].astype("float32"))
    with pytest.raises(aekit.AekitError, match="shape"):
        ae.encode(np.zeros((2, 5, 5), np.uint8))


def test_flat_uint8_rows_train_as_a_table_on_the_pixel_scale(mnist):
    ae = aekit.build("dense", code_size=8, hidden=(32,))
    ae.fit(mnist.x_train[:256].reshape(-1, 784), epochs=1, verbose=False)
    out = ae.reconstruct(mnist.x_test[:4].reshape(-1, 784))
    assert ae.config.input_shape == (784,) and out.shape == (4, 784) and 0 <= out.min() and out.max() <= 255


def test_tables_are_scaled_and_unscaled():
    rng = np.random.default_rng(0)
    x = rng.normal(50, 10, (400, 6)).astype("float32")
    ae = aekit.build("dense", code_size=3, hidden=(16,), loss="mse", output_activation="identity")
    ae.fit(x, epochs=30, verbose=False, lr=3e-3)
    back = ae.reconstruct(x)
    assert back.shape == x.shape
    assert np.abs(back.mean(0) - x.mean(0)).max() < 3  # back in the data's own units (column sd is 10)


def test_bad_options_are_clear_errors():
    with pytest.raises(aekit.AekitError, match="config"):
        aekit.build("dense", input_shape=(4,), code_size=0)
    with pytest.raises(aekit.AekitError, match="depth"):  # at build, before any data
        aekit.build("dense", code_size=2, depth=3)
    with pytest.raises(aekit.AekitError, match="unknown model 'nope'"):
        aekit.build("nope")
    with pytest.raises(aekit.AekitError, match="training option"):
        aekit.build("dense", code_size=2).fit(np.zeros((8, 4), np.float32), verbose=False, momentum=0.9)
    with pytest.raises(aekit.AekitError, match="finite"):
        aekit.build("dense", code_size=2).fit(np.full((8, 4), np.nan, np.float32), verbose=False)


def test_non_finite_samples_and_wrong_code_shapes_are_clear_errors():
    ae = aekit.build("dense", code_size=3, hidden=(8,))
    x = np.random.default_rng(0).random((32, 5)).astype("float32")
    ae.fit(x, epochs=1, verbose=False)
    bad = x[:2].copy()
    bad[1, 2] = np.nan
    for method in (ae.encode, ae.reconstruct, ae.evaluate):
        with pytest.raises(aekit.AekitError, match="NaN or infinite"):
            method(bad)
    assert ae.decode(np.zeros((2, 3))).shape == (2, 5)
    for z in (np.zeros((2, 4)), np.zeros(3), np.zeros((2, 3, 1))):
        with pytest.raises(aekit.AekitError, match=r"the model decodes \(N, 3\)"):
            ae.decode(z)


def test_calls_before_fit_keep_no_scaling_and_bad_arguments_are_clear_errors(tmp_path, caplog):
    rng = np.random.default_rng(0)
    ae = aekit.build("dense", input_shape=(5,), code_size=2, hidden=(8,), loss="mse", output_activation="identity")
    ae.encode(rng.random((3, 5)))  # a probe of the untrained model: its batch's scaling is not kept
    assert ae.normalizer is None
    x = rng.random((200, 5)) * 100
    ae.fit(x, epochs=1, verbose=False)
    assert ae.normalizer.to_dict()["high"] == pytest.approx(x.max(0).tolist())  # fit's data decided the scaling
    cases = [(lambda: ae.decode(np.zeros((0, 2))), "non-empty"),
             (lambda: ae.decode(np.full((2, 2), np.nan)), "finite"),
             (lambda: ae.decode([["a", "b"]]), "numeric"),
             (lambda: ae.encode(x, batch_size=0), "batch_size"),
             (lambda: ae.encode(x, refine=2.5), "refine"),
             (lambda: ae.reconstruct(x, refine=-1), "refine")]
    for call, message in cases:
        with pytest.raises(aekit.AekitError, match=message):
            call()
    with caplog.at_level("WARNING", logger="aekit"):  # pixels 0..255 to a model fitted on 0..1 floats, say
        ae.encode(x * 3)
    assert "values lie outside the range the model was fitted on" in caplog.text
    ae.fit(x, epochs=1, verbose=False, run_dir=tmp_path / "fitted")
    with pytest.raises(aekit.AekitError, match="already holds a run; pass another run_dir$"):  # API words, no flags
        ae.fit(x, epochs=1, verbose=False, run_dir=tmp_path / "fitted")
    (tmp_path / "afile").write_text("mine")
    for force in (False, True):
        with pytest.raises(aekit.AekitError, match="is a file"):
            ae.save(tmp_path / "afile", force=force)
    assert (tmp_path / "afile").read_text() == "mine"


def test_a_hostile_config_json_is_one_error_before_any_allocation(tmp_path):
    import json
    import time

    from aekit.runs.info import run_info

    ae = aekit.build("dense", input_shape=(6,), code_size=2, hidden=(8,))
    ae.fit(np.random.default_rng(0).random((32, 6)), epochs=1, verbose=False)
    ae.save(tmp_path / "run")
    good = json.loads((tmp_path / "run" / "config.json").read_text())
    edits = [({"config": {**good["config"], "hidden": [300_000]}}, "weights"),  # ~2 GB, refused from the file size
             ({"model": ["dense"]}, "unknown model"), ({"data": [1, 2]}, "'data' should be a JSON object"),
             ({"train": "fast"}, "'train' should be a JSON object")]
    for edit, message in edits:
        (tmp_path / "run" / "config.json").write_text(json.dumps({**good, **edit}))
        start = time.perf_counter()
        for read in (aekit.load, run_info):  # aekit info too: no allocation before the check
            with pytest.raises(aekit.AekitError, match=message):
                read(tmp_path / "run")
        assert time.perf_counter() - start < 1
    (tmp_path / "run" / "config.json").write_text('{"model": "dense", "config": {"code_size": 1' + "0" * 5000 + "}}")
    with pytest.raises(aekit.AekitError, match="not valid JSON"):
        aekit.load(tmp_path / "run")
    (tmp_path / "run" / "config.json").write_text(json.dumps(good))
    (tmp_path / "run" / "metrics.jsonl").write_bytes(b"\xff\xfe\n")
    with pytest.raises(aekit.AekitError, match="not UTF-8"):
        aekit.load(tmp_path / "run")


def test_fit_draws_a_progress_bar_only_where_asked_or_watched(capsys):
    x = np.random.default_rng(0).random((64, 6)).astype(np.float32)
    aekit.build("dense", code_size=2, hidden=[4]).fit(x, epochs=1, batch_size=8)  # "auto": captured stderr is no tty
    assert "epoch 1/1" not in capsys.readouterr().err
    aekit.build("dense", code_size=2, hidden=[4]).fit(x, epochs=1, batch_size=8, verbose=True)
    assert "epoch 1/1" in capsys.readouterr().err
    with pytest.raises(aekit.AekitError, match="verbose must be"):
        aekit.build("dense", code_size=2, hidden=[4]).fit(x, verbose="loud")


def test_a_seed_given_to_fit_seeds_the_initial_weights_too(mnist):
    x = mnist.x_train[:256]

    def weights(seed):
        ae = aekit.build("dense", code_size=8)
        ae.fit(x, epochs=1, batch_size=64, verbose=False, **({} if seed is None else {"seed": seed}))
        return ae.encode(x[:16])

    assert np.array_equal(weights(3), weights(3)) and not np.array_equal(weights(3), weights(4))
    assert not np.array_equal(weights(None), weights(None))  # no seed: a fresh start, as in Keras
