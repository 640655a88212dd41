"""The CV estimators: results as GridSearchCV's, final models, errors, interruption."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback

import skreg
from skreg import (
    RegularizedMLPClassifier,
    RegularizedMLPClassifierCV,
    RegularizedMLPRegressor,
    RegularizedMLPRegressorCV,
)

SMALL = {"hidden_layer_sizes": (8,), "max_iter": 16, "cv": 3, "random_state": 0,
         "learning_rate_init": 0.01}
GRID = {"alpha": [1e-4, 1e-1], "dropout": [0.0, 0.3]}


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X[:150]), y[:150]


@pytest.fixture(scope="module")
def fitted(cancer):
    return RegularizedMLPClassifierCV(param_grid=GRID, **SMALL).fit(*cancer)


def test_cv_results_have_grid_search_keys_and_shapes(cancer, fitted):
    grid = GridSearchCV(
        RegularizedMLPClassifier(hidden_layer_sizes=(8,), max_iter=2), GRID, cv=3
    ).fit(*cancer)
    for key, value in grid.cv_results_.items():
        ours = fitted.cv_results_[key]
        assert np.shape(ours) == np.shape(value), key
        assert type(ours) is type(value), key
    assert fitted.cv_results_["params"] == grid.cv_results_["params"]
    assert fitted.n_splits_ == 3


def test_best_params_agree_with_cv_results(fitted):
    results = fitted.cv_results_
    best = int(np.argmin(results["rank_test_score"]))
    assert fitted.best_index_ == best
    assert fitted.best_params_ == results["params"][best]
    assert fitted.best_score_ == results["mean_test_score"][best]
    folds = [results[f"split{f}_test_score"][best] for f in range(3)]
    assert fitted.best_score_ == pytest.approx(np.mean(folds))


def test_refit_is_an_ordinary_model_trained_for_the_best_epochs(cancer, fitted):
    model = fitted.best_estimator_
    assert type(model) is RegularizedMLPClassifier
    best_epochs = fitted.cv_results_["mean_best_epoch"][fitted.best_index_]
    assert model.max_iter == max(1, round(best_epochs))
    assert model.get_params()["alpha"] == fitted.best_params_["alpha"]
    np.testing.assert_array_equal(fitted.predict(cancer[0]), model.predict(cancer[0]))
    assert not hasattr(fitted, "estimators_")
    assert fitted.score(*cancer) > 0.85


def test_the_final_model_saves_and_loads_as_any_skreg_model(cancer, fitted, tmp_path):
    path = tmp_path / "best.safetensors"
    skreg.save(fitted.best_estimator_, path)
    loaded = skreg.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(cancer[0]), fitted.predict_proba(cancer[0]))


def test_bagging_averages_the_fold_models(cancer):
    X, y = cancer
    bagged = RegularizedMLPClassifierCV(param_grid=GRID, final_model="bagging", **SMALL).fit(X, y)
    assert len(bagged.estimators_) == 3 and not hasattr(bagged, "best_estimator_")
    mean = np.mean([est.predict_proba(X) for est in bagged.estimators_], axis=0)
    np.testing.assert_allclose(bagged.predict_proba(X), mean)
    np.testing.assert_array_equal(bagged.predict(X), bagged.classes_[mean.argmax(axis=1)])


def test_regressor_bagging_and_refit(cancer):
    X, y = load_diabetes(return_X_y=True)
    X, y = X[:150], y[:150]
    Y = np.column_stack([y, -y])
    for final in ("refit", "bagging"):
        model = RegularizedMLPRegressorCV(param_grid={"alpha": [1e-4, 1e-1]}, final_model=final,
                                          **SMALL).fit(X, Y)
        assert model.predict(X).shape == Y.shape
    assert type(model.estimators_[0]) is RegularizedMLPRegressor


def test_n_jobs_minus_one_uses_every_core_for_the_stack(cancer):
    # joblib's -1 (every core) becomes a thread count, which torch needs positive.
    model = RegularizedMLPClassifierCV(param_grid={"alpha": [1e-3]}, n_jobs=-1, **SMALL)
    assert np.isfinite(model.fit(*cancer).best_score_)


def test_float32_input_gives_float32_predictions():
    X, y = load_diabetes(return_X_y=True)
    X = X[:150].astype(np.float32)
    model = RegularizedMLPRegressorCV(param_grid={"alpha": [1e-3]}, **SMALL).fit(X, y[:150])
    assert model.predict(X).dtype == np.float32
    assert model.predict(X.astype(np.float64)).dtype == np.float64


def test_a_random_state_repeats_the_search(cancer, fitted):
    X, y = cancer
    again = RegularizedMLPClassifierCV(param_grid=GRID, **SMALL).fit(X, y)
    np.testing.assert_array_equal(again.cv_results_["mean_test_score"],
                                  fitted.cv_results_["mean_test_score"])
    np.testing.assert_array_equal(again.predict_proba(X), fitted.predict_proba(X))
    other = RegularizedMLPClassifierCV(param_grid=GRID, **{**SMALL, "random_state": 1}).fit(X, y)
    assert not np.array_equal(other.predict_proba(X), fitted.predict_proba(X))


def test_ordinary_and_stacked_trainers_both_search(cancer):
    # batch_norm needs the ordinary estimator; the other candidate is stacked.
    space = [{"batch_norm": [True]}, {"dropout": [0.2]}]
    model = RegularizedMLPClassifierCV(param_grid=space, eval_every=4, **SMALL).fit(*cancer)
    assert np.isfinite(model.cv_results_["mean_test_score"]).all()
    with pytest.raises(ValueError, match="stacked=True, but candidate"):
        RegularizedMLPClassifierCV(param_grid=space, stacked=True, **SMALL).fit(*cancer)


def test_architectures_train_as_separate_stacks(cancer):
    space = {"hidden_layer_sizes": [(4,), (8, 4)], "alpha": [1e-4, 1e-1]}
    model = RegularizedMLPClassifierCV(param_grid=space, **SMALL).fit(*cancer)
    assert np.isfinite(model.cv_results_["mean_test_score"]).all()
    assert model.best_estimator_.hidden_layer_sizes == model.best_params_["hidden_layer_sizes"]


def test_multilabel_and_multiclass_targets(cancer):
    X, y = cancer
    indicator = np.column_stack([y, 1 - y, X[:, 0] > 0]).astype(int)
    three = np.where(X[:, 1] > 0.5, 2, y)
    for target in (indicator, three):
        model = RegularizedMLPClassifierCV(param_grid={"alpha": [1e-4]}, **SMALL).fit(X, target)
        predicted = model.predict(X)
        assert predicted.shape == target.shape
        assert set(np.unique(predicted)) <= set(np.unique(target))
        np.testing.assert_array_equal(predicted, model.best_estimator_.predict(X))


def test_halving_drops_the_worse_half_early(cancer):
    space = {"alpha": [1e-4, 1e-3, 1e-2, 1e-1]}
    params = {**SMALL, "n_iter_no_change": 100}
    halved = RegularizedMLPClassifierCV(param_grid=space, **params).fit(*cancer)
    full = RegularizedMLPClassifierCV(param_grid=space, halving=False, **params).fit(*cancer)
    # Rungs at 2, 4 and 8 of 16 epochs: 4 candidates, then 2, then 1.
    assert sorted(halved.cv_results_["n_epochs"]) == [2, 2, 4, 16]
    assert list(full.cv_results_["n_epochs"]) == [16] * 4


def test_a_scorer_sees_the_members_predictions(cancer, fitted):
    # scoring=None is the negative log loss of the stacked members' held-out logits:
    # sklearn's log-loss scorer on their predictions gives the same scores.
    scored = RegularizedMLPClassifierCV(param_grid=GRID, scoring="neg_log_loss", **SMALL)
    scored.fit(*cancer)
    np.testing.assert_allclose(scored.cv_results_["mean_test_score"],
                               fitted.cv_results_["mean_test_score"], rtol=1e-5)
    # An accuracy scorer sees class predictions: each fold's score counts held-out rows.
    accuracy = RegularizedMLPClassifierCV(param_grid=GRID, scoring="accuracy", **SMALL)
    results = accuracy.fit(*cancer).cv_results_
    for k in range(3):
        rows = results[f"split{k}_test_score"] * 50  # 150 rows in 3 folds
        np.testing.assert_allclose(rows, np.round(rows), atol=1e-6)


def test_the_default_score_of_ordinary_members_is_their_log_loss(cancer):
    # Candidates with batch norm train as ordinary estimators, scored through
    # predict_proba: the same negative log loss as sklearn's scorer.
    space = {"batch_norm": [True], "alpha": [1e-4, 1e-1]}
    default = RegularizedMLPClassifierCV(param_grid=space, **SMALL).fit(*cancer)
    scored = RegularizedMLPClassifierCV(param_grid=space, scoring="neg_log_loss", **SMALL)
    np.testing.assert_allclose(scored.fit(*cancer).cv_results_["mean_test_score"],
                               default.cv_results_["mean_test_score"], rtol=1e-6)
    assert (default.cv_results_["mean_test_score"] < 0).all()


def test_a_rare_class_does_not_stop_the_search_at_its_first_epochs():
    # With 6 % positives, held-out accuracy stays at the majority share while the network
    # learns to rank; the log loss goes on improving, so the refit trains for many epochs.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 5))
    y = (X[:, 0] + rng.normal(size=600) > 2.2).astype(int)
    model = RegularizedMLPClassifierCV(param_grid={"alpha": [1e-4]}, hidden_layer_sizes=(8,),
                                       max_iter=60, cv=3, random_state=0).fit(X, y)
    assert 0.03 < y.mean() < 0.1
    # By held-out accuracy the best epochs were 40 on average; the log loss still improves.
    assert model.best_estimator_.n_iter_ >= 55


def test_pipeline_and_clone(cancer):
    X, y = cancer
    search = RegularizedMLPClassifierCV(param_grid={"alpha": [1e-3]}, **SMALL)
    pipe = make_pipeline(StandardScaler(), search).fit(X, y.astype(str))
    assert set(pipe.predict(X)) <= {"0", "1"}
    assert clone(search).get_params() == search.get_params()
    assert "param_grid" in search.get_params() and "dropout" in search.get_params()


@pytest.mark.parametrize(("space", "error", "match"), [
    ({"drop_out": [0.1]}, ValueError, "not a parameter of RegularizedMLPClassifier"),
    ({"dropout": []}, ValueError, r"param_grid\['dropout'\] is empty"),
    ({"activation": "relu"}, TypeError, "must be a list of values"),
    ({"dropout": [1.5]}, ValueError, "candidate {'dropout': 1.5} is invalid"),
    ([], ValueError, "empty list"),
    ([{"dropout": [0.1]}, 3], TypeError, "a dict or a list of dicts"),
])
def test_bad_search_spaces_are_rejected(cancer, space, error, match):
    with pytest.raises(error, match=match):
        RegularizedMLPClassifierCV(param_grid=space, **SMALL).fit(*cancer)


def test_a_distribution_needs_n_iter(cancer):
    from scipy.stats import loguniform

    space = {"alpha": loguniform(1e-5, 1e-1)}
    with pytest.raises(ValueError, match="set n_iter"):
        RegularizedMLPClassifierCV(param_grid=space, **SMALL).fit(*cancer)
    model = RegularizedMLPClassifierCV(param_grid=space, n_iter=3, **SMALL).fit(*cancer)
    assert len(model.cv_results_["params"]) == 3


def test_verbose_reports_progress(cancer, capsys):
    RegularizedMLPClassifierCV(param_grid=GRID, verbose=1, **SMALL).fit(*cancer)
    out = capsys.readouterr().out
    assert "candidates left, best mean score so far" in out and "of 4" in out


class InterruptOnce(Callback):
    """Raise KeyboardInterrupt after the tenth training batch, once per process, as a
    Ctrl-C during a batch does."""

    batches = 0

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            InterruptOnce.batches += 1
            if InterruptOnce.batches == 10:
                raise KeyboardInterrupt


def test_ctrl_c_in_an_ordinary_fit_keeps_the_best_so_far(cancer):
    # One batch an epoch, four epochs a chunk: the first two members train their chunk,
    # the third is interrupted in its second epoch.
    InterruptOnce.batches = 0
    search = RegularizedMLPClassifierCV(param_grid=GRID, callbacks=[InterruptOnce()],
                                        eval_every=4, halving=False, **SMALL)
    with pytest.warns(UserWarning, match="interrupted"):
        search.fit(*cancer)
    assert sorted(search.cv_results_["n_epochs"]) == [0, 0, 0, 4]
    assert search.best_index_ == 0
    assert search.predict(cancer[0]).shape == (len(cancer[1]),)


def test_ctrl_c_in_a_stacked_search_keeps_the_best_so_far(cancer):
    calls = []

    def scoring(estimator, X, y):
        calls.append(1)
        if len(calls) == 40:
            raise KeyboardInterrupt
        return float((estimator.predict(X) == y).mean())

    # Without halving or early stopping, 12 members are scored after every epoch: the
    # interrupt comes during the fourth epoch's scores.
    search = RegularizedMLPClassifierCV(param_grid=GRID, scoring=scoring, halving=False,
                                        **{**SMALL, "n_iter_no_change": 100})
    with pytest.warns(UserWarning, match="interrupted"):
        search.fit(*cancer)
    assert search.cv_results_["n_epochs"].max() == 3
    assert hasattr(search, "best_estimator_")


def test_ctrl_c_before_any_epoch_propagates(cancer):
    def scoring(estimator, X, y):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        RegularizedMLPClassifierCV(param_grid=GRID, scoring=scoring, **SMALL).fit(*cancer)
