"""solver="lbfgs": full-batch L-BFGS as in scikit-learn's MLP, checked against scikit-learn."""

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import MinMaxScaler, scale
from torch import nn

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor
from skreg._lbfgs import train_lbfgs

ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]


@pytest.fixture(autouse=True)
def one_torch_thread():
    """These problems are a few hundred rows: one thread runs them fastest (a second one
    only adds synchronization, which stalls when other processes share the cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def digits(n_class):
    """scikit-learn's test_mlp.py data: the first 200 digits of ``n_class`` classes, in [0, 1].

    Rounded to float32 values (in float64), so that scikit-learn, which
    computes in the dtype of ``X``, and skreg, which stores ``X`` as float32,
    see the same numbers.
    """
    X, y = load_digits(n_class=n_class, return_X_y=True)
    X = MinMaxScaler().fit_transform(X[:200])
    return X.astype(np.float32).astype(np.float64), y[:200]


def regression():
    """scikit-learn's test_mlp.py regression problem, its target standardized."""
    X, y = make_regression(n_samples=200, n_features=10, bias=20.0, noise=100.0, random_state=7)
    return X.astype(np.float32).astype(np.float64), scale(y)


def linears(model):
    return [m for m in model.net_.module_.modules() if isinstance(m, nn.Linear)]


