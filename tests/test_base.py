"""Behaviour shared by both estimators: training, reproducibility, silence, threads."""

import copy
import json
import signal
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_validate
from sklearn.preprocessing import KBinsDiscretizer
from skorch.callbacks import Callback

from skreg import RegularizedMLPClassifier, RegularizedMLPRegressor
from skreg._device import resolve_device


class RecordWeights(Callback):
    """Keep a copy of the module's weights after every epoch."""

    def on_train_begin(self, net, **kwargs):
        self.weights_ = []

    def on_epoch_end(self, net, **kwargs):
        self.weights_.append(copy.deepcopy(net.module_.state_dict()))


class RecordThreads(Callback):
    def on_train_begin(self, net, **kwargs):
        self.threads_ = torch.get_num_threads()


def test_same_seed_gives_identical_predictions_and_leaves_global_rng(cancer):
    X, y = cancer
    torch.manual_seed(123)
    np.random.seed(123)
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    params = dict(hidden_layer_sizes=(32,), dropout=0.3, max_iter=15, random_state=7)
    first = RegularizedMLPClassifier(**params).fit(X, y).predict_proba(X)
    second = RegularizedMLPClassifier(**params).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])
    other = RegularizedMLPClassifier(**{**params, "random_state": 8}).fit(X, y).predict_proba(X)
    assert not np.array_equal(first, other)


def test_early_stopping_stops_before_max_iter_and_restores_best_epoch(cancer):
    X, y = cancer
    recorder = RecordWeights()
    model = RegularizedMLPClassifier(
        hidden_layer_sizes=(256, 256), learning_rate_init=0.01, early_stopping=True,
        n_iter_no_change=5, max_iter=200, random_state=0, callbacks=[recorder],
    ).fit(X, y)
    assert model.n_iter_ < 200
    # The stopping epoch's score is recorded too.
    assert len(model.validation_scores_) == model.n_iter_
    # sklearn's rule: the best score so far was not beaten by tol for n_iter_no_change + 1
    # epochs, and the restored epoch is the one with the highest validation score.
    assert model.best_epoch_ <= model.n_iter_ - 6
    assert model.best_validation_score_ == max(model.validation_scores_)
    assert model.best_epoch_ == 1 + int(np.argmax(model.validation_scores_))
    restored = model.net_.module_.state_dict()
    recorded = dict(model.net_.callbacks_)["RecordWeights"].weights_
    best, last = recorded[model.best_epoch_ - 1], recorded[-1]
    for key in restored:
        torch.testing.assert_close(restored[key], best[key])
    assert any(not torch.equal(restored[k], last[k]) for k in restored)
    # The user's callback object was copied, not trained on.
    assert not hasattr(recorder, "weights_")


