"""The stopping rule and the restored epoch, against scikit-learn's own implementation."""

import math
import types
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import MinMaxScaler
from skorch.callbacks import Callback
from skorch.history import History

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor
from skreg._callbacks import NoImprovementStopping


def _sklearn_stop_epoch(values, early_stopping, tol, n_iter_no_change):
    """Run sklearn's ``_update_no_improvement_count`` over ``values``; return (stop epoch, state).

    The method is sklearn's own, called on a stand-in that holds only the
    attributes it reads; the stopping test is the one of sklearn's epoch loop.
    """
    state = types.SimpleNamespace(
        tol=tol,
        _no_improvement_count=0,
        loss_curve_=[],
        best_loss_=None if early_stopping else np.inf,
        validation_scores_=[] if early_stopping else None,
        best_validation_score_=-np.inf if early_stopping else None,
        coefs_=[],
        intercepts_=[],
        verbose=False,
    )
    for epoch, value in enumerate(values, start=1):
        if early_stopping:
            state._score = lambda X, y, sample_weight=None, v=value: v
        else:
            state.loss_curve_.append(value)
        MLPClassifier._update_no_improvement_count(state, early_stopping, None, None, None)
        if state._no_improvement_count > n_iter_no_change:
            return epoch, state
    return None, state


def _skreg_stop_epoch(values, early_stopping, tol, n_iter_no_change):
    """Run :class:`NoImprovementStopping` over ``values`` on a real skorch history."""
    module = torch.nn.Linear(2, 1)
    net = types.SimpleNamespace(
        history=History(),
        module_=module,
        optimizer_=torch.optim.SGD(module.parameters(), lr=0.1),
        verbose=0,
    )
    stopping = NoImprovementStopping(n_iter_no_change, tol, early_stopping).initialize()
    stopping.on_train_begin(net)
    for epoch, value in enumerate(values, start=1):
        net.history.new_epoch()
        net.history.record("train_loss", 1.0 if early_stopping else value)
        if early_stopping:
            net.history.record("valid_score", value)
        stopping.on_epoch_end(net)
        if stopping.stopped_:
            # The rule decides; EndTraining, the net's last callback, then ends training.
            return epoch, stopping
    return None, stopping


