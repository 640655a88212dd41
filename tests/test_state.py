"""A failed fit leaves the estimator's fitted state, and a fitted network, as they were."""

import copy
import gc
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from skorch.callbacks import Callback

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor
from skreg._state import PRIVATE_FITTED_ATTRIBUTES

RNG = np.random.RandomState(0)
X = RNG.normal(size=(30, 3))
FRAME = pd.DataFrame(X, columns=["a", "b", "c"])


def fitted_state(model):
    return {k: v for k, v in vars(model).items() if k.endswith("_")}


def test_failed_refit_keeps_the_previous_model():
    model = RegularizedMLPClassifier((4,), max_iter=2, random_state=0)
    model.fit(FRAME, np.where(X[:, 0] > 0, "up", "down"))
    before = fitted_state(model)
    predictions = model.predict(FRAME)
    # Valid X of another width (so n_features_in_ and feature_names_in_ get reset), then a y
    # that fails after the labels were encoded.
    wider = np.c_[X, X]
    with pytest.raises(ValueError, match="only one class"):
        model.fit(wider, np.full(30, "up"))
    after = fitted_state(model)
    assert after.keys() == before.keys()
    for key, value in before.items():
        assert after[key] is value
    np.testing.assert_array_equal(model.predict(FRAME), predictions)


def test_failed_first_fit_leaves_the_estimator_unfitted():
    model = RegularizedMLPRegressor((4,), max_iter=2, learning_rate_init=1e6, solver="sgd")
    with pytest.raises(ValueError, match="diverged"):
        model.fit(X * 1e3, X[:, 0] * 1e3)
    assert fitted_state(model) == {}
    with pytest.raises(NotFittedError):
        model.predict(X)


class FailAtEpoch(Callback):
    """A user callback that raises at the end of epoch ``epoch`` of a call."""

    def __init__(self, epoch=2, error=RuntimeError):
        self.epoch = epoch
        self.error = error

    def on_train_begin(self, net, **kwargs):
        self.start_ = len(net.history)

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) - self.start_ == self.epoch:
            raise self.error("a user callback failed")


def net_state(model):
    """Everything a continued call could change, copied."""
    net = model.net_
    return {
        "module": copy.deepcopy(net.module_.state_dict()),
        "optimizer": copy.deepcopy(net.optimizer_.state_dict()),
        "history": copy.deepcopy(net.history.to_list()),
        "fitted": {k: copy.deepcopy(v) for k, v in vars(model).items()
                   if (k.endswith("_") or k in PRIVATE_FITTED_ATTRIBUTES) and k != "net_"},
        "net_vars": dict(vars(net)),
        "callbacks": [(name, cb, dict(vars(cb))) for name, cb in net.callbacks_],
    }


def assert_same_state(model, before):
    after = net_state(model)
    assert after["module"].keys() == before["module"].keys()
    for key, value in before["module"].items():
        assert torch.equal(after["module"][key], value)
    assert_equal_nested(after["optimizer"], before["optimizer"])
    assert after["history"] == before["history"]
    assert after["fitted"].keys() == before["fitted"].keys()
    for key, value in before["fitted"].items():
        assert_equal_nested(after["fitted"][key], value)
    assert after["net_vars"].keys() == before["net_vars"].keys()
    for key, value in before["net_vars"].items():
        assert after["net_vars"][key] is value, key
    for (name, cb, attributes), (name_after, cb_after, attributes_after) in zip(
        before["callbacks"], after["callbacks"], strict=True
    ):
        assert name == name_after and cb is cb_after
        assert attributes_after.keys() == attributes.keys(), name
        for key, value in attributes.items():
            assert attributes_after[key] is value, (name, key)


