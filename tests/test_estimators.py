"""AutoencoderTransformer: scikit-learn's own conformance suite, Pipeline and GridSearchCV, and real-digit quality."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from aekit.estimators import AutoencoderTransformer

TINY = {"epochs": 2, "hidden": (8,), "random_state": 0, "min_steps": 0}


@parametrize_with_checks([AutoencoderTransformer(**TINY)])
def test_sklearn_conformance(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits(mnist):
    """1,000 training and 300 test MNIST digits as flat float rows in [0, 1], with labels."""
    flat = lambda a: a.reshape(len(a), -1).astype(np.float64) / 255  # noqa: E731
    return flat(mnist.x_train[:1000]), mnist.y_train[:1000], flat(mnist.x_test[:300]), mnist.y_test[:300]


def test_round_trip_on_real_digits_beats_pca(digits):
    x, _, x_test, _ = digits
    ae = AutoencoderTransformer(n_components=16, epochs=20, batch_size=64, lr=2e-3, random_state=0).fit(x)
    codes = ae.transform(x_test)
    back = ae.inverse_transform(codes)
    assert codes.shape == (300, 16) and codes.dtype == np.float64
    assert back.shape == x_test.shape and back.dtype == np.float64
    assert list(ae.get_feature_names_out()) == [f"autoencodertransformer{i}" for i in range(16)]
    mse = np.mean((back - x_test) ** 2)
    pca = PCA(4, random_state=0).fit(x)
    assert mse < np.mean((pca.inverse_transform(pca.transform(x_test)) - x_test) ** 2)
    assert ae.score(x_test) == pytest.approx(-mse, rel=1e-3)  # rows in [0, 1] are used unscaled


def test_tables_are_scaled_and_unscaled():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(400, 2))
    x = np.column_stack([base[:, 0] * 1000 + 5000, base[:, 1] * 0.01, base.sum(1) * 3 - 7]).astype(np.float32)
    ae = AutoencoderTransformer(n_components=2, hidden=(32,), epochs=60, batch_size=32, lr=3e-3, random_state=1)
    back = ae.fit(x).inverse_transform(ae.transform(x))
    assert back.dtype == np.float32
    rel = np.abs(back - x).mean(0) / x.std(0)  # each column back in its own units
    assert (rel < 0.3).all(), rel


def test_a_small_table_trains_for_at_least_min_steps():
    x = np.random.default_rng(0).random((100, 5))  # one batch of 128 an epoch: 20 epochs would be 20 steps
    assert len(AutoencoderTransformer(hidden=(8,), min_steps=50, random_state=0).fit(x).history_) == 50
    assert len(AutoencoderTransformer(hidden=(8,), min_steps=0, random_state=0).fit(x).history_) == 20


def test_same_seed_same_codes_and_the_global_rng_is_left_alone(digits):
    x = digits[0][:200]
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = AutoencoderTransformer(n_components=3, **{**TINY, "random_state": 5}).fit_transform(x)
    assert torch.rand(1) == before
    b = AutoencoderTransformer(n_components=3, **{**TINY, "random_state": 5}).fit_transform(x)
    c = AutoencoderTransformer(n_components=3, **{**TINY, "random_state": 6}).fit_transform(x)
    assert np.array_equal(a, b) and not np.allclose(a, c)


def test_flat_images_with_input_shape_use_a_conv_model(digits):
    x = digits[0][:128]
    ae = AutoencoderTransformer(n_components=4, input_shape=(1, 28, 28), epochs=1, random_state=0,
                                model_options={"channels": (4, 8), "blocks_per_stage": 1}).fit(x)
    assert type(ae.model_.net).__name__ == "ConvAutoencoder"
    assert ae.transform(x).shape == (128, 4) and ae.inverse_transform(ae.transform(x[:3])).shape == (3, 784)


def test_pipeline_and_grid_search(digits):
    x, y, x_test, y_test = digits
    x, y = x[:600], y[:600]
    pipe = Pipeline([("ae", AutoencoderTransformer(epochs=6, hidden=(64,), random_state=0)),
                     ("clf", LogisticRegression(max_iter=300))])
    search = GridSearchCV(pipe, {"ae__n_components": [2, 16]}, cv=2).fit(x, y)
    assert search.best_params_ == {"ae__n_components": 16}  # accuracy decides: 16 dims separate digits better
    assert search.score(x_test, y_test) > 0.45  # 10 classes: chance is 0.1 (measured 0.55)
    # On its own the transformer is scored by reconstruction (negative error): more code, less error.
    alone = GridSearchCV(AutoencoderTransformer(epochs=6, hidden=(64,), random_state=0), {"n_components": [2, 16]},
                         cv=2).fit(x)
    assert alone.best_params_ == {"n_components": 16}
    assert alone.cv_results_["mean_test_score"].max() < 0


@pytest.mark.parametrize("params, message", [
    ({"n_components": 0}, "n_components"),
    ({"input_shape": (1, 5, 5)}, "input_shape"),
    ({"model": "vae"}, "model must be"),
    ({"scaling": "zscore"}, "scaling must be"),
    ({"model_options": {"no_such_field": 1}}, "no_such_field"),
    ({"model_options": {"code_size": 5}}, "set the estimator's n_components instead"),
    ({"input_shape": (1, 28, 28), "model_options": {"spatial_code": True}}, "code map"),
    ({"train_options": {"epochs": 5}}, "set the estimator's epochs instead"),
    ({"train_options": {"seed": 5}}, "set the estimator's random_state instead"),
])
def test_bad_parameters_raise_value_error_at_fit(digits, params, message):
    with pytest.raises(ValueError, match=message):
        AutoencoderTransformer(**{**TINY, **params}).fit(digits[0][:50])


def test_inverse_transform_checks_the_code_width(digits):
    ae = AutoencoderTransformer(n_components=3, **TINY).fit(digits[0][:50])
    with pytest.raises(ValueError, match="expects 3"):
        ae.inverse_transform(np.zeros((2, 4)))


def test_estimators_are_exported_from_the_package():
    import aekit
    from aekit.estimators import AutoencoderOutlierDetector, AutoencoderTransformer

    assert aekit.AutoencoderTransformer is AutoencoderTransformer
    assert aekit.AutoencoderOutlierDetector is AutoencoderOutlierDetector
    with pytest.raises(AttributeError):
        aekit.NoSuchThing  # noqa: B018
