"""sample_weight and class_weight: sklearn's meaning, checked against repeated rows."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.metrics import recall_score
from sklearn.model_selection import train_test_split

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor
from skreg._weights import WeightedTarget, check_sample_weight, normalized_weights


def test_weighted_target_slices_targets_and_weights_together():
    wt = WeightedTarget(torch.arange(5), torch.arange(5.0) * 10)
    part = wt[torch.tensor([4, 1])]
    assert len(part) == 2
    assert part.target.tolist() == [4, 1] and part.sample_weight.tolist() == [40.0, 10.0]
    with pytest.raises(ValueError, match="3 targets but 2 sample weights"):
        WeightedTarget(torch.arange(3), torch.ones(2))


def test_check_sample_weight_rejects_bad_weights_and_copies():
    X = np.zeros((3, 2))
    assert check_sample_weight(None, X) is None
    weights = np.array([1, 2, 3])
    checked = check_sample_weight(weights, X)
    assert checked.dtype == np.float64 and not np.shares_memory(checked, weights)
    with pytest.raises(ValueError, match="Negative values"):
        check_sample_weight([1.0, -1.0, 1.0], X)
    with pytest.raises(ValueError, match="shape"):
        check_sample_weight([1.0, 1.0], X)
    np.testing.assert_allclose(normalized_weights(np.array([1.0, 3.0])), [0.5, 1.5])


def subset(data, n=120):
    X, y = data
    return X[:n], y[:n]


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_integer_weights_match_repeated_rows_with_full_batches(cancer, solver):
    X, y = subset(cancer)
    weights = np.random.RandomState(0).randint(0, 4, size=len(y))
    X_rep, y_rep = np.repeat(X, weights, axis=0), np.repeat(y, weights)
    # Full batches and no per-row randomness: the same objective and the same steps.
    params = dict(hidden_layer_sizes=(16,), batch_size=1000, max_iter=40, solver=solver,
                  random_state=0)
    repeated = RegularizedMLPClassifier(**params).fit(X_rep, y_rep)
    weighted = RegularizedMLPClassifier(**params).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-5)
    np.testing.assert_allclose(
        weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-4, atol=1e-6
    )


def test_regressor_weights_match_repeated_rows_including_standardization(diabetes):
    X, y = subset(diabetes)
    weights = np.random.RandomState(1).randint(0, 4, size=len(y))
    X_rep, y_rep = np.repeat(X, weights, axis=0), np.repeat(y, weights)
    params = dict(hidden_layer_sizes=(16,), batch_size=1000, max_iter=40, random_state=0)
    repeated = RegularizedMLPRegressor(**params).fit(X_rep, y_rep)
    weighted = RegularizedMLPRegressor(**params).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(weighted.y_mean_, repeated.y_mean_, rtol=1e-12)
    np.testing.assert_allclose(weighted.y_scale_, repeated.y_scale_, rtol=1e-12)
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-4)


def test_with_minibatches_weights_shift_predictions_like_repeated_rows():
    # Overlapping classes, class 0 weighted 4 times: the weights should move the
    # predicted probabilities toward class 0 as much as repeating its rows does.
    X, y = make_classification(
        n_samples=400, n_features=5, n_informative=2, class_sep=0.3, flip_y=0.2, random_state=0
    )
    weights = np.where(y == 0, 4, 1)
    X_rep, y_rep = np.repeat(X, weights, axis=0), np.repeat(y, weights)
    params = dict(hidden_layer_sizes=(16,), batch_size=32, max_iter=60, alpha=0.0, random_state=0)
    repeated = RegularizedMLPClassifier(**params).fit(X_rep, y_rep).predict_proba(X)[:, 0].mean()
    weighted = RegularizedMLPClassifier(**params).fit(X, y, sample_weight=weights)
    unweighted = RegularizedMLPClassifier(**params).fit(X, y)
    shift_weighted = weighted.predict_proba(X)[:, 0].mean()
    shift_unweighted = unweighted.predict_proba(X)[:, 0].mean()
    assert abs(shift_weighted - repeated) < 0.25 * abs(shift_unweighted - repeated)


def test_unit_weights_change_nothing(cancer):
    X, y = subset(cancer)
    params = dict(hidden_layer_sizes=(8,), max_iter=10, random_state=0)
    plain = RegularizedMLPClassifier(**params).fit(X, y).predict_proba(X)
    ones = RegularizedMLPClassifier(**params).fit(X, y, sample_weight=np.ones(len(y)))
    scaled = RegularizedMLPClassifier(**params).fit(X, y, sample_weight=np.full(len(y), 7.0))
    np.testing.assert_array_equal(ones.predict_proba(X), plain)
    np.testing.assert_allclose(scaled.predict_proba(X), plain, rtol=1e-5)


def test_class_weight_dict_is_a_per_class_sample_weight(cancer):
    X, y = subset(cancer)
    params = dict(hidden_layer_sizes=(8,), max_iter=10, random_state=0)
    by_class = RegularizedMLPClassifier(class_weight={0: 3.0}, **params).fit(X, y)
    by_sample = RegularizedMLPClassifier(**params).fit(X, y, sample_weight=np.where(y == 0, 3, 1))
    np.testing.assert_array_equal(by_class.predict_proba(X), by_sample.predict_proba(X))


def test_balanced_class_weight_raises_minority_recall():
    X, y = make_classification(
        n_samples=2000, n_features=10, n_informative=4, weights=[0.95], class_sep=0.6,
        flip_y=0, random_state=0,
    )
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    params = dict(hidden_layer_sizes=(32,), max_iter=30, random_state=0)
    plain = RegularizedMLPClassifier(**params).fit(X_train, y_train)
    balanced = RegularizedMLPClassifier(class_weight="balanced", **params).fit(X_train, y_train)
    recall_plain = recall_score(y_test, plain.predict(X_test))
    recall_balanced = recall_score(y_test, balanced.predict(X_test))
    assert recall_balanced > recall_plain + 0.1


def test_weight_errors_are_clear():
    X = np.random.RandomState(0).normal(size=(20, 3))
    y = np.arange(20) % 2
    with pytest.raises(ValueError, match=r"class_weight has labels \[5\]"):
        RegularizedMLPClassifier(class_weight={5: 2.0}).fit(X, y)
    with pytest.raises(ValueError, match="only class 1 is left"):
        RegularizedMLPClassifier().fit(X, y, sample_weight=y)
    with pytest.raises(ValueError, match="at least one non-zero"):
        RegularizedMLPRegressor().fit(X, y, sample_weight=np.zeros(20))
    with pytest.raises(ValueError, match="class_weight"):
        RegularizedMLPClassifier(class_weight="heavy").fit(X, y)


def test_weighted_validation_scores(cancer):
    X, y = cancer
    weights = np.where(y == 0, 2.0, 1.0)
    model = RegularizedMLPClassifier(
        early_stopping=True, max_iter=5, random_state=0
    ).fit(X, y, sample_weight=weights)
    assert len(model.validation_scores_) == model.n_iter_
    # The restored best epoch scores the held-out rows with their weights.
    _, rows = model._validation_split(y.astype(np.float32).reshape(-1, 1), model._draw_seed())
    weighted = model.score(X[rows], y[rows], sample_weight=weights[rows])
    assert weighted == pytest.approx(model.best_validation_score_, abs=1e-6)
    assert weighted != pytest.approx(model.score(X[rows], y[rows]), abs=1e-6)


@pytest.mark.parametrize("scale", [1e307, 1e-300])
def test_huge_or_tiny_equal_weights_fit_exactly_as_weights_of_one(cancer, diabetes, scale):
    for Estimator, (X, y) in [(RegularizedMLPClassifier, subset(cancer)),
                              (RegularizedMLPRegressor, diabetes)]:
        params = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
        ones = Estimator(**params).fit(X, y, sample_weight=np.ones(len(y)))
        extreme = Estimator(**params).fit(X, y, sample_weight=np.full(len(y), scale))
        assert extreme.loss_curve_ == ones.loss_curve_ and extreme.loss_curve_[-1] > 0
        np.testing.assert_array_equal(extreme.predict(X), ones.predict(X))


def test_huge_unequal_weights_keep_their_ratios():
    weights = np.array([1e308, 5e307, 0.0, 1e308])
    checked = check_sample_weight(weights, np.zeros((4, 1)))
    # The caller's scale is kept (solver="lbfgs" divides alpha by the weights' sum, as
    # sklearn does); the mean that normalizes them divides by the largest first.
    np.testing.assert_array_equal(checked, weights)
    np.testing.assert_allclose(normalized_weights(checked), [1.6, 0.8, 0.0, 1.6])
    np.testing.assert_allclose(normalized_weights(weights), [1.6, 0.8, 0.0, 1.6])
    assert weights[0] == 1e308  # the caller's array is left as it was