values = st.lists(
    st.floats(min_value=-2, max_value=2, allow_nan=False).map(lambda v: round(v, 3)),
    min_size=1,
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(
    values=values,
    early_stopping=st.booleans(),
    tol=st.sampled_from([0.0, 1e-4, 0.01, 0.2]),
    n_iter_no_change=st.sampled_from([1, 2, 5, 10]),
)
def test_stopping_rule_stops_where_sklearns_does(values, early_stopping, tol, n_iter_no_change):
    expected_epoch, expected = _sklearn_stop_epoch(values, early_stopping, tol, n_iter_no_change)
    epoch, stopping = _skreg_stop_epoch(values, early_stopping, tol, n_iter_no_change)
    assert epoch == expected_epoch
    assert stopping.no_improvement_count_ == expected._no_improvement_count
    if early_stopping:
        assert stopping.best_validation_score_ == expected.best_validation_score_
        seen = values[: epoch or len(values)]
        assert stopping.best_epoch_ == 1 + int(np.argmax(seen))
    else:
        assert stopping.best_loss_ == expected.best_loss_


def test_infinite_patience_never_stops():
    epoch, stopping = _skreg_stop_epoch([1.0] * 50, False, 1e9, np.inf)
    assert epoch is None and stopping.no_improvement_count_ == 49


class RecordWeights(Callback):
    """Keep a copy of the module's state after every epoch."""

    def on_train_begin(self, net, **kwargs):
        self.states_ = []

    def on_epoch_end(self, net, **kwargs):
        self.states_.append({k: v.clone() for k, v in net.module_.state_dict().items()})


@pytest.mark.parametrize("Estimator", [RegularizedMLPClassifier, RegularizedMLPRegressor])
def test_restored_epoch_has_the_best_validation_score(Estimator):
    X, y = load_digits(n_class=3, return_X_y=True)
    X = MinMaxScaler().fit_transform(X)
    model = Estimator(
        hidden_layer_sizes=(32,), solver="sgd", learning_rate_init=0.05, tol=0.2,
        early_stopping=True, max_iter=300, random_state=0, callbacks=[RecordWeights()],
    ).fit(X, y)
    scores = model.validation_scores_
    assert model.n_iter_ < 300
    assert model.best_validation_score_ == max(scores)
    assert model.best_epoch_ == 1 + int(np.argmax(scores))
    recorded = dict(model.net_.callbacks_)["RecordWeights"].states_[model.best_epoch_ - 1]
    for name, tensor in model.net_.module_.state_dict().items():
        assert torch.equal(tensor, recorded[name]), name
    assert model.best_loss_ is None


def test_stops_after_n_iter_no_change_plus_one_misses_like_sklearn():
    # The data of sklearn's test_n_iter_no_change.
    X, y = load_digits(n_class=2, return_X_y=True)
    X, y = MinMaxScaler().fit_transform(X[:100]), y[:100]
    model = RegularizedMLPClassifier(tol=0.01, solver="sgd", max_iter=3000, random_state=0)
    model.fit(X, y)
    assert model._no_improvement_count == 11
    losses = model.loss_curve_
    best = math.inf
    misses = 0
    for epoch, loss in enumerate(losses, start=1):
        misses = misses + 1 if loss > best - 0.01 else 0
        best = min(best, loss)
        if misses > 10:
            break
    assert epoch == model.n_iter_ == len(losses)


def test_n_iter_counts_each_call_and_curves_run_over_all():
    X, y = load_iris(return_X_y=True)
    model = RegularizedMLPClassifier(max_iter=5, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
        model.fit(X, y)
    assert model.n_iter_ == 5
    assert len(model.loss_curve_) == 10
    assert model.t_ == 10 * len(X)
    assert model.loss_ == model.loss_curve_[-1]
    partial = RegularizedMLPClassifier(random_state=0)
    for _ in range(3):
        partial.partial_fit(X, y, classes=[0, 1, 2])
    assert partial.n_iter_ == 1 and len(partial.loss_curve_) == 3 and partial.t_ == 3 * len(X)


def test_infinite_n_iter_no_change_trains_max_iter_epochs():
    X, y = load_iris(return_X_y=True)
    model = RegularizedMLPClassifier(max_iter=30, tol=1e9, n_iter_no_change=np.inf)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        model.fit(X, y)
    assert model.n_iter_ == 30 and model._no_improvement_count == 29


def test_partial_fit_refuses_early_stopping():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        RegularizedMLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])


@pytest.mark.parametrize("n_samples", [2, 10])
def test_too_small_validation_split_raises_sklearns_error(n_samples):
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(n_samples, 3)), rng.normal(size=n_samples)
    with pytest.raises(ValueError, match="The validation set is too small"):
        RegularizedMLPRegressor(early_stopping=True).fit(X, y)


def test_adaptive_divides_the_rate_by_five_instead_of_stopping():
    X, y = [[3, 2], [1, 6]], [1, 0]
    model = RegularizedMLPClassifier(
        tol=0.5, max_iter=3000, solver="sgd", learning_rate="adaptive", random_state=0
    ).fit(X, y)
    lr = model.net_.optimizer_.param_groups[0]["lr"]
    # Stopped only once the rate fell to sklearn's floor, after 0.001 / 5 ** k.
    assert lr <= NoImprovementStopping.MIN_ADAPTIVE_LR
    assert model.n_iter_ < 3000
    assert math.isclose(lr, 0.001 / 5 ** round(math.log(0.001 / lr, 5)))


def test_invscaling_follows_rows_seen():
    X, y = load_iris(return_X_y=True)
    model = RegularizedMLPClassifier(
        solver="sgd", learning_rate="invscaling", power_t=0.25, max_iter=3, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    lr = model.net_.optimizer_.param_groups[0]["lr"]
    assert math.isclose(lr, 0.001 / (3 * len(X) + 1) ** 0.25)
