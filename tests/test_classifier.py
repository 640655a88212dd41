import numpy as np
import pytest
from sklearn.datasets import load_iris

from skreg import RegularizedMLPClassifier


def test_binary_predict_proba_has_one_column_per_class(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier(hidden_layer_sizes=(16,), max_iter=30, random_state=0)
    proba = model.fit(X, y).predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.classes_[proba.argmax(axis=1)], model.predict(X))
    np.testing.assert_allclose(np.exp(model.predict_log_proba(X)), proba, rtol=1e-10)
    assert model.score(X, y) > 0.95


def test_string_labels_multiclass():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    model = RegularizedMLPClassifier(max_iter=300, learning_rate_init=0.01, random_state=0)
    model.fit(X, names)
    assert list(model.classes_) == ["setosa", "versicolor", "virginica"]
    assert set(model.predict(X)) <= set(model.classes_)
    assert model.score(X, names) > 0.9


def test_single_class_is_a_clear_error():
    with pytest.raises(ValueError, match="only one class"):
        RegularizedMLPClassifier().fit(np.zeros((5, 2)), ["a"] * 5)


def test_continuous_target_is_rejected():
    with pytest.raises(ValueError, match="Unknown label type"):
        RegularizedMLPClassifier().fit(np.zeros((5, 2)), np.linspace(0, 1, 5))


def test_validation_scores_are_accuracies(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier(early_stopping=True, max_iter=20, random_state=0).fit(X, y)
    assert all(0 <= s <= 1 for s in model.validation_scores_)
    assert model.best_validation_score_ == model.validation_scores_[model.best_epoch_ - 1]


def test_partial_fit_needs_classes_first_and_rejects_unseen_labels():
    X = np.random.RandomState(0).normal(size=(30, 3))
    y = np.array(["a", "b", "c"] * 10)
    model = RegularizedMLPClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        model.partial_fit(X, y)
    model.partial_fit(X[y != "c"], y[y != "c"], classes=["a", "b", "c"])
    assert list(model.classes_) == ["a", "b", "c"] and model.n_iter_ == 1
    model.partial_fit(X, y)
    assert model.n_iter_ == 1 and len(model.loss_curve_) == 2
    with pytest.raises(ValueError, match=r"labels \['d'\] that are not among the classes"):
        model.partial_fit(X[:2], ["a", "d"])
    with pytest.raises(ValueError, match="differs from the classes of the earlier calls"):
        model.partial_fit(X, y, classes=["a", "b"])
    with pytest.raises(ValueError, match="'balanced' is not supported by partial_fit"):
        RegularizedMLPClassifier(class_weight="balanced").partial_fit(X, y, classes=["a", "b", "c"])


def test_label_smoothing_softens_confidence(cancer):
    X, y = cancer
    common = dict(hidden_layer_sizes=(32,), max_iter=60, random_state=0)
    sharp = RegularizedMLPClassifier(**common).fit(X, y).predict_proba(X).max(axis=1)
    smooth = RegularizedMLPClassifier(label_smoothing=0.2, **common).fit(X, y)
    # The smoothed target of the true class is 1 - 0.2 + 0.2 / 2 = 0.9.
    assert smooth.predict_proba(X).max(axis=1).mean() < 0.93 < sharp.mean()
    assert smooth.score(X, y) > 0.95