def assert_equal_nested(a, b):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_equal_nested(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_equal_nested(x, y)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        # NaN equals itself here: an entry that was NaN before must be NaN after.
        assert a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


def fit_quietly(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
@pytest.mark.parametrize("schedule", ["constant", "adaptive", "invscaling", "cosine"])
def test_a_failing_user_callback_leaves_a_fitted_model_exactly_as_it_was(cancer, how, schedule):
    X, y = cancer
    model = RegularizedMLPClassifier((16,), solver="sgd", max_iter=4, warm_start=True,
                                     dropout=0.2, learning_rate=schedule, random_state=0)
    fit_quietly(model, X, y)
    before, proba = net_state(model), model.predict_proba(X)
    model.set_params(callbacks=[FailAtEpoch(1 if how == "partial_fit" else 2)])
    with pytest.raises(RuntimeError, match="a user callback failed"):
        if how == "partial_fit":
            model.partial_fit(X, y)
        else:
            model.fit(X, y)
    assert_same_state(model, before)
    assert model.n_iter_ == len(model.net_.history) == 4 and model.t_ == 4 * len(X)
    np.testing.assert_array_equal(model.predict_proba(X), proba)
    # ... and it trains on from there once the callback is gone.
    model.set_params(callbacks=None).partial_fit(X, y)
    assert model.n_iter_ == 1 and len(model.net_.history) == 5 and model.t_ == 5 * len(X)


def test_early_stopping_switched_on_before_a_warm_start_leaves_the_model_as_it_was(cancer):
    X, y = cancer
    model = fit_quietly(RegularizedMLPClassifier((16,), max_iter=3, warm_start=True,
                                                 random_state=0), X, y)
    before, proba = net_state(model), model.predict_proba(X)
    # A setting that applies (dropout) together with one that cannot (early_stopping).
    model.set_params(early_stopping=True, dropout=0.5, learning_rate_init=0.1)
    with pytest.raises(ValueError, match="early_stopping cannot change"):
        model.fit(X, y)
    assert_same_state(model, before)
    np.testing.assert_array_equal(model.predict_proba(X), proba)
    assert not any(isinstance(m, torch.nn.Dropout) for m in model.net_.module_.modules())
    assert len(model.net_.history) == model.n_iter_ == 3


def test_an_error_after_settings_were_applied_puts_them_back(cancer):
    X, y = cancer
    model = fit_quietly(RegularizedMLPClassifier((16,), max_iter=3, warm_start=True, dropout=0.1,
                                                 random_state=0), X, y)
    before, proba = net_state(model), model.predict_proba(X)
    model.set_params(dropout=0.5, learning_rate_init=0.1, l2=1e-3, weight_decay=0.1,
                     solver="sgd", learning_rate="cosine", tol=1.0, callbacks=[FailAtEpoch(1)])
    with pytest.raises(RuntimeError):
        model.fit(X, y)
    assert_same_state(model, before)
    assert [m.p for m in model.net_.module_.modules() if isinstance(m, torch.nn.Dropout)] == [0.1]
    assert type(model.net_.optimizer_) is torch.optim.Adam
    assert model.net_.optimizer_.param_groups[0]["lr"] == 0.001
    assert dict(model.net_.callbacks_)["stopping"].tol == 1e-4
    np.testing.assert_array_equal(model.predict_proba(X), proba)


def test_the_stopping_rules_count_and_best_epoch_are_restored(cancer):
    X, y = cancer
    model = fit_quietly(RegularizedMLPClassifier((16,), max_iter=4, warm_start=True,
                                                 early_stopping=True, n_iter_no_change=50,
                                                 random_state=0), X, y)
    before = net_state(model)
    count, best = model._no_improvement_count, model.best_epoch_
    model.set_params(callbacks=[FailAtEpoch(3)], max_iter=5)
    with pytest.raises(RuntimeError):
        model.fit(X, y)
    assert_same_state(model, before)
    assert (model._no_improvement_count, model.best_epoch_) == (count, best)
    assert len(model.validation_scores_) == len(model.net_.history) == 4


def test_a_refused_l_bfgs_continuation_leaves_the_model_as_it_was(diabetes):
    X, y = diabetes
    model = fit_quietly(RegularizedMLPRegressor((8,), solver="lbfgs", max_iter=5,
                                                warm_start=True, random_state=0), X, y)
    before, predictions = net_state(model), model.predict(X)
    model.set_params(l2=1.0, activation="tanh")
    with pytest.raises(ValueError, match="activation cannot change"):
        fit_quietly(model, X, y)
    assert_same_state(model, before)
    assert model.net_.l2 == 0.0
    np.testing.assert_array_equal(model.predict(X), predictions)


def test_a_failing_callback_in_a_first_fit_leaves_the_estimator_unfitted(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier((8,), max_iter=3, callbacks=[FailAtEpoch(2)])
    with pytest.raises(RuntimeError):
        model.fit(X, y)
    assert fitted_state(model) == {} and not hasattr(model, "_no_improvement_count")
    with pytest.raises(NotFittedError):
        model.predict(X)


def test_the_copy_of_the_network_lives_only_for_the_call(diabetes):
    X, y = diabetes
    model = RegularizedMLPRegressor((8,), max_iter=2, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
        model.fit(X, y)
        model.set_params(callbacks=[FailAtEpoch(1)])
        with pytest.raises(RuntimeError):
            model.fit(X, y)
    gc.collect()
    assert not [obj for obj in gc.get_objects() if type(obj).__name__ == "NetSnapshot"]
