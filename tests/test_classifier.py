import warnings

import numpy as np
import pytest
import torch
from scipy import sparse
from scipy.special import expit
from sklearn.datasets import load_iris, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.neural_network import MLPClassifier

from skreg import RegularizedMLPClassifier


def logits_of(model, X):
    """The fitted module's raw outputs, computed here independently of the estimator."""
    module = model.net_.module_.eval()
    with torch.no_grad():
        return module(torch.as_tensor(X, dtype=torch.float32)).double().numpy()


def multilabel_data():
    return make_multilabel_classification(n_samples=50, random_state=0, return_indicator=True)


def test_binary_predict_proba_has_one_column_per_class(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier(hidden_layer_sizes=(16,), max_iter=100, random_state=0)
    proba = model.fit(X, y).predict_proba(X)
    assert proba.shape == (len(X), 2)
    assert model.n_outputs_ == 1 and model.out_activation_ == "logistic"
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
    assert model.n_outputs_ == 3 and model.out_activation_ == "softmax"
    assert model.net_.module_.output.out_features == 3
    np.testing.assert_array_equal(
        model.predict(X), model.classes_[model.predict_proba(X).argmax(axis=1)]
    )
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
    # Accuracies of the 57 held-out rows (10 % of 569): whole numbers of rows, not losses.
    correct = np.array(model.validation_scores_) * 57
    np.testing.assert_allclose(correct, np.round(correct), atol=1e-3)
    assert len(set(model.validation_scores_)) > 1
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


def test_binary_has_one_logit_whose_sigmoid_is_the_second_class(cancer):
    X, y = cancer
    labels = np.array(["benign", "malignant"])[1 - y]  # classes_[1] is the data's class 0
    model = RegularizedMLPClassifier((16,), max_iter=20, random_state=0).fit(X, labels)
    assert list(model.classes_) == ["benign", "malignant"]
    assert model.net_.module_.output.out_features == 1
    z = logits_of(model, X)
    assert z.shape == (len(X), 1)
    p = expit(z[:, 0])
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba, np.column_stack([1 - p, p]), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(model.predict(X), model.classes_[(p > 0.5).astype(int)])
    np.testing.assert_array_equal(model.predict(X), model.classes_[proba.argmax(axis=1)])
    assert model.score(X, labels) > 0.9


def test_predict_log_proba_is_the_log_of_predict_proba_as_in_sklearn(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier((16,), max_iter=20, random_state=0).fit(X, y)
    for rows in (X, 1e3 * X):  # the far inputs drive the logits to thousands
        log_proba = model.predict_log_proba(rows)
        proba = model.predict_proba(rows)
        with np.errstate(divide="ignore"):
            np.testing.assert_array_equal(log_proba, np.log(proba))
        np.testing.assert_array_equal(log_proba.argmax(axis=1), proba.argmax(axis=1))
    # Where the probability rounds to 0, its log is -inf, as scikit-learn's MLP gives.
    assert np.isneginf(model.predict_log_proba(1e3 * X)).any()


def test_binary_validation_score_is_the_accuracy_of_the_held_out_rows(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier(
        (16,), early_stopping=True, validation_fraction=0.2, max_iter=15, random_state=0
    ).fit(X, y)
    target = y.astype(np.float32).reshape(-1, 1)  # the single logit's 0/1 target
    _, rows = model._validation_split(target, model._draw_seed())  # the split fit drew
    assert abs(y[rows].mean() - y.mean()) < 0.01  # stratified by class
    # The score in the history is a float32 mean; one row more or less would be 1/114.
    assert model.score(X[rows], y[rows]) == pytest.approx(model.best_validation_score_, abs=1e-6)


def test_label_smoothing_of_a_binary_target_pulls_probabilities_toward_one_half(cancer):
    X, y = cancer
    common = dict(hidden_layer_sizes=(32,), max_iter=200, learning_rate_init=0.01,
                  n_iter_no_change=200, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        smooth = RegularizedMLPClassifier(label_smoothing=0.2, **common).fit(X, y)
    # The loss is minimal at the smoothed targets 0.1 and 0.9; a well-separated training
    # set puts most probabilities close to them.
    confident = smooth.predict_proba(X).max(axis=1)
    assert np.median(np.abs(confident - 0.9)) < 0.02


def test_multilabel_fit_predict_and_probabilities():
    X, Y = multilabel_data()
    params = dict(max_iter=200, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = RegularizedMLPClassifier(**params).fit(X, Y)
        reference = MLPClassifier(**params).fit(X, Y)
    np.testing.assert_array_equal(model.classes_, np.arange(5))
    assert model.n_outputs_ == reference.n_outputs_ == 5
    assert model.out_activation_ == reference.out_activation_ == "logistic"
    proba = model.predict_proba(X)
    assert proba.shape == (50, 5)
    np.testing.assert_allclose(proba, expit(logits_of(model, X)), rtol=1e-12)
    assert not np.allclose(proba.sum(axis=1), 1.0)
    predicted = model.predict(X)
    assert predicted.shape == (50, 5) and predicted.dtype == reference.predict(X).dtype
    np.testing.assert_array_equal(predicted, (proba > 0.5).astype(int))
    np.testing.assert_allclose(model.predict_log_proba(X), np.log(proba), rtol=1e-9)
    # score is subset accuracy, as scikit-learn's; on the training rows it is comparable to
    # MLPClassifier's with the same settings (measured: 0.98 for both).
    score = model.score(X, Y)
    assert score == accuracy_score(Y, predicted)
    assert score >= reference.score(X, Y) - 0.06 and score > 0.9
    importances = model.feature_importances_
    assert importances.shape == (20,) and np.isclose(importances.sum(), 1.0)


def test_multilabel_loss_sums_the_labels_binary_cross_entropy():
    X, Y = multilabel_data()
    model = RegularizedMLPClassifier((8,), max_iter=3, random_state=0).fit(X, Y)
    proba = model.predict_proba(X)
    # scikit-learn's log loss of logistic outputs: summed over labels, averaged over rows.
    expected = -np.mean(np.sum(Y * np.log(proba) + (1 - Y) * np.log(1 - proba), axis=1))
    logits = torch.as_tensor(logits_of(model, X))
    loss = model.net_.get_loss(logits, torch.as_tensor(Y, dtype=torch.float64))
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-9)


def test_multilabel_targets_as_lists_and_sparse_matrices_train_alike():
    X, Y = multilabel_data()
    params = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    dense = RegularizedMLPClassifier(**params).fit(X, Y).predict_proba(X)
    for other in (Y.tolist(), sparse.csr_matrix(Y), Y.astype(bool), Y.astype(float)):
        np.testing.assert_array_equal(
            RegularizedMLPClassifier(**params).fit(X, other).predict_proba(X), dense
        )


def test_multilabel_with_class_weight_is_a_clear_error():
    X, Y = multilabel_data()
    for class_weight in ("balanced", {0: 2.0}):
        with pytest.raises(ValueError, match="class_weight is not supported for multilabel"):
            RegularizedMLPClassifier(class_weight=class_weight, max_iter=2).fit(X, Y)


def test_multilabel_partial_fit_checks_classes_and_the_labels():
    X, Y = multilabel_data()
    model = RegularizedMLPClassifier((8,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        model.partial_fit(X, Y)
    with pytest.raises(ValueError, match=r"classes must be the label indices \[0, 1, 2, 3, 4\]"):
        model.partial_fit(X, Y, classes=[0, 1])
    assert not hasattr(model, "net_")
    model.partial_fit(X[:25], Y[:25], classes=[0, 1, 2, 3, 4])
    model.partial_fit(X[25:], Y[25:])
    model.partial_fit(X, Y, classes=np.arange(5))
    assert len(model.loss_curve_) == 3 and model.predict(X).shape == (50, 5)
    with pytest.raises(ValueError, match="needs a multilabel indicator matrix of 5 labels"):
        model.partial_fit(X, Y[:, :3])
    with pytest.raises(ValueError, match="multilabel indicator matrix of 5 labels, but y holds"):
        model.partial_fit(X, Y[:, 0])
    assert len(model.loss_curve_) == 3
    binary = RegularizedMLPClassifier((8,), random_state=0).partial_fit(X, Y[:, 0], classes=[0, 1])
    with pytest.raises(ValueError, match="fitted on the binary classes"):
        binary.partial_fit(X, Y)


def test_warm_start_refuses_a_target_of_another_kind_or_size():
    X, Y = multilabel_data()
    model = RegularizedMLPClassifier((8,), max_iter=2, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, Y)
        model.fit(X, Y)
    assert len(model.loss_curve_) == 4
    with pytest.raises(ValueError, match="warm_start needs a multilabel indicator matrix of 5"):
        model.fit(X, Y[:, :4])
    with pytest.raises(ValueError, match="warm_start continues a network fitted on a multilabel"):
        model.fit(X, Y.argmax(axis=1))  # labels 0..4 as classes: same classes_, other kind
    assert len(model.loss_curve_) == 4 and model.n_outputs_ == 5


def test_multilabel_early_stopping_splits_without_stratifying():
    X, Y = multilabel_data()
    # Most label combinations occur once, which a stratified split could not divide.
    assert len(np.unique(Y, axis=0)) > 15
    model = RegularizedMLPClassifier(
        (16,), early_stopping=True, validation_fraction=0.2, max_iter=30, random_state=0
    ).fit(X, Y)
    assert model._stratification(Y.astype(np.float32)) is None
    assert len(model.validation_scores_) == model.n_iter_
    # The validation score is the subset accuracy of the held-out rows, which an unstratified
    # split with the net's seed picks.
    _, rows = model._validation_split(Y.astype(np.float32), model._draw_seed())
    assert model.score(X[rows], Y[rows]) == pytest.approx(model.best_validation_score_, abs=1e-6)


def test_mixup_mixes_the_targets_of_logistic_outputs(cancer):
    X, y = cancer
    X_multi, Y = multilabel_data()
    binary = RegularizedMLPClassifier((8,), mixup_alpha=0.4, max_iter=5, random_state=0)
    multilabel = RegularizedMLPClassifier((8,), mixup_alpha=0.4, max_iter=5, random_state=0)
    multiclass = RegularizedMLPClassifier((8,), mixup_alpha=0.4, max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        binary.fit(X, y)
        multilabel.fit(X_multi, Y)
        multiclass.fit(*load_iris(return_X_y=True))
    # 0/1 targets are mixed as they are; class indices are one-hot encoded first.
    assert binary.net_.augmentation.n_classes is None
    assert multilabel.net_.augmentation.n_classes is None
    assert multiclass.net_.augmentation.n_classes == 3
    assert np.isfinite(binary.loss_curve_).all() and np.isfinite(multilabel.loss_curve_).all()
