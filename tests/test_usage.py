"""The lines users write: skreg inside sklearn's pipelines, searches and cross-validation."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor


def test_dropout_one_liner(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier(dropout=0.5).fit(X, y)
    assert model.score(X, y) > 0.95


@pytest.mark.slow  # n_jobs=2 starts loky worker processes
def test_grid_search_over_dropout_and_l2_in_a_pipeline_with_two_jobs(cancer):
    X, y = cancer
    pipe = Pipeline([
        ("scale", StandardScaler()),
        ("mlp", RegularizedMLPClassifier(hidden_layer_sizes=(32,), max_iter=20, random_state=0)),
    ])
    grid = {"mlp__l2": [0, 1e-3], "mlp__dropout": [0, 0.5]}
    search = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert set(search.best_params_) == {"mlp__l2", "mlp__dropout"}
    assert search.best_score_ > 0.9
    assert search.best_estimator_["mlp"].l2 == search.best_params_["mlp__l2"]


def test_cross_val_score_compares_regularized_and_unregularized(diabetes):
    X, y = diabetes
    plain = RegularizedMLPRegressor((64, 64), max_iter=50, random_state=0)
    regularized = clone(plain).set_params(dropout=0.3, l2=1e-3)
    plain_scores = cross_val_score(plain, X, y, cv=3)
    reg_scores = cross_val_score(regularized, X, y, cv=3)
    assert plain_scores.shape == reg_scores.shape == (3,)
    assert np.all(np.isfinite(plain_scores)) and np.all(np.isfinite(reg_scores))
    assert not np.allclose(plain_scores, reg_scores)


def test_column_transformer_on_a_dataframe_with_categories_and_string_labels():
    rng = np.random.RandomState(0)
    n = 300
    frame = pd.DataFrame({
        "age": rng.uniform(20, 70, n),
        "income": rng.lognormal(10, 1, n),
        "city": rng.choice(["paris", "lyon", "nice"], n),
        "plan": pd.Categorical(rng.choice(["basic", "pro"], n)),
    })
    labels = np.where((frame["city"] == "paris") | (frame["age"] > 50), "churn", "stay")
    prep = ColumnTransformer([
        ("num", StandardScaler(), ["age", "income"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["city", "plan"]),
    ])
    model = make_pipeline(prep, RegularizedMLPClassifier(max_iter=100, random_state=0))
    model.fit(frame, labels)
    assert set(model.classes_) == {"churn", "stay"}
    assert model.score(frame, labels) > 0.9
    assert model.predict_proba(frame.head(5)).shape == (5, 2)


def test_clone_and_pickle_round_trips(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier(
        hidden_layer_sizes=(16, 8), dropout=[0.2, 0.1], l1=1e-5, batch_norm=True, max_iter=10,
        random_state=0,
    )
    cloned = clone(model)
    assert cloned.get_params() == model.get_params() and not hasattr(cloned, "net_")
    model.fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    assert restored.n_iter_ == model.n_iter_
    refit = clone(model).fit(X, y)
    np.testing.assert_array_equal(refit.predict_proba(X), model.predict_proba(X))