def test_without_early_stopping_training_loss_decides_convergence(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier(tol=0.5, n_iter_no_change=2, random_state=0).fit(X, y)
    assert model.n_iter_ < 10
    assert model.best_epoch_ is None and model.validation_scores_ is None
    assert model.best_loss_ == min(model.loss_curve_)


def test_max_iter_reached_warns():
    X = np.random.RandomState(0).normal(size=(40, 3))
    from sklearn.exceptions import ConvergenceWarning

    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        RegularizedMLPRegressor(max_iter=2, tol=0).fit(X, X[:, 0])


def test_silent_by_default_and_verbose_prints_epoch_table(cancer, capsys):
    X, y = cancer
    RegularizedMLPClassifier(max_iter=3, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""
    RegularizedMLPClassifier(max_iter=3, random_state=0, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert "epoch" in out and "train_loss" in out


def test_inputs_are_not_modified():
    X = np.random.RandomState(0).normal(size=(30, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    X_before, y_before = X.copy(), y.copy()
    frame = pd.DataFrame(X, columns=list("abcd"))
    frame_before = frame.copy()
    RegularizedMLPClassifier(max_iter=5, l1=1e-3, random_state=0).fit(X, y).predict(X)
    RegularizedMLPRegressor(max_iter=5, random_state=0).fit(frame, X[:, 1]).predict(frame)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)
    pd.testing.assert_frame_equal(frame, frame_before)


def test_lists_and_dataframes_are_accepted():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    model = RegularizedMLPClassifier(max_iter=5, random_state=0).fit(X.tolist(), y.tolist())
    assert model.n_features_in_ == 3 and not hasattr(model, "feature_names_in_")
    frame = pd.DataFrame(X, columns=["x0", "x1", "x2"])
    model.fit(frame, y)
    assert list(model.feature_names_in_) == ["x0", "x1", "x2"]


def test_dropout_per_layer_and_wrong_length():
    X = np.random.RandomState(0).normal(size=(30, 3))
    y = X[:, 0]
    model = RegularizedMLPRegressor((8, 8), dropout=[0.1, 0.4], max_iter=2).fit(X, y)
    rates = [m.p for m in model.net_.module_.modules() if isinstance(m, torch.nn.Dropout)]
    assert rates == [0.1, 0.4]
    with pytest.raises(ValueError, match="one value per hidden layer"):
        RegularizedMLPRegressor((8, 8), dropout=[0.1]).fit(X, y)


def test_warm_start_continues_training(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier(max_iter=3, warm_start=True, random_state=0).fit(X, y)
    first_net = model.net_
    model.fit(X, y)
    # As in sklearn: n_iter_ counts the call's epochs, the curve runs over both calls.
    assert model.net_ is first_net and model.n_iter_ == 3 and len(model.loss_curve_) == 6


def test_unknown_device_is_a_value_error():
    with pytest.raises(ValueError, match="not a torch device"):
        resolve_device("gpu0")
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match="device"):
        RegularizedMLPRegressor(device="tpu").fit(X, [0.0, 1.0, 2.0, 3.0])


@pytest.mark.slow  # joblib's default backend starts worker processes
def test_parallel_fits_do_not_oversubscribe_cores(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier(max_iter=2, random_state=0, callbacks=[RecordThreads()])
    result = cross_validate(model, X, y, cv=2, n_jobs=2, return_estimator=True)
    cores = torch.get_num_threads()
    for fitted in result["estimator"]:
        threads = dict(fitted.net_.callbacks_)["RecordThreads"].threads_
        assert threads <= max(1, cores // 2)


def test_partial_fit_trains_one_epoch_per_call_and_keeps_learning(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier(hidden_layer_sizes=(16,), random_state=0)
    losses = []
    for epoch in range(1, 4):
        model.partial_fit(X, y, classes=[0, 1] if epoch == 1 else None)
        # As in sklearn: n_iter_ is the call's one epoch, the curve grows over the calls.
        assert model.n_iter_ == 1 and len(model.loss_curve_) == epoch
        losses.append(model.loss_curve_[-1])
    assert losses[-1] < losses[0]
    regressor = RegularizedMLPRegressor(max_iter=3, random_state=0).fit(X, y.astype(float))
    regressor.partial_fit(X, y.astype(float))
    assert regressor.n_iter_ == 1 and len(regressor.loss_curve_) == 4


def test_partial_fit_with_weights_takes_them_in_sklearns_argument_order(cancer):
    X, y = cancer
    weights = np.where(y == 1, 3.0, 1.0)
    model = RegularizedMLPClassifier(random_state=0, max_iter=1, shuffle=False, batch_size=569)
    model.partial_fit(X, y, weights, np.array([0, 1]))
    reference = RegularizedMLPClassifier(random_state=0, max_iter=1, shuffle=False,
                                         batch_size=569)
    with pytest.warns(ConvergenceWarning):
        reference.fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(model.predict_proba(X), reference.predict_proba(X), rtol=1e-6)


def test_weight_decay_applies_to_weight_matrices_only(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier(
        (8,), batch_norm=True, weight_decay=0.1, max_iter=2, random_state=0
    ).fit(X, y)
    assert isinstance(model.net_.optimizer_, torch.optim.AdamW)
    decayed, plain = model.net_.optimizer_.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.ndim == 2 for p in decayed["params"])
    assert all(p.ndim == 1 for p in plain["params"])
    default = RegularizedMLPClassifier(max_iter=1).fit(X, y)
    assert type(default.net_.optimizer_) is torch.optim.Adam


def test_weight_decay_equals_l2_with_sgd_but_not_with_adam(cancer):
    X, y = cancer
    common = dict(hidden_layer_sizes=(16,), max_iter=10, random_state=0)

    def first_layer(**params):
        model = RegularizedMLPClassifier(**common, **params).fit(X, y)
        return model.net_.module_.hidden[0].weight.detach().numpy()

    sgd_l2 = first_layer(solver="sgd", l2=0.05)
    sgd_decay = first_layer(solver="sgd", weight_decay=0.05)
    np.testing.assert_allclose(sgd_decay, sgd_l2, rtol=1e-4, atol=1e-6)
    adam_l2 = first_layer(l2=0.05)
    adam_decay = first_layer(weight_decay=0.05)
    assert np.abs(adam_decay - adam_l2).max() > 1e-2


def test_cosine_schedule_records_the_rate_of_each_epoch(cancer):
    # sklearn's "adaptive" and "invscaling" are tested in test_stopping.py.
    X, y = cancer
    model = RegularizedMLPClassifier(
        learning_rate="cosine", learning_rate_init=0.01, max_iter=12, tol=0.0,
        n_iter_no_change=20, random_state=0,
    ).fit(X, y)
    rates = np.array(model.net_.history[:, "event_lr"])
    epochs = np.arange(12)
    np.testing.assert_allclose(rates, 0.005 * (1 + np.cos(np.pi * epochs / 12)), rtol=1e-6)


def test_verbose_two_adds_a_progress_bar_of_batches(cancer, capsys):
    X, y = cancer
    RegularizedMLPClassifier(max_iter=2, batch_size=50, random_state=0, verbose=2).fit(X, y)
    captured = capsys.readouterr()
    assert "train_loss" in captured.out
    assert "0/12" in captured.err  # a bar over the 12 batches of 50 rows


def test_l1_feature_importances_rank_informative_features_first():
    from sklearn.datasets import make_classification
    from sklearn.feature_selection import SelectFromModel

    X, y = make_classification(
        n_samples=600, n_features=12, n_informative=3, n_redundant=0, n_repeated=0,
        shuffle=False, random_state=0,
    )
    model = RegularizedMLPClassifier(
        hidden_layer_sizes=(32,), l1=3e-3, max_iter=150, learning_rate_init=0.01, random_state=0
    ).fit(X, y)
    importances = model.feature_importances_
    assert importances.shape == (12,) and importances.sum() == pytest.approx(1.0)
    assert set(np.argsort(importances)[-3:]) == {0, 1, 2}
    assert importances[:3].min() > 3 * importances[3:].max()
    selector = SelectFromModel(
        RegularizedMLPClassifier(
            hidden_layer_sizes=(32,), l1=3e-3, max_iter=150, learning_rate_init=0.01,
            random_state=0,
        )
    ).fit(X, y)
    assert list(np.flatnonzero(selector.get_support())) == [0, 1, 2]
    assert not hasattr(RegularizedMLPClassifier(), "feature_importances_")


def test_partial_fit_calls_draw_new_dropout_masks_and_shuffles(cancer):
    X, y = cancer
    # A learning rate too small to move float32 weights: two epochs with the same
    # draws would have exactly the same loss.
    params = dict(hidden_layer_sizes=(16,), dropout=0.5, learning_rate_init=1e-12, random_state=0)
    model = RegularizedMLPClassifier(**params).partial_fit(X, y, classes=[0, 1])
    model.partial_fit(X, y).partial_fit(X, y)
    assert model.loss_curve_[1] != model.loss_curve_[2]
    # ... and the draws are reproducible.
    again = RegularizedMLPClassifier(**params).partial_fit(X, y, classes=[0, 1])
    again.partial_fit(X, y).partial_fit(X, y)
    assert again.loss_curve_ == model.loss_curve_


def test_adam_is_fused_on_a_cpu_where_torch_has_it(cancer):
    from skreg import RegularizedMLPClassifier
    from skreg._device import uses_fused_adam

    X, y = cancer
    adam = RegularizedMLPClassifier((8,), max_iter=1, random_state=0).fit(X, y)
    assert bool(adam.net_.optimizer_.defaults["fused"]) == uses_fused_adam("cpu")
    sgd = RegularizedMLPClassifier((8,), solver="sgd", max_iter=1, random_state=0).fit(X, y)
    assert not sgd.net_.optimizer_.defaults.get("fused")
    assert not uses_fused_adam("cuda")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_coefs_and_intercepts_follow_sklearns_layout_and_can_be_assigned(cancer, dtype):
    X, y = cancer
    X = X.astype(dtype)
    model = RegularizedMLPRegressor(hidden_layer_sizes=(16, 8), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    assert [c.shape for c in model.coefs_] == [(30, 16), (16, 8), (8, 1)]
    assert [b.shape for b in model.intercepts_] == [(16,), (8,), (1,)]
    assert all(a.dtype == dtype for a in model.coefs_ + model.intercepts_)
    assert model.n_layers_ == 4 and model.n_outputs_ == 1 and model.out_activation_ == "identity"
    first = model.net_.module_.hidden[0]
    np.testing.assert_array_equal(model.coefs_[0], first.weight.detach().numpy().T.astype(dtype))
    # Assigning writes into the network: zero weights and a bias predict the bias.
    model.coefs_ = [np.zeros_like(c) for c in model.coefs_]
    model.intercepts_ = [np.zeros(16), np.zeros(8), np.array([2.0])]
    expected = np.full(5, 2.0 * model.y_scale_[0] + model.y_mean_[0])
    np.testing.assert_allclose(model.predict(X[:5]), expected, rtol=1e-6)
    np.testing.assert_array_equal(model.coefs_[1], np.zeros((16, 8)))
    with pytest.raises(ValueError, match=r"coefs_\[1\] has shape \(8, 16\)"):
        model.coefs_ = [np.zeros((30, 16)), np.zeros((8, 16)), np.zeros((8, 1))]
    with pytest.raises(ValueError, match="3 layers"):
        model.intercepts_ = [np.zeros(16)]


def test_coefs_assigned_before_the_first_partial_fit_start_training(cancer):
    # sklearn's own test_fit sets the weights of an unfitted MLP, then calls partial_fit.
    X, y = cancer
    rng = np.random.RandomState(0)
    coefs = [rng.normal(size=(30, 4)), rng.normal(size=(4, 1))]
    intercepts = [rng.normal(size=4), rng.normal(size=1)]
    params = dict(hidden_layer_sizes=(4,), learning_rate_init=1e-12, random_state=0)
    model = RegularizedMLPRegressor(**params)
    model.coefs_, model.intercepts_ = coefs, intercepts
    model.partial_fit(X, y)
    for ours, given in zip(model.coefs_ + model.intercepts_, coefs + intercepts):
        np.testing.assert_allclose(ours, given, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- sparse X


@pytest.fixture(scope="module")
def sparse_digits():
    """Handwritten digits (1797 x 64 pixels, about half of them zero) as a CSR matrix."""
    X, y = load_digits(return_X_y=True)
    return sp.csr_matrix(X / 16), y


@pytest.fixture(scope="module")
def binned_diabetes(diabetes):
    """Diabetes with each feature one-hot encoded into quantile bins: CSR, about 10 % non-zero."""
    X, y = diabetes
    binner = KBinsDiscretizer(n_bins=5, encode="onehot", quantile_method="averaged_inverted_cdf")
    with warnings.catch_warnings():
        # Sex takes two values: the binner drops its empty bins and says so.
        warnings.filterwarnings("ignore", "Bins whose width are too small", UserWarning)
        return binner.fit_transform(X), y


SPARSE_CONFIGS = {
    "plain": {},
    "early stopping, sample weights": dict(early_stopping=True, n_iter_no_change=2),
    "augmentation": dict(input_noise=0.05, mixup_alpha=0.2),
    "batch norm, dropout, penalties": dict(batch_norm=True, dropout=0.2, l1=1e-4, l2=1e-3),
}


def assert_same_network(a, b):
    """Same weights within float32 rounding (the batches and their order are the same)."""
    state_a, state_b = a.net_.module_.state_dict(), b.net_.module_.state_dict()
    assert state_a.keys() == state_b.keys()
    for key, value in state_a.items():
        torch.testing.assert_close(state_b[key], value, rtol=1e-5, atol=1e-6)
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-5)


@pytest.mark.parametrize("config", list(SPARSE_CONFIGS))
@pytest.mark.parametrize("Estimator", [RegularizedMLPClassifier, RegularizedMLPRegressor])
def test_sparse_x_trains_the_same_network_and_predicts_as_dense(
    Estimator, config, sparse_digits, binned_diabetes
):
    X, y = sparse_digits if Estimator is RegularizedMLPClassifier else binned_diabetes
    params = dict(hidden_layer_sizes=(16,), max_iter=6, random_state=0, **SPARSE_CONFIGS[config])
    weight = None
    if params.get("early_stopping"):
        weight = np.random.RandomState(0).uniform(0.5, 2.0, len(y))
    dense = Estimator(**params).fit(X.toarray(), y, sample_weight=weight)
    sparse = Estimator(**params).fit(X, y, sample_weight=weight)
    assert_same_network(dense, sparse)
    if params.get("early_stopping"):
        assert sparse.best_epoch_ == dense.best_epoch_
        np.testing.assert_allclose(sparse.validation_scores_, dense.validation_scores_, rtol=1e-5)
    assert sparse.n_features_in_ == X.shape[1] and not hasattr(sparse, "feature_names_in_")
    # Each model predicts the same on X sparse and dense, and the two models agree.
    expected = dense.predict(X.toarray())
    for model in (dense, sparse):
        if Estimator is RegularizedMLPClassifier:
            np.testing.assert_array_equal(model.predict(X), expected)
            proba = dense.predict_proba(X.toarray())
            np.testing.assert_allclose(model.predict_proba(X), proba, rtol=1e-5, atol=1e-7)
            np.testing.assert_allclose(
                model.predict_log_proba(X), np.log(proba), rtol=1e-5, atol=1e-6
            )
        else:
            np.testing.assert_allclose(model.predict(X), expected, rtol=1e-5, atol=1e-5)
        assert model.score(X, y) == pytest.approx(dense.score(X.toarray(), y), rel=1e-5)


def test_partial_fit_and_warm_start_continue_on_sparse_x_as_on_dense(sparse_digits):
    X, y = sparse_digits
    dense_X = X.toarray()
    models = []
    for first, second in [(dense_X, dense_X), (X, X), (dense_X, X)]:
        model = RegularizedMLPClassifier((16,), max_iter=2, warm_start=True, random_state=0)
        model.partial_fit(first[:900], y[:900], classes=np.arange(10))
        model.fit(second, y)  # warm start: two more epochs on the same network
        model.partial_fit(first[900:], y[900:])
        assert len(model.loss_curve_) == 4
        models.append(model)
    for model in models[1:]:
        assert_same_network(models[0], model)
        np.testing.assert_array_equal(model.predict(X), models[0].predict(dense_X))


def test_csc_and_sparse_arrays_fit_like_csr_and_are_left_as_they_were(sparse_digits):
    X, y = sparse_digits
    X32 = X.astype(np.float32)  # already what training needs: validation keeps the object
    unsorted = X.copy()
    for i in range(unsorted.shape[0]):  # reversed column order in each row: valid, not canonical
        start, stop = unsorted.indptr[i], unsorted.indptr[i + 1]
        unsorted.indices[start:stop] = unsorted.indices[start:stop][::-1].copy()
        unsorted.data[start:stop] = unsorted.data[start:stop][::-1].copy()
    unsorted.has_sorted_indices = False
    inputs = {
        "csr float32": X32, "csc": X.tocsc(), "csr_array": sp.csr_array(X),
        "csc_array": sp.csc_array(X), "coo_array": sp.coo_array(X), "unsorted csr": unsorted,
    }
    params = dict(hidden_layer_sizes=(16,), max_iter=3, random_state=0)
    reference = RegularizedMLPClassifier(**params).fit(X, y)
    expected = reference.predict_proba(X)
    for name, given in inputs.items():
        before = copy.deepcopy(given)
        model = RegularizedMLPClassifier(**params).fit(given, y, sample_weight=np.ones(len(y)))
        np.testing.assert_allclose(model.predict_proba(given), expected, rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(reference.predict_proba(given), expected, err_msg=name)
        assert type(given) is type(before) and given.dtype == before.dtype, name
        assert given.format == before.format, name
        for field in ("data", "indices", "indptr", "row", "col"):
            if hasattr(before, field):
                np.testing.assert_array_equal(getattr(given, field), getattr(before, field), name)
    assert not unsorted.has_sorted_indices


def test_a_sparse_dataframe_gives_feature_names(binned_diabetes):
    X, y = binned_diabetes
    names = [f"bin{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame.sparse.from_spmatrix(X, columns=names)
    model = RegularizedMLPRegressor((8,), max_iter=3, random_state=0).fit(frame, y)
    assert list(model.feature_names_in_) == names and model.n_features_in_ == X.shape[1]
    dense = RegularizedMLPRegressor((8,), max_iter=3, random_state=0).fit(
        pd.DataFrame(X.toarray(), columns=names), y
    )
    np.testing.assert_allclose(model.predict(frame), dense.predict(frame), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="feature names should match"):
        model.predict(frame.rename(columns={"bin0": "other"}))


def test_both_estimators_declare_sparse_input():
    for Estimator in (RegularizedMLPClassifier, RegularizedMLPRegressor):
        assert Estimator().__sklearn_tags__().input_tags.sparse


def _resident_kib(field):
    """A field of /proc/self/status (VmRSS, VmHWM) in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


@contextmanager
def peak_memory():
    """Peak memory allocated inside the block, in bytes.

    ``traced``: numpy's and scipy's allocations, from ``tracemalloc`` (which does not see
    torch's allocator). ``resident``: on Linux, where the high-water mark of the resident
    set can be reset, its peak above the resident set before; it sees torch's memory too.
    """
    peak = {}
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current VmRSS
        resident_before = _resident_kib("VmRSS")
    except OSError:
        resident_before = None
    tracemalloc.start()
    try:
        yield peak
    finally:
        peak["traced"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        if resident_before is not None:
            peak["resident"] = (_resident_kib("VmHWM") - resident_before) * 1024


@pytest.mark.slow  # trains on 200,000 rows
def test_a_sparse_matrix_too_large_to_densify_trains_and_predicts_in_bounded_memory():
    # 200,000 x 5,000 at 0.1 % density: 9 MB as CSR float32, 4 GB dense.
    n, d, per_row = 200_000, 5_000, 5
    rng = np.random.default_rng(0)
    # One non-zero in each fifth of the columns of every row: sorted, no duplicates.
    columns = np.arange(per_row) * (d // per_row) + rng.integers(0, d // per_row, (n, per_row))
    X = sp.csr_matrix(
        (rng.uniform(0.5, 1.5, n * per_row).astype(np.float32), columns.ravel(),
         np.arange(0, n * per_row + 1, per_row)),
        shape=(n, d),
    )
    # The class: whether the first half of the columns holds more of the row's mass.
    y = (X[:, : d // 2].sum(axis=1).A1 > X[:, d // 2 :].sum(axis=1).A1).astype(int)
    dense_bytes = n * d * 4
    model = RegularizedMLPClassifier((8,), batch_size=2000, max_iter=1, random_state=0)
    with peak_memory() as peak:
        model.fit(X, y)
        proba = model.predict_proba(X)
    assert model.n_iter_ == 1 and proba.shape == (n, 2)
    assert peak["traced"] < dense_bytes / 10, peak
    if "resident" in peak:
        assert peak["resident"] < dense_bytes / 4, peak
    np.testing.assert_allclose(
        proba[:2000], model.predict_proba(X[:2000].toarray()), rtol=1e-5, atol=1e-7
    )


class InterruptAt(Callback):
    """Raise KeyboardInterrupt as Ctrl-C would, at the end of an epoch or in one of its batches."""

    def __init__(self, epoch, batch=None):
        self.epoch = epoch
        self.batch = batch

    def on_train_begin(self, net, **kwargs):
        self.start_, self.batches_ = len(net.history), 0

    def on_epoch_end(self, net, **kwargs):
        if self.batch is None and len(net.history) - self.start_ == self.epoch:
            raise KeyboardInterrupt

    def on_batch_end(self, net, training=False, **kwargs):
        if self.batch is not None and training and len(net.history) - self.start_ == self.epoch:
            self.batches_ += 1
            if self.batches_ == self.batch:
                raise KeyboardInterrupt


def interrupted_fit(model, *args, method="fit"):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        getattr(model, method)(*args)
    return [w for w in caught if issubclass(w.category, (UserWarning, ConvergenceWarning))]


@pytest.mark.parametrize("early_stopping", [False, True])
def test_ctrl_c_at_the_end_of_an_epoch_keeps_the_epochs_done_and_says_so(cancer, early_stopping):
    X, y = cancer
    model = RegularizedMLPClassifier((16,), max_iter=10, early_stopping=early_stopping,
                                     n_iter_no_change=50, random_state=0,
                                     callbacks=[InterruptAt(3)])
    caught = interrupted_fit(model, X, y)
    assert [str(w.message) for w in caught] == ["Training interrupted by user."]
    assert caught[0].category is UserWarning
    assert model.n_iter_ == len(model.loss_curve_) == len(model.net_.history) == 3
    assert model.t_ == 3 * (len(X) if not early_stopping else len(X) - 57)
    if early_stopping:
        # The epoch ended has its score, and the stopping rule saw it.
        assert len(model.validation_scores_) == 3 and 1 <= model.best_epoch_ <= 3
        assert model.best_validation_score_ == max(model.validation_scores_)
    else:
        # The weights are those of the three epochs, as if max_iter had been 3.
        reference = clone(model).set_params(max_iter=3, callbacks=None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            reference.fit(X, y)
        np.testing.assert_array_equal(model.predict_proba(X), reference.predict_proba(X))
        assert model._no_improvement_count == reference._no_improvement_count


def test_ctrl_c_during_a_batch_counts_only_the_finished_epochs(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier((16,), max_iter=10, batch_size=64, random_state=0,
                                     warm_start=True, callbacks=[InterruptAt(3, batch=2)])
    caught = interrupted_fit(model, X, y)
    assert [str(w.message) for w in caught] == ["Training interrupted by user."]
    assert model.n_iter_ == len(model.loss_curve_) == len(model.net_.history) == 2
    assert all("train_loss" in row for row in model.net_.history)
    # A continued call interrupted before its first epoch ends counts none, as sklearn's MLP.
    model.set_params(callbacks=[InterruptAt(1, batch=2)])
    caught = interrupted_fit(model, X, y, method="partial_fit")
    assert [str(w.message) for w in caught] == ["Training interrupted by user."]
    assert model.n_iter_ == 0 and len(model.net_.history) == 2
    model.set_params(callbacks=None)
    interrupted_fit(model, X, y, method="partial_fit")
    assert model.n_iter_ == 1 and len(model.net_.history) == 3


def test_ctrl_c_before_the_first_epoch_ends_leaves_the_estimator_unfitted(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier((16,), max_iter=10, batch_size=64,
                                     callbacks=[InterruptAt(1, batch=2)])
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    assert not hasattr(model, "net_") and not hasattr(model, "n_iter_")


def test_the_stopping_rule_is_not_reported_as_an_interruption(cancer):
    X, y = cancer
    model = RegularizedMLPClassifier((16,), max_iter=200, early_stopping=True,
                                     n_iter_no_change=2, random_state=0)
    caught = interrupted_fit(model, X, y)
    assert model.n_iter_ < 200 and caught == []
    assert not model.net_.training_interrupted


SIGINT_SCRIPTS = {
    # Adam: a UserWarning, the epochs done kept.
    "adam": """
        import json, warnings
        from sklearn.datasets import load_breast_cancer
        from skorch.callbacks import Callback
        from skreg import RegularizedMLPClassifier

        class Ready(Callback):
            def on_epoch_end(self, net, **kwargs):
                if len(net.history) == 2:
                    print("ready", flush=True)

        X, y = load_breast_cancer(return_X_y=True)
        model = RegularizedMLPClassifier((16,), max_iter=100000, n_iter_no_change=float("inf"),
                                         random_state=0, callbacks=[Ready()])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(X / X.max(axis=0), y)
        print(json.dumps({
            "warnings": [str(w.message) for w in caught],
            "n_iter": model.n_iter_, "curve": len(model.loss_curve_),
            "history": len(model.net_.history),
        }), flush=True)
    """,
    # L-BFGS: the KeyboardInterrupt goes on, and a continued model is left as it was.
    "lbfgs": """
        import json, warnings
        from sklearn.datasets import load_diabetes
        from sklearn.preprocessing import scale
        from skreg import RegularizedMLPRegressor

        X, y = load_diabetes(return_X_y=True)
        X = scale(X)
        warnings.simplefilter("ignore")
        model = RegularizedMLPRegressor((128,), solver="lbfgs", max_iter=3, warm_start=True,
                                        random_state=0).fit(X, y)
        before, n_iter = model.predict(X), model.n_iter_
        model.set_params(max_iter=10**6, max_fun=10**7, tol=0.0, verbose=1)
        try:
            model.fit(X, y)
            outcome = "finished"
        except KeyboardInterrupt:
            outcome = "interrupted"
        print(json.dumps({
            "outcome": outcome, "same": bool((model.predict(X) == before).all()),
            "n_iter": model.n_iter_ == n_iter, "verbose": model.net_.verbose,
        }), flush=True)
    """,
}


@pytest.mark.slow
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_real_sigint_in_a_subprocess_ends_training_as_documented(solver):
    process = subprocess.Popen(
        [sys.executable, "-u", "-c", textwrap.dedent(SIGINT_SCRIPTS[solver])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        # The child says when training is under way: after its second epoch, or its third
        # L-BFGS iteration.
        ready = "ready" if solver == "adam" else "Iteration 3,"
        for line in process.stdout:
            if line.startswith(ready):
                break
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    if solver == "adam":
        assert result["warnings"] == ["Training interrupted by user."]
        assert 2 <= result["n_iter"] == result["curve"] == result["history"] < 100000
    else:
        assert result == {"outcome": "interrupted", "same": True, "n_iter": True, "verbose": 0}


def test_residual_network_keeps_the_plain_layout_and_trains_another_function(cancer):
    X, y = cancer
    params = dict(hidden_layer_sizes=(16, 16, 8), max_iter=5, random_state=0)
    plain = RegularizedMLPClassifier(**params).fit(X, y)
    residual = RegularizedMLPClassifier(residual=True, **params).fit(X, y)
    assert [c.shape for c in residual.coefs_] == [c.shape for c in plain.coefs_]
    assert residual.n_layers_ == plain.n_layers_ == 5
    assert residual.net_.module_.skips == [(2, 4)]  # only the second block: 16 -> 16
    assert not np.allclose(residual.predict_proba(X), plain.predict_proba(X))


def test_residual_without_two_equal_consecutive_widths_is_refused(cancer):
    X, y = cancer
    with pytest.raises(ValueError, match=r"residual=True .* hidden_layer_sizes=\(32, 16\)"):
        RegularizedMLPClassifier((32, 16), residual=True).fit(X, y)
