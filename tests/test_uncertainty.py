"""Monte Carlo dropout predictions of both estimators."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_digits, make_multilabel_classification
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor, _prediction
from skreg._uncertainty import has_dropout


def test_std_is_exactly_zero_without_dropout(diabetes):
    X, y = diabetes
    model = RegularizedMLPRegressor(
        hidden_layer_sizes=(16,), batch_norm=True, max_iter=20, random_state=0
    ).fit(X, y)
    mean, std = model.predict(X, return_std=True)
    assert np.all(std == 0)
    np.testing.assert_allclose(mean, model.predict(X), rtol=1e-12)


def test_std_grows_with_the_dropout_rate_and_mean_is_near_predict(diabetes):
    X, y = diabetes
    spreads = []
    for rate in (0.1, 0.5):
        model = RegularizedMLPRegressor(
            hidden_layer_sizes=(64,), dropout=rate, max_iter=60, random_state=0
        ).fit(X, y)
        mean, std = model.predict(X, return_std=True)
        assert mean.shape == std.shape == (len(X),) and np.all(std > 0)
        # The Monte Carlo mean stays close to the deterministic prediction.
        assert np.mean(np.abs(mean - model.predict(X))) < 0.5 * np.std(y)
        spreads.append(std.mean())
    assert spreads[1] > 1.5 * spreads[0]


def test_passes_are_seeded_by_random_state_and_leave_global_rng(diabetes):
    X, y = diabetes
    model = RegularizedMLPRegressor(dropout=0.3, max_iter=10, random_state=0).fit(X, y)
    state = torch.get_rng_state()
    first = model.predict(X, return_std=True)
    second = model.predict(X, return_std=True)
    assert torch.equal(torch.get_rng_state(), state)
    np.testing.assert_array_equal(first[1], second[1])
    other = model.set_params(mc_samples=7).predict(X, return_std=True)
    assert not np.array_equal(first[1], other[1])


def test_batch_norm_stays_in_evaluation_mode(diabetes):
    X, y = diabetes
    model = RegularizedMLPRegressor(
        hidden_layer_sizes=(16,), dropout=0.3, batch_norm=True, max_iter=5, random_state=0
    ).fit(X, y)
    module = model.net_.module_
    bn = module.hidden[1]
    before = bn.running_mean.clone()
    mean, std = model.predict(X, return_std=True)
    assert torch.equal(bn.running_mean, before) and np.all(std > 0)
    # The passes draw masks without switching any layer to training mode.
    assert not any(layer.training for layer in module.modules())


def test_multi_output_std_is_in_each_targets_units(diabetes):
    X, y = diabetes
    Y = np.column_stack([y, 100 * y])
    model = RegularizedMLPRegressor(dropout=0.3, max_iter=20, random_state=0).fit(X, Y)
    mean, std = model.predict(X, return_std=True)
    assert mean.shape == std.shape == (len(X), 2)
    assert 30 < np.median(std[:, 1] / std[:, 0]) < 300


def test_classifier_probabilities_and_their_spread(cancer):
    X, y = cancer
    plain = RegularizedMLPClassifier(max_iter=10, random_state=0).fit(X, y)
    proba, spread = plain.predict_proba(X, return_std=True)
    assert np.all(spread == 0) and not has_dropout(plain.net_.module_)
    model = RegularizedMLPClassifier(dropout=0.5, max_iter=10, random_state=0).fit(X, y)
    proba, spread = model.predict_proba(X, return_std=True)
    assert proba.shape == spread.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.mean(spread > 0) > 0.5
    # Binary: both columns move together, so their spreads are equal.
    np.testing.assert_allclose(spread[:, 0], spread[:, 1], atol=1e-12)


def test_multilabel_probabilities_and_their_spread():
    X, Y = make_multilabel_classification(n_samples=50, random_state=0, return_indicator=True)
    model = RegularizedMLPClassifier(dropout=0.5, max_iter=10, random_state=0).fit(X, Y)
    proba, spread = model.predict_proba(X, return_std=True)
    assert proba.shape == spread.shape == (50, 5)
    assert np.all((proba > 0) & (proba < 1)) and np.mean(spread > 0) > 0.5
    # Without dropout the passes agree with the deterministic probabilities.
    plain = RegularizedMLPClassifier(max_iter=10, random_state=0).fit(X, Y)
    mean, std = plain.predict_proba(X, return_std=True)
    assert np.all(std == 0)
    np.testing.assert_array_equal(mean, plain.predict_proba(X))


def test_return_std_passes_through_a_pipeline(diabetes):
    X, y = diabetes
    pipe = make_pipeline(
        StandardScaler(), RegularizedMLPRegressor(dropout=0.2, max_iter=5, random_state=0)
    ).fit(X, y)
    mean, std = pipe.predict(X, return_std=True)
    assert mean.shape == std.shape == (len(X),)


@pytest.mark.parametrize("Estimator", [RegularizedMLPClassifier, RegularizedMLPRegressor])
def test_sparse_x_gets_the_passes_of_the_same_x_dense(Estimator, monkeypatch):
    X, y = load_digits(return_X_y=True)
    X = sp.csr_matrix(X / 16)  # pixels, about half of them zero
    # Chunks of 500 rows: the passes of each chunk are seeded apart, so this checks that
    # sparse X is cut into the chunks dense X is cut into.
    monkeypatch.setattr(_prediction, "PREDICT_CHUNK_ROWS", 500)
    model = Estimator((16,), dropout=0.3, max_iter=3, mc_samples=8, random_state=0).fit(X, y)
    predict = model.predict_proba if Estimator is RegularizedMLPClassifier else model.predict
    mean, std = predict(X, return_std=True)
    dense_mean, dense_std = predict(X.toarray(), return_std=True)
    assert np.all(std > 0) if std.ndim == 1 else std.mean() > 0
    np.testing.assert_allclose(mean, dense_mean, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(std, dense_std, rtol=1e-4, atol=1e-7)