def start_both_from_sklearns_weights(theirs, ours, X, y):
    """Fit both for one iteration, then give ours the weights of theirs, rounded to float32.

    skreg's module is float32, so scikit-learn's float64 weights are rounded
    first (in place, for scikit-learn's warm start too): both then continue
    from the same point.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs.set_params(max_iter=1).fit(X, y)
        ours.set_params(max_iter=1).fit(X, y)
    for coef, intercept in zip(theirs.coefs_, theirs.intercepts_):
        coef[...] = coef.astype(np.float32)
        intercept[...] = intercept.astype(np.float32)
    with torch.no_grad():
        for linear, coef, intercept in zip(linears(ours), theirs.coefs_, theirs.intercepts_):
            linear.weight.copy_(torch.from_numpy(coef.T))
            linear.bias.copy_(torch.from_numpy(intercept))


def fit_quietly(model, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, **kwargs)


# ---------------------------------------------------------------------- scikit-learn's own tests
@pytest.mark.parametrize("n_class", [2, 3])
def test_lbfgs_classification_scores_as_sklearns_test(n_class):
    # sklearn's test_lbfgs_classification: train on 150 rows, score above 0.95.
    X, y = digits(n_class)
    for activation in ACTIVATIONS:
        model = RegularizedMLPClassifier(
            solver="lbfgs", hidden_layer_sizes=50, max_iter=150, random_state=1,
            activation=activation,
        )
        fit_quietly(model, X[:150], y[:150])
        assert model.score(X[:150], y[:150]) > 0.95
        assert model.predict(X[150:]).shape == (50,)
        assert 1 <= model.n_iter_ <= 150


def test_lbfgs_regression_scores_as_sklearns_test():
    # sklearn's test_lbfgs_regression: R^2 above 0.98 (0.80 for the linear network).
    X, y = regression()
    for activation in ACTIVATIONS:
        model = RegularizedMLPRegressor(
            solver="lbfgs", hidden_layer_sizes=50, max_iter=200, tol=1e-3, random_state=1,
            activation=activation,
        )
        fit_quietly(model, X, y)
        assert model.score(X, y) > (0.80 if activation == "identity" else 0.98)


# ---------------------------------------------------------------------- same start, same result
# Measured with these tests' setup (20 iterations from the same weights, float64 objective
# in both): the final losses agree to at most 1.5e-6 relative for the classifier (tanh; the
# others 3e-9 to 2e-7) and 6.4e-8 for the regressor. Over more iterations the two
# trajectories drift apart as rounding differences grow along a non-convex path (up to
# 1e-3 after 50 to 200 iterations), so the comparison stops at 20.
SAME_START_RTOL = 1e-5


@pytest.mark.parametrize("alpha", [0.0, 1e-2])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_same_start_gives_sklearns_loss_classifier(activation, alpha):
    X, y = digits(3)
    common = dict(
        solver="lbfgs", hidden_layer_sizes=50, activation=activation, alpha=alpha, random_state=1
    )
    theirs = MLPClassifier(**common)
    ours = RegularizedMLPClassifier(**common)
    start_both_from_sklearns_weights(theirs, ours, X, y)
    fit_quietly(theirs.set_params(warm_start=True, max_iter=20), X, y)
    fit_quietly(ours.set_params(warm_start=True, max_iter=20), X, y)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=SAME_START_RTOL)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_same_start_gives_sklearns_loss_regressor(activation):
    # skreg's loss is the mean squared error, sklearn's half of it: with alpha=0 the
    # objectives are proportional, and L-BFGS's steps do not depend on the objective's
    # scale (tol=0 keeps the gradient test, which does, out of it).
    X, y = regression()
    theirs = MLPRegressor(
        solver="lbfgs", hidden_layer_sizes=50, activation=activation, alpha=0.0, tol=0.0,
        random_state=1,
    )
    ours = RegularizedMLPRegressor(
        solver="lbfgs", hidden_layer_sizes=50, activation=activation, alpha=0.0, tol=0.0,
        random_state=1,
    )
    start_both_from_sklearns_weights(theirs, ours, X, y)
    fit_quietly(theirs.set_params(warm_start=True, max_iter=20), X, y)
    fit_quietly(ours.set_params(warm_start=True, max_iter=20), X, y)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_, 2 * theirs.loss_, rtol=SAME_START_RTOL)


# ---------------------------------------------------------------------- limits and stopping
@pytest.mark.parametrize("Estimator", [RegularizedMLPClassifier, RegularizedMLPRegressor])
def test_max_fun_limits_iterations_with_a_convergence_warning(Estimator):
    # sklearn's test_lbfgs_*_maxfun.
    X, y = digits(3) if Estimator is RegularizedMLPClassifier else regression()
    model = Estimator(
        solver="lbfgs", hidden_layer_sizes=50, tol=0.0, max_iter=150, max_fun=10, random_state=1
    )
    with pytest.warns(ConvergenceWarning, match="failed to converge"):
        model.fit(X, y)
    assert 1 <= model.n_iter_ <= 10
    assert len(model.net_.history) == model.n_iter_
    assert model.loss_curve_[-1] == model.loss_


def test_max_iter_reached_warns_and_counts_iterations():
    X, y = digits(3)
    model = RegularizedMLPClassifier(solver="lbfgs", max_iter=5, tol=0.0, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_iter=5"):
        model.fit(X, y)
    assert model.n_iter_ == 5
    assert len(model.loss_curve_) == 5
    # L-BFGS's line search only accepts decreases of the objective.
    assert np.all(np.diff(model.loss_curve_) < 0)


def test_tol_stops_early():
    X, y = regression()
    loose = RegularizedMLPRegressor(
        solver="lbfgs", hidden_layer_sizes=10, max_iter=200, tol=1e-1, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        loose.fit(X, y)
    tight = fit_quietly(clone(loose).set_params(tol=1e-3), X, y)
    assert loose.n_iter_ < tight.n_iter_
    assert tight.loss_ < loose.loss_


def test_float64_objective_reaches_a_tight_tolerance():
    # float32's resolution of the loss (1e-7 relative) would stall the line search
    # before the gradient falls below tol=1e-7; in float64 L-BFGS converges.
    X, y = regression()
    model = RegularizedMLPRegressor(
        solver="lbfgs", hidden_layer_sizes=5, activation="identity", alpha=0.0, tol=1e-7,
        max_iter=500, random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(X, y)
    assert model.n_iter_ < 500
    # The final objective, recomputed from the float32 weights written back to the module.
    with torch.no_grad():
        outputs = model.net_.module_(torch.from_numpy(X.astype(np.float32))).double()
    target = torch.from_numpy(((y - model.y_mean_) / model.y_scale_)[:, None])
    np.testing.assert_allclose(((outputs - target) ** 2).mean().item(), model.loss_, rtol=1e-6)


# ---------------------------------------------------------------------- what lbfgs refuses
@pytest.mark.parametrize(
    "params, match",
    [
        ({"dropout": 0.2}, "dropout"),
        ({"dropout": [0.0, 0.1], "hidden_layer_sizes": (4, 4)}, "dropout"),
        ({"input_noise": 0.1}, "input_noise"),
        ({"mixup_alpha": 0.2}, "mixup_alpha"),
        ({"weight_decay": 1e-3}, "weight_decay"),
    ],
)
def test_random_or_stochastic_settings_are_refused(params, match):
    X, y = digits(2)
    model = RegularizedMLPClassifier(solver="lbfgs", **params)
    with pytest.raises(ValueError, match=f"{match}.*"):
        model.fit(X, y)
    assert not hasattr(model, "net_")


def test_warm_start_from_a_dropout_network_drops_it_or_is_refused():
    X, y = digits(2)
    model = RegularizedMLPClassifier(dropout=0.3, max_iter=2, random_state=0)
    fit_quietly(model, X, y)
    net, weights = model.net_, linears(model)[0].weight.detach().clone()
    with pytest.raises(ValueError, match="deterministic objective.*dropout"):
        model.set_params(warm_start=True, solver="lbfgs").fit(X, y)
    assert model.net_ is net and model.n_iter_ == 2
    assert torch.equal(linears(model)[0].weight, weights)
    # Set to 0, dropout leaves the network and L-BFGS goes on from the weights.
    fit_quietly(model.set_params(dropout=0.0), X, y)
    assert model.net_ is net and 1 <= model.n_iter_ <= 2
    assert not any(isinstance(m, nn.Dropout) for m in net.module_.modules())
    assert not torch.equal(linears(model)[0].weight, weights)


@pytest.mark.parametrize("Estimator", [RegularizedMLPClassifier, RegularizedMLPRegressor])
def test_partial_fit_is_unavailable_with_lbfgs(Estimator):
    assert not hasattr(Estimator(solver="lbfgs"), "partial_fit")
    assert hasattr(Estimator(solver="adam"), "partial_fit")
    assert hasattr(Estimator(solver="sgd"), "partial_fit")
    with pytest.raises(AttributeError, match="partial_fit"):
        Estimator(solver="lbfgs").partial_fit


# ---------------------------------------------------------------------- the objective
def test_integer_sample_weights_equal_repeated_rows():
    X, y = digits(3)
    weights = np.random.RandomState(0).randint(0, 4, size=len(y))
    params = dict(solver="lbfgs", hidden_layer_sizes=20, max_iter=15, l2=1e-3, random_state=0)
    weighted = fit_quietly(RegularizedMLPClassifier(**params), X, y, sample_weight=weights)
    repeated = fit_quietly(
        RegularizedMLPClassifier(**params), np.repeat(X, weights, axis=0), np.repeat(y, weights)
    )
    assert weighted.n_iter_ == repeated.n_iter_
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(
        weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-5, atol=1e-7
    )


def test_integer_sample_weights_equal_repeated_rows_with_alpha():
    # sklearn divides its alpha term by the sum of the sample weights.
    X, y = digits(3)
    X = X.astype(np.float32)
    weights = np.random.RandomState(0).randint(0, 4, size=len(y)).astype(float)
    model = RegularizedMLPClassifier(solver="lbfgs", hidden_layer_sizes=20, max_iter=1,
                                     random_state=0)
    fit_quietly(model, X, y)
    start = {k: v.clone() for k, v in model.net_.module_.state_dict().items()}
    kwargs = dict(alpha=0.5, max_iter=15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = train_lbfgs(model.net_, X, y, weights, **kwargs)
        model.net_.module_.load_state_dict(start)
        rows = weights.astype(int)
        repeated = train_lbfgs(model.net_, np.repeat(X, rows, axis=0), np.repeat(y, rows),
                               **kwargs)
    np.testing.assert_allclose(weighted.losses, repeated.losses, rtol=1e-9)


def test_chunks_give_the_objective_of_the_whole_batch():
    X, y = digits(3)
    X = X.astype(np.float32)
    model = RegularizedMLPClassifier(solver="lbfgs", hidden_layer_sizes=20, max_iter=1,
                                     l1=1e-4, random_state=0)
    fit_quietly(model, X, y)
    start = {k: v.clone() for k, v in model.net_.module_.state_dict().items()}
    results = []
    for chunk_rows in (None, 64):  # one chunk; four, the last of 8 rows
        model.net_.module_.load_state_dict(start)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            results.append(train_lbfgs(model.net_, X, y, l1=1e-4, max_iter=15,
                                       chunk_rows=chunk_rows))
    whole, chunked = results
    assert whole.n_iter == chunked.n_iter == 15
    np.testing.assert_allclose(chunked.losses, whole.losses, rtol=1e-9)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_sparse_csr_gives_the_result_of_dense(batch_norm):
    X, y = digits(3)
    X = X.astype(np.float32)
    X[X < 0.5] = 0  # a sparse matrix with a third of its values stored
    model = RegularizedMLPClassifier(solver="lbfgs", hidden_layer_sizes=20, max_iter=1,
                                     batch_norm=batch_norm, random_state=0)
    fit_quietly(model, X, y)
    start = {k: v.clone() for k, v in model.net_.module_.state_dict().items()}
    results, states = [], []
    for data in (X, sp.csr_matrix(X)):
        model.net_.module_.load_state_dict(start)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            results.append(train_lbfgs(model.net_, data, y, max_iter=15, chunk_rows=64))
        states.append({k: v.clone() for k, v in model.net_.module_.state_dict().items()})
    dense, sparse = results
    assert dense.n_iter == sparse.n_iter
    np.testing.assert_allclose(sparse.losses, dense.losses, rtol=1e-9)
    for name, value in states[0].items():
        torch.testing.assert_close(states[1][name], value, rtol=1e-5, atol=1e-6)


MEMORY_SCRIPT = """
import resource, warnings
import numpy as np, scipy.sparse as sp, torch
from skreg import RegularizedMLPClassifier
from skreg._lbfgs import train_lbfgs

