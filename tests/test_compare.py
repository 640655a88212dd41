"""skreg.compare: cross-validated comparison tables, and their plot."""

import matplotlib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_multilabel_classification
from sklearn.linear_model import LogisticRegression

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor, compare, plot_comparison

# No display: pyplot, imported by plot_comparison, draws off screen.
matplotlib.use("Agg")


def test_one_row_per_named_model_with_mean_std_and_fit_time(cancer):
    X, y = cancer
    models = {
        # One logistic output learns more slowly in the first epochs than two softmax
        # logits did (Adam moves both of those): a larger step keeps the fits short.
        "plain": RegularizedMLPClassifier((16,), max_iter=15, learning_rate_init=0.01,
                                          random_state=0),
        "dropout": RegularizedMLPClassifier((16,), dropout=0.5, max_iter=15,
                                            learning_rate_init=0.01, random_state=0),
        "logistic": LogisticRegression(),
    }
    table = compare(models, X, y, cv=3, scoring=["accuracy", "neg_log_loss"])
    assert list(table.index) == ["plain", "dropout", "logistic"]
    for column in ("accuracy_mean", "accuracy_std", "neg_log_loss_mean", "neg_log_loss_std",
                   "fit_time_mean", "fit_time_std", "score_time_mean"):
        assert column in table.columns and table[column].notna().all()
    assert (table["accuracy_mean"] > 0.6).all() and (table["neg_log_loss_mean"] < 0).all()
    assert (table["fit_time_mean"] > 0).all()


def test_parameter_grid_names_rows_by_their_parameters(diabetes):
    X, y = diabetes
    base = RegularizedMLPRegressor((8,), max_iter=5, random_state=0)
    table = compare(base, X, y, param_grid={"dropout": [0.0, 0.5], "l2": [1e-3]}, cv=2,
                    return_train_score=True)
    assert list(table.index) == ["dropout=0.0, l2=0.001", "dropout=0.5, l2=0.001"]
    assert list(table["dropout"]) == [0.0, 0.5]
    assert {"score_mean", "train_score_mean"} <= set(table.columns)
    assert base.dropout == 0.0  # the base estimator is cloned, not modified


def test_every_model_sees_the_same_folds(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier((8,), max_iter=3, random_state=0)
    table = compare({"a": model, "b": model}, X, y, cv=3)
    assert table.loc["a", "score_mean"] == table.loc["b", "score_mean"]


def test_multilabel_models_are_compared_on_unstratified_folds():
    X, Y = make_multilabel_classification(n_samples=60, random_state=0, return_indicator=True)
    models = {"plain": RegularizedMLPClassifier((16,), max_iter=5, random_state=0),
              "dropout": RegularizedMLPClassifier((16,), dropout=0.5, max_iter=5, random_state=0)}
    table = compare(models, X, Y, cv=3, scoring=["accuracy", "f1_macro"])
    assert list(table.index) == ["plain", "dropout"]
    # accuracy of a multilabel target is subset accuracy, as the estimators' score.
    assert table[["accuracy_mean", "f1_macro_mean"]].apply(lambda c: c.between(0, 1)).all().all()


def test_bad_models_argument_is_a_type_error(cancer):
    X, y = cancer
    with pytest.raises(TypeError, match="non-empty dict"):
        compare([RegularizedMLPClassifier()], X, y)
    with pytest.raises(TypeError, match="not an estimator"):
        compare({"x": 3}, X, y)
    with pytest.raises(TypeError, match="one scikit-learn estimator"):
        compare({"x": RegularizedMLPClassifier()}, X, y, param_grid={"l2": [0.0]})


def test_plot_draws_one_bar_per_model(cancer):
    X, y = cancer
    table = compare(
        {"a": LogisticRegression(C=0.01), "b": LogisticRegression()}, X, y, cv=3,
        scoring=["accuracy", "roc_auc"],
    )
    ax = plot_comparison(table, "roc_auc")
    assert len(ax.patches) == 2
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    assert "roc_auc" in ax.get_xlabel()
    assert plot_comparison(table).get_xlabel().startswith("accuracy")
    with pytest.raises(ValueError, match="not in the table"):
        plot_comparison(table, "f1")
    matplotlib.pyplot.close("all")
    assert np.isfinite(table.to_numpy(dtype=float)).all()


def test_models_whose_names_would_collide_are_refused(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier((8,), max_iter=2, random_state=0)
    with pytest.raises(ValueError, match="both be named '1'"):
        compare({1: model, "1": clone(model)}, X, y, cv=2)
    with pytest.raises(ValueError, match="both be named 'l2=0.1'"):
        compare(model, X, y, cv=2, param_grid=[{"l2": [0.1]}, {"l2": [0.1]}])


def test_grid_names_are_exact_and_one_row_per_setting(diabetes):
    X, y = diabetes
    base = RegularizedMLPRegressor((4,), max_iter=2, random_state=0)
    values = [0.1234567, 0.1234568, 100.0, np.float32(0.1), 0.1]
    table = compare(base, X, y, cv=2, param_grid={"l2": values})
    assert list(table.index) == [
        "l2=0.1234567", "l2=0.1234568", "l2=100.0", "l2=0.10000000149011612", "l2=0.1"
    ]
    assert list(table["l2"]) == values