torch.set_num_threads(1)
rng = np.random.RandomState(0)
n, n_features, nnz = 30_000, 2_000, 60_000  # 0.1 % density
X = sp.csr_matrix(
    (rng.uniform(size=nnz).astype(np.float32),
     (rng.randint(n, size=nnz), rng.randint(n_features, size=nnz))),
    shape=(n, n_features),
)
y = np.arange(X.shape[0]) % 3  # multiclass: class indices are the targets
model = RegularizedMLPClassifier(solver="lbfgs", hidden_layer_sizes=8, max_iter=1,
                                 random_state=0)
warnings.simplefilter("ignore")
model.fit(X[:50].toarray(), y[:50])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = train_lbfgs(model.net_, X, y, max_iter=1)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(result.n_iter, (after - before) * 1024)
"""


def test_sparse_input_is_densified_one_chunk_at_a_time():
    # 30,000 x 2,000 sparse: 240 MB dense in float32, 480 MB in float64. The peak resident
    # memory of a process training on it (measured in a fresh one, so that no earlier
    # test's peak hides it) grows by about one chunk (CHUNK_BYTES, 64 MB, of float64 rows
    # and their float32 form): 103 MB measured.
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT], capture_output=True, text=True, check=True,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout.split()
    n_iter, peak_growth = int(out[0]), int(out[1])
    assert n_iter == 1
    assert peak_growth < 240 * 2**20


def test_sparse_input_to_the_estimator_gives_the_result_of_dense():
    X, y = digits(3)
    X[X < 0.5] = 0
    model = RegularizedMLPClassifier(solver="lbfgs", hidden_layer_sizes=20, max_iter=15,
                                     random_state=0)
    try:
        sparse = fit_quietly(clone(model), sp.csr_matrix(X), y)
    except TypeError as exc:
        pytest.skip(f"the estimators do not accept sparse X here: {exc}")
    dense = fit_quietly(clone(model), X, y)
    np.testing.assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(sparse.predict_proba(X), dense.predict_proba(X), rtol=1e-5)


def test_batch_norm_keeps_the_statistics_of_all_rows():
    X, y = digits(3)
    model = fit_quietly(
        RegularizedMLPClassifier(solver="lbfgs", hidden_layer_sizes=20, batch_norm=True,
                                 max_iter=30, random_state=0),
        X, y,
    )
    first, norm = model.net_.module_.hidden[0], model.net_.module_.hidden[1]
    with torch.no_grad():
        pre = first(torch.from_numpy(X.astype(np.float32)))
    torch.testing.assert_close(norm.running_mean, pre.mean(0), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(norm.running_var, pre.var(0), rtol=1e-4, atol=1e-5)
    assert model.score(X, y) > 0.95
    # Deterministic: the same seed gives the same fit.
    again = fit_quietly(clone(model), X, y)
    assert again.loss_curve_ == model.loss_curve_


# ---------------------------------------------------------------------- the estimator around it
def test_warm_start_continues_from_the_current_weights():
    X, y = digits(3)
    model = RegularizedMLPClassifier(solver="lbfgs", hidden_layer_sizes=20, max_iter=10,
                                     tol=0.0, warm_start=True, random_state=0)
    fit_quietly(model, X, y)
    first_loss, first_rows = model.loss_, len(model.net_.history)
    fit_quietly(model, X, y)
    assert model.n_iter_ == 10  # this fit's iterations, as sklearn's n_iter_
    assert len(model.net_.history) == first_rows + 10
    assert model.loss_curve_[first_rows] < first_loss
    assert model.loss_ < first_loss
    cold = fit_quietly(clone(model).set_params(warm_start=False), X, y)
    assert cold.loss_ == first_loss


def test_early_stopping_is_ignored():
    X, y = digits(3)
    params = dict(solver="lbfgs", hidden_layer_sizes=20, max_iter=20, random_state=0)
    plain = fit_quietly(RegularizedMLPClassifier(**params), X, y)
    stopped = fit_quietly(RegularizedMLPClassifier(early_stopping=True, **params), X, y)
    assert stopped.loss_curve_ == plain.loss_curve_
    assert stopped.validation_scores_ is None and stopped.best_epoch_ is None
    np.testing.assert_array_equal(stopped.predict_proba(X), plain.predict_proba(X))


def test_fitted_attributes_and_history():
    X, y = regression()
    model = fit_quietly(
        RegularizedMLPRegressor(solver="lbfgs", hidden_layer_sizes=10, max_iter=30,
                                random_state=0),
        X, y,
    )
    history = model.net_.history
    assert model.loss_curve_ == [row["train_loss"] for row in history]
    assert [row["epoch"] for row in history] == list(range(1, len(history) + 1))
    assert model.best_loss_ == model.loss_ == model.loss_curve_[-1]
    assert model.get_params()["max_fun"] == 15000
    assert clone(model).max_fun == 15000


def test_verbose_prints_each_iteration(capsys):
    X, y = digits(2)
    fit_quietly(
        RegularizedMLPClassifier(solver="lbfgs", hidden_layer_sizes=10, max_iter=3, tol=0.0,
                                 verbose=1, random_state=0),
        X, y,
    )
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out and "Iteration 3, loss = " in out
